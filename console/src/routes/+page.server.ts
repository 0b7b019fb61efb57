import { redirect } from '@sveltejs/kit';
import { routes } from '$lib/routes.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = () => {
  redirect(307, routes.imports());
};
