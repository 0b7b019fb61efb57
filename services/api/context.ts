// How the console (a SvelteKit build, bundled apart from the services) reaches the service layer
// of the process it runs in: the server puts the Careos instance here before it mounts the
// console's handler, and the console's hooks take it from here. One process, one instance.
import type { Careos } from './careos.ts';

export interface ConsoleContext {
  careos: Careos;
  /** The public URL's scheme decides the cookie's Secure flag. */
  secureCookies: boolean;
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
