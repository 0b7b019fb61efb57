import { refusal, service, signedIn } from '$lib/server/service.ts';
import type { Actions, PageServerLoad } from './$types';

/** Rebuild the read models (admins): the last rebuild's state, polled while it runs, and the rebuilds logged. */
export const load: PageServerLoad = async ({ locals, depends }) => {
  depends('app:rebuild');
  const user = signedIn(locals);
  const [rebuild, history] = await Promise.all([
    service(async () => locals.careos.rebuildStatus(user)),
    service(() => locals.careos.rebuildHistory(user)),
  ]);
  return { rebuild, history };
};

export const actions: Actions = {
  default: async ({ locals }) => {
    try {
      return { started: locals.careos.startRebuild(signedIn(locals)) };
    } catch (thrown) {
      return refusal(thrown);
    }
  },
};
