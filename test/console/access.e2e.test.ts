// Who may use the console, proved in a real browser against a real server: sign-in and sign-out,
// anonymous visitors sent to the login page, the bi and auditor roles refused the importer, the
// one-time password changed before anything else, and failed sign-ins rate-limited.
import assert from 'node:assert/strict';
import { suite } from 'uvu';
import type { Browser } from 'playwright-core';
import { addUser } from '../../services/auth/users.ts';
import { startTestServer, signInCookie, type TestServer } from '../support/server.ts';
import { finished, importFixture } from './api.ts';
import { SCREENSHOTS, fillLogin, launchBrowser, openSession, snap, visit } from './browser.ts';

const test = suite('console access');
let server: TestServer;
let browser: Browser;
let failedImport: string;

test.before(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  await finished(server, await importFixture(server, 'careos-baseline-sample.csv', 'careos'));
  failedImport = await importFixture(server, 'nana-sample.csv', 'nana');
  assert.equal((await finished(server, failedImport)).status, 'Failed');
});

test.after(async () => {
  await browser?.close();
  await server?.stop();
});

test('anonymous › every console page sends to the login page, which brings the user back after sign-in', async () => {
  const { page, context } = await openSession(browser, server);
  await visit(page, '/imports?page=1&size=25');
  const url = new URL(page.url());
  assert.equal(url.pathname, '/login');
  assert.equal(url.searchParams.get('next'), '/imports?page=1&size=25');
  await snap(page, 'login');
  for (const path of ['/', '/profiles', `/imports/${failedImport}/errors`, '/account/password', '/no-such-page']) {
    const response = await fetch(`${server.url}${path}`, { redirect: 'manual' });
    assert.equal(response.status, 303, path);
    assert.match(response.headers.get('location') ?? '', /^\/login\?next=/, path);
  }
  // The API answers 401 (not a redirect) to a request without a session or token.
  const api = await fetch(`${server.url}/api/imports`, { method: 'POST', headers: { origin: server.url } });
  assert.equal(api.status, 401);
  await fillLogin(page, server.users.admin.email, server.users.admin.password);
  await page.waitForURL((u) => u.pathname === '/imports');
  assert.equal(new URL(page.url()).search, '?page=1&size=25');
  await context.close();
});

test('login › a wrong password is refused with a message, and sign-in then sign-out works', async () => {
  const { page, context } = await openSession(browser, server);
  await visit(page, '/login');
  await fillLogin(page, server.users.admin.email, 'not-the-password');
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /email or password is wrong/i);
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.getByLabel('Email').inputValue(), server.users.admin.email, 'the email is kept');
  await snap(page, 'login-wrong-password');

  await page.getByLabel('Password').fill(server.users.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/imports');
  await page.getByRole('heading', { name: 'IMPORT CUSTOMER' }).waitFor();
  assert.equal(await page.getByTestId('user-name').innerText(), 'Ada Admin');
  assert.equal(await page.getByTestId('user-role').innerText(), 'Admin');
  const cookie = (await context.cookies()).find((c) => c.name === 'careos_session');
  assert.ok(cookie, 'a session cookie is set');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.pathname === '/login');
  assert.equal((await context.cookies()).find((c) => c.name === 'careos_session'), undefined, 'the cookie is cleared');
  // The session is over on the server too: the old cookie opens nothing.
  const replay = await fetch(`${server.url}/imports`, { headers: { cookie: `careos_session=${cookie.value}` }, redirect: 'manual' });
  assert.equal(replay.status, 303);
  assert.match(replay.headers.get('location') ?? '', /^\/login/);
  await context.close();
});

test('login › the session id changes at every sign-in and the previous one ends', async () => {
  const first = await signInCookie(server, server.users.bi);
  const body = new URLSearchParams({ email: server.users.bi.email, password: server.users.bi.password });
  const response = await fetch(`${server.url}/login`, {
    method: 'POST', body, redirect: 'manual',
    headers: { origin: server.url, cookie: first, 'content-type': 'application/x-www-form-urlencoded', 'x-sveltekit-action': 'true' },
  });
  const second = response.headers.getSetCookie().find((c) => c.startsWith('careos_session='))?.split(';')[0];
  assert.ok(second);
  assert.notEqual(second, first);
  const withFirst = await fetch(`${server.url}/imports`, { headers: { cookie: first }, redirect: 'manual' });
  assert.equal(withFirst.status, 303, 'the previous session ended');
  const withSecond = await fetch(`${server.url}/imports`, { headers: { cookie: second }, redirect: 'manual' });
  assert.equal(withSecond.status, 200);
});

test('login › next is honoured only for a path of this site', async () => {
  for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
    const { page, context } = await openSession(browser, server);
    await visit(page, `/login?next=${encodeURIComponent(next)}`);
    await fillLogin(page, server.users.auditor.email, server.users.auditor.password);
    await page.waitForURL((u) => u.pathname !== '/login');
    const url = new URL(page.url());
    assert.equal(url.origin, new URL(server.url).origin, next);
    assert.equal(url.pathname, '/imports', next);
    if (next.startsWith('//')) await snap(page, 'login-foreign-next-lands-on-imports');
    await context.close();
  }
});

