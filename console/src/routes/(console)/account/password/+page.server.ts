import { fail, redirect } from '@sveltejs/kit';
import { sentence, serviceErrorOf, signedIn } from '$lib/server/service.ts';
import { routes } from '$lib/routes.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = ({ locals }) => {
  const user = signedIn(locals);
  return { mustChange: user.mustChangePassword };
};

type Field = 'current' | 'next' | 'confirm';

export const actions: Actions = {
  default: async ({ request, locals }) => {
    const user = signedIn(locals);
    const form = await request.formData();
    const current = String(form.get('current') ?? '');
    const next = String(form.get('next') ?? '');
    const confirm = String(form.get('confirm') ?? '');
    const fieldErrors: Partial<Record<Field, string>> = {};
    if (!current) fieldErrors.current = 'Enter your current password.';
    if (!next) fieldErrors.next = 'Choose a new password.';
    else if (next !== confirm) fieldErrors.confirm = 'The two new passwords differ.';
    if (Object.keys(fieldErrors).length) return fail(400, { fieldErrors });
    try {
      await locals.careos.changePassword(user, { token: locals.sessionToken!, current, next });
    } catch (thrown) {
      const known = serviceErrorOf(thrown);
      const message = sentence(known.message);
      // Which field the service's reason is about.
      const field: Field = /current password/i.test(known.message) ? 'current' : 'next';
      return fail(known.status, { fieldErrors: { [field]: message } as Partial<Record<Field, string>> });
    }
    if (user.mustChangePassword) redirect(303, routes.imports());
    return { changed: true };
  },
};
