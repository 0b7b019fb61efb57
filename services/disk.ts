// Running out of disk space. Owns recognising it (ENOSPC and EDQUOT from the filesystem,
// PostgreSQL's disk_full 53100 and its "No space left on device" messages), measuring a
// directory's filesystem (statfs), the InsufficientStorage error that says what is full and how
// much is free and needed, and the process's disk-full condition, which the database status
// reports (services/db/supervisor.ts) from the moment a write failed for lack of space until that
// filesystem has room again.
//
// Room: the filesystem has what the failed write needed (when known) and at least min(64 MB, 5% of
// its size) free (PostgreSQL writes WAL 16 MB a segment), or a later write to the same place
// succeeded (an upload stored). A failure reported while there is room (a late log line, a write
// larger than what is free) is answered, but does not make the filesystem full.
import fs from 'node:fs';
import path from 'node:path';
import { InsufficientStorage } from './errors.ts';
import { notify } from './notify.ts';

export interface DiskFull {
  /** The directory whose filesystem is full (incoming uploads, stored uploads, PostgreSQL's data directory), or "PostgreSQL (DATABASE_URL)". */
  where: string;
  /** What failed, in the words of whoever said it (the operating system, PostgreSQL). */
  detail: string;
  /** When it was first seen (ISO 8601). */
  at: string;
  /** Free on that filesystem now, for an unprivileged writer (null: not measurable here, an external PostgreSQL). */
  freeBytes: number | null;
  /** What the failed write needed, when known (an upload's size). */
  neededBytes: number | null;
}

const ERRNOS = new Set(['ENOSPC', 'EDQUOT']);
/** PostgreSQL's disk_full; its out-of-space messages come with other codes too (a PANIC on WAL, io_error). */
const DISK_FULL_SQLSTATE = '53100';
const MESSAGES = /No space left on device|Disk quota exceeded|could not extend file/i;

/** Whether an error says a write failed for lack of space (filesystem or PostgreSQL). */
export function isOutOfSpace(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (ERRNOS.has(code) || code === DISK_FULL_SQLSTATE)) return true;
  return MESSAGES.test(error.message);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${+(bytes / 1024 / 1024 / 1024).toFixed(1)} GB`;
  if (bytes >= 1024 * 1024) return `${+(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}

/** Free and total bytes of the filesystem holding `directory` (or its nearest existing parent); null when unknown. */
export function spaceOf(directory: string): { freeBytes: number; totalBytes: number } | null {
  for (let dir = path.resolve(directory); ; dir = path.dirname(dir)) {
    try {
      const stats = fs.statfsSync(dir);
      return { freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
    } catch {
      if (path.dirname(dir) === dir) return null;
    }
  }
}

type Condition = DiskFull;

const conditions = new Map<string, Condition>();
/** When each place was last found to have room again: a failure reported as older than that is news no more. */
const roomSince = new Map<string, string>();
let postgresDataDir: string | null = null;

/** Where PostgreSQL keeps its data when it is the embedded default (its errors name paths inside it); null: external. */
export function setPostgresDataDir(directory: string | null): void {
  postgresDataDir = directory;
}

function postgresWhere(): string {
  return postgresDataDir ?? 'PostgreSQL (DATABASE_URL)';
}

function measured(where: string): { freeBytes: number; totalBytes: number } | null {
  return postgresDataDir === null && where === postgresWhere() ? null : spaceOf(where);
}

function hasRoom(space: { freeBytes: number; totalBytes: number }, neededBytes: number | null): boolean {
  const margin = Math.min(64 * 1024 * 1024, Math.max(64 * 1024, space.totalBytes * 0.05));
  return space.freeBytes >= Math.max(neededBytes ?? 0, margin);
}

/**
 * Records that a write to `where` failed for lack of space (logged once per condition), `at` when
 * it failed if not now; returns what is known of it.
 */
export function noteOutOfSpace(where: string, detail: string, neededBytes: number | null = null, at = new Date().toISOString()): DiskFull {
  const space = measured(where);
  const freeBytes = space?.freeBytes ?? null;
  const known = conditions.get(where);
  if (known) {
    known.detail = detail;
    known.freeBytes = freeBytes;
    known.neededBytes = neededBytes ?? known.neededBytes;
    return { ...known };
  }
  const condition: Condition = { where, detail, at, freeBytes, neededBytes };
  const stale = (roomSince.get(where) ?? '') > at;
  if (stale || (space && hasRoom(space, neededBytes))) return condition;
  conditions.set(where, condition);
  notify('warn', `disk full: ${where}${freeBytes === null ? '' : ` (${formatBytes(freeBytes)} free)`}: ${detail}`);
  return { ...condition };
}

/** A write to `where` succeeded: it has room again. */
export function clearOutOfSpace(where: string): void {
  const condition = conditions.get(where);
  if (!condition) return;
  conditions.delete(where);
  roomSince.set(where, new Date().toISOString());
  const space = spaceOf(where);
  notify('info', `disk space is back: ${where}${space ? ` (${formatBytes(space.freeBytes)} free)` : ''}`);
}

function hasRoomAgain(condition: Condition): boolean {
  const space = measured(condition.where);
  if (!space) return false;
  condition.freeBytes = space.freeBytes;
  return hasRoom(space, condition.neededBytes);
}

/** The latest disk-full condition still standing (each measured again now), or null when every filesystem has room. */
export function diskFull(): DiskFull | null {
  let latest: Condition | null = null;
  for (const condition of [...conditions.values()]) {
    if (hasRoomAgain(condition)) {
      clearOutOfSpace(condition.where);
      continue;
    }
    if (!latest || condition.at >= latest.at) latest = condition;
  }
  return latest && { ...latest };
}

/**
 * The 507 for a write to `where` that failed for lack of space, `what` saying which write
 * ("the upload could not be stored"); the condition is recorded.
 */
export function insufficientStorage(what: string, where: string, cause: unknown, neededBytes: number | null = null): InsufficientStorage {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const noted = noteOutOfSpace(where, reason, neededBytes);
  const space = spaceOf(where);
  const free = space ? `${formatBytes(space.freeBytes)} free of ${formatBytes(space.totalBytes)}` : 'free space unknown';
  const needed = neededBytes === null ? '' : `; it needs ${formatBytes(neededBytes)}`;
  return new InsufficientStorage(`${what}: the filesystem of ${where} is full (${free}${needed})`, where, noted.freeBytes, neededBytes);
}

/** The 507 for an error that says the disk is full: PostgreSQL's (its data directory) or the filesystem's (the file's directory). */
export function outOfSpaceError(error: Error): InsufficientStorage {
  if ('syscall' in error) {
    // The operating system's: its directory when the error names a file (open does, write does not).
    const file = (error as { path?: unknown }).path;
    if (typeof file === 'string') return insufficientStorage('a file could not be written', path.dirname(file), error);
    return new InsufficientStorage(`a file could not be written: ${error.message}`, 'a filesystem of the server', null, null);
  }
  const where = postgresWhere();
  const noted = noteOutOfSpace(where, error.message);
  const full = postgresDataDir === null
    ? 'the disk of the PostgreSQL server at DATABASE_URL is full'
    : `the filesystem of ${where} is full${noted.freeBytes === null ? '' : ` (${formatBytes(noted.freeBytes)} free)`}`;
  return new InsufficientStorage(`PostgreSQL has no space left to write (${error.message}): ${full}`, where, noted.freeBytes, null);
}

/** For background work (the engine's threads): records the condition when an error says the disk is full. */
export function noteIfOutOfSpace(error: unknown): void {
  if (isOutOfSpace(error)) outOfSpaceError(error as Error);
}
