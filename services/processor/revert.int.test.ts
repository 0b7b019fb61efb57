// Undo an import, through the running engine and real PostgreSQL. Import A creates two profiles;
// import B builds on both (links an id to A's profile, remaps both of A's ids). A's revert is then
// refused as a whole, naming each blocker; B's revert is allowed and restores A's links; A's revert
// afterwards undoes everything and retires its profiles, which later rows no longer find. The
// read models still equal a rebuild from the events.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Careos, operator } from '../api/careos.ts';
import { verifyReadModels } from '../../projections/verify.ts';
import { openTestApp, type TestApp } from '../../test/support/app.ts';
import { createTestDatabase } from '../../test/support/db.ts';
import { dumpReadModels } from '../../test/support/dump.ts';
import { stepUntilFinished } from '../../test/support/steps.ts';
import { PostgresEventStore } from '../eventstore/postgres.ts';
import type { NewEvent } from '../eventstore/types.ts';
import { eventId, newCareosId, uuidV7 } from '../events/ids.ts';
import { streams } from '../events/types.ts';
import { readImport, startImport } from '../importer/reader.ts';
import { requestRevert } from '../importer/revert.ts';
import { getImport } from '../../projections/import-log.ts';
import { migrateProjections } from '../../projections/runner.ts';
import { migrateProcessor } from './processor-store.ts';
import { Processor } from './run.ts';

const HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
const admin = operator('admin@rabbitcare.com');
let t: TestApp;
let careos: Careos;
let work: string;

function file(name: string, rows: string[]): string {
  const filePath = path.join(work, name);
  fs.writeFileSync(filePath, [HEADER, ...rows].join('\n') + '\n');
  return filePath;
}

async function linkOf(originalId: string): Promise<string | null> {
  const active = (await careos.relations(admin, { source: 'nana', originalId })).filter((r) => r.active);
  assert.ok(active.length <= 1, `${originalId}: at most one active link`);
  return active[0]?.careosId ?? null;
}

test.before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-revert-'));
  t = await openTestApp();
  careos = new Careos(t.app);
});

test.after(async () => {
  await t.close();
  fs.rmSync(work, { recursive: true, force: true });
});

