// Sign-in and sessions against real PostgreSQL: the session id rotates at sign-in, an idle
// session ends, a signed-out one is gone, and failed sign-ins are limited per account and per
// address (a right password does not get through while an account is locked).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.ts';
import { DEFAULT_SESSION_POLICY, migrateAuth, sessionPrincipal, signIn, signOut, changePassword } from './sessions.ts';
import { addUser } from './users.ts';
import { TooManyRequests, Unauthorized } from '../errors.ts';

let db: TestDatabase;
const PASSWORD = 'kanya-password-1';

test.before(async () => {
  db = await createTestDatabase();
  await migrateAuth(db.pool);
  await addUser(db.pool, { email: 'kanya@example.com', name: 'Kanya R.', role: 'admin', password: PASSWORD });
  await addUser(db.pool, { email: 'preecha@example.com', name: 'Preecha S.', role: 'auditor', password: 'preecha-password' });
});
test.after(async () => {
  await db.drop();
});

async function refused(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal');
}

test('sessions › a sign-in gives a new session id every time and ends the session the browser came with', async () => {
  const first = await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.0.0.1' });
  const second = await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.0.0.1', previousToken: first.token });
  assert.is.not(second.token, first.token);
  assert.is(await sessionPrincipal(db.pool, first.token), null, 'the old id no longer works');
  assert.is((await sessionPrincipal(db.pool, second.token))?.name, 'Kanya R.');
  const { rows } = await db.pool.query<{ token_hash: string }>('select token_hash from app_session');
  assert.ok(rows.every((r) => r.token_hash !== second.token), 'only a hash of the token is stored');
});

test('sessions › a session unused for the idle time is over; sign-out ends one at once', async () => {
  const { token } = await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.0.0.1' });
  const policy = { ...DEFAULT_SESSION_POLICY, idleMinutes: 30 };
  await db.pool.query("update app_session set last_seen_at = now() - interval '29 minutes'");
  assert.ok(await sessionPrincipal(db.pool, token, policy), 'still live after 29 idle minutes');
  await db.pool.query("update app_session set last_seen_at = now() - interval '31 minutes'");
  assert.is(await sessionPrincipal(db.pool, token, policy), null, 'over after 31');
  const other = await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.0.0.1' });
  await signOut(db.pool, other.token);
  assert.is(await sessionPrincipal(db.pool, other.token), null);
});

test('sessions › using a session keeps it alive (idle expiry counts from the last use)', async () => {
  await db.pool.query('delete from app_session');
  const { token } = await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.0.0.1' });
  await db.pool.query("update app_session set last_seen_at = now() - interval '20 minutes'");
  assert.ok(await sessionPrincipal(db.pool, token));
  const { rows } = await db.pool.query<{ idle: number }>('select extract(epoch from now() - last_seen_at)::int as idle from app_session');
  assert.ok(rows.every((r) => r.idle < 5), 'last use moved to now');
});

test('sign-in › a wrong password and an unknown email get the same answer', async () => {
  const wrong = await refused(signIn(db.pool, { email: 'kanya@example.com', password: 'nope-nope-nope', address: '10.0.0.2' }));
  const unknown = await refused(signIn(db.pool, { email: 'nobody@example.com', password: 'nope-nope-nope', address: '10.0.0.2' }));
  assert.instance(wrong, Unauthorized);
  assert.is(wrong.message, unknown.message);
  await db.pool.query('delete from login_failure');
});

test('sign-in › after 5 failures for an account it is locked for the window, even with the right password, from any address', async () => {
  for (let i = 0; i < 5; i++) {
    assert.instance(await refused(signIn(db.pool, { email: 'preecha@example.com', password: `wrong-${i}-password`, address: `10.1.0.${i}` })), Unauthorized);
  }
  const locked = await refused(signIn(db.pool, { email: 'preecha@example.com', password: 'preecha-password', address: '10.9.9.9' }));
  assert.instance(locked, TooManyRequests);
  assert.match(locked.message, 'too many failed sign-ins; try again in');
  assert.ok((locked as TooManyRequests).retryAfterSeconds > 0);
  // Another account is not affected.
  assert.ok(await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.9.9.9' }));
  // When the window has passed, the right password works again.
  await db.pool.query("update login_failure set at = now() - interval '16 minutes'");
  assert.ok(await signIn(db.pool, { email: 'preecha@example.com', password: 'preecha-password', address: '10.9.9.9' }));
  await db.pool.query('delete from login_failure');
});

test('sign-in › after 20 failures from one address, every account is refused from it, not from elsewhere', async () => {
  for (let i = 0; i < 20; i++) {
    await refused(signIn(db.pool, { email: `guess${i}@example.com`, password: 'guess-password', address: '10.6.6.6' }));
  }
  assert.instance(await refused(signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.6.6.6' })), TooManyRequests);
  assert.ok(await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.7.7.7' }));
  await db.pool.query('delete from login_failure');
});

test('password › changing it needs the current one and ends the user\'s other sessions, not this one', async () => {
  const here = await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.0.0.1' });
  const elsewhere = await signIn(db.pool, { email: 'kanya@example.com', password: PASSWORD, address: '10.0.0.9' });
  const wrong = await refused(changePassword(db.pool, { email: 'kanya@example.com', token: here.token, current: 'not-it-at-all', next: 'brand-new-password' }));
  assert.match(wrong.message, 'current password is wrong');
  await changePassword(db.pool, { email: 'kanya@example.com', token: here.token, current: PASSWORD, next: 'brand-new-password' });
  assert.ok(await sessionPrincipal(db.pool, here.token));
  assert.is(await sessionPrincipal(db.pool, elsewhere.token), null);
  assert.ok(await signIn(db.pool, { email: 'kanya@example.com', password: 'brand-new-password', address: '10.0.0.1' }));
});

test.run();
