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

export const handle: Handle = async ({ event, resolve }) => {
  const { careos, secureCookies } = consoleContext();
  event.locals.careos = careos;
  event.locals.secureCookies = secureCookies;
  event.locals.forbidden = null;

  const token = readSessionCookie(event.cookies);
  const user = token ? await careos.principalOfSession(token) : null;
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
