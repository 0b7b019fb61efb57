// Calls into the service layer from loads and actions. The service layer throws its own small
// error hierarchy (services/errors.ts: status + title); here those become SvelteKit errors with the
// same status, so a 404 is a 404 page and a 403 a 403 page. The console may not import the
// services' values, so the errors are recognised by shape.
import { error, fail } from '@sveltejs/kit';
import type { Principal } from '../../../../schemas/api.ts';

export interface ServiceError {
  name: string;
  status: number;
  message: string;
  /** Set on TooManyRequests. */
  retryAfterSeconds?: number;
}

export function asServiceError(thrown: unknown): ServiceError | null {
  if (!(thrown instanceof Error)) return null;
  const candidate = thrown as Error & { status?: unknown; title?: unknown; retryAfterSeconds?: unknown };
  if (typeof candidate.status !== 'number' || typeof candidate.title !== 'string') return null;
  if (candidate.status < 400 || candidate.status > 599) return null;
  return {
    name: candidate.name,
    status: candidate.status,
    message: candidate.message,
    retryAfterSeconds: typeof candidate.retryAfterSeconds === 'number' ? candidate.retryAfterSeconds : undefined,
  };
}

/** The service's error behind a refusal; anything else (a bug, a lost database) is thrown on. */
export function serviceErrorOf(thrown: unknown): ServiceError {
  const known = asServiceError(thrown);
  if (!known) throw thrown;
  return known;
}

/**
 * A form action the service refused: its status, and its reason as a sentence beside what the
 * form needs to show it again (`extra`). Anything else is thrown on.
 */
export function refusal<T extends Record<string, unknown> = Record<never, never>>(thrown: unknown, extra?: T) {
  const known = serviceErrorOf(thrown);
  return fail(known.status, { ...(extra as T), message: sentence(known.message) });
}

/**
 * A search the service could not read (400: not a phone number, a bad date): its reason, to say on
 * the page. Other service errors become error pages as in service(); anything else is thrown on.
 */
export function unreadableSearch(thrown: unknown): string {
  const known = serviceErrorOf(thrown);
  if (known.status !== 400) error(known.status, sentence(known.message));
  return sentence(known.message);
}

/** Runs a service call; its known errors become an error page with their status and message. */
export async function service<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (thrown) {
    const known = asServiceError(thrown);
    if (known) error(known.status, sentence(known.message));
    throw thrown;
  }
}

/** A service message ("no import x") as the screen shows it ("No import x."). */
export function sentence(message: string): string {
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?)]$/.test(text) ? text : `${text}.`;
}

/** The signed-in user of a guarded route (the hook let the request through only with one). */
export function signedIn(locals: App.Locals): Principal {
  if (!locals.user) error(401, 'Sign in first.');
  return locals.user;
}
