// The server's front door: the one 'request' listener of the HTTP server, attached before the port
// is open, so that every request from the first moment gets an answer.
//
// - Every request gets an id (X-Request-Id: the client's when it is a sane token, else a new one)
//   and runs in its log context (services/log.ts), so its log lines and any error it causes name it.
// - A path that is not valid percent-encoded UTF-8 is refused here with a 400, before any router
//   decodes it (SvelteKit's answer to one was an unhandled rejection that stopped the process).
// - While the server starts (console build, PostgreSQL, migrations) and while it stops, every
//   request is answered at once: /api/health 200 (the process answers), /api/ready and every other
//   API route 503 with Retry-After and what the server is waiting for, and a page a small
//   "starting" page that reloads itself.
// - Once started, requests go to the app (API and console); an error that escapes it is that
//   request's 500 and a log line, never the process's end.
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { log, requestContext, withRequestContext } from '../log.ts';
import { SECURITY_HEADERS } from './http.ts';
import { observeRequest } from './metrics.ts';

export type Phase = 'starting' | 'ready' | 'stopping';

export interface FrontState {
  phase: Phase;
  /** What the server is doing now while starting or stopping ("starting PostgreSQL"). */
  step: string;
}

type App = (req: IncomingMessage, res: ServerResponse) => void;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const RETRY_AFTER_SECONDS = 2;

/** True when every %XX of the path is there and the bytes they make are UTF-8. */
export function pathDecodes(path: string): boolean {
  if (!path.includes('%')) return true;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/** A small page of our own (starting, stopping, bad request), outside the console. */
function page(res: ServerResponse, status: number, title: string, text: string, reload: boolean): void {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${
    reload ? `<meta http-equiv="refresh" content="${RETRY_AFTER_SECONDS}">` : ''
  }<title>${escapeHtml(title)} · CareOS</title><style>body{font-family:system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1f2937}main{max-width:32rem;padding:2rem;text-align:center}h1{font-size:1.25rem;margin:0 0 .5rem}p{margin:0;color:#4b5563}</style></head><body><main><h1>${
    escapeHtml(title)
  }</h1><p>${escapeHtml(text)}</p></main></body></html>`;
  res.writeHead(status, {
    ...SECURITY_HEADERS, 'Content-Security-Policy': PAGE_CSP, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store',
    ...(reload ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : {}),
  });
  res.end(body);
}

function problemJson(res: ServerResponse, status: number, title: string, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS, 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'", 'Content-Type': 'application/problem+json',
    'Cache-Control': 'no-store', ...headers,
  });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail, ...extra }));
}

function isApi(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

/** The answer to a request that comes while the server starts or stops. */
function notReady(req: IncomingMessage, res: ServerResponse, state: FrontState, path: string): void {
  const doing = state.phase === 'starting' ? 'starting' : 'stopping';
  const waiting = state.phase === 'starting' ? `the server is starting: ${state.step}` : 'the server is stopping';
  if (path === '/api/health' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify({ ok: true, status: doing, step: state.step }));
    return;
  }
  const retry = { 'Retry-After': String(RETRY_AFTER_SECONDS), Connection: 'close' };
  if (path === '/api/ready') {
    res.writeHead(503, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...retry });
    res.end(JSON.stringify({ ready: false, status: doing, waitingFor: state.step, checks: [] }));
    return;
  }
  if (isApi(path)) {
    problemJson(res, 503, 'Service unavailable', `${waiting}; try again in a few seconds`, { waitingFor: state.step }, retry);
    return;
  }
  res.setHeader('Connection', 'close');
  page(res, 503, state.phase === 'starting' ? 'CareOS is starting…' : 'CareOS is stopping', state.phase === 'starting' ? `Waiting for: ${state.step}. This page reloads by itself.` : 'The server is stopping; it will be back shortly.', state.phase === 'starting');
}

/** The route a request's metrics are counted under: a pattern, never an id (bounded label values). */
function routeOf(path: string, res: ServerResponse): string {
  const known = (res as ServerResponse & { locals?: { route?: string } }).locals?.route;
  if (known) return known;
  if (isApi(path)) return '/api/*';
  if (path.startsWith('/_app/')) return '/_app/*';
  return 'console';
}

/**
 * The 'request' listener. `state` is read at each request (the server moves it from starting to
 * ready and to stopping); `app` is set once the server is ready.
 */
export function frontDoor(state: FrontState, app: () => App | null): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    const rawPath = (req.url ?? '/').split('?')[0]!;
    res.setHeader('X-Request-Id', requestId);
    const context = { requestId, method: req.method ?? 'GET', path: rawPath.slice(0, 200) };
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(rawPath, res);
      observeRequest(req.method ?? 'GET', route, res.statusCode, seconds);
      const ctx = requestContext() ?? context;
      const line = { method: req.method, path: context.path, route, status: res.statusCode, ms: Math.round(seconds * 10_000) / 10 };
      withRequestContext(ctx, () => (res.statusCode >= 500 ? log.warn(line, 'request') : log.info(line, 'request')));
    });
    withRequestContext(context, () => {
      try {
        if (!pathDecodes(rawPath)) {
          if (isApi(rawPath)) problemJson(res, 400, 'Invalid request', 'the path is not valid percent-encoded UTF-8');
          else page(res, 400, 'Bad request', 'The address is not valid (its percent-encoding is broken).', false);
          return;
        }
        const handler = state.phase === 'ready' ? app() : null;
        if (!handler) return notReady(req, res, state, rawPath);
        handler(req, res);
      } catch (error) {
        answerFault(req, res, error);
      }
    });
  };
}

/** An error nothing else answered: that request's 500 and a log line with its id; the server goes on. */
export function answerFault(req: IncomingMessage, res: ServerResponse, error: unknown): void {
  log.error({ err: error }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const path = (req.url ?? '/').split('?')[0]!;
  if (isApi(path)) problemJson(res, 500, 'Internal Server Error', 'something went wrong; see the server log');
  else page(res, 500, 'Something went wrong', 'The server could not answer this page; the error is in its log.', false);
}

/**
 * The process's last line of defence: an error no request answered (a rejected promise nobody
 * awaited, an exception thrown from a timer) is logged, with the request it came from where the
 * context followed it, and the server runs on. Exiting would stop every running import.
 */
export function keepRunningOnStrayErrors(): void {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled rejection (the server runs on)');
  });
  process.on('uncaughtException', (error, origin) => {
    log.error({ err: error, origin }, 'uncaught exception (the server runs on)');
  });
}
