import { can } from '$schemas/api.ts';
import { pageCount, readPaging } from '$lib/paging.ts';
import { service, signedIn } from '$lib/server/service.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, url, depends }) => {
  // The page re-runs this every 2 s while an import it shows is in progress.
  depends('app:imports');
  const user = signedIn(locals);
  const paging = readPaging(url);
  let imports = await service(() => locals.careos.importPage(user, paging.page, paging.size));
  // A page past the end (the log shrank, or a hand-made link) shows the last page.
  const pages = pageCount(imports.total, paging.size);
  if (paging.page > pages) imports = await service(() => locals.careos.importPage(user, pages, paging.size));
  const canImport = can(user.role, 'imports.create');
  return {
    imports,
    canImport,
    canReadErrors: can(user.role, 'errors.read'),
    // The upload modal checks the size against the server's own limit.
    maxFileBytes: canImport ? locals.careos.app.config.maxFileBytes : 0,
  };
};
