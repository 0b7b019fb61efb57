// Read model: the import log the console lists (status, counts, who, when).
import type pg from 'pg';
import type { PositionedEvent, Projection } from './types.ts';
import { originLabel } from '../services/events/types.ts';
import type { ImportView as ApiImportView, RevertPlanView, RevertView } from '../schemas/api.ts';

export const importLogProjection: Projection = {
  name: 'import_log',
  tables: ['import_log'],
  ddl: `
    create table if not exists import_log (
      import_id text primary key,
      file_name text not null,
      source text not null,
      imported_by text not null,
      import_date timestamptz not null,
      last_update timestamptz not null,
      total_rows integer,
      processed_rows integer not null default 0,
      imported_rows integer not null default 0,
      rejected_rows integer not null default 0,
      status text not null,
      stored_file text not null,
      size_bytes bigint not null,
      columns text[] not null
    );
    create index if not exists import_log_date on import_log (import_date desc);
    -- Where the rows come from (ImportStarted v2's origin.kind); logs made before it were all files.
    alter table import_log add column if not exists origin text not null default 'file';
    -- Only a file has a stored copy and a size; file_name names any origin (originLabel).
    alter table import_log alter column stored_file drop not null, alter column size_bytes drop not null;
    -- Rows neither imported nor rejected (Care Shop: already synced, or matched a profile exactly).
    alter table import_log add column if not exists skipped_rows integer not null default 0;
    -- Undo: the latest revert request (RevertRequested) and its outcome (ImportReverted: status
    -- Reverted; RevertRefused: status unchanged). revert_outcome holds the outcome's counts and blockers.
    alter table import_log add column if not exists revert_state text,
      add column if not exists revert_requested_by text,
      add column if not exists revert_requested_at timestamptz,
      add column if not exists revert_reason text,
      add column if not exists revert_decided_at timestamptz,
      add column if not exists revert_outcome jsonb;
  `,
  handles: ['ImportStarted', 'ImportFileRead', 'ImportProgressed', 'ImportCompleted', 'RevertRequested', 'ImportReverted', 'RevertRefused'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    // Few events per batch (one per import and batch): a statement each is fine. ImportStarted
    // and ImportFileRead are also applied by their writers, at once (see importer/reader.ts), so
    // applying them is idempotent.
    for (const event of events) {
      switch (event.type) {
        case 'ImportStarted': {
          const d = event.data;
          const origin = d.origin;
          const file = origin.kind === 'file' ? origin : null;
          await client.query(
            `insert into import_log (import_id, file_name, source, imported_by, import_date, last_update, status, stored_file, size_bytes, columns, origin)
             values ($1, $2, $3, $4, $5, $5, 'In progress', $6, $7, $8, $9)
             on conflict (import_id) do nothing`,
            [d.importId, originLabel(origin), d.source, event.metadata.by, event.metadata.at, file?.storedFile ?? null, file?.sizeBytes ?? null, d.columns, origin.kind],
          );
          break;
        }
        case 'ImportFileRead':
          await client.query('update import_log set total_rows = $2 where import_id = $1', [event.data.importId, event.data.totalRows]);
          break;
        case 'ImportProgressed': {
          const d = event.data;
          await client.query(
            'update import_log set processed_rows = $2, imported_rows = $3, rejected_rows = $4, skipped_rows = $6, last_update = $5 where import_id = $1',
            [d.importId, d.processedRows, d.importedRows, d.rejectedRows, event.metadata.at, d.skippedRows],
          );
          break;
        }
        case 'ImportCompleted': {
          const d = event.data;
          await client.query(
            `update import_log set total_rows = $2, processed_rows = $2, imported_rows = $3, rejected_rows = $4, skipped_rows = $7, status = $5, last_update = $6
              where import_id = $1`,
            [d.importId, d.totalRows, d.importedRows, d.rejectedRows, d.status, event.metadata.at, d.skippedRows],
          );
          break;
        }
        case 'RevertRequested':
          // Also applied by the API when it appends the request (services/api/revert.ts): idempotent.
          await client.query(
            `update import_log set revert_state = 'requested', revert_requested_by = $2, revert_requested_at = $3, revert_reason = $4,
                    revert_decided_at = null, revert_outcome = null
              where import_id = $1`,
            [event.data.importId, event.metadata.by, event.metadata.at, event.data.reason],
          );
          break;
        case 'ImportReverted':
        case 'RevertRefused': {
          const { importId, reason: _reason, ...outcome } = event.data;
          const reverted = event.type === 'ImportReverted';
          await client.query(
            `update import_log set revert_state = $2, revert_decided_at = $3, revert_outcome = $4,
                    status = case when $2 = 'reverted' then 'Reverted' else status end, last_update = $3
              where import_id = $1`,
            [importId, reverted ? 'reverted' : 'refused', event.metadata.at, JSON.stringify(outcome)],
          );
          break;
        }
        default:
          break;
      }
    }
  },
};

/** An import as this read model holds it: the API's view without the display name. */
export type ImportView = Omit<ApiImportView, 'importedByName' | 'openRejectedRows' | 'revert'> & { revert: Omit<RevertView, 'requestedByName'> | null };

type ImportRow = {
  import_id: string; origin: string; file_name: string; source: string; imported_by: string; import_date: Date; last_update: Date;
  status: ImportView['status']; total_rows: number | null; processed_rows: number; imported_rows: number; rejected_rows: number; skipped_rows: number; columns: string[];
  revert_state: RevertView['state'] | null; revert_requested_by: string | null; revert_requested_at: Date | null; revert_reason: string | null;
  revert_decided_at: Date | null; revert_outcome: (Omit<RevertPlanView, 'refusal'> & { refusal?: string }) | null;
};

