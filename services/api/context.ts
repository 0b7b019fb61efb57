// How the console (a SvelteKit build, bundled apart from the services) reaches the service layer
// of the process it runs in: the server puts the Careos instance here before it mounts the
// console's handler, and the console's hooks take it from here. One process, one instance.
import type { Careos } from './careos.ts';
import { infrastructureError } from '../db/supervisor.ts';

function asUnavailable(error: unknown): never {
  throw infrastructureError(error) ?? error;
}

/**
 * The service as the console sees it: a lost or frozen PostgreSQL is the service's Unavailable
 * (503), which the console shows as a page saying so, as the API answers 503 — never a 500.
 */
export function consoleService(careos: Careos): Careos {
  return new Proxy(careos, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          return result instanceof Promise ? result.catch(asUnavailable) : result;
        } catch (error) {
          return asUnavailable(error);
        }
      };
    },
  });
}

export interface ConsoleContext {
  careos: Careos;
  /** The public URL's scheme decides the cookie's Secure flag. */
  secureCookies: boolean;
  /** Names the signed-in user in the request's log context (the console is bundled apart from the logger). */
  noteUser?: (userId: string) => void;
  /**
   * What every page should say about the server's state, or null when all is well: PostgreSQL
   * restarting or unreachable, a disk full (kept fresh by the server, read without a query).
   */
  banner?: () => string | null;
}

const KEY = Symbol.for('careos.console-context');

export function provideConsoleContext(context: ConsoleContext): void {
  (globalThis as Record<symbol, unknown>)[KEY] = context;
}

export function consoleContext(): ConsoleContext {
  const context = (globalThis as Record<symbol, unknown>)[KEY] as ConsoleContext | undefined;
  if (!context) throw new Error('the console runs inside the careos server (npm start or npm run dev), which provides its services');
  return context;
}