test('bi › reads the import log and error logs but has no "Import customer" button, and the API refuses its upload', async () => {
  const { page, context } = await openSession(browser, server, server.users.bi);
  await visit(page, '/imports');
  await page.getByRole('heading', { name: 'IMPORT CUSTOMER' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Import customer' }).count(), 0);
  assert.deepEqual(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts(), ['Import']);
  await snap(page, 'imports-as-bi');
  // The Failed status links to the error log, which bi may read.
  await page.getByRole('link', { name: 'Failed' }).click();
  await page.waitForURL((u) => u.pathname === `/imports/${failedImport}/errors`);
  await page.getByRole('heading', { name: 'Error log' }).waitFor();

  // Posting a file with bi's session cookie, from the console's own origin: 403.
  const upload = await page.request.post('/api/imports', {
    headers: { origin: server.url },
    multipart: { source: 'nana', file: { name: 'x.csv', mimeType: 'text/csv', buffer: Buffer.from('careos_cus_id\n') } },
  });
  assert.equal(upload.status(), 403);
  // Pages the role may not open: the 403 page.
  assert.equal(await visit(page, '/profiles'), 403);
  await page.getByRole('heading', { name: 'You do not have access to this page' }).waitFor();
  await context.close();
});

test('auditor › reads the import log, profiles and the audit page, but a Failed status is plain text and the error log is a 403 page', async () => {
  const { page, context } = await openSession(browser, server, server.users.auditor);
  await visit(page, '/imports');
  assert.equal(await page.getByRole('button', { name: 'Import customer' }).count(), 0);
  assert.deepEqual(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts(), ['Import', 'Profiles', 'Audit']);
  assert.equal(await page.getByRole('link', { name: 'Failed' }).count(), 0, 'no link to the error log');
  assert.equal(await page.getByText('Failed', { exact: true }).count(), 1);
  await snap(page, 'imports-as-auditor');
  // The import's own page is open to the auditor, without the error log.
  await visit(page, `/imports/${failedImport}`);
  await page.getByRole('heading', { name: 'nana-sample.csv' }).waitFor();
  assert.match(await page.locator('main').innerText(), /3 rows were rejected\. The admin and BI roles can read the error log\./);
  assert.equal(await page.getByRole('link', { name: /Error log|Download error file/ }).count(), 0);
  await snap(page, 'import-page-as-auditor');

  assert.equal(await visit(page, `/imports/${failedImport}/errors`), 403);
  await page.getByRole('heading', { name: 'You do not have access to this page' }).waitFor();
  assert.match(await page.locator('main').innerText(), /Your role \(Auditor\) may not open this page/);
  await snap(page, 'error-log-403-as-auditor');
  // Client-side navigation to it (from the import page) is refused the same way.
  await visit(page, `/imports/${failedImport}`);
  await page.evaluate((href) => {
    const link = document.createElement('a');
    link.href = href;
    link.textContent = 'go';
    document.querySelector('main')!.append(link);
    link.click();
  }, `/imports/${failedImport}/errors`);
  await page.getByRole('heading', { name: 'You do not have access to this page' }).waitFor();
  // The download of the error file is refused by the API.
  assert.equal((await page.request.get(`/api/imports/${failedImport}/errors.csv`)).status(), 403);
  await context.close();
});

test('layout › at 390 px the left panel folds into a menu button that opens and closes it', async () => {
  const { page, context } = await openSession(browser, server, server.users.auditor);
  await page.setViewportSize({ width: 390, height: 844 });
  await visit(page, '/imports');
  const menuButton = page.getByRole('button', { name: 'Menu' });
  const nav = page.getByRole('navigation', { name: 'Main' });
  assert.equal(await menuButton.getAttribute('aria-expanded'), 'false');
  assert.equal(await nav.isVisible(), false, 'the panel is folded');
  await menuButton.click();
  await nav.getByRole('link', { name: 'Profiles' }).waitFor();
  assert.equal(await menuButton.getAttribute('aria-expanded'), 'true');
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${SCREENSHOTS}/menu-open-390.png` });
  await nav.getByRole('link', { name: 'Profiles' }).click();
  await page.waitForURL((u) => u.pathname === '/profiles');
  await nav.waitFor({ state: 'hidden' });
  // At 1280 px the panel is always there, with no menu button.
  await page.setViewportSize({ width: 1280, height: 800 });
  await nav.waitFor();
  assert.equal(await menuButton.isVisible(), false);
  await context.close();
});

test('first login › a one-time password must be changed before anything else', async () => {
  await addUser(server.db.pool, { email: 'new.admin@example.com', name: 'Nia New', role: 'admin', password: 'one-time-pass-1', mustChangePassword: true });
  const { page, context } = await openSession(browser, server);
  await visit(page, '/login');
  await fillLogin(page, 'new.admin@example.com', 'one-time-pass-1');
  await page.waitForURL((u) => u.pathname === '/account/password');
  await page.getByText('You signed in with a one-time password').waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').count(), 0, 'no menu item yet');
  await snap(page, 'change-password-first-login');
  await visit(page, '/imports');
  assert.equal(new URL(page.url()).pathname, '/account/password', 'other pages send back here');

  await page.getByLabel('One-time password').fill('one-time-pass-1');
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('New password again').fill('short');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('password must have at least 10 characters', { exact: false }).waitFor();

  await page.getByLabel('One-time password').fill('one-time-pass-1');
  await page.getByLabel('New password', { exact: true }).fill('my-own-password-2');
  await page.getByLabel('New password again').fill('my-own-password-2');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.waitForURL((u) => u.pathname === '/imports');
  await page.getByRole('button', { name: 'Import customer' }).waitFor();
  await context.close();
});

test('login › after 5 failed sign-ins for an account, the rate-limit message shows', async () => {
  const { page, context } = await openSession(browser, server);
  await visit(page, '/login');
  for (let attempt = 1; attempt <= 5; attempt++) {
    await fillLogin(page, 'victim@example.com', `wrong-${attempt}`);
    await page.getByText('Email or password is wrong').waitFor();
  }
  await fillLogin(page, 'victim@example.com', 'wrong-6');
  await page.getByText(/too many failed sign-ins; try again in \d+ minutes?/i).waitFor();
  await snap(page, 'login-rate-limited');
  await context.close();
});

test.run();
