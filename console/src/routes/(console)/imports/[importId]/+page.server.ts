import { can } from '$schemas/api.ts';
import { pageCount, readPaging } from '$lib/paging.ts';
import { service, signedIn } from '$lib/server/service.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, params, depends, url }) => {
  depends('app:import');
  const user = signedIn(locals);
  const item = await service(() => locals.careos.getImport(user, params.importId));
  // A Care Shop import lists the records it entered in the history log (created, matched, rejected).
  let history = null;
  if (item.source === 'careshop') {
    const paging = readPaging(url);
    history = await service(() => locals.careos.careshopHistoryPage(user, item.importId, paging.page, paging.size));
    const pages = pageCount(history.total, paging.size);
    if (paging.page > pages) history = await service(() => locals.careos.careshopHistoryPage(user, item.importId, pages, paging.size));
  }
  return {
    item, history, canReadErrors: can(user.role, 'errors.read'), canReadProfiles: can(user.role, 'profiles.read'), canRevert: can(user.role, 'imports.revert'),
  };
};
