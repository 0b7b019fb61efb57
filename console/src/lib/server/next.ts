// Where to go after signing in: only a path of this site (never `//evil.example`, `/\evil`, or a
// full URL), and never back to the sign-in or sign-out pages.
import { routes } from '../routes.ts';

export function safeNext(next: string | null | undefined): string {
  const fallback = routes.imports();
  if (!next || next.length > 2000 || !next.startsWith('/') || /^\/[\\/]/.test(next) || /[\u0000-\u001f\u007f\\]/.test(next)) return fallback;
  let url: URL;
  try {
    url = new URL(next, 'http://console.invalid');
  } catch {
    return fallback;
  }
  if (url.origin !== 'http://console.invalid') return fallback;
  if (url.pathname === '/login' || url.pathname === '/logout') return fallback;
  return url.pathname + url.search + url.hash;
}
