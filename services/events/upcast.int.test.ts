// Stored events are a contract: ImportStarted v1 (written before imports had an origin) still reads,
// as v2 with a file origin, for the reader, the processor and a rebuild of the read models; and
// RowReceived v1 (the header in every row) still reads beside v2 (values only) in one import.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openTestApp, type TestApp } from '../../test/support/app.ts';
import { readFile, waitForImport } from '../app.ts';
import { getImport } from '../../projections/import-log.ts';
import { checkEvent, toImporterEvent, InvalidEvent } from './schemas.ts';
import { streams, type ImportStartedData, type ImportStartedV1Data } from './types.ts';
import { receivedRecord } from '../importer/reader.ts';
import { CsvFileRows } from '../importer/row-source.ts';
import { eventId } from './ids.ts';

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

test('upcast › an import whose first rows were stored as RowReceived v1 is read on after them as v2, each row reads as received (its keys in order), and is decided as usual', async () => {
  const importId = '01a0c0de-0000-7000-8000-000000000002';
  const storedFile = `uploads/${importId}.csv`;
  const columns = ['careos_cus_id', 'nana_cus_id', 'gender', 'firstname', 'lastname', 'email', 'date_of_birth', 'phone', 'company_name', 'force_create'];
  const file = path.join(t.app.config.dataDir, storedFile);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, [
    columns.join(','),
    ',u9001,F,Anong,Srisuk,anong@example.co.th,1990-01-02,0811110001,,', // imported
    ',u9002,M,Boon,Chai,boon@example.co.th,1985-03-04,0811110002,,', // imported
    ',u9003,X,Chai,Dee,chai@example.co.th,1980-05-06,0811110003,,', // rejected: gender
    ',u9004,F,Duang,Jai,duang@example.co.th,1991-07-08,0811110004,,,more', // rejected: a value beyond the header (stored whole)
    ',u9005,F,Eve', // rejected: ends early (stored as the values it has)
    ',u9006,M,Fah,Sai,fah@example.co.th,1992-09-10,0811110006,,', // imported
    '',
  ].join('\n'));
  const started: ImportStartedData = { importId, source: 'nana', columns, origin: { kind: 'file', fileName: 'mixed.csv', storedFile, sizeBytes: fs.statSync(file).size } };
  const at = new Date().toISOString();
  const records: Record<string, string>[] = [];
  for await (const record of new CsvFileRows(() => fs.createReadStream(file), columns).rows(0)) records.push(record);
  assert.is(records.length, 6);
  // As the reader wrote them before v2: the record whole, metadata v 1; then the reader stopped.
  await t.app.store.append({
    streamId: streams.import(importId), expectedRevision: 'no_stream',
    events: [
      { id: eventId(importId, 0, 'started'), type: 'ImportStarted', data: started, metadata: { by: 'bi.admin', at, importId, v: 2 } },
      ...records.slice(0, 3).map((record, i) => ({
        id: eventId(importId, i + 1, 'received'), type: 'RowReceived',
        data: { importId, source: 'nana', row: i + 1, record }, metadata: { by: 'bi.admin', at, importId, row: i + 1, v: 1 },
      })),
    ],
  });
  await readFile(t.app, importId);
  const stored = await t.app.store.readStream(streams.import(importId));
  assert.equal(stored.map((e) => `${e.type}.v${(e.metadata as { v: number }).v}`), [
    'ImportStarted.v2', 'RowReceived.v1', 'RowReceived.v1', 'RowReceived.v1', 'RowReceived.v2', 'RowReceived.v2', 'RowReceived.v2', 'ImportFileRead.v1',
  ]);
  const shapes = stored.slice(4, 7).map((e) => Object.keys(e.data as object).filter((key) => key === 'values' || key === 'record'));
  assert.equal(shapes, [['record'], ['values'], ['values']], 'the row beyond the header whole, the others as values');
  for (let row = 1; row <= records.length; row++) {
    const read = await receivedRecord(t.app.store, importId, row);
    assert.equal(Object.entries(read ?? {}), Object.entries(records[row - 1]!), `row ${row} reads as received, its keys in order`);
  }
  const view = await waitForImport(t.app, importId, 10);
  assert.equal([view.status, view.totalRows, view.importedRows, view.rejectedRows], ['Failed', 6, 3, 3]);
});

test.run();
