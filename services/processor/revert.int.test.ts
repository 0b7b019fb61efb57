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
import { newCareosId } from '../events/ids.ts';
import { verifyReadModels } from '../../projections/verify.ts';
import { openTestApp, type TestApp } from '../../test/support/app.ts';

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
  const [rejection] = await careos.allErrors(admin, c.importId);
  assert.match(JSON.stringify(rejection), /unknown-profile/);
  assert.is(await linkOf('n5'), newCareosId(c.importId, 2));

  // Asked again: refused at once, nothing appended.
  try {
    await careos.revertImport(admin, a.importId, { reason: 'again' });
    assert.unreachable('a reverted import cannot be reverted again');
  } catch (error) {
    assert.match((error as Error).message, /was reverted already/);
  }

  const verified = await verifyReadModels(t.app.store, t.app.pool, t.db.url);
  assert.ok(verified.same, JSON.stringify(verified.tables.filter((x) => !x.same)));
});

test.run();
