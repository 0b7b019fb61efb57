// The processor's batch decision, pure: progress marks, completion, the keys each source's rules
// look up, and the one fold that also serves as the net effect of a batch still committing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventMetadata, ImporterEvent, SourceName } from '../events/types.ts';
import { PROGRESS_EVERY_ROWS, decideBatch, lookupKeysOf, type BatchInput, type ImportProgress } from './batch.ts';
import { checkRow } from './decide.ts';
import { InMemoryState } from './state.ts';

const IMPORT_ID = '01900000-0000-7000-8000-0000000000b1';
const AT = '2026-11-30T03:00:00.000Z';

function meta(row?: number): EventMetadata {
  return { by: 'bi.admin', at: AT, importId: IMPORT_ID, ...(row === undefined ? {} : { row }), v: 1 };
}

function started(source: SourceName = 'nana'): ImporterEvent {
  return {
    type: 'ImportStarted',
    data: { importId: IMPORT_ID, source, columns: [], origin: { kind: 'file', fileName: 'f.csv', storedFile: 'f.csv', sizeBytes: 1 } },
    metadata: { ...meta(), v: 2 },
  };
}

function nanaRecord(row: number, values: Record<string, string> = {}): Record<string, string> {
  return {
    careos_cus_id: '', nana_cus_id: `n${row}`, gender: 'F', firstname: 'Kanya', lastname: 'Rattanakul', email: '',
    date_of_birth: '', phone: `08${String(10_000_000 + row).slice(-8)}`, company_name: '', force_create: '', ...values,
  };
}

function received(row: number, record: Record<string, string>, source: SourceName = 'nana'): ImporterEvent {
  return { type: 'RowReceived', data: { importId: IMPORT_ID, source, row, record }, metadata: meta(row) };
}

function fileRead(totalRows: number): ImporterEvent {
  return { type: 'ImportFileRead', data: { importId: IMPORT_ID, totalRows }, metadata: meta() };
}

function input(events: ImporterEvent[]): BatchInput {
  const checked = events.filter((e) => e.type === 'RowReceived').map((e) => checkRow(e as Extract<ImporterEvent, { type: 'RowReceived' }>));
  return { events, checked };
}

function rows(from: number, to: number, values: (row: number) => Record<string, string> = () => ({})): ImporterEvent[] {
  const out: ImporterEvent[] = [];
  for (let row = from; row <= to; row++) out.push(received(row, nanaRecord(row, values(row))));
  return out;
}

/** Decides the events in batches of these sizes, carrying progress and state as the processor does. */
function decideInBatches(events: ImporterEvent[], sizes: number[]) {
  let progress = new Map<string, ImportProgress>();
  const state = new InMemoryState();
  const outcomes: ImporterEvent[] = [];
  let at = 0;
  for (const size of sizes) {
    const decision = decideBatch(input(events.slice(at, at + size)), progress, state);
    at += size;
    progress = new Map(progress);
    for (const p of decision.progress) progress.set(p.importId, p);
    for (const list of decision.outcomes.values()) for (const d of list) outcomes.push(d.event);
  }
  return { progress: progress.get(IMPORT_ID)!, outcomes };
}

test('batch › an ImportProgressed mark every PROGRESS_EVERY_ROWS rows, wherever the batch edges fall', () => {
  const events = [started(), ...rows(1, PROGRESS_EVERY_ROWS + 3, (r): Record<string, string> => (r % 4 === 0 ? { firstname: '' } : {})), fileRead(PROGRESS_EVERY_ROWS + 3)];
  const whole = decideInBatches(events, [events.length]);
  const split = decideInBatches(events, [1, 6_000, 3_999, 2, events.length]);
  const marks = whole.outcomes.filter((e) => e.type === 'ImportProgressed');
  assert.equal(marks.map((e) => e.data), [{ importId: IMPORT_ID, processedRows: PROGRESS_EVERY_ROWS, importedRows: 7_500, rejectedRows: 2_500, skippedRows: 0 }]);
  assert.equal(split.outcomes, whole.outcomes);
  assert.equal(split.progress, whole.progress);
});

