// Every URL the console links to, built in one place (pages, and the API routes the browser calls).
import { DEFAULT_PAGE_SIZE } from '../../../schemas/api.ts';

export interface Paging {
  page: number;
  size: number;
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Page and size in the URL only when they differ from the defaults, so plain links stay plain. */
function paging(p: Partial<Paging> = {}): Record<string, number | undefined> {
  return {
    page: p.page && p.page > 1 ? p.page : undefined,
    size: p.size && p.size !== DEFAULT_PAGE_SIZE ? p.size : undefined,
  };
}

const segment = encodeURIComponent;

export const routes = {
  home: () => '/',
  login: (next?: string) => `/login${query({ next })}`,
  logout: () => '/logout',
  changePassword: () => '/account/password',
  imports: (p?: Partial<Paging>) => `/imports${query(paging(p))}`,
  import: (importId: string, p?: Partial<Paging>) => `/imports/${segment(importId)}${query(paging(p))}`,
  errors: (importId: string, p?: Partial<Paging>, status?: 'open' | 'resolved') => `/imports/${segment(importId)}/errors${query({ status, ...paging(p) })}`,
  rejectedRow: (importId: string, row: number) => `/imports/${segment(importId)}/errors/${row}`,
  revert: (importId: string) => `/imports/${segment(importId)}/revert`,
  rebuild: () => '/rebuild',
  audit: (filter: { careosId?: string; source?: string; originalId?: string; asOf?: string } = {}) => `/audit${query(filter)}`,
  profiles: (q?: string) => `/profiles${query({ q })}`,
  profile: (careosId: string) => `/profiles/${segment(careosId)}`,
};

/** The HTTP API routes the browser calls itself (same origin, with the session cookie). */
export const api = {
  imports: () => '/api/imports',
  timelineCsv: (filter: { careosId?: string; source?: string; originalId?: string }) => `/api/audit/timeline.csv${query(filter)}`,
  errorFile: (importId: string, status?: 'open' | 'resolved') => `/api/imports/${segment(importId)}/errors.csv${query({ status })}`,
};
