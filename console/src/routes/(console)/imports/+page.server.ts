import { fail } from '@sveltejs/kit';
import { can } from '$schemas/api.ts';
import { pageCount, readPaging } from '$lib/paging.ts';
import { refusal, service, signedIn } from '$lib/server/service.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, url, depends }) => {
  // The page re-runs this every 2 s while an import it shows is in progress.
  depends('app:imports');
  const user = signedIn(locals);
  const paging = readPaging(url);
  let imports = await service(() => locals.careos.importPage(user, paging.page, paging.size));
  // A page past the end (the log shrank, or a hand-made link) shows the last page.
  const pages = pageCount(imports.total, paging.size);
  if (paging.page > pages) imports = await service(() => locals.careos.importPage(user, pages, paging.size));
  const canImport = can(user.role, 'imports.create');
  return {
    imports,
    canImport,
    canReadErrors: can(user.role, 'errors.read'),
    canMarkOnboarding: can(user.role, 'onboarding.mark'),
    careshop: await service(() => locals.careos.careshopPanel(user)),
    // The upload modal checks the size against the server's own limit.
    maxFileBytes: canImport ? locals.careos.app.config.maxFileBytes : 0,
  };
};

export const actions: Actions = {
  /** "Sync now": one Care Shop sync (admins); its row appears in the log and follows it live. */
  sync: async ({ locals }) => {
    const user = signedIn(locals);
    try {
      const { importId } = await locals.careos.syncCareshop(user);
      return { action: 'sync' as const, importId };
    } catch (thrown) {
      // Its reason is shown where the action was asked for.
      return refusal(thrown, { action: 'sync' as const });
    }
  },
  /** Marks Nana onboarding complete, or reopens it with a reason (admins). */
  onboarding: async ({ locals, request }) => {
    const user = signedIn(locals);
    const form = await request.formData();
    const complete = form.get('complete');
    const reason = String(form.get('reason') ?? '').trim();
    if (complete !== 'true' && complete !== 'false') return fail(400, { action: 'onboarding' as const, message: 'Choose to mark Nana onboarding complete or to reopen it.' });
    if (complete === 'false' && reason === '') return fail(400, { action: 'onboarding' as const, message: 'Give a reason to reopen Nana onboarding.' });
    try {
      await locals.careos.markOnboarding(user, { complete: complete === 'true', reason: reason || null });
      return { action: 'onboarding' as const, marked: complete === 'true' };
    } catch (thrown) {
      return refusal(thrown, { action: 'onboarding' as const });
    }
  },
};
