// Read model: every rejected row, whole, with every reason — what BI fixes and uploads again.
import type pg from 'pg';
import { copyRows, type CopyValue } from './copy.ts';
import type { PositionedEvent, Projection } from './types.ts';

export const errorLogProjection: Projection = {
  name: 'error_log',
  tables: ['error_log'],
  ddl: `
    create table if not exists error_log (
      import_id text not null,
      row_number integer not null,
      source text not null,
      -- json, not jsonb: the record's keys keep the upload's column order
      record json not null,
      reasons jsonb not null,
      rejected_at timestamptz not null,
      primary key (import_id, row_number)
    );
    -- Tables made before records were json: convert once (their rows' key order comes back with
    -- careos rebuild, from the events).
    do $$ begin
      if (select data_type from information_schema.columns
           where table_schema = current_schema() and table_name = 'error_log' and column_name = 'record') = 'jsonb' then
        alter table error_log alter column record type json using record::json;
      end if;
    end $$;
    -- BI replays: a replayed row rejected again names the rejected row it was meant to fix (the
    -- chain's first); a replay accepted resolves that row and every rejection of a replay of it.
    alter table error_log add column if not exists replay_of_import_id text,
      add column if not exists replay_of_row integer,
      add column if not exists resolved_by_import_id text,
      add column if not exists resolved_by_row integer,
      add column if not exists resolved_at timestamptz;
    create index if not exists error_log_replay_of on error_log (replay_of_import_id, replay_of_row) where replay_of_import_id is not null;
  `,
  handles: ['RowRejected', 'ErrorResolved', 'ImportReverted'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    // A reverted replay's resolutions are undone: the rows it fixed are open again. (A revert's
    // batch holds nothing else, so it needs no ordering against the inserts below.)
    for (const event of events) {
      if (event.type !== 'ImportReverted') continue;
      await client.query(
        'update error_log set resolved_by_import_id = null, resolved_by_row = null, resolved_at = null where resolved_by_import_id = $1',
        [event.data.importId],
      );
    }
    const rows: CopyValue[][] = [];
    const resolved: { importId: string; row: number; byImport: string; byRow: number; at: string }[] = [];
    for (const event of events) {
      if (event.type === 'RowRejected') {
        const d = event.data;
        rows.push([
          d.importId, d.row, d.source, JSON.stringify(d.record), JSON.stringify(d.reasons), event.metadata.at,
          d.replayOf?.importId ?? null, d.replayOf?.row ?? null,
        ]);
      } else if (event.type === 'ErrorResolved') {
        const d = event.data;
        resolved.push({ importId: d.resolves.importId, row: d.resolves.row, byImport: d.importId, byRow: d.row, at: event.metadata.at });
      }
    }
    await copyRows(client, 'error_log', ['import_id', 'row_number', 'source', 'record', 'reasons', 'rejected_at', 'replay_of_import_id', 'replay_of_row'], rows);
    if (resolved.length === 0) return;
    // After the inserts: a row rejected and resolved in the same batch is resolved.
    await client.query(
      `update error_log e set resolved_by_import_id = r.by_import, resolved_by_row = r.by_row, resolved_at = r.at
         from unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::timestamptz[]) as r(import_id, row_number, by_import, by_row, at)
        where e.resolved_by_import_id is null
          and ((e.import_id = r.import_id and e.row_number = r.row_number)
               or (e.replay_of_import_id = r.import_id and e.replay_of_row = r.row_number))`,
      [resolved.map((r) => r.importId), resolved.map((r) => r.row), resolved.map((r) => r.byImport), resolved.map((r) => r.byRow), resolved.map((r) => r.at)],
    );
  },
};

export interface ErrorView {
  row: number;
  record: Record<string, string>;
  reasons: { field: string; code: string; message: string }[];
  /** A replayed row rejected again: the rejected row it was meant to fix; null otherwise. */
  replayOf: { importId: string; row: number } | null;
  /** The replayed row that fixed it (this row, or the chain it belongs to); null while open. */
  resolvedBy: { importId: string; row: number; at: string } | null;
}

