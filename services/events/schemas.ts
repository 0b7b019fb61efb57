// schemas/ is the single source of truth for events, and every event is checked when written and
// when read. The validators are ajv's, compiled to plain JavaScript once per content of schemas/
// (ajv's standalone code) and kept in node_modules/.cache/careos-validators: every thread and
// process after the first loads them in ~10 ms, where loading ajv and compiling the schemas took
// 0.1–0.3 s of CPU in each of a `careos` command's four threads.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { AnySchema, ValidateFunction } from 'ajv';
import { PACKAGE_ROOT, packageFile } from '../paths.ts';
import { ACTION_EVENT_TYPES, CURRENT_VERSION, EVENT_TYPES, type ActionEvent, type EventMetadata, type EventType, type ImportStartedData, type ImportStartedV1Data, type ImporterEvent, type RowReceivedV2Data } from './types.ts';
import { readRowReceived } from './row-received.ts';

export const SCHEMA_DIR = packageFile('schemas');
const CACHE_DIR = path.join(PACKAGE_ROOT, 'node_modules', '.cache', 'careos-validators');
/** Bump when the way validators are generated changes (the cache key holds it). */
const GENERATOR = 'ajv-standalone-2';
/** The formats the validators use (formats.cjs: ajv-formats', date-time remembering its last answer). */
const FORMATS = packageFile('services/events/formats.cjs');
const require = createRequire(import.meta.url);

/** Validators by schema: `${type}.v${n}` for every schemas/<Type>.v<n>.json, and the metadata schemas. */
type Validators = Record<string, ValidateFunction | undefined>;

function schemaFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => /^[A-Za-z]+\.v\d+\.json$/.test(name)).sort();
}

