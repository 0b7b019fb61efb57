import { signedIn, unreadableSearch } from '$lib/server/service.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, url }) => {
  const user = signedIn(locals);
  const q = url.searchParams.get('q') ?? '';
  if (!q.trim()) return { q, search: null, problem: null };
  try {
    return { q, search: await locals.careos.searchProfiles(user, q), problem: null };
  } catch (thrown) {
    // A query the service cannot read (not one phone number, too long) is said on the page.
    return { q, search: null, problem: unreadableSearch(thrown) };
  }
};