type ErrorRow = {
  row_number: number; record: Record<string, string>; reasons: ErrorView['reasons'];
  replay_of_import_id: string | null; replay_of_row: number | null;
  resolved_by_import_id: string | null; resolved_by_row: number | null; resolved_at: Date | null;
};

const ERROR_COLUMNS = 'row_number, record, reasons, replay_of_import_id, replay_of_row, resolved_by_import_id, resolved_by_row, resolved_at';

function toErrorView(r: ErrorRow): ErrorView {
  return {
    row: r.row_number, record: r.record, reasons: r.reasons,
    replayOf: r.replay_of_import_id === null ? null : { importId: r.replay_of_import_id, row: r.replay_of_row! },
    resolvedBy: r.resolved_by_import_id === null ? null : { importId: r.resolved_by_import_id, row: r.resolved_by_row!, at: r.resolved_at!.toISOString() },
  };
}

/** Which rejected rows: every one, the open ones (not fixed by a replay yet) or the resolved ones. */
export type ErrorStatusFilter = 'all' | 'open' | 'resolved';

function statusClause(status: ErrorStatusFilter): string {
  return status === 'open' ? ' and resolved_by_import_id is null' : status === 'resolved' ? ' and resolved_by_import_id is not null' : '';
}

/**
 * The rejected rows these replay references name, with the first rejection of each one's chain and
 * whether that is resolved (the processor decides a replayed row from it).
 */
export async function rejectedRows(
  db: pg.Pool | pg.ClientBase, refs: readonly { importId: string; row: number }[],
): Promise<{
  importId: string; row: number; source: string; root: { importId: string; row: number }; resolvedBy: { importId: string; row: number } | null; reverted: boolean;
}[]> {
  if (refs.length === 0) return [];
  const { rows } = await db.query<{
    import_id: string; row_number: number; source: string; root_import_id: string; root_row: number; by_import: string | null; by_row: number | null; reverted: boolean;
  }>(
    `select e.import_id, e.row_number, e.source, root.import_id as root_import_id, root.row_number as root_row,
            root.resolved_by_import_id as by_import, root.resolved_by_row as by_row,
            exists (select 1 from import_log l where l.import_id in (e.import_id, root.import_id) and l.status = 'Reverted') as reverted
       from unnest($1::text[], $2::int[]) as k(import_id, row_number)
       join error_log e on e.import_id = k.import_id and e.row_number = k.row_number
       join error_log root on root.import_id = coalesce(e.replay_of_import_id, e.import_id)
                          and root.row_number = coalesce(e.replay_of_row, e.row_number)`,
    [refs.map((r) => r.importId), refs.map((r) => r.row)],
  );
  return rows.map((r) => ({
    importId: r.import_id, row: r.row_number, source: r.source, root: { importId: r.root_import_id, row: r.root_row },
    resolvedBy: r.by_import === null ? null : { importId: r.by_import, row: r.by_row! }, reverted: r.reverted,
  }));
}

/** Rejected rows of an import, in row order. */
export async function errorsOf(db: pg.Pool, importId: string, status: ErrorStatusFilter = 'all'): Promise<ErrorView[]> {
  const { rows } = await db.query<ErrorRow>(
    `select ${ERROR_COLUMNS} from error_log where import_id = $1${statusClause(status)} order by row_number`,
    [importId],
  );
  return rows.map(toErrorView);
}

/** One page of an import's rejected rows, in row order, with how many there are. */
export async function pageErrors(
  db: pg.Pool, importId: string, options: { limit: number; offset: number; status?: ErrorStatusFilter },
): Promise<{ items: ErrorView[]; total: number }> {
  const where = `import_id = $1${statusClause(options.status ?? 'all')}`;
  const [page, total] = await Promise.all([
    db.query<ErrorRow>(`select ${ERROR_COLUMNS} from error_log where ${where} order by row_number limit $2 offset $3`, [importId, options.limit, options.offset]),
    countErrors(db, importId, options.status),
  ]);
  return { items: page.rows.map(toErrorView), total };
}

