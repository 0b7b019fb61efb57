// The processor's own tables: its checkpoint in the global order (and the last outcome position
// it wrote, which the projections read up to) and each import's progress. Written in the same
// transaction as the outcome events and the read models; the checkpoint moves only from the value
// read (optimistic), so a second processor can never commit over the first.
import type pg from 'pg';
import type { SourceName } from '../events/types.ts';
import type { Position } from '../eventstore/types.ts';
import { withLock } from '../db/locks.ts';
import type { ImportProgress } from './batch.ts';

export const PROCESSOR_DDL = `
  create table if not exists processor_checkpoint (
    name text primary key,
    position_commit bigint not null,
    position_prepare bigint not null,
    last_output_commit bigint not null,
    last_output_prepare bigint not null
  );
  insert into processor_checkpoint values ('processor', 0, 0, 0, 0) on conflict (name) do nothing;
  create table if not exists processor_import (
    import_id text primary key,
    source text not null,
    started_by text not null,
    total_rows integer,
    processed_rows integer not null,
    imported_rows integer not null,
    rejected_rows integer not null,
    outcome_revision bigint,
    completed boolean not null
  );
  alter table processor_import add column if not exists skipped_rows integer not null default 0;
`;

export async function migrateProcessor(pool: pg.Pool): Promise<void> {
  await withLock(pool, 'schema', (client) => client.query(PROCESSOR_DDL));
}

export class CheckpointMoved extends Error {
  constructor() {
    super('the processor checkpoint moved under this processor (another processor is active)');
    this.name = 'CheckpointMoved';
  }
}

export async function readCheckpoint(db: pg.Pool): Promise<{ checkpoint: Position; lastOutput: Position }> {
  const { rows } = await db.query<Record<string, string>>(
    `select position_commit::text, position_prepare::text, last_output_commit::text, last_output_prepare::text
       from processor_checkpoint where name = 'processor'`,
  );
  const row = rows[0]!;
  return {
    checkpoint: { commit: BigInt(row.position_commit!), prepare: BigInt(row.position_prepare!) },
    lastOutput: { commit: BigInt(row.last_output_commit!), prepare: BigInt(row.last_output_prepare!) },
  };
}

/** Moves the checkpoint from `from` to `to`; throws CheckpointMoved when it is not at `from`. */
export async function moveCheckpoint(client: pg.ClientBase, from: Position, to: Position, lastOutput: Position): Promise<void> {
  const { rowCount } = await client.query(
    `update processor_checkpoint set position_commit = $1, position_prepare = $2, last_output_commit = $3, last_output_prepare = $4
      where name = 'processor' and position_commit = $5 and position_prepare = $6`,
    [to.commit, to.prepare, lastOutput.commit, lastOutput.prepare, from.commit, from.prepare].map(String),
  );
  if (rowCount !== 1) throw new CheckpointMoved();
}

/** An import's progress, and the revision of the last event of its outcome stream (null: none yet). */
export type StoredProgress = ImportProgress & { outcomeRevision: bigint | null };

export async function readProgress(db: pg.Pool, importIds: readonly string[]): Promise<StoredProgress[]> {
  if (importIds.length === 0) return [];
  const { rows } = await db.query<{
    import_id: string; source: SourceName; started_by: string; total_rows: number | null; processed_rows: number;
    imported_rows: number; rejected_rows: number; skipped_rows: number; outcome_revision: string | null; completed: boolean;
  }>('select *, outcome_revision::text as outcome_revision from processor_import where import_id = any($1)', [importIds]);
  return rows.map((r) => ({
    importId: r.import_id, source: r.source, startedBy: r.started_by, totalRows: r.total_rows,
    processedRows: r.processed_rows, importedRows: r.imported_rows, rejectedRows: r.rejected_rows, skippedRows: r.skipped_rows,
    outcomeRevision: r.outcome_revision === null ? null : BigInt(r.outcome_revision), completed: r.completed,
  }));
}

export async function writeProgress(client: pg.ClientBase, rows: readonly StoredProgress[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `insert into processor_import (import_id, source, started_by, total_rows, processed_rows, imported_rows, rejected_rows, outcome_revision, completed, skipped_rows)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::int[], $8::bigint[], $9::boolean[], $10::int[])
     on conflict (import_id) do update set total_rows = excluded.total_rows, processed_rows = excluded.processed_rows,
       imported_rows = excluded.imported_rows, rejected_rows = excluded.rejected_rows, skipped_rows = excluded.skipped_rows,
       outcome_revision = excluded.outcome_revision, completed = excluded.completed`,
    [
      rows.map((p) => p.importId), rows.map((p) => p.source), rows.map((p) => p.startedBy), rows.map((p) => p.totalRows),
      rows.map((p) => p.processedRows), rows.map((p) => p.importedRows), rows.map((p) => p.rejectedRows),
      rows.map((p) => (p.outcomeRevision === null ? null : String(p.outcomeRevision))), rows.map((p) => p.completed),
      rows.map((p) => p.skippedRows),
    ],
  );
}
