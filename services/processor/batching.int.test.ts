// Speed never changes outcomes: the same files give identical read models whatever the batch
// sizes, including duplicate phones that sit on either side of a batch boundary.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openTestApp } from '../../test/support/app.ts';
import { dumpReadModels } from '../../test/support/dump.ts';
import { writeNanaFile } from '../../test/support/files.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-batching-'));
const file = path.join(work, 'nana.csv');
// duplicateEvery 5: row 10 repeats row 8's phone, row 15 row 13's, … across every small batch edge.
writeNanaFile(file, 1200, { duplicateEvery: 5 });

async function importWith(readBatchRows: number, processBatchRows: number) {
  const t = await openTestApp({ readBatchRows, processBatchRows });
  try {
    const view = await t.run(file, 'nana');
    return { view, dump: await dumpReadModels(t.db.pool) };
  } finally {
    await t.close();
  }
}

test('processor › batch size never changes outcomes, even for duplicate phones across batch boundaries', async () => {
  const big = await importWith(5000, 5000);
  const tiny = await importWith(3, 1);
  const odd = await importWith(7, 4);
  assert.is(big.view.totalRows, 1200);
  assert.is(big.view.importedRows + big.view.rejectedRows, 1200);
  assert.ok(big.dump.errors.some((e) => e.includes('duplicate-phone')), 'the file has duplicate phones');
  for (const other of [tiny, odd]) {
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
  const t = await openTestApp({ readBatchRows: 1, processBatchRows: 1 });
  try {
    const view = await t.run(small, 'nana');
    assert.equal([view.status, view.importedRows, view.rejectedRows], ['Failed', 1, 1]);
  } finally {
    await t.close();
  }
});

test.after(() => fs.rmSync(work, { recursive: true, force: true }));
test.run();
