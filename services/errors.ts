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
