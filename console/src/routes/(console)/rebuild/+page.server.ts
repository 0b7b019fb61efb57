import { fail } from '@sveltejs/kit';
import { asServiceError, sentence, service, signedIn } from '$lib/server/service.ts';
import type { Actions, PageServerLoad } from './$types';

/** Rebuild the read models (admins): the last rebuild's state, polled while it runs. */
export const load: PageServerLoad = async ({ locals, depends }) => {
  depends('app:rebuild');
  const user = signedIn(locals);
  return { rebuild: await service(async () => locals.careos.rebuildStatus(user)) };
};

export const actions: Actions = {
  default: async ({ locals }) => {
    try {
      return { started: locals.careos.startRebuild(signedIn(locals)) };
    } catch (thrown) {
      const known = asServiceError(thrown);
      if (!known) throw thrown;
      return fail(known.status, { message: sentence(known.message) });
    }
  },
};
