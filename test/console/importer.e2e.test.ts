// The importer as an admin uses it, in a real browser against a real server: the upload modal's
// checks, the confirm window, a live In progress row that ends Success or Failed, the error log
// and its download, pagination, profile search, and user data rendered as text only.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.ts';
import { finished, getImport, importFixture, importThroughApi } from './api.ts';
import { eventually, launchBrowser, openSession, snap, visit, type Session } from './browser.ts';

const test = suite('console importer');
const NANA_HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
const CAREOS_HEADER = 'careos_cus_id,firstname,lastname,phone,email,gender,date_of_birth';

let server: TestServer;
let browser: Browser;
let admin: Session;
let page: Page;
let workDir: string;

/** A CareOS-profiles file of `rows` valid rows (unique ids and mobile numbers from `from`). */
function careosFile(name: string, rows: number, from: number): string {
  const lines = [CAREOS_HEADER];
  for (let n = from; n < from + rows; n++) {
    lines.push(`CP${String(n).padStart(7, '0')},First${n},Last${n},08${String(10_000_000 + n).slice(-8)},p${n}@example.com,${n % 2 ? 'F' : 'M'},1990-01-${String((n % 28) + 1).padStart(2, '0')}`);
  }
  const file = path.join(workDir, name);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function importCount(): Promise<number> {
  const response = await fetch(`${server.url}/api/imports?limit=1`, { headers: { authorization: `Bearer ${server.tokens.admin}` } });
  return Number(response.headers.get('x-total-count'));
}

/** The import log's row for a file name (the newest of that name). */
function logRow(fileName: string) {
  return page.getByRole('row').filter({ has: page.getByText(fileName, { exact: true }) }).first();
}

async function openUpload(): Promise<void> {
  await page.getByRole('button', { name: 'Import customer' }).click();
  await page.getByRole('dialog', { name: 'Import customer' }).waitFor();
}

const modal = () => page.getByRole('dialog', { name: 'Import customer' });
const confirmButton = () => modal().getByRole('button', { name: 'CONFIRM IMPORT' });
const fileField = () => modal().getByLabel('File');

test.before(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-console-test-'));
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  await finished(server, await importFixture(server, 'careos-baseline-sample.csv', 'careos'));
  admin = await openSession(browser, server, server.users.admin);
  page = admin.page;
});

test.after(async () => {
  await browser?.close();
  await server?.stop();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

test('upload modal › opens with focus inside, keeps Tab inside, and Escape closes it and gives focus back', async () => {
  await visit(page, '/imports');
  await openUpload();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'upload-source', 'focus moves to the first field');
  assert.equal(await confirmButton().isDisabled(), true, 'nothing chosen yet');
  for (let press = 0; press < 8; press++) {
    await page.keyboard.press(press % 3 === 2 ? 'Shift+Tab' : 'Tab');
    assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest('dialog[open]'))), true, `Tab ${press} stays in the modal`);
  }
  await snap(page, 'upload-modal');
  await page.keyboard.press('Escape');
  await modal().waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Import customer', 'focus is back on the button');
  // The close button closes it too.
  await openUpload();
  await modal().getByRole('button', { name: 'Close' }).click();
  await modal().waitFor({ state: 'hidden' });
});