test('undo › an import whose every effect a later import built on is refused as a whole, each blocker named; one nothing depends on is reverted, its remaps restored; then the first goes too', async () => {
  const a = await t.run(file('a.csv', [
    ',n1,F,Anong,One,,,0811000001,,',
    ',n2,M,Boon,Two,,,0811000002,,',
  ]), 'nana');
  const pa1 = newCareosId(a.importId, 1);
  const pa2 = newCareosId(a.importId, 2);
  assert.is(await linkOf('n1'), pa1);
  const b = await t.run(file('b.csv', [
    `${pa1},n3,F,Chai,Three,,,0811000003,,`,
    `${pa1},n2,M,Boon,Two,,,0811000002,,`,
    `${pa2},n1,F,Anong,One,,,0811000001,,`,
  ]), 'nana');
  assert.is(b.importedRows, 3);
  const beforeRevert = new Date().toISOString();

  // A: both links remapped by B, both profiles linked to by B → nothing to undo: refused.
  const preview = await careos.revertPlan(admin, a.importId);
  assert.equal(
    preview.blocked.map((x) => [x.kind, x.row, x.originalId, x.by.importId === b.importId ? 'B' : x.by.importId, x.by.row]),
    [['profile-in-use', 1, null, 'B', 1], ['relation-changed', 1, 'n1', 'B', 3], ['profile-in-use', 2, null, 'B', 3], ['relation-changed', 2, 'n2', 'B', 2]],
  );
  assert.match(preview.refusal ?? '', /every effect of this import was built on since \(4\)/);
  const refused = await careos.revertImport(admin, a.importId, { reason: 'wrong export' });
  assert.is(refused.revert?.state, 'refused');
  assert.is(refused.status, 'Success', 'a refused revert changes nothing');
  assert.is(refused.revert?.blockedCount, 4);
  assert.is(await linkOf('n1'), pa2);

  // B: nothing depends on it. Its links end; the links its remaps ended are active again.
  const planB = await careos.revertPlan(admin, b.importId);
  assert.equal({ ...planB, blocked: planB.blocked.length }, {
    relationsReverted: 3, relationsRestored: 2, profilesRetired: 0, errorsReopened: 0, blocked: 0, blockedCount: 0, refusal: null,
  });
  const revertedB = await careos.revertImport(admin, b.importId, { reason: 'mapped to the wrong profiles' });
  assert.is(revertedB.status, 'Reverted');
  assert.is(revertedB.revert?.state, 'reverted');
  assert.is(revertedB.revert?.requestedBy, 'admin@rabbitcare.com');
  assert.is(revertedB.revert?.reason, 'mapped to the wrong profiles');
  assert.is(await linkOf('n1'), pa1);
  assert.is(await linkOf('n2'), pa2);
  assert.is(await linkOf('n3'), null);
  const asOfBefore = await careos.relations(admin, { source: 'nana', originalId: 'n2' }, beforeRevert);
  assert.equal(asOfBefore.filter((r) => r.active).map((r) => r.careosId), [pa1], 'as of before the revert: B\'s remap stands');

  const timeline = await careos.timeline(admin, { source: 'nana', originalId: 'n2' });
  assert.equal(timeline.map((e) => [e.kind, e.careosId === pa1 ? 'PA1' : 'PA2', e.importId === a.importId ? 'A' : 'B', e.row, e.revertOf === b.importId ? 'B' : e.revertOf]), [
    ['profile-created', 'PA1', 'A', 1, null],
    ['profile-created', 'PA2', 'A', 2, null],
    ['linked', 'PA2', 'A', 2, null],
    ['unlinked', 'PA2', 'B', 2, null],
    ['linked', 'PA1', 'B', 2, null],
    ['link-reverted', 'PA1', 'B', 2, 'B'],
    ['link-restored', 'PA2', 'A', 2, 'B'],
  ]);
  assert.is(timeline.find((e) => e.kind === 'link-reverted')!.revertReason, 'mapped to the wrong profiles');
  assert.equal(timeline.find((e) => e.kind === 'link-reverted')!.record?.nana_cus_id, 'n2', 'the raw row of the link that was undone');

  // A again: now nothing stands on it.
  const revertedA = await careos.revertImport(admin, a.importId, { reason: 'test export, not real customers' });
  assert.is(revertedA.status, 'Reverted');
  assert.equal(
    { reverted: revertedA.revert?.relationsReverted, restored: revertedA.revert?.relationsRestored, retired: revertedA.revert?.profilesRetired, blocked: revertedA.revert?.blockedCount },
    { reverted: 2, restored: 0, retired: 2, blocked: 0 },
  );
  assert.is(await linkOf('n1'), null);
  const retired = await careos.getProfile(admin, pa1);
  assert.is(retired.retired?.by, 'admin@rabbitcare.com');
  assert.equal(await careos.findProfiles(admin, { phone: '0811000001', limit: 10 }), [], 'a retired profile is not found by phone');

  // Later rows no longer find the retired profiles: by CareOS id (rejected), by phone (a new profile).
  const c = await t.run(file('c.csv', [
    `${pa1},n4,F,Dao,Four,,,0811000004,,`,
    ',n5,F,Anong,One,,,0811000001,,',
  ]), 'nana');
  assert.equal({ imported: c.importedRows, rejected: c.rejectedRows }, { imported: 1, rejected: 1 });
  const [rejection] = (await careos.errorWindow(admin, c.importId, { limit: 1000, offset: 0 })).items;
  assert.match(JSON.stringify(rejection), /unknown-profile/);
  assert.is(await linkOf('n5'), newCareosId(c.importId, 2));

  // Asked again: refused at once, nothing appended.
  try {
    await careos.revertImport(admin, a.importId, { reason: 'again' });
    assert.unreachable('a reverted import cannot be reverted again');
  } catch (error) {
    assert.match((error as Error).message, /was reverted already/);
  }

  // C reverted too: its rejected row 1, sent back in an error file, is not replayed.
  assert.is((await careos.revertImport(admin, c.importId, { reason: 'test' })).status, 'Reverted');
  const replayFile = path.join(work, 'c-errors.csv');
  fs.writeFileSync(replayFile, `${HEADER},_replay_of,errors\n${pa2},n6,F,Dao,Four,,,0811000006,,,${c.importId}:1,careos_cus_id is unknown\n`);
  const replay = await t.run(replayFile, 'nana');
  assert.equal([replay.importedRows, replay.rejectedRows], [0, 1]);
  assert.match(JSON.stringify((await careos.errorWindow(admin, replay.importId, { limit: 1000, offset: 0 })).items[0]?.reasons), /the import of that row was reverted/);

  const verified = await verifyReadModels(t.app.store, t.app.pool, t.db.url);
  assert.ok(verified.same, JSON.stringify(verified.tables.filter((x) => !x.same)));
});

