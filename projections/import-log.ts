// Read model: the import log the console lists (status, counts, who, when).
import type pg from 'pg';
import type { PositionedEvent, Projection } from './types.ts';

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
  `,
  handles: ['ImportStarted', 'ImportFileRead', 'ImportProgressed', 'ImportCompleted'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    // Few events per batch (one per import and batch): a statement each is fine.
    for (const event of events) {
      switch (event.type) {
        case 'ImportStarted': {
          const d = event.data;
          await client.query(
            `insert into import_log (import_id, file_name, source, imported_by, import_date, last_update, status, stored_file, size_bytes, columns)
             values ($1, $2, $3, $4, $5, $5, 'In progress', $6, $7, $8)`,
            [d.importId, d.fileName, d.source, event.metadata.by, event.metadata.at, d.storedFile, d.sizeBytes, d.columns],
          );
          break;
        }
        case 'ImportFileRead':
          await client.query('update import_log set total_rows = $2 where import_id = $1', [event.data.importId, event.data.totalRows]);
          break;
        case 'ImportProgressed': {
          const d = event.data;
          await client.query(
            'update import_log set processed_rows = $2, imported_rows = $3, rejected_rows = $4, last_update = $5 where import_id = $1',
            [d.importId, d.processedRows, d.importedRows, d.rejectedRows, event.metadata.at],
          );
          break;
        }
        case 'ImportCompleted': {
          const d = event.data;
          await client.query(
            `update import_log set total_rows = $2, processed_rows = $2, imported_rows = $3, rejected_rows = $4, status = $5, last_update = $6
              where import_id = $1`,
            [d.importId, d.totalRows, d.importedRows, d.rejectedRows, d.status, event.metadata.at],
          );
          break;
        }
        default:
          break;
      }
    }
  },
};
