// One small error hierarchy, mapped to HTTP (problem+json) and CLI exit codes in one place each.
// Row-level problems are data (RowRejected with reasons), never exceptions.

export class AppError extends Error {
  constructor(message: string, readonly status: number, readonly title: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string) {
    super(message, 400, 'Invalid request');
  }
}

/** A file refused at the door: nothing of it was imported. */
export class FileRefused extends AppError {
  constructor(readonly fileName: string, readonly reason: string) {
    super(`${fileName}: ${reason}`, 422, 'File refused');
  }
}

/** A row fixed in place that still fails its source's field checks: nothing was started. */
export class RowInvalid extends AppError {
  constructor(readonly reasons: readonly { field: string; code: string; message: string }[]) {
    super(`the row still fails ${reasons.length === 1 ? 'a check' : `${reasons.length} checks`}: ${reasons.map((r) => r.message).join('; ')}`, 422, 'Row invalid');
  }
}

export class TooLarge extends AppError {
  constructor(message: string) {
    super(message, 413, 'Too large');
  }
}

export class NotFound extends AppError {
  constructor(message: string) {
    super(message, 404, 'Not found');
  }
}

export class Forbidden extends AppError {
  constructor(message: string) {
    super(message, 403, 'Forbidden');
  }
}

export class Conflict extends AppError {
  constructor(message: string) {
    super(message, 409, 'Conflict');
  }
}

/** No or wrong credentials. The HTTP layer adds `WWW-Authenticate: Bearer`. */
export class Unauthorized extends AppError {
  constructor(message: string) {
    super(message, 401, 'Unauthorized');
  }
}

/** Too many attempts (failed logins); `retryAfterSeconds` says when to try again. */
export class TooManyRequests extends AppError {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message, 429, 'Too many requests');
  }
}

/** A dependency (PostgreSQL) is down: try again later. */
export class Unavailable extends AppError {
  constructor(message: string) {
    super(message, 503, 'Service unavailable');
  }
}

/** The path exists but not with this method; `allowed` lists the methods it takes. */
export class MethodNotAllowed extends AppError {
  constructor(message: string, readonly allowed: readonly string[]) {
    super(message, 405, 'Method not allowed');
  }
}

/** The request body is not of a type the route takes (an upload that is not multipart/form-data). */
export class UnsupportedMediaType extends AppError {
  constructor(message: string) {
    super(message, 415, 'Unsupported media type');
  }
}

/**
 * A write failed for lack of disk space (an upload received, its stored copy, PostgreSQL's data):
 * nothing was started. Says which directory's filesystem is full, what is free there and, when
 * known, what the write needed (services/disk.ts measures them).
 */
export class InsufficientStorage extends AppError {
  constructor(message: string, readonly where: string, readonly freeBytes: number | null, readonly neededBytes: number | null) {
    super(message, 507, 'Insufficient storage');
  }
}
