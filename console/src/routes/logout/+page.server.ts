import { redirect } from '@sveltejs/kit';
import { clearSessionCookie } from '$lib/server/session-cookie.ts';
import { routes } from '$lib/routes.ts';
import type { Actions, PageServerLoad } from './$types';

// GET shows a "Sign out?" button (signing out changes state, so it is a POST).
export const load: PageServerLoad = () => ({});

export const actions: Actions = {
  default: async ({ cookies, locals }) => {
    if (locals.sessionToken) await locals.careos.signOut(locals.sessionToken);
    clearSessionCookie(cookies, locals);
    redirect(303, routes.login());
  },
};
