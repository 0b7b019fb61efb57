import { fail, redirect } from '@sveltejs/kit';
import { routes } from '$lib/routes.ts';
import { safeNext } from '$lib/server/next.ts';
import { readSessionCookie, setSessionCookie } from '$lib/server/session-cookie.ts';
import { sentence, serviceErrorOf } from '$lib/server/service.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = ({ locals, url }) => {
  const next = safeNext(url.searchParams.get('next'));
  if (locals.user) redirect(303, next);
  return { next };
};

export const actions: Actions = {
  default: async ({ request, cookies, locals, getClientAddress }) => {
    const form = await request.formData();
    const email = String(form.get('email') ?? '').trim();
    const password = String(form.get('password') ?? '');
    const next = safeNext(String(form.get('next') ?? ''));
    const fieldErrors: { email?: string; password?: string } = {};
    if (!email) fieldErrors.email = 'Enter your email.';
    if (!password) fieldErrors.password = 'Enter your password.';
    if (fieldErrors.email || fieldErrors.password) return fail(400, { email, fieldErrors, message: null, rateLimited: false });

    let signed: Awaited<ReturnType<typeof locals.careos.signIn>>;
    try {
      signed = await locals.careos.signIn({
        email, password, address: getClientAddress(), previousToken: readSessionCookie(cookies) ?? undefined,
      });
    } catch (thrown) {
      const known = serviceErrorOf(thrown);
      const rateLimited = known.name === 'TooManyRequests';
      return fail(known.status, { email, fieldErrors, message: sentence(known.message), rateLimited });
    }
    // A new session id at every sign-in (the old one, if any, was ended by signIn).
    setSessionCookie(cookies, locals, signed.token);
    redirect(303, signed.principal.mustChangePassword ? routes.changePassword() : next);
  },
};
