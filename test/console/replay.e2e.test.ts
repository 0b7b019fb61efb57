// BI's replay in a real browser: the error file downloaded from the error log, fixed, and uploaded
// back through the modal as it is; the original's error log then tells open rows from the ones the
// replay fixed, and the import log says how many are still open.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import type { Browser, Page } from 'playwright-core';
import { parse } from 'csv-parse/sync';
import { startTestServer, type TestServer } from '../support/server.ts';
import { finished, importFixture } from './api.ts';
import { launchBrowser, openSession, snap, visit, type Session } from './browser.ts';

const test = suite('console replay');

let server: TestServer;
let browser: Browser;
let bi: Session;
let admin: Session;
let page: Page;
let originalId: string;
let workDir: string;

test.before(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-replay-test-'));
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  await finished(server, await importFixture(server, 'careos-baseline-sample.csv', 'careos'));
  originalId = await importFixture(server, 'nana-sample.csv', 'nana');
  await finished(server, originalId);
  bi = await openSession(browser, server, server.users.bi);
  admin = await openSession(browser, server, server.users.admin);
});

test.after(async () => {
  await browser?.close();
  await server?.stop();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

test('replay › BI downloads the error file: the upload\'s columns, then _replay_of naming each rejected row, then errors', async () => {
  page = bi.page;
  await visit(page, `/imports/${originalId}/errors`);
  assert.deepEqual(await page.locator('td[data-label="Status"]').allInnerTexts(), ['Open', 'Open', 'Open']);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download error file' }).click()]);
  const rows = parse(fs.readFileSync((await download.path())!), { bom: true }) as string[][];
  assert.deepEqual(rows[0]!.slice(-2), ['_replay_of', 'errors']);
  assert.deepEqual(rows.slice(1).map((r) => r.at(-2)), [`${originalId}:4`, `${originalId}:6`, `${originalId}:7`]);
  // Fixed as BI would in a spreadsheet: row 4 forced (its phone is a profile's), row 6's email and date.
  const at = (name: string) => rows[0]!.indexOf(name);
  rows[1]![at('force_create')] = 'Y';
  rows[2]![at('email')] = 'suda@example.com';
  rows[2]![at('date_of_birth')] = '1990-12-01';
  const cell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  fs.writeFileSync(path.join(workDir, 'nana-sample-fixed.csv'), `\uFEFF${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`);
});

test('replay › the admin uploads the fixed file as it is: two rows fixed, the one still missing its id rejected again', async () => {
  page = admin.page;
  await visit(page, '/imports');
  await page.getByRole('button', { name: 'Import customer' }).click();
  const modal = page.getByRole('dialog', { name: 'Import customer' });
  await modal.getByRole('combobox', { name: 'Source' }).selectOption({ label: 'Nana' });
  await modal.getByLabel('File').setInputFiles(path.join(workDir, 'nana-sample-fixed.csv'));
  await modal.getByTestId('file-ok').waitFor();
  await modal.getByRole('button', { name: 'CONFIRM IMPORT' }).click();
  await page.getByRole('alertdialog', { name: 'Confirm import' }).getByRole('button', { name: 'Confirm' }).click();
  const replayRow = page.getByRole('row').filter({ has: page.getByText('nana-sample-fixed.csv', { exact: true }) }).first();
  await replayRow.getByText('Failed').waitFor({ timeout: 60_000 });
  assert.equal(await replayRow.getByRole('cell').nth(6).innerText(), '2');
  const originalRow = page.getByRole('row').filter({ has: page.getByText('nana-sample.csv', { exact: true }) }).first();
  await originalRow.getByText('1 of 3 rejected still open').waitFor();
  await snap(page, 'imports-after-replay');
});

test('replay › the original\'s error log: Open lists the row still to fix, Resolved the two the replay fixed', async () => {
  page = bi.page;
  await visit(page, `/imports/${originalId}/errors`);
  assert.match(await page.locator('main').innerText(), /3 rejected rows, 1 still open/);
  assert.deepEqual(await page.locator('td[data-label="Status"]').allInnerTexts(), ['Fixed · row 1', 'Fixed · row 2', 'Open']);
  await page.getByRole('navigation', { name: 'Show rejected rows' }).getByRole('link', { name: 'Open' }).click();
  await page.waitForURL(/status=open/);
  assert.deepEqual(await page.locator('td[data-label="Row"]').allInnerTexts(), ['7']);
  await page.getByRole('navigation', { name: 'Show rejected rows' }).getByRole('link', { name: 'Resolved' }).click();
  await page.waitForURL(/status=resolved/);
  assert.deepEqual(await page.locator('td[data-label="Row"]').allInnerTexts(), ['4', '6']);
  await snap(page, 'error-log-resolved');
  // The replay's own error log names the row it was meant to fix.
  const imports = await (await fetch(`${server.url}/api/imports`, { headers: { authorization: `Bearer ${server.tokens.bi}` } })).json() as { importId: string; fileName: string }[];
  const replay = imports.find((i) => i.fileName === 'nana-sample-fixed.csv')!;
  await visit(page, `/imports/${replay.importId}/errors`);
  assert.match(await page.locator('td[data-label="Status"]').first().innerText(), /Open\s+replays row 7/);
  await snap(page, 'error-log-replay');
});

test('fix in place › BI opens the open row: unchanged it is rejected again; a fix that still fails a check starts nothing and says why by the field; the fixed row resolves it', async () => {
  page = bi.page;
  await visit(page, `/imports/${originalId}/errors?status=open`);
  await page.locator('td[data-label="Row"]').getByRole('link', { name: '7' }).click();
  await page.waitForURL(new RegExp(`/imports/${originalId}/errors/7$`));
  const field = page.getByLabel('nana_cus_id', { exact: true });
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#reason-nana_cus_id').innerText(), /nana_cus_id is required/);

  await page.getByRole('button', { name: 'Replay unchanged' }).click();
  await page.getByRole('alert').getByText('The replay was rejected again').waitFor();
  const before = await importCount();
  await field.fill('n5008');
  await page.getByLabel('phone', { exact: true }).fill('0812-BAD');
  await page.getByRole('button', { name: 'Replay fixed row' }).click();
  await page.locator('#reason-phone').waitFor();
  assert.match(await page.locator('#reason-phone').innerText(), /not a valid phone number/);
  assert.equal(await field.inputValue(), 'n5008', 'what was typed stays');
  assert.equal(await importCount(), before, 'a row that fails a check starts nothing');
  await snap(page, 'fix-row-invalid');

  await page.getByLabel('phone', { exact: true }).fill('0895550104');
  await page.getByRole('button', { name: 'Replay fixed row' }).click();
  await page.getByRole('status').getByText('it is resolved').waitFor({ timeout: 30_000 });
  await snap(page, 'fix-row-resolved');
  await visit(page, `/imports/${originalId}/errors?status=open`);
  assert.equal(await page.locator('tbody.group').count(), 0, 'no open row left');
  assert.match(await page.locator('main').innerText(), /3 rejected rows, 0 still open/);
});

test('fix in place › an auditor cannot open a rejected row; the API refuses them a replay', async () => {
  const auditor = await openSession(browser, server, server.users.auditor);
  assert.equal(await visit(auditor.page, `/imports/${originalId}/errors/7`), 403);
  await auditor.context.close();
  const response = await fetch(`${server.url}/api/imports/${originalId}/errors/replay`, {
    method: 'POST', headers: { authorization: `Bearer ${server.tokens.auditor}`, 'content-type': 'application/json' }, body: '{"rows":[7]}',
  });
  assert.equal(response.status, 403);
});

async function importCount(): Promise<number> {
  const response = await fetch(`${server.url}/api/imports?limit=1`, { headers: { authorization: `Bearer ${server.tokens.admin}` } });
  return Number(response.headers.get('x-total-count'));
}

test('no page of this suite raised an error in the browser or opened a dialog', () => {
  for (const session of [bi, admin]) {
    assert.deepEqual(session.errors, []);
    assert.deepEqual(session.dialogs, []);
  }
});

test.run();
