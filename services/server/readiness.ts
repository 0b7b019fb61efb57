// Readiness (GET /api/ready): whether this server can do its work now — PostgreSQL reachable, the
// engine running (leading, or following another server that leads), the console built — as
// opposed to liveness (GET /api/health: the process answers). A load balancer sends people only to
// a ready server; Docker's HEALTHCHECK asks readiness. Each check is bounded in time, so a frozen
// PostgreSQL makes the answer "not ready" within seconds, never a hang.
import type pg from 'pg';
import type { Engine } from '../app.ts';
import { isDatabaseUnavailable } from '../db/pool.ts';

export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

export interface ReadinessReport {
  ready: boolean;
  /** The checks that failed, as one sentence (empty when ready). */
  waitingFor: string;
  checks: Record<string, ReadinessCheck>;
}

/** Something else that may make the server not ready (the embedded PostgreSQL's supervisor, a full disk). */
export type ExtraCheck = () => Promise<ReadinessCheck> | ReadinessCheck;

const CHECK_TIMEOUT_MS = 2000;

/** The promise's value, or a rejection after `ms` (the promise is left to settle on its own). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

export class Readiness {
  private readonly extra = new Map<string, ExtraCheck>();

  constructor(private readonly deps: { pool: pg.Pool; engine: Engine; consoleBuilt: boolean }) {}

  /** Adds a check by name (the embedded PostgreSQL's supervisor adds "embeddedPostgres"). */
  add(name: string, check: ExtraCheck): void {
    this.extra.set(name, check);
  }

  async report(): Promise<ReadinessReport> {
    const checks: Record<string, ReadinessCheck> = {};
    const [database, ...others] = await Promise.all([
      within(this.deps.pool.query('select 1'), CHECK_TIMEOUT_MS).then(
        () => ({ ok: true, detail: 'reachable' }),
        (error: Error) => ({ ok: false, detail: `PostgreSQL is not reachable (${isDatabaseUnavailable(error) || /no answer/.test(error.message) ? error.message : 'error'})` }),
      ),
      ...[...this.extra.values()].map((check) => within(Promise.resolve(check()), CHECK_TIMEOUT_MS).catch((error: Error) => ({ ok: false, detail: error.message }))),
    ]);
    checks.database = database;
    [...this.extra.keys()].forEach((name, i) => (checks[name] = others[i]!));
    const role = this.deps.engine.role;
    checks.engine = role === 'stopped'
      ? { ok: false, detail: 'the engine is stopped' }
      : { ok: true, detail: role === 'leading' ? 'leading: this server runs the processor' : 'following: another server leads; this one takes over if it goes' };
    checks.console = this.deps.consoleBuilt ? { ok: true, detail: 'built' } : { ok: false, detail: 'the console is not built' };
    const failing = Object.entries(checks).filter(([, check]) => !check.ok);
    return { ready: failing.length === 0, waitingFor: failing.map(([, check]) => check.detail).join('; '), checks };
  }
}

/** What every console page says while the server is not ready (null when it is). */
export function bannerOf(report: ReadinessReport): string | null {
  if (report.ready) return null;
  const failing = Object.entries(report.checks).filter(([, check]) => !check.ok);
  const disk = failing.find(([name]) => name === 'disk');
  if (disk) return `A disk is full: ${disk[1].detail.replace(/^disk full: /, '')}. Uploads are refused and imports pause until there is room; they continue by themselves.`;
  if (failing.some(([name]) => name === 'database' || name === 'embeddedPostgres')) {
    return `The database is not available right now (${failing.map(([, check]) => check.detail).join('; ')}). Running imports pause and continue by themselves when it is back.`;
  }
  return `The server is not fully ready: ${report.waitingFor}.`;
}
