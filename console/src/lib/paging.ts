// Page and page size read from a URL: anything that is not a valid value falls back to the default,
// so a hand-edited or stale link still opens a page.
import { DEFAULT_PAGE_SIZE, PAGE_SIZES } from '../../../schemas/api.ts';
import type { Paging } from './routes.ts';

const MAX_PAGE = 1_000_000;

export function readPaging(url: URL): Paging {
  const rawPage = url.searchParams.getAll('page');
  const rawSize = url.searchParams.getAll('size');
  const page = rawPage.length === 1 && /^\d{1,7}$/.test(rawPage[0]!) ? Number(rawPage[0]) : 1;
  const size = rawSize.length === 1 && /^\d{1,3}$/.test(rawSize[0]!) ? Number(rawSize[0]) : DEFAULT_PAGE_SIZE;
  return {
    page: page >= 1 && page <= MAX_PAGE ? page : 1,
    size: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

/** How many pages `total` items make (at least one, so an empty list is "page 1 of 1"). */
export function pageCount(total: number, size: number): number {
  return Math.max(1, Math.ceil(total / size));
}

/**
 * The page links to show: all of them when there are few, else the first three, the last three
 * and the current page's neighbours, with gaps as null (`1 2 3 … 38 39 40`).
 */
export function pageLinks(current: number, pages: number): (number | null)[] {
  if (pages <= 7) return Array.from({ length: pages }, (_, i) => i + 1);
  const shown = new Set<number>([1, 2, 3, pages - 2, pages - 1, pages, current - 1, current, current + 1]);
  const sorted = [...shown].filter((p) => p >= 1 && p <= pages).sort((a, b) => a - b);
  const links: (number | null)[] = [];
  for (const page of sorted) {
    const previous = links[links.length - 1];
    if (typeof previous === 'number' && page - previous === 2) links.push(previous + 1);
    else if (typeof previous === 'number' && page - previous > 2) links.push(null);
    links.push(page);
  }
  return links;
}
