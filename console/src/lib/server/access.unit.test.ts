// The guard table covers every route, and decides as the spec's roles say.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import type { Principal, Role } from '../../../../schemas/api.ts';
import { ROUTE_RULES, decide } from './access.ts';

const ROUTES = path.resolve(import.meta.dirname, '../../routes');

/** SvelteKit route ids of every page and endpoint under src/routes. */
function routeIds(dir = ROUTES, found: string[] = []): string[] {
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && /^\+(page|server)\b/.test(e.name))) {
    found.push('/' + path.relative(ROUTES, dir).split(path.sep).join('/'));
  }
  for (const entry of entries) if (entry.isDirectory()) routeIds(path.join(dir, entry.name), found);
  return found.map((id) => (id === '/' ? id : id.replace(/\/$/, '')));
}

const user = (role: Role, mustChangePassword = false): Principal => ({ id: `${role}@example.com`, name: role, role, via: 'session', mustChangePassword });

test('access › every route has a rule, and every rule a route', () => {
  const ids = routeIds().sort();
  assert.deepEqual(ids, Object.keys(ROUTE_RULES).sort());
});

test('access › a route without a rule is refused to everyone signed in', () => {
  assert.equal(decide('/(console)/secret', user('admin')).kind, 'forbidden');
  assert.equal(decide('/(console)/secret', null).kind, 'sign-in');
});

test('access › anonymous users may open only the login page', () => {
  for (const id of Object.keys(ROUTE_RULES)) {
    assert.equal(decide(id, null).kind, id === '/login' ? 'allow' : 'sign-in', id);
  }
  assert.equal(decide(null, null).kind, 'sign-in', 'an unknown path');
});

test('access › roles: admin everything (reverting an import only they); bi the import and error logs (a rejected row to fix); auditor the import log, profiles and the audit page', () => {
  const allowed = (role: Role) => Object.keys(ROUTE_RULES).filter((id) => decide(id, user(role)).kind === 'allow').sort();
  const account = ['/(console)/account/password', '/login', '/logout'];
  assert.deepEqual(allowed('admin'), Object.keys(ROUTE_RULES).sort());
  assert.deepEqual(allowed('bi'), [
    ...account, '/', '/(console)/imports', '/(console)/imports/[importId]', '/(console)/imports/[importId]/errors', '/(console)/imports/[importId]/errors/[row]',
  ].sort());
  assert.deepEqual(allowed('auditor'), [...account, '/', '/(console)/imports', '/(console)/imports/[importId]', '/(console)/profiles', '/(console)/profiles/[careosId]', '/(console)/audit'].sort());
});

test('access › a user with a one-time password reaches only the password page and sign-out', () => {
  for (const id of Object.keys(ROUTE_RULES)) {
    const verdict = decide(id, user('admin', true)).kind;
    assert.equal(verdict, ['/(console)/account/password', '/logout', '/login'].includes(id) ? 'allow' : 'change-password', id);
  }
});

test.run();