test('upload modal › a file whose header is wrong shows why, clears the file field and keeps CONFIRM IMPORT disabled; nothing is sent', async () => {
  const before = await importCount();
  await visit(page, '/imports');
  await openUpload();
  await modal().getByRole('combobox', { name: 'Source' }).selectOption({ label: 'Nana' });
  await fileField().setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from('name,phone\nSomchai,0812345678\n') });
  const error = modal().getByTestId('file-error');
  await error.waitFor();
  assert.match(await error.innerText(), /^people\.csv: header has unknown column "name"/);
  assert.equal(await fileField().evaluate((input: HTMLInputElement) => input.files?.length ?? 0), 0, 'the file field is cleared');
  assert.equal(await confirmButton().isDisabled(), true);
  await snap(page, 'upload-bad-header');

  // Not a .csv: refused by type before its content is looked at.
  await fileField().setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(`${NANA_HEADER}\n`) });
  await eventually('the type refusal', () => error.innerText(), (text) => /^notes\.txt: not a CSV file/.test(text), 10_000);
  assert.equal(await confirmButton().isDisabled(), true);

  // A file good for Nana is refused when the source changes to CareOS profiles (the check runs again).
  await fileField().setInputFiles({ name: 'nana-ok.csv', mimeType: 'text/csv', buffer: Buffer.from(`${NANA_HEADER}\n,n1,F,A,B,,,0812345678,,\n`) });
  await modal().getByTestId('file-ok').waitFor();
  assert.match(await modal().getByTestId('file-ok').innerText(), /nana-ok\.csv/);
  assert.equal(await confirmButton().isEnabled(), true);
  await modal().getByRole('combobox', { name: 'Source' }).selectOption({ label: 'CareOS existing profiles' });
  await eventually('the source refusal', () => error.innerText(), (text) => /^nana-ok\.csv: header has unknown columns "nana_cus_id"/.test(text), 10_000);
  assert.equal(await confirmButton().isDisabled(), true);
  await page.keyboard.press('Escape');
  assert.equal(await importCount(), before, 'no upload was made');
});

test('upload › a good file goes through the confirm window, shows In progress with its progress live, and ends Success with every row imported', async () => {
  const file = careosFile('careos-40k.csv', 40_000, 1);
  await visit(page, '/imports');
  await openUpload();
  await modal().getByRole('combobox', { name: 'Source' }).selectOption({ label: 'CareOS existing profiles' });
  await fileField().setInputFiles(file);
  await modal().getByTestId('file-ok').waitFor();
  assert.match(await modal().getByTestId('file-ok').innerText(), /careos-40k\.csv[\s\S]*2\.\d MB/);
  await snap(page, 'upload-valid-file');

  // Cancel in the confirm window goes back to the modal, file kept.
  await confirmButton().click();
  const question = page.getByRole('alertdialog', { name: 'Confirm import' });
  await question.waitFor();
  assert.equal(await question.getByTestId('confirm-question').innerText(), 'Import careos-40k.csv as CareOS existing profiles?');
  await question.getByRole('button', { name: 'Cancel' }).click();
  await question.waitFor({ state: 'hidden' });
  assert.equal(await confirmButton().isEnabled(), true);

  await confirmButton().click();
  await question.waitFor();
  await snap(page, 'upload-confirm');
  await question.getByRole('button', { name: 'Confirm' }).click();
  await modal().waitFor({ state: 'hidden', timeout: 30_000 });
  await page.getByText('Import of careos-40k.csv started').waitFor();

  const row = logRow('careos-40k.csv');
  await row.getByText('In progress').waitFor();
  await row.getByRole('progressbar').waitFor();
  assert.equal(await row.getByRole('cell').nth(3).innerText(), 'Ada Admin', 'Imported by shows the display name');
  assert.match(await row.getByRole('cell').nth(4).innerText(), /^\d\d\/\d\d\/\d{4} \(\d{1,2}:\d\d:\d\d [AP]M\)$/);
  await snap(page, 'import-in-progress');
  // No reload: the page follows the import by itself.
  await row.getByText('Success').waitFor({ timeout: 90_000 });
  assert.equal(await row.getByRole('cell').nth(6).innerText(), '40,000');
  assert.equal(await row.getByRole('progressbar').count(), 0);
  const importId = (await row.getByRole('cell').first().innerText()).replace(/\s/g, '');
  const view = await getImport(server, importId);
  assert.equal(view.status, 'Success');
  assert.equal(view.importedRows, 40_000);
  assert.equal(view.importedByName, 'Ada Admin');
  await snap(page, 'import-success');
});

