// Care Shop in the console, in a real browser against a real server that syncs from a Care Shop
// test database: the Nana gate (state for everyone, marked and reopened by admins, "Sync now" and
// a Care Shop upload disabled with the reason while it is closed), a sync from the table whose row
// ends with its skipped count, its error log, and a Care Shop file uploaded through the modal.
import assert from 'node:assert/strict';
import { suite } from 'uvu';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.ts';
import { finished, importFixture } from './api.ts';
import { eventually, launchBrowser, openSession, snap, visit, type Session } from './browser.ts';

const test = suite('console care shop');

let server: TestServer;
let browser: Browser;
let admin: Session;
let page: Page;

const panel = () => page.getByRole('region', { name: 'Care Shop' });
const syncButton = () => panel().getByRole('button', { name: 'Sync now' });
const modal = () => page.getByRole('dialog', { name: 'Import customer' });

function logRow(fileName: string) {
  return page.getByRole('row').filter({ has: page.getByText(fileName, { exact: true }) }).first();
}

test.before(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  await finished(server, await importFixture(server, 'careos-baseline-sample.csv', 'careos'));
  // The shop's customers: CS-0101 is the baseline's Kanya (same phone, same names), CS-0102 new,
  // CS-0103 has a number outside the Thai plan, CS-0104 a Thai name.
  await server.shop.pool.query(
    `insert into customer (customer_id, firstname, lastname, mobile_phone, email) values
       ('CS-0101', 'Kanya', 'Rattanakul', '081-777-1111', 'kanya.r@example.co.th'),
       ('CS-0102', 'Napa', 'Boonmee', '0815556666', 'napa@example.com'),
       ('CS-0103', 'Bad', 'Phone', '0712345678', null),
       ('CS-0104', 'สมหญิง', 'ใจดี', '+66 86 123 4567', null)`,
  );
  admin = await openSession(browser, server, server.users.admin);
  page = admin.page;
});

test.after(async () => {
  await browser?.close();
  await server?.stop();
});

test('gate › until Nana onboarding is marked complete, "Sync now" is disabled and says why; a Care Shop file cannot be confirmed', async () => {
  await visit(page, '/imports');
  await panel().getByText('Not complete').waitFor();
  assert.equal(await syncButton().isDisabled(), true);
  assert.match(await panel().innerText(), /Sync waits until Nana onboarding is marked complete/);
  await snap(page, 'careshop-gate-closed');

  await page.getByRole('button', { name: 'Import customer' }).click();
  await modal().getByRole('combobox', { name: 'Source' }).selectOption({ label: 'Care Shop' });
  await modal().getByLabel('File').setInputFiles(fixture('careshop-sample.csv'));
  await modal().getByTestId('file-ok').waitFor();
  assert.match(await modal().getByTestId('source-gated').innerText(), /until Nana onboarding is marked complete/);
  assert.equal(await modal().getByRole('button', { name: 'CONFIRM IMPORT' }).isDisabled(), true);
  await modal().getByRole('button', { name: 'Cancel' }).click();
});

test('gate › bi and auditor see the gate\'s state but no button to mark it or to sync', async () => {
  for (const user of [server.users.bi, server.users.auditor]) {
    const session = await openSession(browser, server, user);
    await visit(session.page, '/imports');
    const region = session.page.getByRole('region', { name: 'Care Shop' });
    await region.getByText('Not complete').waitFor();
    assert.equal(await region.getByRole('button').count(), 0, `${user.role} has no Care Shop button`);
    assert.deepEqual(session.errors, []);
    await session.context.close();
  }
});

test('gate › an admin marks Nana onboarding complete: the panel names who and when, and "Sync now" is enabled', async () => {
  await visit(page, '/imports');
  await panel().getByRole('button', { name: 'Mark Nana onboarding complete' }).click();
  await panel().getByText('Complete', { exact: true }).waitFor();
  assert.match(await panel().innerText(), /Marked complete by Ada Admin/);
  await eventually('Sync now enabled', () => syncButton().isEnabled(), (enabled) => enabled);
});

