// Calls into the service layer from loads and actions. The service layer throws its own small
// error hierarchy (services/errors.ts: status + title); here those become SvelteKit errors with the
// same status, so a 404 is a 404 page and a 403 a 403 page. The console may not import the
// services' values, so the errors are recognised by shape.
import { error } from '@sveltejs/kit';
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
