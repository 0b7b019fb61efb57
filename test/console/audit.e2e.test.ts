// The auditors' page in a real browser: a Nana id linked to a profile, then remapped to another by
// a later import; the timeline shows each link and unlink with who, which import and row, and the
// raw row; as of a moment between the imports the old relation is the active one, now the new
// one; the timeline exports as the same BOM'd, formula-safe CSV as the error file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { suite } from 'uvu';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.ts';
import { finished, importFixture, importThroughApi } from './api.ts';
import { launchBrowser, openSession, snap, visit, type Session } from './browser.ts';

const test = suite('console audit');
const NANA_HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';

let server: TestServer;
let browser: Browser;
let auditor: Session;
let admin: Session;
let page: Page;
let between: string;
let remapId: string;

test.before(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  await finished(server, await importFixture(server, 'careos-baseline-sample.csv', 'careos'));
  // n7001 is linked to C0100001, then a later import maps it to C0100002.
  await finished(server, await importThroughApi(server, 'link.csv', `${NANA_HEADER}\nC0100001,n7001,F,Kanya,Rattanakul,,,0817771111,,\n`, 'nana'));
  await new Promise((resolve) => setTimeout(resolve, 1100));
  between = new Date().toISOString();
  await new Promise((resolve) => setTimeout(resolve, 1100));
  remapId = await importThroughApi(server, 'remap.csv', `${NANA_HEADER}\nC0100002,n7001,M,Preecha,Somsri,,,021110000,,\n`, 'nana');
  await finished(server, remapId);
  auditor = await openSession(browser, server, server.users.auditor);
  page = auditor.page;
});

test.after(async () => {
  await browser?.close();
  await server?.stop();
});