/** A test database of its own, with the event store, the processor's tables and the read models; an in-process processor runs on it. */
async function freshStore() {
  const db = await createTestDatabase();
  const store = await PostgresEventStore.create(db.pool);
  await migrateProcessor(db.pool);
  await migrateProjections(db.pool);
  return { db, store, options: { dataDir: work, maxFileBytes: 1 << 20, batchRows: 100, careshop: null } };
}

test('undo › a link a later import named again as it stood (RelationConfirmed) keeps the link and its profile from a revert; once that import is reverted, nothing holds them', async () => {
  const a = await t.run(file('confirm-a.csv', [
    ',n81,F,Ploy,Eight,,,0811000081,,',
    ',n82,M,Krit,Eight,,,0811000082,,',
  ]), 'nana');
  const p81 = newCareosId(a.importId, 1);
  const b = await t.run(file('confirm-b.csv', [`${p81},n81,F,Ploy,Eight,,,0811000081,,`]), 'nana');
  assert.equal({ imported: b.importedRows, rejected: b.rejectedRows }, { imported: 1, rejected: 0 });
  const timeline = await careos.timeline(admin, { source: 'nana', originalId: 'n81' });
  assert.equal(timeline.map((e) => [e.kind, e.importId === a.importId ? 'A' : 'B', e.row]), [['profile-created', 'A', 1], ['linked', 'A', 1], ['link-confirmed', 'B', 1]]);
  assert.equal(timeline[2]!.record?.careos_cus_id, p81, 'the raw row that named the link again');

  const plan = await careos.revertPlan(admin, a.importId);
  assert.equal(plan.blocked.map((x) => [x.kind, x.row, x.originalId, x.by.importId === b.importId ? 'B' : x.by.importId, x.by.row]), [
    ['profile-in-use', 1, null, 'B', 1], ['relation-confirmed', 1, 'n81', 'B', 1],
  ]);
  assert.equal([plan.relationsReverted, plan.profilesRetired, plan.refusal], [1, 1, null], 'the rest (n82 and its profile) would be undone');

  const revertedB = await careos.revertImport(admin, b.importId, { reason: 'named the wrong customers' });
  assert.equal([revertedB.status, revertedB.revert?.relationsReverted, revertedB.revert?.blockedCount], ['Reverted', 0, 0]);
  const planAfter = await careos.revertPlan(admin, a.importId);
  assert.equal([planAfter.blockedCount, planAfter.relationsReverted, planAfter.profilesRetired], [0, 2, 2], 'a reverted import\'s confirmations no longer hold anything');
  const revertedA = await careos.revertImport(admin, a.importId, { reason: 'test export' });
  assert.is(revertedA.status, 'Reverted');
  assert.is(await linkOf('n81'), null);
  assert.is((await careos.getProfile(admin, p81)).retired?.by, 'admin@rabbitcare.com');
});

