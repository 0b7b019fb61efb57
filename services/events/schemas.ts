// schemas/ is the single source of truth for events: one ajv instance, each schema compiled once,
// on its first use (a thread that only reads rows never compiles the outcome events' schemas:
// compiling every one took ~0.15 s of each thread's start), and every event checked when written
// and when read.
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { packageFile } from '../paths.ts';
import { ACTION_EVENT_TYPES, CURRENT_VERSION, EVENT_TYPES, type ActionEvent, type EventMetadata, type EventType, type ImportStartedData, type ImportStartedV1Data, type ImporterEvent } from './types.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const SCHEMA_DIR = packageFile('schemas');

export const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);

function loadSchema(name: string): object {
  return JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, name), 'utf8')) as object;
}

/** Every schemas/<Type>.v<n>.json: `${type}.v${n}` → its file, and its validator once compiled. */
const dataSchemas = new Map<string, { file: string; validate?: ValidateFunction }>();
for (const name of fs.readdirSync(SCHEMA_DIR)) {
  const match = /^([A-Za-z]+)\.v(\d+)\.json$/.exec(name);
  if (match && ([...EVENT_TYPES, ...ACTION_EVENT_TYPES] as readonly string[]).includes(match[1]!)) dataSchemas.set(`${match[1]}.v${match[2]}`, { file: name });
}
let compiledMetadata: ValidateFunction | undefined;
let compiledActionMetadata: ValidateFunction | undefined;

function metadataValidator(): ValidateFunction {
  return (compiledMetadata ??= ajv.compile(loadSchema('EventMetadata.v1.json')));
}

function dataValidator(key: string): ValidateFunction | undefined {
  const entry = dataSchemas.get(key);
  if (!entry) return undefined;
  return (entry.validate ??= ajv.compile(loadSchema(entry.file)));
}

/** Compiles these types' schemas (current versions) now: a thread about to write them does it while it waits for work. */
export function precompileSchemas(types: readonly EventType[]): void {
  metadataValidator();
  for (const type of types) dataValidator(`${type}.v${CURRENT_VERSION[type] ?? 1}`);
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
  const validate = dataValidator(`${type}.v${version}`);
  if (!validate) throw new InvalidEvent(type, `no schema for version ${version} (schemas/${type}.v${version}.json)`);
  if (!validate(data)) throw new InvalidEvent(type, describe(validate));
  const validateMetadata = metadataValidator();
  if (!validateMetadata(metadata)) throw new InvalidEvent(type, `metadata ${describe(validateMetadata)}`);
}

/** Throws InvalidEvent unless an admin action's event (ACTION_EVENT_TYPES) matches its schemas. */
export function checkActionEvent(type: string, data: unknown, metadata: unknown): void {
  if (!(ACTION_EVENT_TYPES as readonly string[]).includes(type)) throw new InvalidEvent(type, 'unknown action event type');
  const validate = dataValidator(`${type}.v${versionOf(metadata)}`);
  if (!validate) throw new InvalidEvent(type, `no schema for version ${versionOf(metadata)}`);
  if (!validate(data)) throw new InvalidEvent(type, describe(validate));
  const validateMetadata = (compiledActionMetadata ??= ajv.compile(loadSchema('ActionMetadata.v1.json')));
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

/** Narrows a stored event to the importer's union after checking it (in its stored version) and upcasting it. */
export function toImporterEvent(stored: { type: string; data: unknown; metadata: unknown }): ImporterEvent {
  checkEvent(stored.type, stored.data, stored.metadata);
  const current = upcast(stored.type, stored.data, stored.metadata as EventMetadata);
  return { type: stored.type, data: current.data, metadata: current.metadata } as ImporterEvent;
}