test('audit › an auditor finds a Nana id\'s timeline: linked, then unlinked and linked elsewhere by a later import, each with who, file, row and the raw row', async () => {
  await visit(page, '/imports');
  await page.getByRole('navigation').getByRole('link', { name: 'Audit' }).click();
  await page.waitForURL(/\/audit$/);
  await page.getByLabel('Source').selectOption({ label: 'Nana' });
  await page.getByLabel('Original id').fill('n7001');
  await page.getByRole('group', { name: 'Or a legacy id' }).getByRole('button', { name: 'Show timeline' }).click();
  await page.waitForURL(/originalId=n7001/);
  const entries = page.locator('ol.timeline > li');
  const headlines = (await entries.locator('.headline').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
  // The profiles it was linked to come first, with their creation (the baseline import).
  assert.deepEqual(headlines, [
    'Profile created C0100001', 'Profile created C0100002',
    'Linked Nana n7001 → C0100001', 'Unlinked Nana n7001 ✕ C0100001 (relinked to C0100002)', 'Linked Nana n7001 → C0100002',
  ]);
  assert.match(await entries.nth(0).locator('.meta').innerText(), /by script-admin · import careos-baseline-sample\.csv, row 1/);
  assert.match(await entries.nth(2).locator('.meta').innerText(), /by script-admin · import link\.csv, row 1/);
  assert.match(await entries.nth(3).locator('.meta').innerText(), /import remap\.csv, row 1/);
  await entries.nth(4).getByText('The row as received').click();
  assert.match(await entries.nth(4).locator('.record').innerText(), /firstname\s+Preecha/);
  await snap(page, 'audit-timeline');
});

test('audit › as of a moment between the imports the old relation was active; as of now, the new one', async () => {
  await visit(page, `/audit?source=nana&originalId=n7001&asOf=${encodeURIComponent(between)}`);
  const rows = page.locator('.asof-table tbody tr');
  assert.deepEqual(await rows.allInnerTexts().then((all) => all.map((t) => t.replace(/\s+/g, ' ').trim())), ['Nana n7001 C0100001 Active']);
  await snap(page, 'audit-asof');
  // The same through the form: the moment typed in Bangkok time, as the console shows every time.
  await visit(page, '/audit?source=nana&originalId=n7001');
  await page.getByLabel('As of (Bangkok time)').fill(new Date(Date.parse(between) + 7 * 3600_000).toISOString().slice(0, 19));
  await page.getByRole('button', { name: 'Show relations then' }).click();
  await page.waitForURL(/asOf=/);
  assert.deepEqual(await rows.allInnerTexts().then((all) => all.map((t) => t.replace(/\s+/g, ' ').trim())), ['Nana n7001 C0100001 Active']);
  await visit(page, `/audit?source=nana&originalId=n7001&asOf=${encodeURIComponent(new Date().toISOString())}`);
  assert.deepEqual(await rows.allInnerTexts().then((all) => all.map((t) => t.replace(/\s+/g, ' ').trim())), ['Nana n7001 C0100001 Inactive', 'Nana n7001 C0100002 Active']);
});

test('audit › the timeline exports as CSV with a BOM, CRLF and one line per event', async () => {
  await visit(page, '/audit?source=nana&originalId=n7001');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  assert.equal(download.suggestedFilename(), 'timeline-nana-n7001.csv');
  const bytes = fs.readFileSync((await download.path())!);
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  const lines = bytes.subarray(3).toString('utf8').split('\r\n').slice(0, -1);
  assert.equal(lines[0], 'at,event,careos_id,source,original_id,relinked_to,by,import_id,file_name,row,raw_row,revert_of,revert_reason');
  assert.deepEqual(lines.slice(1).map((l) => l.split(',')[1]), ['profile-created', 'profile-created', 'linked', 'unlinked', 'linked']);
  assert.ok(lines[4]!.includes(remapId), 'the unlink names the import that caused it');
});

test('audit › a profile\'s timeline starts with its creation; a bi user cannot open the page', async () => {
  await visit(page, '/audit?careosId=C0100001');
  assert.match(await page.locator('ol.timeline > li').first().locator('.headline').innerText(), /Profile created C0100001/);
  const bi = await openSession(browser, server, server.users.bi);
  assert.equal(await visit(bi.page, '/audit'), 403);
  await bi.context.close();
});

test('undo › the link import cannot be reverted while the remap stands: the page says why and names the remap\'s row that blocks it', async () => {
  admin = await openSession(browser, server, server.users.admin);
  const linkId = (await (await fetch(`${server.url}/api/imports?limit=10`, { headers: { authorization: `Bearer ${server.tokens.admin}` } })).json() as { importId: string; fileName: string }[])
    .find((i) => i.fileName === 'link.csv')!.importId;
  await visit(admin.page, `/imports/${linkId}`);
  await admin.page.getByRole('link', { name: 'Revert import…' }).click();
  await admin.page.waitForURL(/\/revert$/);
  assert.match(await admin.page.getByRole('status').first().innerText(), /Every effect of this import was built on since \(1\): revert the later imports named first\./);
  const blocker = admin.page.locator('table tbody tr');
  assert.deepEqual((await blocker.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim()), [`1 Link of nana n7001 to C0100001 remapped since import ${remapId.slice(0, 8)}…, row 1`]);
  assert.equal(await admin.page.getByRole('button', { name: 'Revert import' }).count(), 0, 'nothing to confirm');
  await snap(admin.page, 'revert-refused');
});

test('undo › the revert page comes at once and says it is working out the preview; the preview and the button follow when it is ready', async () => {
  // The preview reads every change the import made (about a minute for a million rows). While a
  // lock holds it back, the page must already be there.
  const lock = await server.db.pool.connect();
  const working = admin.page.getByRole('heading', { name: 'Working out what the revert would undo…' });
  try {
    await lock.query('begin');
    await lock.query('lock table processor_import in access exclusive mode');
    await admin.page.goto(`/imports/${remapId}/revert`, { waitUntil: 'commit' });
    await working.waitFor({ timeout: 10_000 });
    assert.match(await admin.page.locator('main').innerText(), /This reads every change the import made \(1 row\); a million-row import takes about a minute\./);
    assert.equal(await admin.page.getByRole('button', { name: 'Revert import' }).count(), 0, 'nothing to confirm before the preview');
    await snap(admin.page, 'revert-working');
  } finally {
    await lock.query('rollback');
    lock.release();
  }
  await admin.page.getByRole('button', { name: 'Revert import' }).waitFor({ timeout: 10_000 });
  assert.equal(await working.count(), 0);
  assert.match(await admin.page.locator('main').innerText(), /Ends 1 link this import made\./);
});

test('undo › the admin reverts the remap with a reason: the import is Reverted, by whom and why; n7001 is back on C0100001', async () => {
  await visit(admin.page, `/imports/${remapId}/revert`);
  assert.match(await admin.page.locator('main').innerText(), /Ends 1 link this import made\.\s+Makes 1 link active again that its remaps had ended\.\s+Marks the import Reverted/);
  await snap(admin.page, 'revert-preview');
  await admin.page.getByRole('button', { name: 'Revert import' }).click();
  assert.equal(await admin.page.getByLabel('Why is this import reverted?').evaluate((el) => (el as HTMLTextAreaElement).validity.valueMissing), true, 'a reason is required');
  await admin.page.getByLabel('Why is this import reverted?').fill('mapped to the wrong profile <b>by mistake</b>');
  await Promise.all([admin.page.waitForURL(new RegExp(`/imports/${remapId}$`)), admin.page.getByRole('button', { name: 'Revert import' }).click()]);
  const panel = admin.page.getByRole('region', { name: 'Reverted' });
  assert.match(await panel.innerText(), /By Ada Admin on .*: “?mapped to the wrong profile <b>by mistake<\/b>”?/);
  assert.match(await panel.innerText(), /1 link ended, 1 link restored, 0 profiles retired\./);
  assert.equal(await admin.page.locator('.summary').getByText('Reverted', { exact: true }).count(), 1);
  assert.equal(await admin.page.getByRole('link', { name: 'Revert import…' }).count(), 0, 'reverted once');
  await snap(admin.page, 'import-reverted');
  // The import log says it too, with who.
  await visit(admin.page, '/imports');
  const row = admin.page.getByRole('row').filter({ has: admin.page.getByText('remap.csv', { exact: true }) });
  assert.match((await row.innerText()).replace(/\s+/g, ' '), /Reverted by Ada Admin, \d/);
});

test('undo › the auditor\'s timeline shows the revert: the remap\'s link undone and the first link restored, each naming the revert and its reason; the auditor cannot revert', async () => {
  await visit(page, '/audit?source=nana&originalId=n7001');
  const entries = page.locator('ol.timeline > li');
  const headlines = (await entries.locator('.headline').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
  assert.deepEqual(headlines.slice(-2), ['Link reverted Nana n7001 ✕ C0100002', 'Link restored Nana n7001 → C0100001']);
  assert.match(await entries.nth(headlines.length - 2).locator('.revert-note').innerText(), /Undone by the revert of this import: “?mapped to the wrong profile <b>by mistake<\/b>”?/);
  assert.match(await entries.nth(headlines.length - 1).locator('.revert-note').innerText(), /Restored by the revert of a later import/);
  await snap(page, 'audit-timeline-reverted');
  // The profile's page says which of its links a revert ended or restored.
  await visit(page, '/profiles/C0100001');
  assert.match((await page.locator('table').innerText()).replace(/\s+/g, ' '), /restored by the revert of /);
  await visit(page, '/profiles/C0100002');
  assert.match((await page.locator('table').innerText()).replace(/\s+/g, ' '), /ended by the revert of that import/);
  await snap(page, 'profile-reverted-link');
  await visit(page, `/imports/${remapId}`);
  assert.equal(await page.getByRole('link', { name: 'Revert import…' }).count(), 0);
  assert.equal(await visit(page, `/imports/${remapId}/revert`), 403);
});

test('rebuild › the admin rebuilds the read models from the Read models page: it ends done, is listed under Past rebuilds, and the timeline with the revert reads the same after it', async () => {
  await visit(page, '/audit?source=nana&originalId=n7001');
  const timeline = () => page.locator('ol.timeline > li .headline').allInnerTexts();
  const before = await timeline();
  await visit(admin.page, '/imports');
  await admin.page.getByRole('navigation').getByRole('link', { name: 'Read models' }).click();
  await admin.page.waitForURL(/\/rebuild$/);
  const history = admin.page.getByRole('table', { name: 'Rebuilds, newest first' });
  assert.match(await history.innerText(), /No rebuild yet/);
  await admin.page.getByRole('button', { name: 'Rebuild read models' }).click();
  await admin.page.getByRole('button', { name: 'Yes, rebuild now' }).click();
  await admin.page.getByRole('heading', { name: 'Last rebuild' }).waitFor({ timeout: 60_000 });
  const status = await admin.page.locator('.status').innerText();
  assert.match(status, /Done on .*: [1-9][\d,]* events replayed in [\d.]+ s, started by admin@example\.com\. The importer has resumed\./);
  // Logged, and listed under Past rebuilds: who, the result, as many events as the status says.
  const replayed = status.match(/: ([\d,]+) events replayed/)![1]!;
  const rows = history.locator('tbody tr');
  assert.equal(await rows.count(), 1);
  const [, by, result, applied] = await rows.first().locator('td').allInnerTexts();
  assert.deepEqual([by, result, applied], ['admin@example.com', 'Done', replayed]);
  await snap(admin.page, 'rebuild-done');
  await visit(page, '/audit?source=nana&originalId=n7001');
  assert.deepEqual(await timeline(), before);
  assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Read models' }).count(), 0, 'not an auditor\'s page');
  assert.equal(await visit(page, '/rebuild'), 403);
});

test('audit › a later row naming a link as it stands shows as "Link confirmed", with its file, row and raw row', async () => {
  const row = `${NANA_HEADER}\nC0100002,n7009,M,Preecha,Somsri,,,021110000,,\n`;
  await finished(server, await importThroughApi(server, 'link-n7009.csv', row, 'nana'));
  await finished(server, await importThroughApi(server, 'confirm-n7009.csv', row, 'nana'));
  await visit(page, '/audit?source=nana&originalId=n7009');
  const entries = page.locator('ol.timeline > li');
  const headlines = (await entries.locator('.headline').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
  assert.deepEqual(headlines, ['Profile created C0100002', 'Linked Nana n7009 → C0100002', 'Link confirmed Nana n7009 → C0100002']);
  assert.match(await entries.nth(2).locator('.meta').innerText(), /import confirm-n7009\.csv, row 1/);
  await entries.nth(2).getByText('The row as received').click();
  assert.match(await entries.nth(2).locator('dl.record').innerText(), /n7009/);
  await snap(page, 'audit-timeline-confirmed');
});

test('no page of this suite raised an error in the browser or opened a dialog', () => {
  assert.deepEqual(auditor.errors, []);
  assert.deepEqual(auditor.dialogs, []);
  assert.deepEqual(admin.errors, []);
  assert.deepEqual(admin.dialogs, []);
});

test.run();
