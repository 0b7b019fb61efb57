// Speed never changes outcomes: the same files give identical read models whatever the batch
// sizes, including duplicate phones that sit on either side of a batch boundary. In process, as
// pipeline.int.test.ts: the reader and the processor run here, step by step.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import { readImport, startImport } from '../importer/reader.ts';
import { getImport } from '../../projections/import-log.ts';
import { migrateProjections } from '../../projections/runner.ts';
import { createTestDatabase } from '../../test/support/db.ts';
import { dumpReadModels } from '../../test/support/dump.ts';
import { writeNanaFile } from '../../test/support/files.ts';
import { stepUntilFinished } from '../../test/support/steps.ts';
import { Processor } from './run.ts';
import { migrateProcessor } from './processor-store.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-batching-'));
const file = path.join(work, 'nana.csv');
// duplicateEvery 5: row 10 repeats row 8's phone, row 15 row 13's, … across every small batch edge.
writeNanaFile(file, 400, { duplicateEvery: 5 });

async function importWith(filePath: string, readBatchRows: number, processBatchRows: number) {
  const db = await createTestDatabase();
  try {
    const store = await PostgresEventStore.create(db.pool);
    await migrateProcessor(db.pool);
    await migrateProjections(db.pool);
    const options = { dataDir: work, maxFileBytes: 1 << 30, batchRows: readBatchRows, careshop: null };
    const importId = await startImport(store, { filePath, fileName: path.basename(filePath), source: 'nana', by: 'tester' }, options, db.pool);
    await readImport(store, db.pool, importId, options);
    const processor = new Processor(store, db.pool, { batchSize: processBatchRows });
    const steps = await stepUntilFinished(processor, db.pool, importId);
    await processor.close();
    const view = (await getImport(db.pool, importId))!;
    return { view, steps, dump: await dumpReadModels(db.pool) };
  } finally {
    await db.drop();
  }
}

test('processor › batch size never changes outcomes, even for duplicate phones across batch boundaries', async () => {
  const big = await importWith(file, 5000, 5000);
  const tiny = await importWith(file, 3, 1);
  const odd = await importWith(file, 7, 4);
  assert.is(big.view.totalRows, 400);
  assert.is(big.view.importedRows + big.view.rejectedRows, 400);
  assert.ok(tiny.steps >= 400 && odd.steps >= 100, `the small batches were small (${tiny.steps} and ${odd.steps} steps)`);
  assert.ok(big.dump.errors.some((e) => e.includes('duplicate-phone')), 'the file has duplicate phones');
  for (const other of [tiny, odd]) {
    assert.equal(other.view.status, big.view.status);
    assert.equal(other.dump.profiles, big.dump.profiles);
    assert.equal(other.dump.relations, big.dump.relations);
    assert.equal(other.dump.errors, big.dump.errors);
    assert.equal(other.dump.imports, big.dump.imports);
  }
});

test('processor › a phone repeated in another format on the next row of a one-row batch is a duplicate', async () => {
  const small = path.join(work, 'pair.csv');
  fs.writeFileSync(small, [
    'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create',
    ',n1,F,A,B,,,081-234-5678,,',
    ',n2,F,C,D,,,66812345678,,',
  ].join('\n'));
  const { view } = await importWith(small, 1, 1);
  assert.equal([view.status, view.importedRows, view.rejectedRows], ['Failed', 1, 1]);
});

test.after(() => fs.rmSync(work, { recursive: true, force: true }));
test.run();