test('sync › "Sync now" starts a sync; its row ends Failed with 2 imported, 1 skipped, and its error log names the mobile phone', async () => {
  await visit(page, '/imports');
  await syncButton().click();
  await panel().getByRole('status').getByText('Care Shop sync started').waitFor();
  const row = logRow('table public.customer');
  await row.getByText('Failed').waitFor({ timeout: 60_000 });
  assert.equal(await row.getByRole('cell').nth(2).innerText(), 'Care Shop');
  assert.match(await row.getByRole('cell').nth(6).innerText(), /^2\s+1 skipped$/);
  await snap(page, 'careshop-synced');

  await row.getByRole('link', { name: 'Failed' }).click();
  await page.waitForURL(/\/imports\/[^/]+\/errors$/);
  const rejected = page.locator('tbody.group');
  assert.equal(await rejected.count(), 1);
  assert.equal(await rejected.first().locator('td[data-label="customer_id"]').innerText(), 'CS-0103');
  assert.match(await rejected.first().getByRole('listitem').innerText(), /mobile_phone[\s\S]*0712345678/);
  await snap(page, 'careshop-error-log');
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'table public.customer' }).click();
  await page.waitForURL(/\/imports\/[^/]+$/);
  assert.match(await page.locator('main').innerText(), /4 in the file · 2 imported · 1 rejected · 1 skipped/);
  // The import's history log: each record and what came of it, the matched one naming the baseline profile.
  const history = page.getByRole('region', { name: 'History log' });
  const outcomes = await history.locator('tbody tr').evaluateAll((rows) => rows.map((r) => [r.querySelector('[data-label="Customer id"]')?.textContent?.trim(), r.querySelector('[data-label="Outcome"]')?.textContent?.trim()]));
  assert.deepEqual(outcomes, [['CS-0101', 'Matched a profile (skipped)'], ['CS-0102', 'New profile'], ['CS-0103', 'Rejected'], ['CS-0104', 'New profile']]);
  await history.getByRole('link', { name: /^[0-9a-f-]{36}$|^C0100001$/ }).first().waitFor();
  await snap(page, 'careshop-import-history');
});

test('upload › a Care Shop file through the modal: the same rules, and customer ids synced before are skipped', async () => {
  await visit(page, '/imports');
  await page.getByRole('button', { name: 'Import customer' }).click();
  await modal().getByRole('combobox', { name: 'Source' }).selectOption({ label: 'Care Shop' });
  await modal().getByLabel('File').setInputFiles(fixture('careshop-sample.csv'));
  await modal().getByTestId('file-ok').waitFor();
  assert.equal(await modal().getByTestId('source-gated').count(), 0);
  await modal().getByRole('button', { name: 'CONFIRM IMPORT' }).click();
  await page.getByRole('alertdialog', { name: 'Confirm import' }).getByRole('button', { name: 'Confirm' }).click();
  const row = logRow('careshop-sample.csv');
  await row.getByText('Failed').waitFor({ timeout: 60_000 });
  // CS-0001 matches the baseline's Kanya (skipped), CS-0002 and CS-0003 are new, CS-0004 is rejected.
  assert.match(await row.getByRole('cell').nth(6).innerText(), /^2\s+1 skipped$/);
});

test('gate › reopening needs a reason; once reopened the panel shows it and "Sync now" is disabled again', async () => {
  await visit(page, '/imports');
  await panel().getByRole('button', { name: 'Reopen…' }).click();
  await panel().getByLabel('Reason to reopen').fill('one more Nana file from the Chiang Mai branch');
  await panel().getByRole('button', { name: 'Reopen', exact: true }).click();
  await panel().getByText('Not complete').waitFor();
  assert.match(await panel().innerText(), /Reopened by Ada Admin.*one more Nana file from the Chiang Mai branch/s);
  assert.equal(await syncButton().isDisabled(), true);
  await snap(page, 'careshop-gate-reopened');
});

test('no page of this suite raised an error in the browser or opened a dialog', () => {
  assert.deepEqual(admin.errors, []);
  assert.deepEqual(admin.dialogs, []);
});

function fixture(name: string): string {
  return new URL(`../fixtures/${name}`, import.meta.url).pathname;
}

test.run();