test('undo › a confirmation no longer holds a profile once its link was remapped away: the profile is retired, the remap blocks its link', async () => {
  const a = await t.run(file('superseded-a.csv', [
    ',n91,F,Pim,Nine,,,0811000091,,',
    ',n92,M,Tan,Nine,,,0811000092,,',
  ]), 'nana');
  const [p91, p92] = [newCareosId(a.importId, 1), newCareosId(a.importId, 2)];
  const b = await t.run(file('superseded-b.csv', [`${p91},n91,F,Pim,Nine,,,0811000091,,`]), 'nana');
  const c = await t.run(file('superseded-c.csv', [`${p92},n91,F,Pim,Nine,,,0811000091,,`]), 'nana');
  assert.equal([b.importedRows, c.importedRows, await linkOf('n91')], [1, 1, p92]);
  const plan = await careos.revertPlan(admin, a.importId);
  const who = (id: string) => (id === b.importId ? 'B' : id === c.importId ? 'C' : id);
  assert.equal(plan.blocked.map((x) => [x.kind, x.row, x.originalId, who(x.by.importId), x.by.row]), [
    ['relation-changed', 1, 'n91', 'C', 1], ['profile-in-use', 2, null, 'C', 1],
  ]);
  assert.equal([plan.relationsReverted, plan.profilesRetired], [1, 1], 'n92 ends; p91 retires: B\'s row named a link that no longer stands');
});

test('undo › a revert is decided in its place among the rows: appended between two rows of another import, the row before it keeps a profile in use, the row after it no longer finds the one retired', async () => {
  const { db, store, options } = await freshStore();
  try {
    const processor = new Processor(store, db.pool, { batchSize: 500 });
    const a = await startImport(store, {
      filePath: file('order-a.csv', [',o1,F,Ploy,One,,,0812000001,,', ',o5,M,Chai,Five,,,0812000005,,']), fileName: 'order-a.csv', source: 'nana', by: 'tester',
    }, options, db.pool);
    await readImport(store, db.pool, a, options);
    await stepUntilFinished(processor, db.pool, a);
    const [p1, p2] = [newCareosId(a, 1), newCareosId(a, 2)];

    // Import B's events by hand around the request, so that one read of $all holds them all:
    // ImportStarted, row 1 (maps o4 to A's second profile), the revert of A, row 2 (maps o6 to A's first), ImportFileRead.
    const b = uuidV7();
    const at = new Date().toISOString();
    const append = (revision: bigint | 'no_stream', list: NewEvent[]) => store.append({ streamId: streams.import(b), expectedRevision: revision, events: list });
    const row = (n: number, originalId: string, p: string): NewEvent => ({
      id: eventId(b, n, 'received'), type: 'RowReceived', metadata: { by: 'tester', at, importId: b, row: n, v: 1 },
      data: { importId: b, source: 'nana', row: n, record: { careos_cus_id: p, nana_cus_id: originalId, gender: 'F', firstname: 'Ploy', lastname: 'One', email: '', date_of_birth: '', phone: '0812000001', company_name: '', force_create: '' } },
    });
    await append('no_stream', [
      { id: eventId(b, 0, 'started'), type: 'ImportStarted', metadata: { by: 'tester', at, importId: b, v: 2 }, data: { importId: b, source: 'nana', columns: HEADER.split(','), origin: { kind: 'replay', of: a, rows: [1, 2] } } },
      row(1, 'o4', p2),
    ]);
    await requestRevert(store, { importId: a, reason: 'in order', by: 'admin' });
    await append(1n, [row(2, 'o6', p1), { id: eventId(b, 0, 'file-read'), type: 'ImportFileRead', metadata: { by: 'tester', at, importId: b, v: 1 }, data: { importId: b, totalRows: 2 } }]);
    await stepUntilFinished(processor, db.pool, b);
    await processor.close();

    const revert = (await getImport(db.pool, a))?.revert;
    assert.equal([revert?.state, revert?.relationsReverted, revert?.profilesRetired], ['reverted', 2, 1]);
    assert.equal(revert?.blocked.map((x) => [x.kind, x.careosId, x.by]), [['profile-in-use', p2, { importId: b, row: 1 }]], 'row 1 of B came before the revert: its profile stays');
    const imported = await getImport(db.pool, b);
    assert.equal([imported?.importedRows, imported?.rejectedRows], [1, 1]);
    const { rows } = await db.pool.query<{ row_number: number; reasons: { code: string }[] }>('select row_number, reasons from error_log where import_id = $1', [b]);
    assert.equal(rows.map((r) => [r.row_number, r.reasons[0]!.code]), [[2, 'unknown-profile']], 'row 2 of B came after it: the profile it names is retired');
  } finally {
    await db.drop();
  }
});

