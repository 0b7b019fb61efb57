import { redirect } from '@sveltejs/kit';
import { can, type RevertPlanView } from '$schemas/api.ts';
import { routes } from '$lib/routes.ts';
import { refusal, sentence, service, serviceErrorOf, signedIn } from '$lib/server/service.ts';
import type { Actions, PageServerLoad } from './$types';

/** The preview, or why it could not be worked out. */
export type PlanResult = { plan: RevertPlanView; failed?: undefined } | { plan?: undefined; failed: string };

export const load: PageServerLoad = async ({ locals, params }) => {
  const user = signedIn(locals);
  const item = await service(() => locals.careos.getImport(user, params.importId));
  // The preview reads every change the import made (~1 minute for a million rows): the page is
  // sent at once and the preview follows in the same response when it is ready (a promise
  // returned without awaiting it is streamed).
  const plan: Promise<PlanResult> = locals.careos.revertPlan(user, item.importId).then(
    (plan) => ({ plan: { ...plan, refusal: plan.refusal ? sentence(plan.refusal) : null } }),
    (thrown: unknown) => ({ failed: sentence(serviceErrorOf(thrown).message) }),
  );
  return { item, plan, canReadProfiles: can(user.role, 'profiles.read') };
};

export const actions: Actions = {
  /** Asks for the revert and waits a few seconds for the processor's decision; then the import's page tells what came of it. */
  default: async ({ locals, params, request }) => {
    const form = await request.formData();
    const reason = String(form.get('reason') ?? '');
    try {
      await locals.careos.revertImport(signedIn(locals), params.importId, { reason }, 10_000);
    } catch (thrown) {
      return refusal(thrown, { reason });
    }
    redirect(303, routes.import(params.importId));
  },
};
