// `careos users …`: console users are added, listed and disabled from the command line, with the
// password read from stdin (never an argument, never printed), hashed with scrypt.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { ROOT } from '../../test/support/server.ts';
import { signIn, sessionPrincipal, migrateAuth } from '../auth/sessions.ts';

let db: TestDatabase;

function careos(args: string[], input?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url };
  delete env.EVENTSTORE_URL;
  const result = spawnSync(process.execPath, [path.join(ROOT, 'bin/careos.js'), ...args], { cwd: ROOT, env, encoding: 'utf8', input, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test.before(async () => {
  db = await createTestDatabase();
  await migrateAuth(db.pool);
});
test.after(async () => {
  await db.drop();
});

test('users › add reads the password from stdin, stores only a scrypt hash, and the user can sign in', async () => {
  const run = careos(['users', 'add', 'Nok@Example.com', '--name', 'นก ใจดี', '--role', 'bi', '--password-stdin'], 'a long enough secret\n');
  assert.is(run.status, 0, run.stderr);
  assert.is(run.stdout, 'added nok@example.com (นก ใจดี, bi)\n');
  assert.not.match(run.stdout + run.stderr, 'a long enough secret');
  const { rows } = await db.pool.query<{ password_hash: string }>('select password_hash from app_user where email = $1', ['nok@example.com']);
  assert.match(rows[0]!.password_hash, /^scrypt\$32768\$8\$1\$/);
  assert.not.match(rows[0]!.password_hash, 'secret');
  const signed = await signIn(db.pool, { email: 'NOK@example.com', password: 'a long enough secret', address: '127.0.0.1' });
  assert.equal({ ...signed.principal }, { id: 'nok@example.com', name: 'นก ใจดี', role: 'bi', via: 'session', mustChangePassword: false });
});

test('users › add refuses a second user with the same email, an unknown role and a short password (exit 2, nothing added)', () => {
  const again = careos(['users', 'add', 'nok@example.com', '--name', 'Nok', '--role', 'bi', '--password-stdin'], 'another long secret\n');
  assert.is(again.status, 2);
  assert.match(again.stderr, 'a user nok@example.com already exists');
  const role = careos(['users', 'add', 'x@example.com', '--name', 'X', '--role', 'root', '--password-stdin'], 'a long enough secret\n');
  assert.is(role.status, 2);
  assert.match(role.stderr, 'role must be one of: admin, bi, auditor (got "root")');
  const short = careos(['users', 'add', 'y@example.com', '--name', 'Y', '--role', 'auditor', '--password-stdin'], 'short\n');
  assert.is(short.status, 2);
  assert.match(short.stderr, 'password must have at least 10 characters');
  const noTty = careos(['users', 'add', 'z@example.com', '--name', 'Z', '--role', 'auditor']);
  assert.is(noTty.status, 2);
  assert.match(noTty.stderr, '--password-stdin');
  const listed = JSON.parse(careos(['users', 'list', '--json']).stdout) as { email: string }[];
  assert.equal(listed.map((u) => u.email), ['nok@example.com']);
});

test('users › disable ends the user\'s sessions and refuses their next sign-in', async () => {
  const signed = await signIn(db.pool, { email: 'nok@example.com', password: 'a long enough secret', address: '127.0.0.1' });
  assert.ok(await sessionPrincipal(db.pool, signed.token));
  const run = careos(['users', 'disable', 'nok@example.com']);
  assert.is(run.status, 0, run.stderr);
  assert.is(await sessionPrincipal(db.pool, signed.token), null, 'the open session is over');
  try {
    await signIn(db.pool, { email: 'nok@example.com', password: 'a long enough secret', address: '127.0.0.1' });
    assert.unreachable('a disabled user signed in');
  } catch (error) {
    assert.is((error as Error).message, 'email or password is wrong');
  }
  const listed = JSON.parse(careos(['users', 'list', '--json']).stdout) as { email: string; disabled: boolean }[];
  assert.equal(listed.map((u) => [u.email, u.disabled]), [['nok@example.com', true]]);
});

test.run();
