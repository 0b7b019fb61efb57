import { can } from '$schemas/api.ts';
import { service, signedIn } from '$lib/server/service.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, params }) => {
  const user = signedIn(locals);
  const profile = await service(() => locals.careos.getProfile(user, params.careosId));
  return { profile, canReadErrors: can(user.role, 'errors.read'), canAudit: can(user.role, 'relations.read') };
};
