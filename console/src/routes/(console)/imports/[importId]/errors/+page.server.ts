import { pageCount, readPaging } from '$lib/paging.ts';
import { service, signedIn } from '$lib/server/service.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, params, url }) => {
  const user = signedIn(locals);
  const paging = readPaging(url);
  let log = await service(() => locals.careos.errorPage(user, params.importId, paging.page, paging.size));
  const pages = pageCount(log.errors.total, paging.size);
  if (paging.page > pages) log = await service(() => locals.careos.errorPage(user, params.importId, pages, paging.size));
  return log;
};
