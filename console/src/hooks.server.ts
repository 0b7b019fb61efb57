// Every request to the console passes here first: the session is read from its cookie, and the
// route's rule (lib/server/access.ts) is applied to page loads, form actions and endpoints alike —
// a layout load alone would not run before an action or a +server endpoint.
import { json, redirect, type Handle, type HandleServerError, type RequestEvent } from '@sveltejs/kit';
import { consoleContext } from '../../services/api/context.ts';
import { decide } from '$lib/server/access.ts';
import { clearSessionCookie, readSessionCookie } from '$lib/server/session-cookie.ts';
import { asServiceError } from '$lib/server/service.ts';
import { routes } from '$lib/routes.ts';

const READS = new Set(['GET', 'HEAD']);

/** A form action posted by use:enhance (it expects an ActionResult as JSON). */
function isEnhancedAction(event: RequestEvent): boolean {
  return event.request.headers.get('x-sveltekit-action') === 'true';
}

function refuse(event: RequestEvent, status: number, message: string): Response {
  if (isEnhancedAction(event)) return json({ type: 'error', error: { message, status } }, { status });
  return new Response(`${message}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

/** A page saying the service cannot answer now (PostgreSQL unreachable), as the API says 503. */
function unavailable(event: RequestEvent, message: string): Response {
  if (isEnhancedAction(event)) return json({ type: 'error', error: { message, status: 503 } }, { status: 503, headers: { 'retry-after': '5' } });
  const text = message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="5"><title>Unavailable · CareOS</title></head>` +
    `<body style="font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0;background:#f6f7f9;color:#1f2937"><main style="max-width:32rem;padding:2rem;text-align:center"><h1 style="font-size:1.25rem">CareOS cannot answer right now</h1><p>${text}</p><p style="color:#4b5563">This page tries again by itself every few seconds.</p></main></body></html>`,
    { status: 503, headers: { 'content-type': 'text/html; charset=utf-8', 'retry-after': '5', 'cache-control': 'no-store' } },
  );
}

export const handle: Handle = async ({ event, resolve }) => {
  const { careos, secureCookies, noteUser, banner } = consoleContext();
  event.locals.careos = careos;
  event.locals.secureCookies = secureCookies;
  event.locals.forbidden = null;
  event.locals.banner = banner?.() ?? null;

  const token = readSessionCookie(event.cookies);
  let user: Awaited<ReturnType<typeof careos.principalOfSession>> = null;
  try {
    user = token ? await careos.principalOfSession(token) : null;
  } catch (thrown) {
    const known = asServiceError(thrown);
    if (known?.status === 503) return unavailable(event, known.message);
    throw thrown;
  }
  if (user) noteUser?.(user.id);
  // An expired or ended session's cookie is of no use any more.
  if (token && !user) clearSessionCookie(event.cookies, event.locals);
  event.locals.user = user;
  event.locals.sessionToken = user ? token : null;

  const verdict = decide(event.route.id, user);
  switch (verdict.kind) {
    case 'allow':
      break;
    case 'sign-in':
      // Thrown here, SvelteKit answers a page, a data request or an enhanced action each in its form.
      redirect(303, routes.login(READS.has(event.request.method) ? event.url.pathname + event.url.search : undefined));
    case 'change-password':
      redirect(303, routes.changePassword());
    case 'forbidden':
      // A page (or its data) renders the 403 page inside the console's frame; anything else is refused here.
      if (READS.has(event.request.method) && event.route.id?.startsWith('/(console)/')) {
        event.locals.forbidden = verdict.message;
        break;
      }
      return refuse(event, 403, verdict.message);
    default:
      verdict satisfies never;
  }
  return resolve(event);
};

export const handleError: HandleServerError = ({ error, status, message }) => {
  const known = asServiceError(error);
  if (known) return { message: known.message, status: known.status };
  if (status !== 404) console.error('careos console:', error);
  return { message: status === 404 ? 'Not found' : message, status };
};