test('upload › a file the server refuses (neither UTF-8 nor Thai past the first 64 KB the browser reads) shows the server\'s reason in the modal', async () => {
  const head = Buffer.from(`${CAREOS_HEADER}\n`);
  const rows = Buffer.from(Array.from({ length: 4000 }, (_, i) => `CX${i},A,B,08${String(30_000_000 + i)},,F,\n`).join(''));
  const file = path.join(workDir, 'latin1-tail.csv');
  fs.writeFileSync(file, Buffer.concat([head, rows, Buffer.from([0x43, 0x59, 0x2c, 0xe9, 0x2c, 0x42, 0x0a])]));
  assert.ok(fs.statSync(file).size > 64 * 1024);
  const before = await importCount();
  await visit(page, '/imports');
  await openUpload();
  await modal().getByRole('combobox', { name: 'Source' }).selectOption({ label: 'CareOS existing profiles' });
  await fileField().setInputFiles(file);
  await modal().getByTestId('file-ok').waitFor();
  await confirmButton().click();
  await page.getByRole('alertdialog', { name: 'Confirm import' }).getByRole('button', { name: 'Confirm' }).click();
  const refused = modal().getByTestId('upload-refused');
  await refused.waitFor({ timeout: 30_000 });
  assert.match(await refused.innerText(), /latin1-tail\.csv: not UTF-8 nor Thai Windows-874 \(TIS-620\) text .*CSV UTF-8/);
  assert.equal(await fileField().evaluate((input: HTMLInputElement) => input.files?.length ?? 0), 0, 'the refused file is cleared');
  assert.equal(await confirmButton().isDisabled(), true);
  await snap(page, 'upload-refused-by-server');
  await page.keyboard.press('Escape');
  await modal().waitFor({ state: 'hidden' });
  assert.equal(await importCount(), before, 'a refused file starts nothing');
});

test('error log › Nana sample ends Failed with 4 imported rows; Failed opens its error log with each rejected row whole and every reason', async () => {
  await visit(page, '/imports');
  await openUpload();
  await modal().getByRole('combobox', { name: 'Source' }).selectOption({ label: 'Nana' });
  await fileField().setInputFiles(fileURLPath('nana-sample.csv'));
  await modal().getByTestId('file-ok').waitFor();
  await confirmButton().click();
  await page.getByRole('alertdialog', { name: 'Confirm import' }).getByRole('button', { name: 'Confirm' }).click();
  const row = logRow('nana-sample.csv');
  await row.getByText('Failed').waitFor({ timeout: 60_000 });
  assert.equal(await row.getByRole('cell').nth(6).innerText(), '4');

  await row.getByRole('link', { name: 'Failed' }).click();
  await page.waitForURL(/\/imports\/[^/]+\/errors$/);
  await page.getByRole('heading', { name: 'Error log' }).waitFor();
  const rows = page.locator('tbody.group');
  assert.equal(await rows.count(), 3);
  assert.deepEqual(await rows.locator('td[data-label="Row"]').allInnerTexts(), ['4', '6', '7']);
  const suda = rows.nth(1);
  assert.equal(await suda.locator('td[data-label="email"]').innerText(), 'suda@@example.com');
  assert.equal(await suda.locator('td[data-label="date_of_birth"]').innerText(), '1990-13-01');
  const reasons = await suda.getByRole('listitem').allInnerTexts();
  assert.equal(reasons.length, 2);
  assert.match(reasons[0]!, /email[\s\S]*not a valid email address/);
  assert.match(reasons[1]!, /date_of_birth[\s\S]*not a real date/);
  assert.match(await rows.nth(0).getByRole('listitem').innerText(), /already belongs to CareOS profile/);
  await snap(page, 'error-log');
  // The import's page sums it up and links to the same log.
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'nana-sample.csv' }).click();
  await page.waitForURL(/\/imports\/[^/]+$/);
  assert.match(await page.locator('main').innerText(), /7 in the file · 4 imported · 3 rejected/);
  await page.getByRole('link', { name: 'Error log (3)' }).waitFor();
  await snap(page, 'import-page');
});

