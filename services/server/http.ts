// The HTTP API (/api) the console's browser code and scripts use, and the headers every response
// of the server carries. Thin transport: authenticate, parse and check input, call one function of
// the service layer (which checks the role), map the result. Errors become problem+json in one place.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import { AppError, TooManyRequests, Unauthorized, ValidationError, NotFound, Forbidden } from '../errors.ts';
import { Careos, checkId } from '../api/careos.ts';
import { SESSION_COOKIE, readCookie } from '../auth/cookie.ts';
import { ROLES, type Principal, type Role } from '../../schemas/api.ts';

export interface TokenPrincipal {
  name: string;
  role: Role;
}

/** CAREOS_API_TOKENS="token1=alice:admin,token2=bob:bi" (for scripts; people sign in). */
export function parseTokens(spec: string): Map<string, TokenPrincipal> {
  const tokens = new Map<string, TokenPrincipal>();
  for (const entry of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([^=\s]+)=([^:]+):([a-z]+)$/.exec(entry);
    if (!match) throw new Error(`CAREOS_API_TOKENS entry "${entry.replace(/=.*/, '=…')}" is not token=name:role (roles: ${ROLES.join(', ')})`);
    if (!(ROLES as readonly string[]).includes(match[3]!)) throw new Error(`CAREOS_API_TOKENS entry for "${match[2]}" has role "${match[3]}" (roles: ${ROLES.join(', ')})`);
    if (match[1]!.length < 16) throw new Error(`CAREOS_API_TOKENS token for "${match[2]}" is shorter than 16 characters`);
    tokens.set(match[1]!, { name: match[2]!, role: match[3] as Role });
  }
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
        const match = /^bearer\s+(\S+)\s*$/i.exec(header);
        if (!match) throw new Unauthorized('Authorization must be "Bearer <token>"');
        for (const [candidate, principal] of tokens) {
          if (sameToken(candidate, match[1]!)) {
            req.principal = { id: principal.name, name: principal.name, role: principal.role, via: 'token', mustChangePassword: false };
            return next();
          }
        }
        throw new Unauthorized('the bearer token is not valid');
      }
      const token = readCookie(req.get('cookie'), SESSION_COOKIE);
      const principal = token ? await careos.principalOfSession(token) : null;
      if (!principal) throw new Unauthorized('sign in, or send a bearer token');
      if (UNSAFE.has(req.method) && !sameOrigin(req)) throw new Forbidden('cross-site request refused: it must come from the console itself');
      req.principal = principal;
      next();
    } catch (error) {
      next(error);
    }
  };
}

function sameOrigin(req: Request): boolean {
  const origin = req.get('origin');
  if (origin) return origin === `${req.protocol}://${req.get('host')}`;
  return req.get('sec-fetch-site') === 'same-origin';
}

const wrap = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
  handler(req, res).catch(next);
};

/** One value of a query parameter: a parameter given twice is an error, never silently one of them. */
function queryValue(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ValidationError(`query parameter "${name}" must be given once, as plain text`);
  if (value.includes('\u0000')) throw new ValidationError(`query parameter "${name}" holds a NUL byte`);
  return value;
}

function queryInt(req: Request, name: string, fallback: number, min: number, max: number): number {
  const raw = queryValue(req, name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new ValidationError(`query parameter "${name}" must be a whole number from ${min} to ${max} (got "${raw}")`);
  const value = Number(raw);
  if (value < min || value > max) throw new ValidationError(`query parameter "${name}" must be from ${min} to ${max} (got ${value})`);
  return value;
}

/** Security headers on every response; pages get their own Content-Security-Policy from SvelteKit. */
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'");
  next();
}

