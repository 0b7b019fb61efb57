import { signedIn, unreadableSearch } from '$lib/server/service.ts';
import type { PageServerLoad } from './$types';

/**
 * The auditors' page: a profile's or an original id's whole timeline, and the relations as they
 * were at a chosen moment. Read-only (admin and auditor).
 */
export const load: PageServerLoad = async ({ locals, url }) => {
  const user = signedIn(locals);
  const careosId = url.searchParams.get('careosId')?.trim() || undefined;
  const source = url.searchParams.get('source')?.trim() || undefined;
  const originalId = url.searchParams.get('originalId')?.trim() || undefined;
  const asOf = url.searchParams.get('asOf')?.trim() || undefined;
  const filter = careosId !== undefined ? { careosId } : { source, originalId };
  const asked = careosId !== undefined || originalId !== undefined;
  if (!asked) return { filter: { careosId, source, originalId }, asOf, timeline: null, relations: null, problem: null };
  try {
    const [timeline, relations] = await Promise.all([
      locals.careos.timeline(user, filter),
      asOf ? locals.careos.relations(user, filter, asOf) : Promise.resolve(null),
    ]);
    return { filter: { careosId, source, originalId }, asOf, timeline, relations, problem: null };
  } catch (thrown) {
    return { filter: { careosId, source, originalId }, asOf, timeline: null, relations: null, problem: unreadableSearch(thrown) };
  }
};
