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
      record jsonb not null,
      reasons jsonb not null,
      rejected_at timestamptz not null,
      primary key (import_id, row_number)
    );
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
