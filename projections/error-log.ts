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
  `,
  handles: ['RowRejected'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    const rows: CopyValue[][] = [];
    for (const event of events) {
      if (event.type !== 'RowRejected') continue;
      const d = event.data;
      rows.push([d.importId, d.row, d.source, JSON.stringify(d.record), JSON.stringify(d.reasons), event.metadata.at]);
    }
    await copyRows(client, 'error_log', ['import_id', 'row_number', 'source', 'record', 'reasons', 'rejected_at'], rows);
  },
};

export interface ErrorView {
  row: number;
  record: Record<string, string>;
  reasons: { field: string; code: string; message: string }[];
}

/** Rejected rows of an import, in row order. */
export async function errorsOf(db: pg.Pool, importId: string): Promise<ErrorView[]> {
  const { rows } = await db.query<{ row_number: number; record: Record<string, string>; reasons: ErrorView['reasons'] }>(
    'select row_number, record, reasons from error_log where import_id = $1 order by row_number',
    [importId],
  );
  return rows.map((r) => ({ row: r.row_number, record: r.record, reasons: r.reasons }));
}

/** One page of an import's rejected rows, in row order, with how many there are. */
export async function pageErrors(db: pg.Pool, importId: string, options: { limit: number; offset: number }): Promise<{ items: ErrorView[]; total: number }> {
  const [page, count] = await Promise.all([
    db.query<{ row_number: number; record: Record<string, string>; reasons: ErrorView['reasons'] }>(
      'select row_number, record, reasons from error_log where import_id = $1 order by row_number limit $2 offset $3',
      [importId, options.limit, options.offset],
    ),
    db.query<{ n: number }>('select count(*)::int as n from error_log where import_id = $1', [importId]),
  ]);
  return { items: page.rows.map((r) => ({ row: r.row_number, record: r.record, reasons: r.reasons })), total: count.rows[0]!.n };
}

/** Rejected rows after a row number, in row order: a keyset page, for streaming an error file of any size. */
export async function errorsAfter(db: pg.Pool, importId: string, afterRow: number, limit: number): Promise<ErrorView[]> {
  const { rows } = await db.query<{ row_number: number; record: Record<string, string>; reasons: ErrorView['reasons'] }>(
    'select row_number, record, reasons from error_log where import_id = $1 and row_number > $2 order by row_number limit $3',
    [importId, afterRow, limit],
  );
  return rows.map((r) => ({ row: r.row_number, record: r.record, reasons: r.reasons }));
}
