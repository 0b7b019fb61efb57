// Who may open which route: the console's one guard table, applied by hooks.server.ts to every
// request (page loads, form actions and endpoints alike) before anything else runs. Keyed by
// SvelteKit route id; a route missing here is refused (access.unit.test.ts checks every route has
// a rule). Relative import of the contract so the unit test runs under plain tsx.
import { can, type Permission, type Principal } from '../../../../schemas/api.ts';
import { roleName } from '../role.ts';

export type Rule =
  /** Anyone, signed in or not. */
  | { kind: 'public' }
  /** Any signed-in user, even one who must still change a one-time password. */
  | { kind: 'account' }
  /** A signed-in user whose role has the permission. */
  | { kind: 'permission'; permission: Permission };

const publicRoute: Rule = { kind: 'public' };
const account: Rule = { kind: 'account' };
const needs = (permission: Permission): Rule => ({ kind: 'permission', permission });

export const ROUTE_RULES: Record<string, Rule> = {
  '/login': publicRoute,
  '/logout': account,
  '/(console)/account/password': account,
  '/': needs('imports.read'),
  '/(console)/imports': needs('imports.read'),
  '/(console)/imports/[importId]': needs('imports.read'),
  '/(console)/imports/[importId]/errors': needs('errors.read'),
  '/(console)/imports/[importId]/errors/[row]': needs('errors.read'),
  '/(console)/imports/[importId]/revert': needs('imports.revert'),
  '/(console)/audit': needs('relations.read'),
  '/(console)/rebuild': needs('readmodels.rebuild'),
  '/(console)/profiles': needs('profiles.read'),
  '/(console)/profiles/[careosId]': needs('profiles.read'),
};

export type Verdict =
  | { kind: 'allow' }
  | { kind: 'sign-in' }
  | { kind: 'change-password' }
  | { kind: 'forbidden'; message: string };

/** The verdict for `user` (null: anonymous) on route `routeId` (null: no route matched, a 404). */
export function decide(routeId: string | null, user: Principal | null): Verdict {
  const rule: Rule | undefined = routeId === null ? account : ROUTE_RULES[routeId];
  if (rule?.kind === 'public') return { kind: 'allow' };
  if (!user) return { kind: 'sign-in' };
  if (!rule) return { kind: 'forbidden', message: 'This page has no access rule, so nobody may open it.' };
  if (rule.kind === 'account') return { kind: 'allow' };
  if (user.mustChangePassword) return { kind: 'change-password' };
  if (!can(user.role, rule.permission)) {
    return { kind: 'forbidden', message: `Your role (${roleName(user.role)}) may not open this page.` };
  }
  return { kind: 'allow' };
}
