// The import log shows every origin an import can have: a file, a table sync, a replay.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkEvent } from '../services/events/schemas.ts';
import type { ImportOrigin } from '../services/events/types.ts';
import { withTransaction } from '../services/db/pool.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/db.ts';
import { getImport, importLogProjection } from './import-log.ts';
import { migrateProjections } from './runner.ts';
import type { PositionedEvent } from './types.ts';

let db: TestDatabase;
test.before(async () => {
  db = await createTestDatabase();
  await migrateProjections(db.pool);
});
test.after(async () => {
  await db.drop();
});

async function start(importId: string, origin: ImportOrigin, position: bigint) {
  const data = { importId, source: 'nana' as const, columns: ['careos_cus_id', 'nana_cus_id'], origin };
  const metadata = { by: 'bi.admin', at: '2026-11-30T09:00:00.000Z', importId, v: 2 as const };
  checkEvent('ImportStarted', data, metadata);
  const event = { type: 'ImportStarted', data, metadata, position: { commit: 1n, prepare: position } } as PositionedEvent;
  await withTransaction(db.pool, (client) => importLogProjection.apply(client, [event]));
  return (await getImport(db.pool, importId))!;
}

test('import log › lists a file, a table sync and a replay by their origin, each named for people', async () => {
  const file = await start('01a0c0de-0000-7000-8000-0000000000f1', { kind: 'file', fileName: 'นานา.csv', storedFile: 'uploads/x.csv', sizeBytes: 10 }, 1n);
  const table = await start('01a0c0de-0000-7000-8000-0000000000f2', { kind: 'table', table: 'public.customer', cursor: null }, 2n);
  const replay = await start('01a0c0de-0000-7000-8000-0000000000f3', { kind: 'replay', of: '01a0c0de-0000-7000-8000-0000000000f1', rows: [4, 6] }, 3n);
  assert.equal([file.origin, file.fileName], ['file', 'นานา.csv']);
  assert.equal([table.origin, table.fileName], ['table', 'table public.customer']);
  assert.equal([replay.origin, replay.fileName], ['replay', 'replay of 2 rows of import 01a0c0de-0000-7000-8000-0000000000f1']);
  for (const view of [file, table, replay]) assert.is(view.status, 'In progress');
});

test('import log › an origin of a kind the schema does not know is refused before it is written', () => {
  const data = { importId: 'x', source: 'nana', columns: ['a'], origin: { kind: 'ftp', host: 'legacy' } };
  assert.throws(() => checkEvent('ImportStarted', data, { by: 'bi.admin', at: '2026-11-30T09:00:00.000Z', importId: 'x', v: 2 }), /does not match its schema/);
});

test.run();
