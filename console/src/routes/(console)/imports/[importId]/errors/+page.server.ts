import { pageCount, readPaging } from '$lib/paging.ts';
import { service, signedIn } from '$lib/server/service.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, params, url }) => {
  const user = signedIn(locals);
  const paging = readPaging(url);
  // open: not fixed by a replay yet (BI's work left); resolved: fixed; anything else: every rejected row.
  const asked = url.searchParams.get('status');
  const status = asked === 'open' || asked === 'resolved' ? asked : 'all';
  let log = await service(() => locals.careos.errorPage(user, params.importId, paging.page, paging.size, status));
  const pages = pageCount(log.errors.total, paging.size);
  if (paging.page > pages) log = await service(() => locals.careos.errorPage(user, params.importId, pages, paging.size, status));
  return log;
};