test('batch › the import completes at its ImportFileRead: Failed when a row was rejected, Success otherwise', () => {
  const failed = decideInBatches([started(), ...rows(1, 3, (r): Record<string, string> => (r === 2 ? { gender: 'X' } : {})), fileRead(3)], [2, 3]);
  const completed = failed.outcomes.at(-1)!;
  assert.is(completed.type, 'ImportCompleted');
  assert.equal(completed.data, { importId: IMPORT_ID, status: 'Failed', totalRows: 3, importedRows: 2, rejectedRows: 1, skippedRows: 0 });
  assert.equal([failed.progress.completed, failed.progress.totalRows], [true, 3]);
  const success = decideInBatches([started(), ...rows(1, 2), fileRead(2)], [4]);
  assert.equal(success.outcomes.at(-1)!.data, { importId: IMPORT_ID, status: 'Success', totalRows: 2, importedRows: 2, rejectedRows: 0, skippedRows: 0 });
});

test('batch › the progress handed in is not changed; a row before its ImportStarted is refused', () => {
  const before = new Map<string, ImportProgress>([[IMPORT_ID, {
    importId: IMPORT_ID, source: 'nana', startedBy: 'bi.admin', totalRows: null, processedRows: 5, importedRows: 5, rejectedRows: 0, skippedRows: 0, completed: false,
  }]]);
  const copy = structuredClone(before);
  const decision = decideBatch(input(rows(6, 7)), before, new InMemoryState());
  assert.equal(before, copy);
  assert.is(decision.progress[0]!.processedRows, 7);
  assert.throws(() => decideBatch(input(rows(1, 1)), new Map(), new InMemoryState()), /before its ImportStarted/);
});

test('batch › each source names what its rows look up: a mapped Nana row its profile, a forced one no phones, a CareOS row its id', () => {
  const events = [
    received(1, nanaRecord(1, { careos_cus_id: 'C1' })),
    received(2, nanaRecord(2, { force_create: 'Y' })),
    received(3, nanaRecord(3)),
    received(4, nanaRecord(4, { phone: 'not a phone' })),
    received(5, { careos_cus_id: 'C9', firstname: 'A', lastname: 'B', phone: '0812345678', email: '', gender: '', date_of_birth: '' }, 'careos'),
  ];
  const keys = lookupKeysOf(input(events));
  assert.equal(keys.careosIds, ['C1', 'C9']);
  assert.equal(keys.phones, ['+66810000003']);
  assert.equal(keys.links, [1, 2, 3].map((r) => ({ source: 'nana', originalId: `n${r}` })));
});

test('batch › a batch still committing lays its effects over the loaded state: its unlinks win over a link still shown', () => {
  const loaded = new InMemoryState();
  loaded.setLink('nana', 'n1', 'A');
  loaded.addPhone('+66810000001', 'A');
  const effects = InMemoryState.of([
    { type: 'RelationUnlinked', data: { careosId: 'A', source: 'nana', originalId: 'n1', relinkedTo: 'B', importId: IMPORT_ID, row: 1 }, metadata: meta(1) },
    { type: 'ProfileCreated', data: {
      careosId: 'B', source: 'nana', importId: IMPORT_ID, row: 1, firstname: 'F', lastname: 'L', gender: null, dateOfBirth: null,
      emails: [], phones: ['+66810000001'], companies: [],
    }, metadata: meta(1) },
  ]);
  loaded.overlay(effects);
  assert.is(loaded.activeLink('nana', 'n1'), undefined);
  assert.equal(loaded.profilesWithPhone('+66810000001'), ['A', 'B']);
  assert.ok(loaded.profileExists('B'));
});

test.run();