/** How many rejected rows an import has (or open ones, or resolved ones). */
export async function countErrors(db: pg.Pool, importId: string, status: ErrorStatusFilter = 'all'): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from error_log where import_id = $1${statusClause(status)}`, [importId]);
  return rows[0]!.n;
}

/** A query of errorPages covers at most this many pages' worth of row numbers. */
const MAX_SPAN_PAGES = 32;

/**
 * Every rejected row of an import, in row order, a page at a time: for streaming an error file of
 * any size. Each query is bounded by a range of row numbers as well as a count, so it reads about a
 * page whatever the planner's statistics say: with `row_number > n ... limit` and statistics older
 * than a big import, it chose to read and sort every rejected row after n for every page (an error
 * file cost the square of its length). The range follows the rejections' density.
 */
export async function* errorPages(
  db: Pick<pg.Pool, 'query'>, importId: string, status: ErrorStatusFilter = 'all', pageSize = 2000,
): AsyncGenerator<ErrorView[]> {
  const { rows: [last] } = await db.query<{ max: number | null }>('select max(row_number) as max from error_log where import_id = $1', [importId]);
  const end = last?.max ?? 0;
  let after = 0;
  let span = pageSize;
  while (after < end) {
    const upTo = Math.min(end, after + span);
    const { rows } = await db.query<ErrorRow>(
      `select ${ERROR_COLUMNS} from error_log
        where import_id = $1 and row_number > $2 and row_number <= $3${statusClause(status)} order by row_number limit $4`,
      [importId, after, upTo, pageSize],
    );
    if (rows.length === pageSize) {
      // More may follow in this range: go on from the page's last row, over as many row numbers as
      // the page's second half covered twice (the rejections' density where the next page starts).
      const reached = rows[rows.length - 1]!.row_number;
      span = Math.max(pageSize, 2 * (reached - rows[pageSize >> 1]!.row_number));
      after = reached;
    } else {
      // The range held less than a page, so it is read whole: look twice as far next time (up to a
      // bound, so a dense stretch after a sparse one is never read at the sparse stretch's span).
      after = upTo;
      span = Math.min(span * 2, MAX_SPAN_PAGES * pageSize);
    }
    if (rows.length) yield rows.map(toErrorView);
  }
}

/** These rejected rows of an import (those that are), in row order: one index probe each, not the whole log. */
export async function errorsAt(db: pg.Pool, importId: string, rows: readonly number[]): Promise<ErrorView[]> {
  if (rows.length === 0) return [];
  const { rows: found } = await db.query<ErrorRow>(
    `select ${ERROR_COLUMNS} from error_log where import_id = $1 and row_number = any($2::int[]) order by row_number`,
    [importId, rows],
  );
  return found.map(toErrorView);
}

/** How many rejected rows of each import are still open (not fixed by a replay). */
export async function openErrorCounts(db: pg.Pool, importIds: readonly string[]): Promise<Map<string, number>> {
  if (importIds.length === 0) return new Map();
  const { rows } = await db.query<{ import_id: string; n: number }>(
    'select import_id, count(*)::int as n from error_log where import_id = any($1) and resolved_by_import_id is null group by import_id',
    [importIds],
  );
  return new Map(rows.map((r) => [r.import_id, r.n]));
}

/** Rejected rows' reasons counted by code, per import (a row with two reasons counts under each). */
export async function reasonCounts(db: pg.Pool, importIds: readonly string[]): Promise<{ importId: string; source: string; code: string; n: number }[]> {
  if (importIds.length === 0) return [];
  const { rows } = await db.query<{ import_id: string; source: string; code: string; n: number }>(
    `select import_id, source, reason->>'code' as code, count(*)::bigint as n
       from error_log, jsonb_array_elements(reasons) as reason
      where import_id = any($1) group by import_id, source, reason->>'code'`,
    [importIds],
  );
  return rows.map((r) => ({ importId: r.import_id, source: r.source, code: r.code ?? 'unknown', n: r.n }));
}
