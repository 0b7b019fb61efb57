import { redirect } from '@sveltejs/kit';
import { consoleContext } from '../../../../services/api/context.ts';
import { SESSION_COOKIE, sessionCookieOptions } from '../../../../services/auth/cookie.ts';
import { routes } from '$lib/routes.ts';
import type { Actions, PageServerLoad } from './$types';

// GET shows a "Sign out?" button (signing out changes state, so it is a POST).
export const load: PageServerLoad = () => ({});

export const actions: Actions = {
  default: async ({ cookies, locals }) => {
    if (locals.sessionToken) await locals.careos.signOut(locals.sessionToken);
    cookies.delete(SESSION_COOKIE, sessionCookieOptions(consoleContext().secureCookies));
    redirect(303, routes.login());
  },
};