/** What the generated code depends on: every schema's text, and the versions of ajv and ajv-formats. */
export function validatorsKey(dir = SCHEMA_DIR): string {
  const files = schemaFiles(dir);
  const hash = crypto.createHash('sha256').update(GENERATOR);
  for (const dependency of ['ajv', 'ajv-formats']) hash.update((require(`${dependency}/package.json`) as { version: string }).version);
  hash.update(fs.readFileSync(FORMATS));
  for (const file of files) hash.update(`\0${file}\0`).update(fs.readFileSync(path.join(dir, file)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * Compiles every schema with ajv (loaded only here) and writes the standalone module, atomically
 * (two threads may race to write the same content). Where the cache cannot be written (a
 * read-only install), the validators compiled in memory are used.
 */
function compileValidators(files: readonly string[], target: string): Validators {
  const { Ajv, _ } = require('ajv') as typeof import('ajv');
  const addFormats = require('ajv-formats') as (ajv: InstanceType<typeof Ajv>) => unknown;
  const standaloneCode = (require('ajv/dist/standalone') as { default: (ajv: InstanceType<typeof Ajv>, refs: Record<string, string>) => string }).default;
  // The generated module requires the formats by their path from the cache directory.
  const formatsPath = path.relative(CACHE_DIR, FORMATS).split(path.sep).join('/');
  const ajv = new Ajv({ allErrors: true, strict: true, code: { source: true, formats: _`require(${formatsPath}).fullFormats` } });
  addFormats(ajv);
  const { fullFormats } = require(FORMATS) as { fullFormats: Record<string, import('ajv').Format> };
  ajv.addFormat('date-time', fullFormats['date-time']!);
  const refs: Record<string, string> = {};
  for (const file of files) {
    const key = file.replace(/\.json$/, '');
    ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as AnySchema, key);
    refs[key] = key;
  }
  const inMemory: Validators = Object.fromEntries(Object.keys(refs).map((key) => [key, ajv.getSchema(key)]));
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const temporary = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(temporary, standaloneCode(ajv, refs));
    fs.renameSync(temporary, target);
    removeStale(target);
    return require(target) as Validators;
  } catch {
    return inMemory;
  }
}

/** Validators generated for other contents of schemas/ more than a day ago. */
function removeStale(current: string): void {
  const dayAgo = Date.now() - 86_400_000;
  for (const name of fs.readdirSync(CACHE_DIR)) {
    const file = path.join(CACHE_DIR, name);
    if (file === current) continue;
    try {
      if (fs.statSync(file).mtimeMs < dayAgo) fs.rmSync(file, { force: true });
    } catch {
      // another process removed it first
    }
  }
}

function loadValidators(): Validators {
  const target = path.join(CACHE_DIR, `validators-${validatorsKey()}.cjs`);
  if (fs.existsSync(target)) return require(target) as Validators;
  return compileValidators(schemaFiles(SCHEMA_DIR), target);
}

let validators: Validators | undefined;

function validator(key: string): ValidateFunction | undefined {
  return (validators ??= loadValidators())[key];
}

/** Loads the validators now: a thread about to check these types does it while it waits for work. */
export function precompileSchemas(types: readonly EventType[]): void {
  validator('EventMetadata.v1');
  for (const type of types) validator(`${type}.v${CURRENT_VERSION[type] ?? 1}`);
}

export class InvalidEvent extends Error {
  constructor(readonly eventType: string, detail: string) {
    super(`event ${eventType} does not match its schema: ${detail}`);
    this.name = 'InvalidEvent';
  }
}

function describe(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');
}

function versionOf(metadata: unknown): number {
  const v = (metadata as { v?: unknown } | null)?.v;
  return typeof v === 'number' ? v : 1;
}

/** Throws InvalidEvent unless type, data and metadata match schemas/<type>.v<metadata.v>.json. */
export function checkEvent(type: string, data: unknown, metadata: unknown): asserts type is EventType {
  if (!(EVENT_TYPES as readonly string[]).includes(type)) throw new InvalidEvent(type, 'unknown event type');
  const version = versionOf(metadata);
  const validate = validator(`${type}.v${version}`);
  if (!validate) throw new InvalidEvent(type, `no schema for version ${version} (schemas/${type}.v${version}.json)`);
  if (!validate(data)) throw new InvalidEvent(type, describe(validate));
  const validateMetadata = validator('EventMetadata.v1')!;
  if (!validateMetadata(metadata)) throw new InvalidEvent(type, `metadata ${describe(validateMetadata)}`);
}

/** Whether metadata matches the event metadata schema (what every importer event carries). */
export function isEventMetadata(metadata: unknown): metadata is EventMetadata {
  return validator('EventMetadata.v1')!(metadata) === true;
}

/** Throws InvalidEvent unless an admin action's event (ACTION_EVENT_TYPES) matches its schemas. */
export function checkActionEvent(type: string, data: unknown, metadata: unknown): void {
  if (!(ACTION_EVENT_TYPES as readonly string[]).includes(type)) throw new InvalidEvent(type, 'unknown action event type');
  const validate = validator(`${type}.v${versionOf(metadata)}`);
  if (!validate) throw new InvalidEvent(type, `no schema for version ${versionOf(metadata)}`);
  if (!validate(data)) throw new InvalidEvent(type, describe(validate));
  const validateMetadata = validator('ActionMetadata.v1')!;
  if (!validateMetadata(metadata)) throw new InvalidEvent(type, `metadata ${describe(validateMetadata)}`);
}

/** An admin action's stored event, checked. */
export function toActionEvent(stored: { type: string; data: unknown; metadata: unknown }): ActionEvent {
  checkActionEvent(stored.type, stored.data, stored.metadata);
  return { type: stored.type, data: stored.data, metadata: stored.metadata } as ActionEvent;
}

/**
 * Upcasting: an event stored in an older version of its type, as the current version reads it.
 * Stored events are never rewritten; they are read through this.
 */
export function upcast(type: EventType, data: unknown, metadata: EventMetadata): { data: unknown; metadata: EventMetadata } {
  if (type === 'ImportStarted' && metadata.v === 1) {
    const old = data as ImportStartedV1Data;
    const current: ImportStartedData = {
      importId: old.importId, source: old.source, columns: old.columns,
      origin: { kind: 'file', fileName: old.fileName, storedFile: old.storedFile, sizeBytes: old.sizeBytes },
    };
    return { data: current, metadata: { ...metadata, v: 2 } };
  }
  // v2 says which rejected row a replayed row was meant to fix; no row was replayed before v2.
  if (type === 'RowRejected' && metadata.v === 1) {
    return { data: { ...(data as object), replayOf: null }, metadata: { ...metadata, v: 2 } };
  }
  // v2 counts skipped rows; no row was skipped before there was a way to skip one.
  if ((type === 'ImportProgressed' || type === 'ImportCompleted') && metadata.v === 1) {
    return { data: { ...(data as object), skippedRows: 0 }, metadata: { ...metadata, v: 2 } };
  }
  return { data, metadata };
}

/**
 * Narrows a stored event to the importer's union after checking it (in its stored version) and
 * upcasting it. A RowReceived v2 stored as values needs its import's record keys (row-received.ts:
 * recordKeys of ImportStarted's columns); without them it throws.
 */
export function toImporterEvent(stored: { type: string; data: unknown; metadata: unknown }, recordKeys?: readonly string[]): ImporterEvent {
  checkEvent(stored.type, stored.data, stored.metadata);
  const metadata = stored.metadata as EventMetadata;
  if (stored.type === 'RowReceived' && metadata.v === 2) {
    return { type: 'RowReceived', data: readRowReceived(stored.data as RowReceivedV2Data, recordKeys), metadata };
  }
  const current = upcast(stored.type, stored.data, metadata);
  return { type: stored.type, data: current.data, metadata: current.metadata } as ImporterEvent;
}

/** Whether a stored event is a RowReceived that only its import's columns can read (v2 values). */
export function needsColumns(stored: { type: string; data: unknown; metadata: unknown }): boolean {
  return stored.type === 'RowReceived' && (stored.metadata as { v?: unknown } | null)?.v === 2 && (stored.data as { values?: unknown } | null)?.values !== undefined;
}
