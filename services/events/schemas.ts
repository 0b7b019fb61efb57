// schemas/ is the single source of truth for events: one ajv instance, every schema compiled
// once at start-up, and every event checked when written and when read.
import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { packageFile } from '../paths.ts';
import { EVENT_TYPES, type EventType, type ImporterEvent } from './types.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const SCHEMA_DIR = packageFile('schemas');

export const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);

function loadSchema(name: string): object {
  return JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, name), 'utf8')) as object;
}

const metadataValidator = ajv.compile(loadSchema('EventMetadata.v1.json'));
const dataValidators = new Map<EventType, ValidateFunction>(
  EVENT_TYPES.map((type) => [type, ajv.compile(loadSchema(`${type}.v1.json`))]),
);

export class InvalidEvent extends Error {
  constructor(readonly eventType: string, detail: string) {
    super(`event ${eventType} does not match its schema: ${detail}`);
    this.name = 'InvalidEvent';
  }
}

function describe(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');
}

/** Throws InvalidEvent unless type, data and metadata match schemas/<type>.v1.json. */
export function checkEvent(type: string, data: unknown, metadata: unknown): asserts type is EventType {
  const validate = dataValidators.get(type as EventType);
  if (!validate) throw new InvalidEvent(type, 'unknown event type');
  if (!validate(data)) throw new InvalidEvent(type, describe(validate));
  if (!metadataValidator(metadata)) throw new InvalidEvent(type, `metadata ${describe(metadataValidator)}`);
}

/** Narrows a stored event to the importer's union after checking it. */
export function toImporterEvent(stored: { type: string; data: unknown; metadata: unknown }): ImporterEvent {
  checkEvent(stored.type, stored.data, stored.metadata);
  return { type: stored.type, data: stored.data, metadata: stored.metadata } as ImporterEvent;
}
