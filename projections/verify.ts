// `careos verify`: rebuilds every read model from the event store into a scratch schema and
// compares it with the live read models, table by table (row count and a checksum of every row's
// content), so a read model that drifted from the events (a bug, a hand edit) is found. The live
// tables are not touched. Run it when no import is in progress: a batch committed meanwhile would
// show as a difference.
import pg from 'pg';
import type { EventStore } from '../services/eventstore/types.ts';
import { readCheckpoint } from '../services/processor/processor-store.ts';
import { PROJECTIONS, ProjectionRunner, migrateProjections } from './runner.ts';

export const SCRATCH_SCHEMA = 'careos_verify';

export interface TableComparison {
  table: string;
  live: { rows: number; checksum: string };
  rebuilt: { rows: number; checksum: string };
  same: boolean;
}

export interface Verification {
  same: boolean;
  tables: TableComparison[];
  /** Events replayed up to the processor's last committed output. */
  seconds: number;
}

async function summarise(db: pg.Pool, schema: string, table: string, columns: readonly string[]): Promise<{ rows: number; checksum: string }> {
  const list = columns.map((c) => `"${c}"`).join(', ');
  const { rows } = await db.query<{ n: number; sum: string | null }>(
    `select count(*)::int as n, md5(string_agg(r, E'\\n' order by r)) as sum
       from (select row(${list})::text as r from "${schema}"."${table}") t`,
  );
  return { rows: rows[0]!.n, checksum: rows[0]!.sum ?? '' };
}

export async function verifyReadModels(store: EventStore, pool: pg.Pool, connectionString: string): Promise<Verification> {
  const started = performance.now();
  const live = (await pool.query<{ schema: string }>('select current_schema() as schema')).rows[0]!.schema;
  await pool.query(`drop schema if exists ${SCRATCH_SCHEMA} cascade; create schema ${SCRATCH_SCHEMA}`);
  // Only the scratch schema on the path: the projections' DDL and writes land there, never on the live tables.
  const scratch = new pg.Pool({ connectionString, max: 2, options: `-c search_path=${SCRATCH_SCHEMA}`, application_name: 'careos-verify' });
  try {
    await migrateProjections(scratch);
    const { checkpoint, lastOutput } = await readCheckpoint(pool);
    await new ProjectionRunner(store, scratch).replayUpTo({ outcomes: lastOutput, until: checkpoint });
    const tables: TableComparison[] = [];
    for (const table of PROJECTIONS.flatMap((p) => p.tables)) {
      const { rows } = await pool.query<{ column_name: string }>(
        'select column_name from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position',
        [SCRATCH_SCHEMA, table],
      );
      const columns = rows.map((r) => r.column_name);
      const [liveSummary, rebuilt] = await Promise.all([summarise(pool, live, table, columns), summarise(pool, SCRATCH_SCHEMA, table, columns)]);
      tables.push({ table, live: liveSummary, rebuilt, same: liveSummary.rows === rebuilt.rows && liveSummary.checksum === rebuilt.checksum });
    }
    return { same: tables.every((t) => t.same), tables, seconds: (performance.now() - started) / 1000 };
  } finally {
    await scratch.end();
    await pool.query(`drop schema if exists ${SCRATCH_SCHEMA} cascade`);
  }
}
