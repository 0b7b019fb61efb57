// The processor decides batch N+1 while batch N commits. A commit that fails must take the batch
// decided after it down too: both are decided again from the committed state, and the read models
// end exactly as in a run where nothing failed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import type { EventStore } from '../eventstore/types.ts';
import { readImport, startImport } from '../importer/reader.ts';
import { withTransaction } from '../db/pool.ts';
import { migrateProjections } from '../../projections/runner.ts';
import { createTestDatabase } from '../../test/support/db.ts';
import { dumpReadModels } from '../../test/support/dump.ts';
import { writeNanaFile } from '../../test/support/files.ts';
import { stepUntilFinished } from '../../test/support/steps.ts';
import { Processor } from './run.ts';
import { migrateProcessor } from './processor-store.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-pipeline-'));
const file = path.join(work, 'nana.csv');
writeNanaFile(file, 600, { duplicateEvery: 5 });

/**
 * Imports the file with a processor of 40-row batches; `failCommits` lists appendMany calls whose
 * commit is lost. `separate`: the events are appended first and stay appended, and the commit
 * runs after, on its own, as with EventStoreDB.
 */
async function importWith(failCommits: number[], separate = false) {
  const db = await createTestDatabase();
  const store = await PostgresEventStore.create(db.pool);
  await migrateProcessor(db.pool);
  await migrateProjections(db.pool);
  const options = { dataDir: work, maxFileBytes: 1 << 30, batchRows: 100, careshop: null };
  const importId = await startImport(store, { filePath: file, fileName: 'nana.csv', source: 'nana', by: 'tester' }, options, db.pool);
  await readImport(store, db.pool, importId, options);
  let calls = 0;
  const failing: EventStore = Object.create(store);
  failing.appendMany = async (appends, commit) => {
    const afterAppend = async (client: Parameters<NonNullable<typeof commit>>[0], results: Awaited<ReturnType<EventStore['appendMany']>>) => {
      calls++;
      if (failCommits.includes(calls)) throw new Error(`commit ${calls} lost`);
      await commit?.(client, results);
    };
    if (!separate) return store.appendMany(appends, afterAppend);
    const results = await store.appendMany(appends);
    await withTransaction(db.pool, (client) => afterAppend(client, results));
    return results;
  };
  const processor = new Processor(failing, db.pool, { batchSize: 40 });
  const errors: string[] = [];
  await stepUntilFinished(processor, db.pool, importId, (error) => errors.push(error.message));
  await processor.flush();
  const dump = await dumpReadModels(db.pool);
  await db.drop();
  return { errors, dump };
}

for (const [store, separate] of [['PostgreSQL: append and commit in one transaction', false], ['EventStoreDB: append, then commit', true]] as const) {
  test(`processor › a lost commit takes the batch decided meanwhile with it; the read models end as if nothing failed (${store})`, async () => {
    const reference = await importWith([], separate);
    const failed = await importWith([3, 4, 9], separate);
    assert.equal(reference.errors, []);
    assert.equal(failed.errors, ['commit 3 lost', 'commit 4 lost', 'commit 9 lost']);
    assert.ok(reference.dump.errors.some((e) => e.includes('duplicate-phone')), 'later batches depend on earlier ones');
    assert.equal(failed.dump.duplicates, { profiles: 0, relations: 0, errors: 0 });
    assert.equal(failed.dump.profiles, reference.dump.profiles);
    assert.equal(failed.dump.relations, reference.dump.relations);
    assert.equal(failed.dump.errors, reference.dump.errors);
    assert.equal(failed.dump.imports, reference.dump.imports);
  });
}

test.after(() => fs.rmSync(work, { recursive: true, force: true }));
test.run();
