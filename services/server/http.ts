// The HTTP API the console (and scripts) use. Thin transport: check the role, parse input, call
// one function, map the result. Errors become problem+json in one place.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import { AppError, Forbidden, NotFound, TooLarge, ValidationError } from '../errors.ts';
import { SOURCES, type SourceName } from '../events/types.ts';
import { checkPhones } from '../processor/fields.ts';
import { importFile, readFile, type App } from '../app.ts';
import { getImport, listImports } from '../../projections/import-log.ts';
import { errorsOf } from '../../projections/error-log.ts';
import { findProfiles } from '../../projections/profile.ts';
import { relationHistory } from '../../projections/relation.ts';

export type Role = 'admin' | 'bi' | 'auditor';
export interface Principal {
  name: string;
  role: Role;
}

/** CAREOS_API_TOKENS="token1=alice:admin,token2=bob:bi". */
export function parseTokens(spec: string): Map<string, Principal> {
  const tokens = new Map<string, Principal>();
  for (const entry of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([^=]+)=([^:]+):(admin|bi|auditor)$/.exec(entry);
    if (!match) throw new Error(`CAREOS_API_TOKENS entry "${entry.replace(/=.*/, '=…')}" is not token=name:role (roles: admin, bi, auditor)`);
    tokens.set(match[1]!, { name: match[2]!, role: match[3] as Role });
  }
  return tokens;
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

function authenticate(tokens: Map<string, Principal>) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    for (const [candidate, principal] of tokens) {
      if (token && sameToken(candidate, token)) {
        req.principal = principal;
        return next();
      }
    }
    next(new AppError('a valid bearer token is required', 401, 'Unauthorized'));
  };
}

function allow(...roles: Role[]) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (req.principal && roles.includes(req.principal.role)) return next();
    next(new Forbidden(`this needs the ${roles.join(' or ')} role`));
  };
}

const wrap = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
  handler(req, res).catch(next);
};

export function createHttpApp(app: App, tokens: Map<string, Principal>): express.Express {
  const http = express();
  http.disable('x-powered-by');
  const incoming = path.join(app.config.dataDir, 'incoming');
  fs.mkdirSync(incoming, { recursive: true });
  const upload = multer({ dest: incoming, limits: { fileSize: app.config.maxFileBytes, files: 1 } });

  http.get('/api/health', (_req, res) => {
    res.json({ ok: true });
  });
  http.use('/api', authenticate(tokens));

  http.get('/api/imports', allow('admin', 'bi', 'auditor'), wrap(async (req, res) => {
    const limit = Math.min(Number(req.query.limit ?? 50) || 50, 1000);
    const offset = Math.max(Number(req.query.offset ?? 0) || 0, 0);
    res.json(await listImports(app.pool, { limit, offset }));
  }));

  http.post('/api/imports', allow('admin'), (req, res, next) => {
    upload.single('file')(req, res, (error: unknown) => {
      if (error instanceof multer.MulterError && error.code === 'LIMIT_FILE_SIZE') return next(new TooLarge(`file is over the ${app.config.maxFileBytes} byte limit`));
      if (error) return next(error);
      const file = req.file;
      const source = String(req.body?.source ?? '') as SourceName;
      const cleanup = () => file && fs.rm(file.path, { force: true }, () => undefined);
      if (!file) return next(new ValidationError('send the CSV as multipart field "file"'));
      if (!SOURCES.includes(source)) {
        cleanup();
        return next(new ValidationError(`source must be one of: nana, careos (got "${source}")`));
      }
      importFile(app, { filePath: file.path, fileName: file.originalname, source, by: req.principal!.name })
        .then((importId) => {
          cleanup();
          // The engine's reader picks it up too if this process dies; read it now.
          readFile(app, importId).catch(() => undefined);
          res.status(202).json({ importId });
        })
        .catch((e: unknown) => {
          cleanup();
          next(e);
        });
    });
  });

  http.get('/api/imports/:id', allow('admin', 'bi', 'auditor'), wrap(async (req, res) => {
    const view = await getImport(app.pool, String(req.params.id));
    if (!view) throw new NotFound(`no import ${req.params.id}`);
    res.json(view);
  }));

  http.get('/api/imports/:id/errors', allow('admin', 'bi'), wrap(async (req, res) => {
    const view = await getImport(app.pool, String(req.params.id));
    if (!view) throw new NotFound(`no import ${req.params.id}`);
    res.json(await errorsOf(app.pool, view.importId));
  }));

  http.get('/api/profiles', allow('admin', 'bi', 'auditor'), wrap(async (req, res) => {
    let phoneE164: string | undefined;
    if (typeof req.query.phone === 'string') {
      const checked = checkPhones(req.query.phone, { required: true });
      if (checked.reasons.length || checked.value.length !== 1) throw new ValidationError(checked.reasons[0]?.message ?? 'phone takes one number');
      phoneE164 = checked.value[0];
    }
    const careosId = typeof req.query.careosId === 'string' ? req.query.careosId : undefined;
    res.json(await findProfiles(app.pool, { phoneE164, careosId, limit: 200 }));
  }));

  http.get('/api/relations', allow('admin', 'bi', 'auditor'), wrap(async (req, res) => {
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const filter = { careosId: text(req.query.careosId), source: text(req.query.source), originalId: text(req.query.originalId) };
    if (!filter.careosId && !(filter.source && filter.originalId)) throw new ValidationError('give careosId, or source and originalId');
    res.json(await relationHistory(app.pool, filter));
  }));

  http.use('/api', (_req, _res, next) => next(new NotFound('no such route')));
  http.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const known = error instanceof AppError;
    const status = known ? error.status : 500;
    if (!known) console.error('careos server:', error);
    res.status(status).type('application/problem+json').json({
      type: 'about:blank',
      title: known ? error.title : 'Internal Server Error',
      status,
      detail: known ? error.message : 'something went wrong; see the server log',
    });
  });
  return http;
}
