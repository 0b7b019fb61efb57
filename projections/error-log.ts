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