export function createHttpApp(careos: Careos, tokens: Map<string, TokenPrincipal>): express.Express {
  const http = express();
  http.disable('x-powered-by');
  http.set('query parser', 'simple');
  http.use(securityHeaders);
  const config = careos.app.config;
  const incoming = path.join(config.dataDir, 'incoming');
  fs.mkdirSync(incoming, { recursive: true, mode: 0o700 });
  const upload = multer({
    dest: incoming,
    defParamCharset: 'utf8',
    limits: { fileSize: config.maxFileBytes, files: 1, fields: 4, parts: 6, fieldSize: 1024 },
  });

  http.use('/api', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    next();
  });

  http.get('/api/health', wrap(async (_req, res) => {
    res.json(await careos.health());
  }));

  http.use('/api', authenticate(careos, tokens));

  http.get('/api/me', (req, res) => {
    res.json(req.principal);
  });

  http.get('/api/imports', wrap(async (req, res) => {
    const limit = queryInt(req, 'limit', 50, 1, 1000);
    const offset = queryInt(req, 'offset', 0, 0, 100_000_000);
    const { items, total } = await careos.listImports(req.principal!, { limit, offset });
    res.setHeader('X-Total-Count', String(total));
    res.json(items);
  }));

  http.post('/api/imports', (req, res, next) => {
    try {
      careos.require(req.principal!, 'imports.create');
    } catch (error) {
      return next(error);
    }
    upload.single('file')(req, res, (error: unknown) => {
      const file = req.file;
      const cleanup = () => file?.path && fs.rm(file.path, { force: true }, () => undefined);
      if (error) {
        cleanup();
        return next(error);
      }
      if (!file) return next(new ValidationError('send the CSV as multipart field "file"'));
      const source = typeof req.body?.source === 'string' ? req.body.source : '';
      careos.startImport(req.principal!, { filePath: file.path, fileName: file.originalname, source })
        .then(({ importId }) => {
          res.status(202).json({ importId });
        })
        .catch(next)
        .finally(cleanup);
    });
  });

  http.get('/api/imports/:id', wrap(async (req, res) => {
    res.json(await careos.getImport(req.principal!, checkId(req.params.id, 'import id')));
  }));

  http.get('/api/imports/:id/errors', wrap(async (req, res) => {
    res.json(await careos.allErrors(req.principal!, checkId(req.params.id, 'import id')));
  }));

  http.get('/api/imports/:id/errors.csv', wrap(async (req, res) => {
    const file = await careos.errorFile(req.principal!, checkId(req.params.id, 'import id'));
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', contentDisposition(file.fileName));
    for await (const chunk of file.chunks()) {
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  }));

  http.get('/api/profiles', wrap(async (req, res) => {
    const q = queryValue(req, 'q');
    if (q !== undefined) {
      res.json((await careos.searchProfiles(req.principal!, q, queryInt(req, 'limit', 50, 1, 200))).items);
      return;
    }
    res.json(await careos.findProfiles(req.principal!, { phone: queryValue(req, 'phone'), careosId: queryValue(req, 'careosId'), limit: 200 }));
  }));

  http.get('/api/profiles/:careosId', wrap(async (req, res) => {
    res.json(await careos.getProfile(req.principal!, checkId(req.params.careosId, 'CareOS id')));
  }));

  http.get('/api/relations', wrap(async (req, res) => {
    const filter = { careosId: queryValue(req, 'careosId'), source: queryValue(req, 'source'), originalId: queryValue(req, 'originalId') };
    if (!filter.careosId && !(filter.source && filter.originalId)) throw new ValidationError('give careosId, or source and originalId');
    res.json(await careos.relations(req.principal!, filter));
  }));

  http.use('/api', (_req, _res, next) => next(new NotFound('no such route')));
  http.use('/api', problem);
  return http;
}

/** RFC 6266: an ASCII fallback and the UTF-8 name (a Thai file name survives). */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/** Every error of the API as problem+json; unknown errors are 500 and logged (never a password or a body). */
function problem(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  let known: AppError | null = error instanceof AppError ? error : null;
  if (!known && error instanceof multer.MulterError) known = new ValidationError(multerMessage(error));
  const status = known ? known.status : 500;
  if (!known) console.error('careos server:', error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="careos"');
  if (known instanceof TooManyRequests) res.setHeader('Retry-After', String(known.retryAfterSeconds));
  res.status(status).type('application/problem+json').send(JSON.stringify({
    type: 'about:blank',
    title: known ? known.title : 'Internal Server Error',
    status,
    detail: known ? known.message : 'something went wrong; see the server log',
  }));
}

function multerMessage(error: multer.MulterError): string {
  switch (error.code) {
    case 'LIMIT_FILE_COUNT': return 'send one file only (multipart field "file")';
    case 'LIMIT_UNEXPECTED_FILE': return `unexpected file field "${error.field}": send the CSV as multipart field "file"`;
    case 'LIMIT_FIELD_COUNT':
    case 'LIMIT_PART_COUNT': return 'too many multipart fields: send "file" and "source" only';
    case 'LIMIT_FIELD_VALUE': return `multipart field "${error.field}" is too long`;
    default: return `malformed multipart body: ${error.message}`;
  }
}
