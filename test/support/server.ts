// A real `npm start` server (bin/careos-server.js in a child process) on a fresh test database and
// data directory, with one user per role and one API token per role, for HTTP and browser tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { addUser } from '../../services/auth/users.ts';
import { migrateAuth } from '../../services/auth/sessions.ts';
import { freePort } from '../../services/db/embedded.ts';
import type { Role } from '../../schemas/api.ts';
import { loadConfig } from '../../services/config.ts';
import { demoTableDdl } from '../../services/careshop/shop.ts';

export interface TestUser {
  email: string;
  password: string;
  name: string;
  role: Role;
}

export interface TestServer {
  url: string;
  port: number;
  db: TestDatabase;
  /** The Care Shop database the server syncs from (CARESHOP_DATABASE_URL): public.customer, empty. */
  shop: TestDatabase;
  dataDir: string;
  process: ChildProcess;
  /** Everything the server printed so far. */
  output(): string;
  users: Record<Role, TestUser>;
  /** One bearer token per role. */
  tokens: Record<Role, string>;
  stop(): Promise<void>;
}

export { freePort };

export const ROOT = path.resolve(import.meta.dirname, '../..');

interface SpawnedServer {
  child: ChildProcess;
  /** Everything the server printed so far. */
  output(): string;
  exited: Promise<number | null>;
}

/**
 * Spawns bin/careos-server.js with `env` and waits until it says it serves (the first start may
 * build the console: up to 2 minutes). Throws with its output when it exits or times out first.
 */
async function spawnServer(env: NodeJS.ProcessEnv): Promise<SpawnedServer> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/careos-server.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  while (!output.includes('console and API on')) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before it listened:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, exited };
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const db = await createTestDatabase();
  const shop = await createTestDatabase();
  await shop.pool.query(demoTableDdl({
    url: shop.url, demo: false, table: 'public.customer', columns: loadConfig({}).careshop.columns, pageRows: 5000,
  }));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-server-'));
  const port = await freePort();
  const users: Record<Role, TestUser> = {
    admin: { email: 'admin@example.com', password: 'admin-password-1', name: 'Ada Admin', role: 'admin' },
    bi: { email: 'bi@example.com', password: 'bi-password-123', name: 'Bee Analyst', role: 'bi' },
    auditor: { email: 'auditor@example.com', password: 'auditor-password', name: 'Otto Auditor', role: 'auditor' },
  };
  await migrateAuth(db.pool);
  for (const user of Object.values(users)) await addUser(db.pool, user);
  const tokens: Record<Role, string> = {
    admin: 'tok-admin-0123456789abcdef', bi: 'tok-bi-0123456789abcdef', auditor: 'tok-auditor-0123456789abcdef',
  };
  let started: SpawnedServer;
  try {
    started = await spawnServer({
      ...process.env,
      DATABASE_URL: db.url, CARESHOP_DATABASE_URL: shop.url, CAREOS_DATA_DIR: dataDir, PORT: String(port), CAREOS_STOP_WITH_PARENT: '1',
      // The engine at the usual priority: a test waits for its imports while a browser renders on
      // the same two cores (bench:load measures the niced engine).
      CAREOS_ENGINE_NICE: '0',
      CAREOS_API_TOKENS: `${tokens.admin}=script-admin:admin,${tokens.bi}=script-bi:bi,${tokens.auditor}=script-auditor:auditor`,
      ...env,
    });
  } catch (error) {
    await db.drop();
    await shop.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const { child, output, exited } = started;
  const url = `http://localhost:${port}`;
  return {
    url, port, db, shop, dataDir, process: child, users, tokens,
    output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await db.drop();
      await shop.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Signs in through the console's login form action; returns the session cookie ("name=value"). */
export async function signInCookie(server: TestServer, user: TestUser): Promise<string> {
  const body = new URLSearchParams({ email: user.email, password: user.password });
  const response = await fetch(`${server.url}/login`, {
    method: 'POST', body, redirect: 'manual',
    headers: { origin: server.url, 'content-type': 'application/x-www-form-urlencoded', 'x-sveltekit-action': 'true' },
  });
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('careos_session='));
  if (!cookie) throw new Error(`sign-in as ${user.email} failed: ${response.status} ${await response.text()}`);
  return cookie.split(';')[0]!;
}

export interface EmbeddedTestServer {
  url: string;
  dataDir: string;
  process: ChildProcess;
  /** Everything the server printed so far. */
  output(): string;
  /** An admin bearer token. */
  adminToken: string;
  /** Resolves with the server's exit code. */
  exited: Promise<number | null>;
  /** Stops the server (SIGTERM, SIGKILL after 15 s); the data directory stays. */
  stop(): Promise<void>;
}

/**
 * A real `npm start` server on the embedded default, as production runs it: no DATABASE_URL, its
 * PostgreSQL under `dataDir/pg`, started (and supervised) by the server itself; an admin token.
 */
export async function startEmbeddedServer(dataDir: string, env: Record<string, string> = {}): Promise<EmbeddedTestServer> {
  const port = await freePort();
  const adminToken = 'tok-admin-0123456789abcdef';
  const { DATABASE_URL: _db, EVENTSTORE_URL: _es, CARESHOP_DATABASE_URL: _shop, ...inherited } = process.env;
  const { child, output, exited } = await spawnServer({
    ...inherited, CAREOS_DATA_DIR: dataDir, PORT: String(port), CAREOS_STOP_WITH_PARENT: '1',
    CAREOS_API_TOKENS: `${adminToken}=script-admin:admin`, CAREOS_ADMIN_EMAIL: 'admin@example.com', CAREOS_ADMIN_PASSWORD: 'admin-password-1',
    ...env,
  });
  return {
    url: `http://localhost:${port}`, dataDir, process: child, adminToken, exited,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
