// The HTTP API (/api) the console's browser code and scripts use, and the headers every response
// of the server carries. Thin transport: authenticate, check the role, parse and check input,
// call one function of the service layer (which checks the role again), map the result. Errors
// become problem+json in one place (`problem`), and a malformed request is always a 4xx.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  AppError, Forbidden, MethodNotAllowed, NotFound, RowInvalid, TooLarge, TooManyRequests, Unauthorized, Unavailable, UnsupportedMediaType, ValidationError,
} from '../errors.ts';
import { InsufficientStorage } from '../errors.ts';
import { infrastructureError } from '../db/supervisor.ts';
import { Careos, checkErrorStatus, checkId } from '../api/careos.ts';
import { SESSION_COOKIE, readCookie } from '../auth/cookie.ts';
import { ROLES, type Permission, type Principal, type Role } from '../../schemas/api.ts';
import { prepareIncomingDir, receiveUpload } from './upload.ts';
import { jsonArray, timelineCsv, timelineFileName } from '../api/error-file.ts';
import { writeChunks } from '../api/stream.ts';
import { log, requestContext } from '../log.ts';
import { metricsText } from './metrics.ts';
import type { Readiness } from './readiness.ts';

export interface TokenPrincipal {
  name: string;
  role: Role;
}

/**
 * CAREOS_API_TOKENS="token1=alice:admin,token2=bob:bi" (for scripts; people sign in). A malformed
 * entry is a one-line error that names the entry by its place and its name, never by its token.
 */
export function parseTokens(spec: string): Map<string, TokenPrincipal> {
  const tokens = new Map<string, TokenPrincipal>();
  const entries = spec.split(',').map((e) => e.trim());
  entries.forEach((entry, index) => {
    if (!entry) return;
    const where = `CAREOS_API_TOKENS entry ${index + 1}`;
    const eq = entry.indexOf('=');
    const shown = eq < 0 ? '' : ` ("…=${entry.slice(eq + 1)}")`; // the part after "=" is name:role, not secret
    const match = /^([^=\s]+)=([^:=\s][^:=]*):([a-z]+)$/.exec(entry);
    if (!match) throw new Error(`${where}${shown} is not token=name:role (roles: ${ROLES.join(', ')})`);
    const [, token, name, role] = match as unknown as [string, string, string, string];
    if (!(ROLES as readonly string[]).includes(role)) throw new Error(`${where} for "${name}" has role "${role}" (roles: ${ROLES.join(', ')})`);
    if (token.length < 16) throw new Error(`${where} for "${name}": the token is shorter than 16 characters`);
    if (tokens.has(token)) throw new Error(`${where} for "${name}": the same token is given twice`);
    tokens.set(token, { name, role: role as Role });
  });
  return tokens;
}

/** The API tokens from the environment; throws a one-line error when malformed. */
export function loadTokens(env: NodeJS.ProcessEnv): Map<string, TokenPrincipal> {
  return parseTokens(env.CAREOS_API_TOKENS ?? '');
}

