// Receiving an upload: a multipart/form-data body with one file part "file" and one text field
// "source", the way the console's modal and scripts send it (POST /api/imports). Owns the
// incoming directory, the size limit and the checks on the multipart body; anything else is a
// 4xx, never a 500.
//
// The size limit is enforced while the body arrives: a declared Content-Length over it is refused
// before a byte is read, and a chunked body is refused the moment the file passes the limit
// (multer would read the rest of a 3 GB body before reporting it). Either way the answer is a 413
// with `Connection: close`, and the connection is closed once it is sent. A file that cannot be
// written for lack of space is answered the same way, at once: a 507 saying what is full, the
// partial file removed first.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream';
import type { Request, Response } from 'express';
import multer from 'multer';
import { TooLarge, UnsupportedMediaType, ValidationError } from '../errors.ts';
import { clearOutOfSpace, insufficientStorage, isOutOfSpace } from '../disk.ts';

export interface ReceivedUpload {
  /** The file as received, in the incoming directory (mode 0600); the caller removes it. */
  filePath: string;
  /** The name the client gave, as written (UTF-8, Thai included). */
  fileName: string;
  source: string;
}

/**
 * What a multipart body may carry besides the file's bytes: part headers (busboy bounds each to
 * 16 KB), the source field, boundaries. A Content-Length over the limit plus this is refused unread.
 */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

const FIELDS = ['source'] as const;
const FILE_FIELD = 'file';

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${+(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}

/** The incoming directory, readable by the server's user only (uploads hold personal data). */
export function prepareIncomingDir(directory: string): void {
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  fs.chmodSync(directory, 0o700); // mkdir's mode does not apply to a directory that existed
}

/**
 * multer's storage engine: each file written with mode 0600 under a random name; `onLimit` is
 * told the moment busboy reports the file passed the size limit, `onFull` the moment a write
 * failed for lack of space (once the partial file is removed).
 */
class IncomingStorage implements multer.StorageEngine {
  constructor(private readonly directory: string, private readonly onLimit: () => void, private readonly onFull: (error: Error) => void) {}

  _handleFile(_req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<Express.Multer.File>) => void): void {
    const filePath = path.join(this.directory, `${crypto.randomBytes(16).toString('hex')}.upload`);
    file.stream.once('limit', this.onLimit);
    const out = fs.createWriteStream(filePath, { flags: 'wx', mode: 0o600 });
    pipeline(file.stream, out, (error) => {
      if (error) {
        fs.rm(filePath, { force: true }, () => {
          if (isOutOfSpace(error)) this.onFull(error);
          callback(error);
        });
        return;
      }
      clearOutOfSpace(this.directory);
      callback(null, { path: filePath, size: out.bytesWritten });
    });
  }

  _removeFile(_req: Request, file: Express.Multer.File, callback: (error: Error | null) => void): void {
    fs.rm(file.path, { force: true }, (error) => callback(error));
  }
}

/** A file name as the import log will show it: no path, no control characters, not huge. */
function checkFileName(name: string): string {
  if (!name) throw new ValidationError('the file part has no file name');
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new ValidationError('the file name holds a control character');
  if (name.length > 255) throw new ValidationError('the file name is longer than 255 characters');
  return name;
}

/** A body busboy could not parse, or multer refused, as the client's mistake (400/413). */
function multipartError(error: unknown, maxFileBytes: number): Error {
  if (error instanceof multer.MulterError) {
    switch (error.code) {
      case 'LIMIT_FILE_SIZE': return new TooLarge(`the file is over the ${formatBytes(maxFileBytes)} limit`);
      case 'LIMIT_FILE_COUNT': return new ValidationError('send one file only (multipart field "file")');
      case 'LIMIT_UNEXPECTED_FILE': return new ValidationError(`unexpected file field "${error.field}": send the CSV as multipart field "file"`);
      case 'LIMIT_FIELD_COUNT':
      case 'LIMIT_PART_COUNT': return new ValidationError('too many multipart parts: send "file" and "source" only');
      case 'LIMIT_FIELD_VALUE': return new ValidationError(`multipart field "${error.field}" is too long`);
      case 'LIMIT_FIELD_KEY': return new ValidationError('a multipart field name is too long');
      default: return new ValidationError(`malformed multipart body: ${error.message}`);
    }
  }
  // An operating-system error (disk full, permissions) is ours, not the client's.
  if (error instanceof Error && 'syscall' in error) return error;
  // busboy's: "Malformed part header", "Unexpected end of form", "Multipart: Boundary not found", …
  return new ValidationError(`malformed multipart body: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Reads the upload of `req` into the incoming directory. Rejects with a ValidationError (400),
 * UnsupportedMediaType (415) or TooLarge (413) for a body it refuses; the file is removed then.
 */
export function receiveUpload(req: Request, _res: Response, options: { directory: string; maxFileBytes: number }): Promise<ReceivedUpload> {
  return new Promise((resolve, reject) => {
    if (!req.is('multipart/form-data')) {
      throw new UnsupportedMediaType(`send the CSV as multipart/form-data with the fields "file" and "source" (got ${req.get('content-type') ? `"${req.get('content-type')}"` : 'no Content-Type'})`);
    }
    const declared = req.get('content-length');
    if (declared !== undefined && Number(declared) > options.maxFileBytes + MULTIPART_OVERHEAD_BYTES) {
      throw new TooLarge(`the upload is ${formatBytes(Number(declared))}, over the ${formatBytes(options.maxFileBytes)} limit`);
    }
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
    };
    const full = (error: unknown) => insufficientStorage('the upload could not be stored', options.directory, error, declared === undefined ? null : Number(declared));
    const storage = new IncomingStorage(options.directory, () => {
      // Answer now: multer would drain the whole body before reporting the limit.
      settle(() => reject(new TooLarge(`the file is over the ${formatBytes(options.maxFileBytes)} limit`)));
    }, (error) => {
      // The same for a full disk: the client learns it now, not after sending the rest.
      settle(() => reject(full(error)));
    });
    const upload = multer({
      storage,
      defParamCharset: 'utf8', // browsers send a file name's UTF-8 bytes as they are (ลูกค้า.csv)
      limits: { fileSize: options.maxFileBytes, files: 1, fields: 4, parts: 6, fieldSize: 1024, fieldNameSize: 100, headerPairs: 20 },
    }).single(FILE_FIELD);
    upload(req, _res, (error: unknown) => {
      const file = req.file;
      const discard = () => {
        if (file?.path) fs.rm(file.path, { force: true }, () => undefined);
      };
      if (settled) return discard(); // refused already (the limit); multer has removed its file
      if (error) {
        discard();
        return settle(() => reject(isOutOfSpace(error) ? full(error) : multipartError(error, options.maxFileBytes)));
      }
      try {
        const body = (req.body ?? {}) as Record<string, unknown>;
        for (const name of Object.keys(body)) {
          if (name === FILE_FIELD) throw new ValidationError('multipart field "file" must be a file part (with a filename)');
          if (!(FIELDS as readonly string[]).includes(name)) throw new ValidationError(`unexpected multipart field "${name}": send "file" and "source" only`);
        }
        if (!file) throw new ValidationError('send the CSV as multipart field "file"');
        if (body.source === undefined) throw new ValidationError('multipart field "source" is required (nana or careos)');
        if (typeof body.source !== 'string') throw new ValidationError('multipart field "source" must be given once, as text');
        const fileName = checkFileName(file.originalname);
        settle(() => resolve({ filePath: file.path, fileName, source: body.source as string }));
      } catch (refusal) {
        discard();
        settle(() => reject(refusal));
      }
    });
  });
}