const NO_OUTCOME: Omit<RevertPlanView, 'refusal'> = { relationsReverted: 0, relationsRestored: 0, profilesRetired: 0, errorsReopened: 0, blocked: [], blockedCount: 0 };

function revertOf(r: ImportRow): ImportView['revert'] {
  if (r.revert_state === null || r.revert_requested_at === null) return null;
  const { refusal, ...outcome }: Omit<RevertPlanView, 'refusal'> & { refusal?: string } = r.revert_outcome ?? NO_OUTCOME;
  return {
    state: r.revert_state, requestedBy: r.revert_requested_by ?? '', requestedAt: r.revert_requested_at.toISOString(), reason: r.revert_reason ?? '',
    decidedAt: r.revert_decided_at?.toISOString() ?? null, ...NO_OUTCOME, ...outcome, refusal: refusal ?? null,
  };
}

function toView(r: ImportRow): ImportView {
  return {
    importId: r.import_id, origin: r.origin, fileName: r.file_name, source: r.source, importedBy: r.imported_by,
    importDate: r.import_date.toISOString(), lastUpdate: r.last_update.toISOString(), status: r.status,
    totalRows: r.total_rows, processedRows: r.processed_rows, importedRows: r.imported_rows, rejectedRows: r.rejected_rows, skippedRows: r.skipped_rows, columns: r.columns,
    revert: revertOf(r),
  };
}

/** The import log, newest first. */
export async function listImports(db: pg.Pool, options: { limit?: number; offset?: number } = {}): Promise<ImportView[]> {
  const { rows } = await db.query<ImportRow>(
    'select * from import_log order by import_date desc, import_id desc limit $1 offset $2',
    [options.limit ?? 1000, options.offset ?? 0],
  );
  return rows.map(toView);
}

export async function getImport(db: pg.Pool | pg.ClientBase, importId: string): Promise<ImportView | null> {
  const { rows } = await db.query<ImportRow>('select * from import_log where import_id = $1', [importId]);
  return rows[0] ? toView(rows[0]) : null;
}

/** An import not finished yet, as the gate, the sync and verify name it. */
export interface RunningImport {
  importId: string;
  fileName: string;
  importedBy: string;
  importDate: Date;
}

/** Imports still In progress, oldest first: of one source (and origin kind) or all. */
export async function importsInProgress(db: pg.Pool, filter: { source?: string; origin?: string } = {}): Promise<RunningImport[]> {
  const { rows } = await db.query<{ import_id: string; file_name: string; imported_by: string; import_date: Date }>(
    `select import_id, file_name, imported_by, import_date from import_log
      where status = 'In progress' and ($1::text is null or source = $1) and ($2::text is null or origin = $2)
      order by import_date, import_id`,
    [filter.source ?? null, filter.origin ?? null],
  );
  return rows.map((r) => ({ importId: r.import_id, fileName: r.file_name, importedBy: r.imported_by, importDate: r.import_date }));
}

/** Imports whose file has not been read to its end (a reader crashed or is still reading). */
export async function unreadImports(db: pg.Pool): Promise<string[]> {
  const { rows } = await db.query<{ import_id: string }>("select import_id from import_log where total_rows is null order by import_date");
  return rows.map((r) => r.import_id);
}

/** One page of the import log, newest first, with the log's size. */
export async function pageImports(db: pg.Pool, options: { limit: number; offset: number }): Promise<{ items: ImportView[]; total: number }> {
  const [page, count] = await Promise.all([
    listImports(db, options),
    db.query<{ n: number }>('select count(*)::int as n from import_log'),
  ]);
  return { items: page, total: count.rows[0]!.n };
}

/** Rows of every import by source, for /metrics: received (read so far) and decided, by outcome. */
export async function rowTotalsBySource(db: pg.Pool): Promise<{ source: string; received: number; imported: number; rejected: number; skipped: number }[]> {
  const { rows } = await db.query<{ source: string; received: number; imported: number; rejected: number; skipped: number }>(
    `select source, coalesce(sum(coalesce(total_rows, processed_rows)), 0)::bigint as received,
            coalesce(sum(imported_rows), 0)::bigint as imported, coalesce(sum(rejected_rows), 0)::bigint as rejected,
            coalesce(sum(skipped_rows), 0)::bigint as skipped
       from import_log group by source`,
  );
  return rows;
}

/** Imports in progress with the rows decided so far (the processor's lag is what is read but not decided). */
export async function progressInFlight(db: pg.Pool): Promise<{ importId: string; processedRows: number; totalRows: number | null }[]> {
  const { rows } = await db.query<{ import_id: string; processed_rows: number; total_rows: number | null }>(
    "select import_id, processed_rows, total_rows from import_log where status = 'In progress'",
  );
  return rows.map((r) => ({ importId: r.import_id, processedRows: r.processed_rows, totalRows: r.total_rows }));
}

/** Imports that ended after `since` (by their last update), with how long they took, oldest first. */
export async function importsEndedSince(db: pg.Pool, since: Date): Promise<{ importId: string; source: string; status: string; seconds: number; endedAt: Date }[]> {
  const { rows } = await db.query<{ import_id: string; source: string; status: string; seconds: number; last_update: Date }>(
    `select import_id, source, status, extract(epoch from last_update - import_date)::float8 as seconds, last_update
       from import_log where status <> 'In progress' and last_update > $1 order by last_update limit 1000`,
    [since],
  );
  return rows.map((r) => ({ importId: r.import_id, source: r.source, status: r.status, seconds: r.seconds, endedAt: r.last_update }));
}