test('error file › the download has the BOM, the upload\'s columns in its order then errors, CRLF, and neutralised formulas', async () => {
  const header = 'phone,firstname,lastname,nana_cus_id,careos_cus_id,gender,email,date_of_birth,company_name,force_create';
  const lines = [
    header,
    '0891111001,"=HYPERLINK(""http://evil.example"")",Boom,n9001,,M,bad@@mail,,,',
    '0891111002,+SUM(A1:A9),Plus,n9002,,F,,1990-02-30,,',
    '0891111003,-1+1,Minus,n9003,,X,,,,',
    '0891111004,@cmd,At,,,,,,,',
    '0891111005,Fine,Row,n9005,,F,fine@example.com,,,',
  ];
  const importId = await importThroughApi(server, 'formulas.csv', `${lines.join('\n')}\n`, 'nana');
  assert.equal((await finished(server, importId)).rejectedRows, 4);
  await visit(page, `/imports/${importId}/errors`);
  // The screen shows the values as uploaded, in the upload's column order.
  const headers = await page.locator('thead th').allInnerTexts();
  assert.deepEqual(headers.map((h) => h.toLowerCase()), ['row', 'status', ...header.split(',')]);
  assert.equal(await page.locator('tbody.group').first().locator('td[data-label="firstname"]').innerText(), '=HYPERLINK("http://evil.example")');
  await snap(page, 'error-log-formulas');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download error file' }).click()]);
  assert.equal(download.suggestedFilename(), 'formulas-errors.csv');
  const bytes = fs.readFileSync((await download.path())!);
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  const text = bytes.subarray(3).toString('utf8');
  assert.ok(text.endsWith('\r\n'));
  const fileLines = text.split('\r\n').slice(0, -1);
  assert.equal(fileLines.length, 5);
  assert.equal(fileLines[0], `${header},_replay_of,errors`);
  assert.ok(!text.replace(/\r\n/g, '').includes('\n'), 'CRLF line ends only');
  assert.match(fileLines[1]!, /^0891111001,"'=HYPERLINK\(""http:\/\/evil\.example""\)",Boom,n9001,/);
  assert.match(fileLines[2]!, /^0891111002,'\+SUM\(A1:A9\),Plus,/);
  assert.match(fileLines[3]!, /^0891111003,'-1\+1,Minus,/);
  assert.match(fileLines[4]!, /^0891111004,'@cmd,At,/);
});

test('pagination › page links and "Show N entries" at top and bottom; page and size live in the URL through reload and back', async () => {
  // Enough imports for three pages of 10 (tiny files through the API, as scripts send them).
  const existing = await importCount();
  const wanted = Math.max(0, 27 - existing);
  for (let batch = 0; batch < wanted; batch += 5) {
    await Promise.all(Array.from({ length: Math.min(5, wanted - batch) }, (_, i) => {
      const n = 900_000 + batch + i;
      return importThroughApi(server, `tiny-${n}.csv`, `${CAREOS_HEADER}\nT${n},Tiny,${n},08${String(40_000_000 + n).slice(-8)},,,\n`, 'careos');
    }));
  }
  const total = await importCount();
  assert.ok(total >= 27 && total <= 30, `total ${total}`);
  // Every import finished first: no row is live-refreshing while the test clicks through pages.
  const newest = await eventually('every import finished', async () =>
    (await (await fetch(`${server.url}/api/imports?limit=100`, { headers: { authorization: `Bearer ${server.tokens.admin}` } })).json()) as { importId: string; status: string }[],
  (imports) => imports.every((i) => i.status !== 'In progress'), 60_000);

  await visit(page, '/imports');
  const dataRows = page.locator('tbody tr');
  const ids = async () => (await page.locator('tbody td[data-label="Id"]').allInnerTexts()).map((t) => t.replace(/\s/g, ''));
  assert.equal(await dataRows.count(), 10);
  assert.deepEqual(await ids(), newest.slice(0, 10).map((i) => i.importId), 'newest first');
  const top = page.getByRole('navigation', { name: 'Pages (top)' });
  const bottom = page.getByRole('navigation', { name: 'Pages (bottom)' });
  assert.deepEqual(await top.getByRole('link', { name: /^Page \d/ }).allInnerTexts(), ['1', '2', '3']);
  assert.deepEqual(await bottom.getByRole('link', { name: /^Page \d/ }).allInnerTexts(), ['1', '2', '3']);
  assert.equal(await top.locator('[aria-current="page"]').innerText(), '1');
  await snap(page, 'imports-paginated');

  await bottom.getByRole('link', { name: 'Page 2' }).click();
  await page.waitForURL((u) => u.search === '?page=2');
  await eventually('page 2', ids, (shown) => shown[0] === newest[10]!.importId, 10_000);
  assert.equal(await top.locator('[aria-current="page"]').innerText(), '2');
  await top.getByRole('link', { name: 'Next page' }).click();
  await page.waitForURL((u) => u.search === '?page=3');
  await eventually('page 3', ids, (shown) => shown.length === total - 20, 10_000);

  await page.locator('#page-size-top').selectOption('25');
  await page.waitForURL((u) => u.search === '?size=25');
  await eventually('25 entries', ids, (shown) => shown.length === 25, 10_000);
  assert.deepEqual(await top.getByRole('link', { name: /^Page \d/ }).allInnerTexts(), ['1', '2']);
  await page.reload();
  await page.waitForLoadState('networkidle');
  assert.equal((await ids()).length, 25, 'reload keeps the size');
  assert.equal(await page.locator('#page-size-bottom').inputValue(), '25');
  await page.goBack();
  await page.waitForURL((u) => u.search === '?page=3');
  await eventually('back to page 3', ids, (shown) => shown.length === total - 20, 10_000);

  // Invalid values fall back to the defaults; a page past the end shows the last page.
  await visit(page, '/imports?page=zz&size=7');
  assert.equal((await ids()).length, 10);
  assert.equal(await top.locator('[aria-current="page"]').innerText(), '1');
  await visit(page, '/imports?page=999&size=10');
  assert.equal(await top.locator('[aria-current="page"]').innerText(), '3');
});

test('profiles › a phone in another format finds the profile; its page shows phones, companies, where it was created, and its relations active and inactive', async () => {
  const created = await importThroughApi(server, 'profiles.csv', [
    NANA_HEADER,
    ',"n6001,n6002",F,Pim,Chaiyo,pim@example.com,1985-05-05,"089-555-0201,02-555-0201","""Rabbit Care Co., Ltd."", ""Rabbit Internet Co., Ltd.""",',
    ',n6003,F,สมศรี,ใจดี,,,+66895550202,,',
  ].join('\n') + '\n', 'nana');
  assert.equal((await finished(server, created)).importedRows, 2);
  // Relink n6002 to C0100002: Pim's relation to it becomes inactive, with who, when and which import.
  const remap = await importThroughApi(server, 'remap.csv', `${NANA_HEADER}\nC0100002,n6002,M,Preecha,Somsri,,,021110000,,\n`, 'nana');
  assert.equal((await finished(server, remap)).status, 'Success');

  await visit(page, '/profiles');
  await page.getByLabel('Phone, name or CareOS id').fill('+66895550201');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL((u) => u.searchParams.get('q') === '+66895550201');
  await page.getByText('1 profile found by phone +66895550201').waitFor();
  assert.deepEqual(await page.locator('tbody td[data-label="Name"]').allInnerTexts(), ['Pim Chaiyo']);
  await visit(page, `/profiles?q=${encodeURIComponent('089-555-0201')}`);
  assert.deepEqual(await page.locator('tbody td[data-label="Name"]').allInnerTexts(), ['Pim Chaiyo'], 'the same profile in another format');
  await snap(page, 'profile-search-phone');

  await page.getByRole('link', { name: 'Pim Chaiyo' }).click();
  await page.waitForURL(/\/profiles\/[^/?]+$/);
  await page.getByRole('heading', { name: 'Pim Chaiyo' }).waitFor();
  const main = await page.locator('main').innerText();
  for (const shown of ['+66895550201', '+6625550201', 'pim@example.com', 'Rabbit Care Co., Ltd.', 'Rabbit Internet Co., Ltd.', '1985-05-05', 'Female (F)', `${created}, row 1`]) {
    assert.ok(main.includes(shown), `the page shows ${shown}`);
  }
  const active = page.locator('tbody tr').filter({ hasText: 'n6001' });
  assert.match(await active.locator('td[data-label="Status"]').innerText(), /^Active$/);
  assert.match(await active.locator('td[data-label="Linked"]').innerText(), new RegExp(`by script-admin[\\s\\S]*import ${created}, row 1`));
  const inactive = page.locator('tbody tr').filter({ hasText: 'n6002' });
  assert.match(await inactive.locator('td[data-label="Status"]').innerText(), /^Inactive$/);
  assert.match(await inactive.locator('td[data-label="Unlinked"]').innerText(), new RegExp(`\\d\\d/\\d\\d/\\d{4} \\(.*\\)[\\s\\S]*by script-admin[\\s\\S]*import ${remap}, row 1`));
  // The import is a link.
  assert.equal(await inactive.getByRole('link', { name: remap }).getAttribute('href'), `/imports/${remap}`);
  await snap(page, 'profile-page');

  // A Thai name is found and shown in Thai.
  await visit(page, `/profiles?q=${encodeURIComponent('สมศรี')}`);
  assert.deepEqual(await page.locator('tbody td[data-label="Name"]').allInnerTexts(), ['สมศรี ใจดี']);
  await snap(page, 'profile-search-thai');
});

test('xss › a name like <img src=x onerror=alert(1)> imported through a file renders as text everywhere', async () => {
  const evil = '<img src=x onerror=alert(1)>';
  const script = '<script>alert(2)</script>';
  const content = `${NANA_HEADER}\n,n7001,F,${evil},${script},,,0897770001,"""<b>Bold</b> Co."", ""Ltd""",\n,n7002,M,${evil},Rejected,not-an-email,,0897770002,,\n`;
  const importId = await importThroughApi(server, `${evil}.csv`, content, 'nana');
  assert.equal((await finished(server, importId)).rejectedRows, 1);

  await visit(page, '/imports');
  await page.getByText(`${evil}.csv`, { exact: true }).waitFor();
  await visit(page, `/profiles?q=0897770001`);
  await page.getByText(`${evil} ${script}`, { exact: true }).waitFor();
  await page.getByText(`${evil} ${script}`, { exact: true }).click();
  await page.waitForURL(/\/profiles\/[^/?]+$/);
  await page.getByRole('heading', { name: `${evil} ${script}` }).waitFor();
  await page.getByText('<b>Bold</b> Co.', { exact: true }).waitFor();
  await snap(page, 'xss-as-text');
  await visit(page, `/imports/${importId}/errors`);
  await page.getByText(evil, { exact: true }).waitFor();
  assert.equal(await page.locator('img[src="x"], b').count(), 0, 'no element made from the data');
  await page.waitForTimeout(300);
  assert.deepEqual(admin.dialogs, [], 'no dialog fired');
});

test('no page of this suite raised an error in the browser or opened a dialog', () => {
  assert.deepEqual(admin.errors, []);
  assert.deepEqual(admin.dialogs, []);
});

function fileURLPath(fixture: string): string {
  return new URL(`../fixtures/${fixture}`, import.meta.url).pathname;
}

test.run();
