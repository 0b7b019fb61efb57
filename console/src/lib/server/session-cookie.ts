// The session cookie, set and cleared in one place (HttpOnly, SameSite=Lax, path /, Secure when
// the public URL is https — the hook puts that flag on locals).
import type { Cookies } from '@sveltejs/kit';
import { SESSION_COOKIE, sessionCookieOptions } from '../../../../services/auth/cookie.ts';

export function readSessionCookie(cookies: Cookies): string | null {
  return cookies.get(SESSION_COOKIE) ?? null;
}

export function setSessionCookie(cookies: Cookies, locals: App.Locals, token: string): void {
  cookies.set(SESSION_COOKIE, token, sessionCookieOptions(locals.secureCookies));
}

export function clearSessionCookie(cookies: Cookies, locals: App.Locals): void {
  cookies.delete(SESSION_COOKIE, sessionCookieOptions(locals.secureCookies));
}
