// The server's metrics about its engine and its database (metrics.ts holds the registry): each
// read from its owner's queries when Prometheus scrapes, bounded in time.
//
//   careos_rows_received_total{source}            rows read from files and tables
//   careos_rows_decided_total{source,outcome}     imported · rejected · skipped
//   careos_rejected_reasons_total{source,code}    every reason of every rejected row, by code
//   careos_processor_lag_rows                     rows stored but not decided yet (all running imports)
//   careos_imports_running                        imports In progress
//   careos_import_duration_seconds{source,status} imports that ended, start to end
//   careos_engine_leader                          1 when this server runs the processor
//   careos_pg_pool_connections{pool,state}        idle · busy · waiting, for the request and engine pools
//   careos_embedded_postgres_restarts_total       restarts of the embedded PostgreSQL by this server
//   careos_database_up{state}, careos_disk_full   the supervisor's status
import type pg from 'pg';
import type { App, Engine } from '../app.ts';
import type { DatabaseSupervision } from '../db/supervisor.ts';
import { streams } from '../events/types.ts';
import { importsEndedSince, progressInFlight, rowTotalsBySource } from '../../projections/import-log.ts';
import { reasonCounts } from '../../projections/error-log.ts';
import { counterOf, gaugeOf, histogramOf } from './metrics.ts';

/**
 * A read shared by the collectors of one scrape (prom-client collects every metric at once): while
 * it runs, every caller gets the same promise; the next scrape reads again.
 */
function perScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => {
    running ??= read().finally(() => (running = null));
    return running;
  };
}

export function registerServerMetrics({ app, requestPool, engine, database }: { app: App; requestPool: pg.Pool; engine: Engine; database?: DatabaseSupervision }): void {
  const db = requestPool;
  const totals = perScrape(() => rowTotalsBySource(db));
  const inFlight = perScrape(() => progressInFlight(db));
  counterOf('careos_rows_received_total', 'Rows received (read from a file or a table), by source', ['source'], async () =>
    (await totals()).map((r) => ({ labels: { source: r.source }, value: r.received })));
  counterOf('careos_rows_decided_total', 'Rows decided by the processor, by source and outcome', ['source', 'outcome'], async () =>
    (await totals()).flatMap((r) => [
      { labels: { source: r.source, outcome: 'imported' }, value: r.imported },
      { labels: { source: r.source, outcome: 'rejected' }, value: r.rejected },
      { labels: { source: r.source, outcome: 'skipped' }, value: r.skipped },
    ]));

  // Imports that ended are counted once (their reasons and durations do not change); running ones at each scrape.
  const ended = new Map<string, number>();
  let endedUpTo = new Date(0);
  const durations = histogramOf('careos_import_duration_seconds', 'Imports that ended, from start to end, by source and final status',
    [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200], ['source', 'status'], () => catchUpEnded());
  // One catch-up per scrape, shared by the two collectors that need it.
  const catchUpEnded = perScrape(readEnded);
  async function readEnded(): Promise<void> {
    for (;;) {
      const batch = await importsEndedSince(db, endedUpTo);
      if (batch.length === 0) return;
      const counts = await reasonCounts(db, batch.map((b) => b.importId));
      for (const c of counts) ended.set(`${c.source}\u0000${c.code}`, (ended.get(`${c.source}\u0000${c.code}`) ?? 0) + c.n);
      for (const b of batch) durations.observe({ source: b.source, status: b.status }, b.seconds);
      endedUpTo = batch[batch.length - 1]!.endedAt;
      if (batch.length < 1000) return;
    }
  }
  counterOf('careos_rejected_reasons_total', 'Reasons of rejected rows, by source and reason code (a row with two reasons counts under both)', ['source', 'code'], async () => {
    await catchUpEnded();
    const running = await inFlight();
    const totals = new Map(ended);
    for (const c of await reasonCounts(db, running.map((r) => r.importId))) totals.set(`${c.source}\u0000${c.code}`, (totals.get(`${c.source}\u0000${c.code}`) ?? 0) + c.n);
    return [...totals].map(([key, value]) => {
      const [source, code] = key.split('\u0000') as [string, string];
      return { labels: { source, code }, value };
    });
  }, 5000);

  gaugeOf('careos_processor_lag_rows', 'Rows received but not decided yet, over every running import', [], async () => {
    let lag = 0;
    for (const running of await inFlight()) {
      // Row N is revision N of the import's stream (ImportStarted is 0; ImportFileRead ends it).
      const revision = running.totalRows ?? Number((await app.store.streamRevision(streams.import(running.importId))) ?? 0n);
      lag += Math.max(0, revision - running.processedRows);
    }
    return [{ value: lag }];
  });
  gaugeOf('careos_imports_running', 'Imports In progress', [], async () => [{ value: (await inFlight()).length }]);
  gaugeOf('careos_engine_leader', '1 when this server runs the processor (holds the leader lock), else 0', [], () => [{ value: engine.role === 'leading' ? 1 : 0 }]);
  if (database) {
    counterOf('careos_embedded_postgres_restarts_total', 'Restarts of the embedded PostgreSQL by this server (0 with an external PostgreSQL)', [], async () =>
      [{ labels: {}, value: database.status().restarts }]);
    gaugeOf('careos_database_up', '1 when PostgreSQL is up (or external and reachable), else 0', ['state'], () => {
      const status = database.status();
      return [{ labels: { state: status.state }, value: status.state === 'up' || status.state === 'external' ? 1 : 0 }];
    });
    gaugeOf('careos_disk_full', '1 while a filesystem the server writes to is full', [], () => [{ value: database.status().diskFull ? 1 : 0 }]);
  }
  gaugeOf('careos_pg_pool_connections', 'PostgreSQL connections of this server, by pool and state', ['pool', 'state'], () =>
    ([['request', requestPool], ['engine', app.pool]] as const).flatMap(([pool, p]) => [
      { labels: { pool, state: 'idle' }, value: p.idleCount },
      { labels: { pool, state: 'busy' }, value: p.totalCount - p.idleCount },
      { labels: { pool, state: 'waiting' }, value: p.waitingCount },
    ]));
}
