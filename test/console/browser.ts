// Browser-test support: Debian's Chromium driven by playwright-core (never a downloaded browser),
// sign-in through the real login form or with a session cookie, and screenshots at the two widths
// the console is made for (1280 px desktop, 390 px phone) under test-output/screenshots/.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT, signInCookie, type TestServer, type TestUser } from '../support/server.ts';

export const SCREENSHOTS = path.join(ROOT, 'test-output', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium fonts-thai-tlwg (the tests never download a browser)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Every JavaScript dialog (alert, confirm, prompt) the page opened: none is expected. */
  dialogs: string[];
  /** Uncaught errors in the page. */
  errors: string[];
}

/** A fresh browser context (its own cookies) with one page, at desktop width. */
export async function openSession(browser: Browser, server: TestServer, user?: TestUser): Promise<Session> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: server.url, acceptDownloads: true });
  if (user) {
    const [name, value] = (await signInCookie(server, user)).split('=') as [string, string];
    await context.addCookies([{ name, value, url: server.url }]);
  }
  const page = await context.newPage();
  const session: Session = { context, page, dialogs: [], errors: [] };
  page.on('dialog', (dialog) => {
    session.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => session.errors.push(error.message));
  return session;
}

/** Opens a path and waits until the page is hydrated (its scripts ran and the network is quiet). */
export async function visit(page: Page, pathname: string): Promise<number> {
  const response = await page.goto(pathname);
  await page.waitForLoadState('networkidle');
  return response?.status() ?? 0;
}

/** Signs in through the login form (the page must show it). */
export async function fillLogin(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/login' && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}

/** Saves the page at 1280 px and at 390 px wide (full height), then returns to 1280 px. */
export async function snap(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [width, height] of [[1280, 800], [390, 844]] as const) {
    await page.setViewportSize({ width, height });
    // Let layout settle after the resize (the narrow menu's slide takes 180 ms).
    await page.waitForTimeout(400);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Polls until `check` holds (or throws with what it last saw). */
export async function eventually<T>(what: string, probe: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (check(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last saw ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