/**
 * A 120-row import (some rows remapping ids of an earlier one), then its revert decided page by page
 * (10 outcome events a page: several commits); `failCommits` lists commits of the revert that are
 * lost (the transaction rolled back, the processor reloads and decides the revert again).
 */
async function revertWith(failCommits: number[]) {
  const { db, store, options } = await freshStore();
  try {
    let reverting = false;
    let calls = 0;
    const failing: typeof store = Object.create(store);
    failing.appendMany = async (appends, commit) => store.appendMany(appends, async (client, results) => {
      if (reverting && failCommits.includes(++calls)) throw new Error(`commit ${calls} lost`);
      await commit?.(client, results);
    });
    const processor = new Processor(failing, db.pool, { batchSize: 500, revertPage: 10 });
    const run = async (name: string, rows: string[]) => {
      const id = await startImport(store, { filePath: file(name, rows), fileName: name, source: 'nana', by: 'tester' }, options, db.pool);
      await readImport(store, db.pool, id, options);
      await stepUntilFinished(processor, db.pool, id);
      return id;
    };
    const first = await run('cut-first.csv', Array.from({ length: 20 }, (_, i) => `,k${i},F,First${i},Cut,,,08130${String(i).padStart(5, '0')},,`));
    const second = await run('cut-second.csv', Array.from({ length: 120 }, (_, i) => (i < 20
      ? `${newCareosId(first, i + 1)},m${i},F,First${i},Cut,,,08130${String(i).padStart(5, '0')},,` // links another id to each of the first import's profiles
      : i < 40 ? `,k${i - 20},M,Second${i},Cut,,,08140${String(i).padStart(5, '0')},,` // remaps the first import's ids (new profile, same id)
        : `,s${i},M,Second${i},Cut,,,08150${String(i).padStart(5, '0')},,`)));
    reverting = true;
    await requestRevert(store, { importId: second, reason: 'cut short', by: 'admin' });
    const errors: string[] = [];
    for (let i = 0; i < 200 && (await getImport(db.pool, second))?.revert?.state !== 'reverted'; i++) {
      try {
        await processor.step();
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    await processor.close();
    return { errors, dump: await dumpReadModels(db.pool), revert: (await getImport(db.pool, second))?.revert };
  } finally {
    await db.drop();
  }
}

test('undo › a revert cut short (commits lost midway) and decided again ends exactly as one that ran through: nothing undone twice, nothing left', async () => {
  const clean = await revertWith([]);
  const cut = await revertWith([3, 4, 9]);
  assert.equal(clean.errors, []);
  assert.equal(cut.errors, ['commit 3 lost', 'commit 4 lost', 'commit 9 lost']);
  assert.equal(
    [clean.revert?.relationsReverted, clean.revert?.relationsRestored, clean.revert?.profilesRetired, clean.revert?.blockedCount],
    [120, 20, 100, 0], 'every link of the second import ended, the 20 ids it remapped back on the first import\'s profiles, its 100 profiles retired',
  );
  const { decidedAt: _a, requestedAt: _b, ...cleanRevert } = clean.revert!;
  const { decidedAt: _c, requestedAt: _d, ...cutRevert } = cut.revert!;
  assert.equal(cutRevert, cleanRevert);
  assert.equal(cut.dump.relations, clean.dump.relations);
  assert.equal(cut.dump.profiles, clean.dump.profiles);
  assert.equal(cut.dump.imports, clean.dump.imports);
  assert.is(cut.dump.duplicates.profiles, 0);
});

test.run();