function sameToken(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A bearer token (any letter case of "Bearer"), or the console's session cookie. A state-changing
 * request made with the cookie must come from our own pages: its Origin (or, without one,
 * Sec-Fetch-Site) must be this site — the rule SvelteKit applies to form actions.
 */
function authenticate(careos: Careos, tokens: Map<string, TokenPrincipal>) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const header = req.get('authorization');
      if (header !== undefined) {
        const match = /^bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
        if (!match) throw new Unauthorized('Authorization must be "Bearer <token>"');
        for (const [candidate, principal] of tokens) {
          if (sameToken(candidate, match[1]!)) {
            req.principal = { id: principal.name, name: principal.name, role: principal.role, via: 'token', mustChangePassword: false };
            const context = requestContext();
            if (context) context.userId = `token:${principal.name}`;
            return next();
          }
        }
        throw new Unauthorized('the bearer token is not valid');
      }
      const token = readCookie(req.get('cookie'), SESSION_COOKIE);
      const principal = token ? await careos.principalOfSession(token) : null;
      if (!principal) throw new Unauthorized('sign in, or send a bearer token');
      if (UNSAFE.has(req.method) && !sameOrigin(req, careos.app.config.publicUrl)) {
        throw new Forbidden('cross-site request refused: it must come from the console itself');
      }
      req.principal = principal;
      const context = requestContext();
      if (context) context.userId = principal.id;
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** The request comes from a page of this site: the one it was sent to, or the public URL (behind a proxy). */
function sameOrigin(req: Request, publicUrl: string | undefined): boolean {
  const origin = req.get('origin');
  if (origin) return origin === `${req.protocol}://${req.get('host')}` || (publicUrl !== undefined && origin === publicUrl);
  return req.get('sec-fetch-site') === 'same-origin';
}

/**
 * The query string, strictly: percent-encoding must be valid UTF-8 (no silent replacement
 * characters), and a parameter given twice stays visible (an array) so the route can refuse it.
 */
export function parseQuery(query: string | null | undefined): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = Object.create(null);
  for (const pair of (query ?? '').split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
      value = decodeURIComponent((eq < 0 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      throw new ValidationError(`the query string is not valid percent-encoded UTF-8 (at "${pair.slice(0, 40)}")`);
    }
    const before = result[name];
    result[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return result;
}

function timelineFilter(req: Request): { careosId?: string; source?: string; originalId?: string } {
  return { careosId: queryValue(req, 'careosId'), source: queryValue(req, 'source'), originalId: queryValue(req, 'originalId') };
}

const MAX_JSON_BYTES = 16 * 1024;

/**
 * A small JSON object body (application/json, at most 16 KB) with only the named keys. Malformed
 * or other input is the caller's to fix: 415, 413 or 400, never a 500.
 */
async function readJsonObject(req: Request, keys: readonly string[]): Promise<Record<string, unknown>> {
  if (!req.is('application/json')) throw new UnsupportedMediaType('send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) throw new TooLarge(`the body is larger than ${MAX_JSON_BYTES} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new ValidationError(`the body is not valid JSON (${(error as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('the body must be a JSON object');
  const unknown = Object.keys(body).filter((key) => !keys.includes(key));
  if (unknown.length) throw new ValidationError(`unknown field "${unknown[0]}" (this route takes: ${keys.join(', ')})`);
  return body as Record<string, unknown>;
}

/** Refuses query parameters the route does not read, and any given twice (never silently one of them). */
function checkQuery(allowed: readonly string[]) {
  return (req: Request, _res: Response, next: NextFunction) => {
    try {
      for (const [name, value] of Object.entries(req.query as Record<string, string | string[]>)) {
        if (!allowed.includes(name)) {
          throw new ValidationError(`unknown query parameter "${name}"${allowed.length ? ` (this route takes: ${allowed.join(', ')})` : ' (this route takes none)'}`);
        }
        if (Array.isArray(value)) throw new ValidationError(`query parameter "${name}" is given ${value.length} times: give it once`);
        if (value.includes('\u0000')) throw new ValidationError(`query parameter "${name}" holds a NUL byte`);
      }
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** One value of a query parameter (checkQuery has refused repeats). */
function queryValue(req: Request, name: string): string | undefined {
  return (req.query as Record<string, string | undefined>)[name];
}

function queryInt(req: Request, name: string, fallback: number, min: number, max: number): number {
  const raw = queryValue(req, name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new ValidationError(`query parameter "${name}" must be a whole number from ${min} to ${max} (got "${raw.slice(0, 40)}")`);
  const value = Number(raw);
  if (value < min || value > max) throw new ValidationError(`query parameter "${name}" must be from ${min} to ${max} (got ${value})`);
  return value;
}

/** The headers every response of the server carries; pages get their own Content-Security-Policy from SvelteKit. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
};

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  next();
}

/** Who may call a route: anyone, anyone signed in (or with a token), or the roles of a permission. */
type Access = 'public' | 'signed-in' | Permission;

interface Route {
  method: 'GET' | 'POST';
  path: string;
  access: Access;
  /** The query parameters it reads; any other is refused. */
  query?: readonly string[];
  handle(req: Request, res: Response): Promise<void>;
}

export interface HttpOptions {
  /** Readiness (GET /api/ready). */
  readiness: Readiness;
  /** A bearer token that may read /metrics without being a user (CAREOS_METRICS_TOKEN). */
  scrapeToken?: string;
}

export function createHttpApp(careos: Careos, tokens: Map<string, TokenPrincipal>, options: HttpOptions): express.Express {
  const http = express();
  http.disable('x-powered-by');
  http.set('query parser', parseQuery);
  http.use(securityHeaders);
  const config = careos.app.config;
  const incoming = path.join(config.dataDir, 'incoming');
  prepareIncomingDir(incoming);

  const routes: Route[] = [
    {
      // Liveness: the process answers. Whether it can work now is readiness (/api/ready).
      method: 'GET', path: '/api/health', access: 'public',
      async handle(_req, res) {
        res.json({ ok: true, status: 'ready', events: careos.app.store.kind });
      },
    },
    {
      method: 'GET', path: '/api/ready', access: 'public',
      async handle(_req, res) {
        const report = await options.readiness.report();
        if (!report.ready) res.setHeader('Retry-After', '5');
        res.status(report.ready ? 200 : 503).json(report);
      },
    },
    {
      method: 'GET', path: '/api/me', access: 'signed-in',
      async handle(req, res) {
        res.json(req.principal);
      },
    },
    {
      method: 'GET', path: '/api/imports', access: 'imports.read', query: ['limit', 'offset'],
      async handle(req, res) {
        const limit = queryInt(req, 'limit', 50, 1, 1000);
        const offset = queryInt(req, 'offset', 0, 0, 100_000_000);
        const { items, total } = await careos.listImports(req.principal!, { limit, offset });
        res.setHeader('X-Total-Count', String(total));
        res.json(items);
      },
    },
    {
      method: 'POST', path: '/api/imports', access: 'imports.create',
      async handle(req, res) {
        const upload = await receiveUpload(req, res, { directory: incoming, maxFileBytes: config.maxFileBytes });
        try {
          const { importId } = await careos.startImport(req.principal!, upload);
          res.status(202).json({ importId });
        } finally {
          fs.rm(upload.filePath, { force: true }, () => undefined);
        }
      },
    },
    {
      method: 'GET', path: '/api/imports/:id', access: 'imports.read',
      async handle(req, res) {
        res.json(await careos.getImport(req.principal!, checkId(req.params.id, 'import id')));
      },
    },
    {
      method: 'GET', path: '/api/imports/:id/errors', access: 'errors.read', query: ['limit', 'offset', 'status'],
      async handle(req, res) {
        const importId = checkId(req.params.id, 'import id');
        const status = checkErrorStatus(queryValue(req, 'status'));
        // Without limit/offset: every rejected row (the original shape); with them, one window.
        if (req.query.limit === undefined && req.query.offset === undefined) {
          // Written a page at a time: an import's rejected rows may not fit in memory as one answer.
          const { total, pages } = await careos.errorStream(req.principal!, importId, status);
          res.setHeader('X-Total-Count', String(total));
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          await writeChunks(res, jsonArray(pages));
          res.end();
          return;
        }
        const limit = queryInt(req, 'limit', 1000, 1, 10_000);
        const offset = queryInt(req, 'offset', 0, 0, 100_000_000);
        const { items, total } = await careos.errorWindow(req.principal!, importId, { limit, offset }, status);
        res.setHeader('X-Total-Count', String(total));
        res.json(items);
      },
    },
    {
      method: 'GET', path: '/api/imports/:id/errors.csv', access: 'errors.read', query: ['status'],
      async handle(req, res) {
        const file = await careos.errorFile(req.principal!, checkId(req.params.id, 'import id'), checkErrorStatus(queryValue(req, 'status')));
        res.setHeader('Content-Type', 'text/csv; charset=utf-8');
        res.setHeader('Content-Disposition', contentDisposition(file.fileName));
        await writeChunks(res, file.chunks());
        res.end();
      },
    },
    {
      method: 'GET', path: '/api/profiles', access: 'profiles.read', query: ['q', 'phone', 'careosId', 'limit'],
      async handle(req, res) {
        const q = queryValue(req, 'q');
        const phone = queryValue(req, 'phone');
        const careosId = queryValue(req, 'careosId');
        if (q !== undefined && (phone !== undefined || careosId !== undefined)) {
          throw new ValidationError('give q (a search), or phone and/or careosId (exact filters), not both');
        }
        if (q !== undefined) {
          res.json((await careos.searchProfiles(req.principal!, q, queryInt(req, 'limit', 50, 1, 200))).items);
          return;
        }
        res.json(await careos.findProfiles(req.principal!, { phone, careosId, limit: queryInt(req, 'limit', 200, 1, 200) }));
      },
    },
    {
      method: 'GET', path: '/api/profiles/:careosId', access: 'profiles.read',
      async handle(req, res) {
        res.json(await careos.getProfile(req.principal!, checkId(req.params.careosId, 'CareOS id')));
      },
    },
    {
      method: 'POST', path: '/api/imports/:id/errors/replay', access: 'errors.replay',
      async handle(req, res) {
        const body = await readJsonObject(req, ['rows']);
        res.status(202).json(await careos.replayErrors(req.principal!, checkId(req.params.id, 'import id'), body.rows));
      },
    },
    {
      method: 'POST', path: '/api/imports/:id/errors/:row/fix', access: 'errors.replay',
      async handle(req, res) {
        const row = /^[1-9][0-9]{0,9}$/.test(String(req.params.row)) ? Number(req.params.row) : Number.NaN;
        if (!Number.isSafeInteger(row)) throw new ValidationError(`row must be a row number (got "${req.params.row}")`);
        const body = await readJsonObject(req, ['values']);
        res.status(202).json(await careos.fixError(req.principal!, checkId(req.params.id, 'import id'), row, body.values));
      },
    },
    {
      method: 'GET', path: '/api/imports/:id/revert', access: 'imports.revert',
      async handle(req, res) {
        res.json(await careos.revertPlan(req.principal!, checkId(req.params.id, 'import id')));
      },
    },
    {
      method: 'POST', path: '/api/imports/:id/revert', access: 'imports.revert',
      async handle(req, res) {
        const body = await readJsonObject(req, ['reason']);
        const view = await careos.revertImport(req.principal!, checkId(req.params.id, 'import id'), { reason: body.reason });
        // 202 while the processor has not reached the request (imports before it come first).
        res.status(view.revert?.state === 'requested' ? 202 : 200).json(view);
      },
    },
    {
      method: 'GET', path: '/api/rebuild', access: 'readmodels.rebuild',
      async handle(req, res) {
        const rebuild = careos.rebuildStatus(req.principal!);
        res.json({ rebuild, history: await careos.rebuildHistory(req.principal!) });
      },
    },
    {
      method: 'POST', path: '/api/rebuild', access: 'readmodels.rebuild',
      async handle(req, res) {
        res.status(202).json({ rebuild: careos.startRebuild(req.principal!) });
      },
    },
    {
      method: 'POST', path: '/api/careshop/sync', access: 'imports.create',
      async handle(req, res) {
        const { importId } = await careos.syncCareshop(req.principal!);
        res.status(202).json({ importId });
      },
    },
    {
      method: 'GET', path: '/api/careshop/history', access: 'imports.read', query: ['importId', 'customerId', 'limit', 'offset'],
      async handle(req, res) {
        const limit = queryInt(req, 'limit', 100, 1, 10_000);
        const offset = queryInt(req, 'offset', 0, 0, 100_000_000);
        const { items, total } = await careos.careshopHistory(
          req.principal!, { importId: queryValue(req, 'importId'), originalId: queryValue(req, 'customerId') }, { limit, offset },
        );
        res.setHeader('X-Total-Count', String(total));
        res.json(items);
      },
    },
    {
      method: 'GET', path: '/api/onboarding/nana', access: 'imports.read',
      async handle(req, res) {
        res.json(await careos.onboarding(req.principal!));
      },
    },
    {
      method: 'POST', path: '/api/onboarding/nana', access: 'onboarding.mark',
      async handle(req, res) {
        const body = await readJsonObject(req, ['complete', 'reason']);
        res.json(await careos.markOnboarding(req.principal!, { complete: body.complete, reason: body.reason }));
      },
    },
    {
      method: 'GET', path: '/api/audit/timeline', access: 'relations.read', query: ['careosId', 'source', 'originalId'],
      async handle(req, res) {
        res.json(await careos.timeline(req.principal!, timelineFilter(req)));
      },
    },
    {
      method: 'GET', path: '/api/audit/timeline.csv', access: 'relations.read', query: ['careosId', 'source', 'originalId'],
      async handle(req, res) {
        const filter = timelineFilter(req);
        const entries = await careos.timeline(req.principal!, filter);
        res.setHeader('Content-Type', 'text/csv; charset=utf-8');
        res.setHeader('Content-Disposition', contentDisposition(timelineFileName(filter)));
        res.send(timelineCsv(entries));
      },
    },
    {
      method: 'GET', path: '/api/relations', access: 'relations.read', query: ['careosId', 'source', 'originalId', 'asOf'],
      async handle(req, res) {
        const filter = { careosId: queryValue(req, 'careosId'), source: queryValue(req, 'source'), originalId: queryValue(req, 'originalId') };
        if (!filter.careosId && !(filter.source && filter.originalId)) throw new ValidationError('give careosId, or source and originalId');
        res.json(await careos.relations(req.principal!, filter, queryValue(req, 'asOf')));
      },
    },
  ];

  http.use('/api', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    next();
  });
  const signedIn = authenticate(careos, tokens);
  for (const route of routes) {
    const guards = route.access === 'public' ? [] : [signedIn, authorize(careos, route.access)];
    const method = route.method === 'GET' ? 'get' : 'post';
    const label = (req: Request, res: Response, next: NextFunction) => {
      res.locals.route = route.path;
      const context = requestContext();
      if (context && typeof req.params.id === 'string') context.importId = req.params.id.slice(0, 100);
      next();
    };
    http[method](route.path, label, ...guards, checkQuery(route.query ?? []), (req: Request, res: Response, next: NextFunction) => {
      route.handle(req, res).catch(next);
    });
  }
  // A known path with another method: 405 with the methods it takes (after authentication, like any route).
  for (const routePath of new Set(routes.map((r) => r.path))) {
    const allowed: string[] = routes.filter((r) => r.path === routePath).map((r) => r.method);
    if (allowed.includes('GET')) allowed.push('HEAD');
    http.all(routePath, signedIn, (req, _res, next) => next(new MethodNotAllowed(`${req.method} is not allowed here (allowed: ${allowed.join(', ')})`, allowed)));
  }
  http.use('/api', signedIn, (_req, _res, next) => next(new NotFound('no such route')));
  http.use('/api', problem);
  // Prometheus' scrape: admins, or the scrape token (a scraper is no user).
  http.get('/metrics', (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = '/metrics';
    res.setHeader('Cache-Control', 'no-store');
    const bearer = /^bearer[ \t]+([^\s]+)[ \t]*$/i.exec(req.get('authorization') ?? '')?.[1];
    if (options.scrapeToken && bearer && sameToken(bearer, options.scrapeToken)) return next();
    signedIn(req, res, (error?: unknown) => {
      if (error) return next(error);
      try {
        careos.require(req.principal!, 'metrics.read');
        next();
      } catch (refused) {
        next(refused);
      }
    });
  }, (_req: Request, res: Response, next: NextFunction) => {
    metricsText().then(({ contentType, body }) => res.type(contentType).send(body), next);
  }, problem);
  return http;
}

/** The role check before any input is read: a refused caller learns nothing about its input. */
function authorize(careos: Careos, access: Access) {
  return (req: Request, _res: Response, next: NextFunction) => {
    try {
      if (access !== 'signed-in' && access !== 'public') careos.require(req.principal!, access);
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** RFC 6266: an ASCII fallback and the UTF-8 name (a Thai file name survives). */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** The AppError an error stands for, or null when it is a fault of ours (a 500). */
function known(error: unknown): AppError | null {
  if (error instanceof AppError) return error;
  // A disk full (PostgreSQL's, a file's) is a 507 saying what is full; PostgreSQL unreachable a 503 saying why, when known.
  const infrastructure = infrastructureError(error);
  if (infrastructure) return infrastructure;
  // Express's own refusals (a path segment that is not valid percent-encoding, …) carry a 4xx status.
  const status = (error as { status?: unknown; statusCode?: unknown } | null)?.status ?? (error as { statusCode?: unknown } | null)?.statusCode;
  if (status === 400) return new ValidationError((error as Error).message || 'bad request');
  if (typeof status === 'number' && status > 400 && status < 500) {
    return new AppError((error as Error).message || STATUS_CODES[status] || 'Bad request', status, STATUS_CODES[status] ?? 'Bad request');
  }
  return null;
}

/**
 * Ends a request whose body is still arriving once its answer is sent: `Connection: close` makes
 * Node close the socket after the response, but a request it has already let go of is not told,
 * so a body piped into the multipart parser would wait for more forever (and keep its file open).
 */
function closeAfterResponse(req: Request, res: Response): void {
  res.setHeader('Connection', 'close');
  res.once('finish', () => {
    const socket = req.socket;
    if (!socket || socket.destroyed) req.destroy();
    else socket.once('close', () => req.destroy());
  });
}

/**
 * Every error of the API as problem+json; unknown errors are 500 and logged (never a password or
 * a body). A request whose body was not read to its end is answered with `Connection: close`, and
 * Node closes the connection once the answer is sent, instead of reading the rest.
 */
function problem(error: unknown, req: Request, res: Response, _next: NextFunction): void {
  const mapped = known(error);
  const status = mapped ? mapped.status : 500;
  if (!mapped) log.error({ err: error }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!req.complete) closeAfterResponse(req, res);
  // RFC 6750: a bearer token that was sent and refused is an invalid_token; no credentials, just the scheme.
  if (status === 401) res.setHeader('WWW-Authenticate', /^bearer\s/i.test(req.get('authorization') ?? '') ? 'Bearer realm="careos", error="invalid_token"' : 'Bearer realm="careos"');
  if (mapped instanceof MethodNotAllowed) res.setHeader('Allow', mapped.allowed.join(', '));
  if (mapped instanceof TooManyRequests) res.setHeader('Retry-After', String(mapped.retryAfterSeconds));
  if (mapped instanceof Unavailable) res.setHeader('Retry-After', '5');
  res.status(status).type('application/problem+json').send(JSON.stringify({
    type: 'about:blank',
    title: mapped ? mapped.title : 'Internal Server Error',
    status,
    detail: mapped ? mapped.message : 'something went wrong; see the server log',
    // A row fixed in place that still fails: every reason, per field.
    ...(mapped instanceof RowInvalid ? { reasons: mapped.reasons } : {}),
    // Out of space: which directory's filesystem is full, what is free there and what was needed (bytes).
    ...(mapped instanceof InsufficientStorage ? { where: mapped.where, freeBytes: mapped.freeBytes, neededBytes: mapped.neededBytes } : {}),
  }));
}

/**
 * The last error handler of the whole app (after the console's handler): Express's own would
 * replace the Content-Security-Policy with one that lacks frame-ancestors.
 */
export function lastErrorHandler(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const mapped = known(error);
  if (!mapped) log.error({ err: error }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = mapped ? mapped.status : 500;
  if (status === 503) res.setHeader('Retry-After', '5');
  res.status(status).type('text/plain').send(`${status} ${STATUS_CODES[status] ?? 'Error'}`);
}

/**
 * A request Node cannot parse as HTTP (server 'clientError'): a 400 problem+json with the same
 * security headers as every other response, instead of Node's bare one.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const title = STATUS_CODES[status]!;
  const body = JSON.stringify({ type: 'about:blank', title, status, detail: 'the request is not valid HTTP' });
  const headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'" };
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Cache-Control: no-store\r\nConnection: close\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${body}`,
  );
}
