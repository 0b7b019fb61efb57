import { can } from '$schemas/api.ts';
import { service, signedIn } from '$lib/server/service.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, params, depends }) => {
  depends('app:import');
  const user = signedIn(locals);
  const item = await service(() => locals.careos.getImport(user, params.importId));
  return { item, canReadErrors: can(user.role, 'errors.read') };
};
