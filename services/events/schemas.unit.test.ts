// One source of truth for events: the TypeScript types (types.ts) and the JSON Schemas (schemas/)
// must name the same fields. The key lists below are checked against the types by the compiler
// (every key a real one, none missing: see Exact) and against the schemas by this test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidEvent, SCHEMA_DIR, checkEvent, validatorsKey } from './schemas.ts';
import {
  ACTION_EVENT_TYPES, CURRENT_VERSION, EVENT_TYPES, type ActionMetadata, type EventMetadata, type OnboardingMarkedData, type EventType, type ImportCompletedData, type ImportFileReadData,
  type ImportOrigin, type ImportProgressedData, type ImportStartedData, type OriginKind, type ProfileCreatedData,
  type ErrorResolvedData, type RecordSyncedData, type RelationLinkedData, type RelationConfirmedData, type RelationUnlinkedData, type RowReceivedData, type RowReceivedV2Data, type RowRejectedData, type RowSkippedData,
  type RevertRequestedData, type RelationRevertedData, type RelationRestoredData, type ProfileRetiredData, type ImportRevertedData, type RevertRefusedData,
} from './types.ts';

/** Compiles only when `Keys` lists exactly the keys of T (none missing, none extra). */
type Exact<T, Keys extends readonly (keyof T)[]> = Exclude<keyof T, Keys[number]> extends never ? Keys : never;
function keys<T>() {
  return <const K extends readonly (keyof T)[]>(list: Exact<T, K>) => list as readonly string[];
}

/** Every event type, as written today: the fields of its data. */
const DATA_KEYS: Record<EventType, readonly string[]> = {
  ImportStarted: keys<ImportStartedData>()(['importId', 'source', 'columns', 'origin']),
  RowReceived: keys<RowReceivedV2Data>()(['importId', 'source', 'row', 'values', 'record']),
  ImportFileRead: keys<ImportFileReadData>()(['importId', 'totalRows']),
  ProfileCreated: keys<ProfileCreatedData>()([
    'careosId', 'source', 'importId', 'row', 'firstname', 'lastname', 'gender', 'dateOfBirth', 'emails', 'phones', 'companies',
  ]),
  RelationLinked: keys<RelationLinkedData>()(['careosId', 'source', 'originalIds', 'importId', 'row']),
  RelationConfirmed: keys<RelationConfirmedData>()(['careosId', 'source', 'originalIds', 'importId', 'row']),
  RelationUnlinked: keys<RelationUnlinkedData>()(['careosId', 'source', 'originalId', 'relinkedTo', 'importId', 'row']),
  RowRejected: keys<RowRejectedData>()(['importId', 'source', 'row', 'record', 'reasons', 'replayOf']),
  ErrorResolved: keys<ErrorResolvedData>()(['importId', 'source', 'row', 'resolves']),
  RowSkipped: keys<RowSkippedData>()(['importId', 'source', 'row', 'originalId', 'code', 'message', 'careosId', 'sourceUpdatedAt']),
  RecordSynced: keys<RecordSyncedData>()(['importId', 'source', 'row', 'originalId', 'outcome', 'careosId', 'sourceUpdatedAt']),
  ImportProgressed: keys<ImportProgressedData>()(['importId', 'processedRows', 'importedRows', 'rejectedRows', 'skippedRows']),
  ImportCompleted: keys<ImportCompletedData>()(['importId', 'status', 'totalRows', 'importedRows', 'rejectedRows', 'skippedRows']),
  RevertRequested: keys<RevertRequestedData>()(['importId', 'reason']),
  RelationReverted: keys<RelationRevertedData>()(['careosId', 'source', 'originalId', 'importId', 'row']),
  RelationRestored: keys<RelationRestoredData>()(['careosId', 'source', 'originalId', 'importId', 'row', 'restores']),
  ProfileRetired: keys<ProfileRetiredData>()(['careosId', 'importId', 'row']),
  ImportReverted: keys<ImportRevertedData>()([
    'importId', 'reason', 'blocked', 'blockedCount', 'relationsReverted', 'relationsRestored', 'profilesRetired', 'errorsReopened',
  ]),
  RevertRefused: keys<RevertRefusedData>()(['importId', 'reason', 'blocked', 'blockedCount', 'refusal']),
};

test('events › admin actions (OnboardingMarked) and their metadata agree with their types', () => {
  assert.equal(sorted(Object.keys(schema('OnboardingMarked.v1.json').properties)), sorted(keys<OnboardingMarkedData>()(['source', 'complete', 'reason'])));
  assert.equal(sorted(schema('OnboardingMarked.v1.json').required ?? []), ['complete', 'reason', 'source']);
  assert.equal(sorted(Object.keys(schema('ActionMetadata.v1.json').properties)), sorted(keys<ActionMetadata>()(['by', 'at', 'v'])));
});

const ORIGIN_KEYS: { [K in OriginKind]: readonly string[] } = {
  file: keys<Extract<ImportOrigin, { kind: 'file' }>>()(['kind', 'fileName', 'storedFile', 'sizeBytes']),
  table: keys<Extract<ImportOrigin, { kind: 'table' }>>()(['kind', 'table', 'cursor']),
  replay: keys<Extract<ImportOrigin, { kind: 'replay' }>>()(['kind', 'of', 'rows']),
};

interface ObjectSchema {
  properties: Record<string, { const?: string }>;
  required?: string[];
  oneOf?: ObjectSchema[];
}

function schema(file: string): ObjectSchema & { properties: Record<string, ObjectSchema> } {
  return JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, file), 'utf8'));
}

const sorted = (list: readonly string[]) => [...list].sort();

