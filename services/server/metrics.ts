// What the server says about itself in Prometheus' text format (GET /metrics, prom-client): HTTP
// latency by route, the PostgreSQL pools' use, and what the engine is doing — rows received and
// decided per source, rejected rows by reason code, the processor's lag, import durations and the
// embedded PostgreSQL's restarts. Values that live in the database are read when scraped (each
// collector bounded by a timeout, so a slow database makes a scrape partial, never hung); the rest
// is counted here as it happens.
import client from 'prom-client';
import { within } from './readiness.ts';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'careos_' });

const httpDuration = new client.Histogram({
  name: 'careos_http_request_duration_seconds',
  help: 'HTTP requests by method, route (a pattern, never an id) and status, and how long they took',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function observeRequest(method: string, route: string, status: number, seconds: number): void {
  httpDuration.observe({ method: METHODS.has(method) ? method : 'other', route, status: String(status) }, seconds);
}

/** A gauge whose value is read at each scrape; `read` may be async and is given `timeoutMs`. */
export function gaugeOf(
  name: string, help: string, labelNames: readonly string[],
  read: () => Promise<{ labels?: Record<string, string>; value: number }[]> | { labels?: Record<string, string>; value: number }[],
  timeoutMs = 2000,
): client.Gauge<string> {
  return new client.Gauge({
    name, help, labelNames, registers: [registry],
    async collect() {
      this.reset();
      try {
        const values = await within(Promise.resolve(read()), timeoutMs);
        for (const { labels, value } of values) {
          if (labels) this.set(labels, value);
          else this.set(value);
        }
      } catch {
        // The value is unknown right now: the series is left out of this scrape rather than wrong.
      }
    },
  });
}

/** A counter whose total is read at each scrape (it only grows: it is kept in the database). */
export function counterOf(
  name: string, help: string, labelNames: readonly string[],
  read: () => Promise<{ labels: Record<string, string>; value: number }[]>, timeoutMs = 2000,
): client.Counter<string> {
  return new client.Counter({
    name, help, labelNames, registers: [registry],
    async collect() {
      try {
        const values = await within(read(), timeoutMs);
        this.reset();
        for (const { labels, value } of values) this.inc(labels, value);
      } catch {
        // Unknown right now: the last values stay.
      }
    },
  });
}

/** A histogram; `collect` (optional) brings it up to date before each scrape, within `timeoutMs`. */
export function histogramOf(name: string, help: string, buckets: number[], labelNames: readonly string[] = [], collect?: () => Promise<void>, timeoutMs = 5000): client.Histogram<string> {
  return new client.Histogram({
    name, help, buckets, labelNames, registers: [registry],
    async collect() {
      if (!collect) return;
      await within(collect(), timeoutMs).catch(() => undefined);
    },
  });
}

export function counter(name: string, help: string, labelNames: readonly string[] = []): client.Counter<string> {
  return new client.Counter({ name, help, labelNames, registers: [registry] });
}

export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
