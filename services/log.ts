// The server's log: JSON lines (pino) on stdout, one object per line, for whatever collects them;
// `CAREOS_LOG_FORMAT=pretty` prints them for people instead (pino-pretty, in-process, so the
// order of lines and the exit of the process stay as they are). Unset, a terminal gets pretty
// lines and anything else (Docker, systemd, a pipe) JSON.
//
// Every line written while a request is being answered carries that request's id, the user's id
// (never a password, a token or a cookie: those are redacted wherever they appear) and, where the
// request names one, the import's id: they come from the request's context (AsyncLocalStorage),
// which follows the request through every await, so a log line deep in the service layer, and an
// unhandled rejection that a request caused, say which request it was.
import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';
import pretty from 'pino-pretty';

export interface RequestContext {
  requestId: string;
  method: string;
  path: string;
  userId?: string;
  importId?: string;
}

const requests = new AsyncLocalStorage<RequestContext>();

/** Runs `work` as part of a request: log lines written meanwhile carry its context. */
export function withRequestContext<T>(context: RequestContext, work: () => T): T {
  return requests.run(context, work);
}

/** The context of the request being answered here, if any (mutable: the user is known after sign-in). */
export function requestContext(): RequestContext | undefined {
  return requests.getStore();
}

/** Secrets never reach a log line, whichever object they are found in. */
const REDACT = [
  'password', '*.password', 'token', '*.token', 'cookie', '*.cookie', 'authorization', '*.authorization',
  'headers.cookie', 'headers.authorization', 'req.headers.cookie', 'req.headers.authorization', 'sessionToken', '*.sessionToken',
];

export type LogFormat = 'json' | 'pretty';

export function logFormat(env: NodeJS.ProcessEnv = process.env, terminal = Boolean(process.stdout.isTTY)): LogFormat {
  const value = env.CAREOS_LOG_FORMAT || (terminal ? 'pretty' : 'json');
  if (value !== 'json' && value !== 'pretty') throw new Error(`CAREOS_LOG_FORMAT must be json or pretty (got "${value}")`);
  return value;
}

function createLogger(): pino.Logger {
  let format: LogFormat = 'json';
  try {
    format = logFormat();
  } catch {
    // loadConfig reports the malformed value and stops the start; until then, JSON.
  }
  const options: pino.LoggerOptions = {
    base: { service: 'careos' },
    level: process.env.CAREOS_LOG_LEVEL ?? 'info',
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const context = requests.getStore();
      if (!context) return {};
      return {
        requestId: context.requestId,
        ...(context.userId ? { userId: context.userId } : {}),
        ...(context.importId ? { importId: context.importId } : {}),
      };
    },
  };
  // Synchronous destinations: a line written just before an exit is never lost.
  const destination = format === 'pretty'
    ? pretty({ sync: true, colorize: Boolean(process.stdout.isTTY), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' })
    : pino.destination({ fd: 1, sync: true });
  return pino(options, destination);
}

export const log = createLogger();