test('events › every event type has a schema for the version it is written in, and no schema names an unknown type', () => {
  for (const type of EVENT_TYPES) assert.ok(fs.existsSync(path.join(SCHEMA_DIR, `${type}.v${CURRENT_VERSION[type] ?? 1}.json`)), `schemas/${type}.v${CURRENT_VERSION[type] ?? 1}.json`);
  for (const file of fs.readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'))) {
    const type = file.split('.')[0]!;
    assert.ok(
      type === 'EventMetadata' || type === 'ActionMetadata' || ([...EVENT_TYPES, ...ACTION_EVENT_TYPES] as readonly string[]).includes(type),
      `${file} names a type the importer knows`,
    );
  }
});

/** Types whose current version stores exactly one of these fields (the rest are all required). */
const ONE_OF: Partial<Record<EventType, readonly string[]>> = { RowReceived: ['values', 'record'] };

test('events › each type\'s data in TypeScript and in its current schema name the same fields, every one required (or exactly one of a pair)', () => {
  for (const type of EVENT_TYPES) {
    const current = schema(`${type}.v${CURRENT_VERSION[type] ?? 1}.json`);
    const oneOf = ONE_OF[type] ?? [];
    assert.equal(sorted(Object.keys(current.properties)), sorted(DATA_KEYS[type]), `${type}: properties`);
    assert.equal(sorted(current.required ?? []), sorted(DATA_KEYS[type].filter((key) => !oneOf.includes(key))), `${type}: required`);
    assert.equal((current.oneOf ?? []).map((branch) => branch.required), oneOf.map((key) => [key]), `${type}: exactly one of`);
  }
});

test('events › RowReceived as read (v1, and v2 rebuilt from its import\'s columns) has the fields of RowReceived v1', () => {
  assert.equal(sorted(Object.keys(schema('RowReceived.v1.json').properties)), sorted(keys<RowReceivedData>()(['importId', 'source', 'row', 'record'])));
});

test('events › the metadata and every kind of import origin agree with their types', () => {
  const metadata = schema('EventMetadata.v1.json');
  assert.equal(sorted(Object.keys(metadata.properties)), sorted(keys<EventMetadata>()(['by', 'at', 'importId', 'row', 'v'])));
  const kinds = schema('ImportStarted.v2.json').properties.origin!.oneOf!;
  assert.equal(sorted(kinds.map((k) => k.properties.kind!.const!)), sorted(Object.keys(ORIGIN_KEYS)));
  for (const kind of kinds) {
    const name = kind.properties.kind!.const as OriginKind;
    assert.equal(sorted(Object.keys(kind.properties)), sorted(ORIGIN_KEYS[name]), `origin ${name}: properties`);
    assert.equal(sorted(kind.required ?? []), sorted(ORIGIN_KEYS[name]), `origin ${name}: required`);
  }
});

test('events › the compiled validators are cached by the schemas\' content: an edited schema is never checked by stale code', () => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-schemas-'));
  try {
    for (const file of fs.readdirSync(SCHEMA_DIR)) if (file.endsWith('.json')) fs.copyFileSync(path.join(SCHEMA_DIR, file), path.join(copy, file));
    assert.is(validatorsKey(copy), validatorsKey(SCHEMA_DIR), 'the same content, the same validators');
    const file = path.join(copy, 'RowReceived.v1.json');
    const schema = JSON.parse(fs.readFileSync(file, 'utf8')) as { properties: { row: { minimum: number } } };
    schema.properties.row.minimum = 2;
    fs.writeFileSync(file, JSON.stringify(schema));
    assert.is.not(validatorsKey(copy), validatorsKey(SCHEMA_DIR), 'one edited schema, other validators');
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});

test('events › the compiled validators accept a valid event and name what is wrong with an invalid one', () => {
  const metadata = { by: 'tester', at: '2026-11-30T00:00:00.000Z', importId: 'i1', row: 1, v: 1 };
  checkEvent('RowReceived', { importId: 'i1', source: 'nana', row: 1, record: { phone: '0812345678' } }, metadata);
  assert.throws(
    () => checkEvent('RowReceived', { importId: 'i1', source: 'shop', row: 0, record: {} }, metadata),
    (error: unknown) => error instanceof InvalidEvent && /\/source must be equal to one of the allowed values/.test(error.message) && /\/row must be >= 1/.test(error.message),
  );
  assert.throws(
    () => checkEvent('RowReceived', { importId: 'i1', source: 'nana', row: 1, record: {} }, { ...metadata, at: 'yesterday' }),
    (error: unknown) => error instanceof InvalidEvent && /metadata \/at must match format "date-time"/.test(error.message),
  );
});

test('events › a date-time remembered from the event before is still checked: an invalid one after a valid one is refused', () => {
  const data = { importId: 'i1', source: 'nana', row: 1, record: {} };
  const metadata = { by: 'tester', at: '2026-11-30T00:00:00.000Z', importId: 'i1', row: 1, v: 1 };
  checkEvent('RowReceived', data, metadata);
  checkEvent('RowReceived', data, metadata);
  for (const at of ['2026-02-30T00:00:00.000Z', '2026-11-30T24:00:00.000Z', '2026-11-30T00:00:00.000', '2026-11-30']) {
    assert.throws(() => checkEvent('RowReceived', data, { ...metadata, at }), (error: unknown) => error instanceof InvalidEvent && /\/at must match format "date-time"/.test(error.message), at);
  }
  checkEvent('RowReceived', data, { ...metadata, at: '2026-11-30T07:00:00+07:00' });
  checkEvent('RowReceived', data, metadata);
});

test.run();
