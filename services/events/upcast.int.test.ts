// Stored events are a contract: ImportStarted v1 (written before imports had an origin) still reads,
// as v2 with a file origin, for the reader, the processor and a rebuild of the read models.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openTestApp, type TestApp } from '../../test/support/app.ts';
import { readFile, waitForImport } from '../app.ts';
import { getImport } from '../../projections/import-log.ts';
import { checkEvent, toImporterEvent, InvalidEvent } from './schemas.ts';
import { streams, type ImportStartedV1Data } from './types.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures');
let t: TestApp;

test.before(async () => {
  t = await openTestApp();
  await t.run(path.join(FIXTURES, 'careos-baseline-sample.csv'), 'careos');
});
test.after(async () => {
  await t.close();
});

const V1: ImportStartedV1Data = {
  importId: '01a0c0de-0000-7000-8000-000000000001', source: 'nana', fileName: 'nana-sample.csv',
  storedFile: 'uploads/01a0c0de-0000-7000-8000-000000000001.csv', sizeBytes: 0, columns: [],
};

test('upcast › ImportStarted v1 data is checked against its own schema and read as v2 with a file origin', () => {
  const metadata = { by: 'bi.admin', at: '2026-11-01T10:00:00.000Z', importId: V1.importId, v: 1 };
  const data = { ...V1, columns: ['careos_cus_id'] };
  const event = toImporterEvent({ type: 'ImportStarted', data, metadata });
  assert.equal(event.data, {
    importId: V1.importId, source: 'nana', columns: ['careos_cus_id'],
    origin: { kind: 'file', fileName: 'nana-sample.csv', storedFile: V1.storedFile, sizeBytes: 0 },
  });
  assert.is(event.metadata.v, 2);
  // v2 data under v1 metadata (or the other way round) is refused, never silently read.
  assert.throws(() => checkEvent('ImportStarted', event.data, metadata), (e: unknown) => e instanceof InvalidEvent);
  assert.throws(() => checkEvent('ImportStarted', data, { ...metadata, v: 2 }), (e: unknown) => e instanceof InvalidEvent);
});

test('upcast › an import whose ImportStarted was stored as v1 is read, decided and logged as before, and survives a rebuild', async () => {
  const source = path.join(FIXTURES, 'nana-sample.csv');
  fs.mkdirSync(path.join(t.app.config.dataDir, 'uploads'), { recursive: true });
  fs.copyFileSync(source, path.join(t.app.config.dataDir, V1.storedFile));
  const header = fs.readFileSync(source, 'utf8').split('\n')[0]!.split(',');
  const data: ImportStartedV1Data = { ...V1, sizeBytes: fs.statSync(source).size, columns: header };
  // Written as the importer wrote it before v2: type ImportStarted, metadata v 1, the old data shape.
  await t.app.store.append({
    streamId: streams.import(V1.importId), expectedRevision: 'no_stream',
    events: [{ id: '01a0c0de-0000-5000-8000-000000000000', type: 'ImportStarted', data, metadata: { by: 'bi.admin', at: new Date().toISOString(), importId: V1.importId, v: 1 } }],
  });
  await readFile(t.app, V1.importId);
  const view = await waitForImport(t.app, V1.importId, 10);
  assert.equal([view.origin, view.fileName, view.status, view.totalRows, view.importedRows, view.rejectedRows], ['file', 'nana-sample.csv', 'Failed', 7, 4, 3]);
  await t.app.projections.rebuild('tester');
  const rebuilt = await getImport(t.app.pool, V1.importId);
  assert.equal([rebuilt?.origin, rebuilt?.fileName, rebuilt?.status, rebuilt?.importedRows], ['file', 'nana-sample.csv', 'Failed', 4]);
});

test.run();
