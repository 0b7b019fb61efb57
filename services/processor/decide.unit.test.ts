// The decider of a received row, rule by rule: Given earlier events, When a row is received,
// Then these events (or this rejection). Pure: checkRow + decideRow over an InMemoryState.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventOf, ImporterEvent, RowReason, SourceName } from '../events/types.ts';
import { checkRow, decideRow } from './decide.ts';
import type { ReceivedRow, RowDecision } from './rules.ts';
import { InMemoryState } from './state.ts';

const IMPORT_ID = '01900000-0000-7000-8000-000000000001';
const EARLIER_IMPORT_ID = '01900000-0000-7000-8000-000000000000';
// 17:00 UTC is midnight in Bangkok: the received row's date there is 2025-06-15.
const RECEIVED_AT = '2025-06-14T17:00:00.000Z';

const NANA_COLUMNS = [
  'careos_cus_id', 'nana_cus_id', 'gender', 'firstname', 'lastname', 'email', 'date_of_birth', 'phone', 'company_name', 'force_create',
] as const;
const CAREOS_COLUMNS = ['careos_cus_id', 'firstname', 'lastname', 'phone', 'email', 'gender', 'date_of_birth'] as const;

type NanaRecord = Partial<Record<(typeof NANA_COLUMNS)[number], string>>;
type CareosRecord = Partial<Record<(typeof CAREOS_COLUMNS)[number], string>>;

interface RowOptions {
  row?: number;
  importId?: string;
  at?: string;
}

function received(source: SourceName, record: Record<string, string>, options: RowOptions = {}): ReceivedRow {
  const importId = options.importId ?? IMPORT_ID;
  const row = options.row ?? 1;
  return {
    data: { importId, source, row, record },
    metadata: { by: 'bi.admin', at: options.at ?? RECEIVED_AT, importId, row, v: 1 },
  };
}

/** A valid Nana row (every column present, as the reader gives it) with some values changed. */
function nanaRow(values: NanaRecord = {}, options: RowOptions = {}): ReceivedRow {
  const record: Record<string, string> = {
    careos_cus_id: '', nana_cus_id: 'n5001', gender: 'F', firstname: 'Kanya', lastname: 'Rattanakul',
    email: 'kanya.r@example.co.th', date_of_birth: '1988-02-14', phone: '081-777-1111', company_name: '', force_create: '',
  };
  for (const [key, value] of Object.entries(values)) if (value !== undefined) record[key] = value;
  return received('nana', record, options);
}

function careosRow(values: CareosRecord = {}, options: RowOptions = {}): ReceivedRow {
  const record: Record<string, string> = {
    careos_cus_id: 'C0100001', firstname: 'Kanya', lastname: 'Rattanakul', phone: '0817771111',
    email: 'kanya.r@example.co.th', gender: 'F', date_of_birth: '1988-02-14',
  };
  for (const [key, value] of Object.entries(values)) if (value !== undefined) record[key] = value;
  return received('careos', record, options);
}

function decide(row: ReceivedRow, state: InMemoryState): RowDecision {
  return decideRow(row, checkRow(row), state);
}

/** Given these events happened, When a row is received → its decision (the state is not changed). */
function given(...history: readonly (ImporterEvent | RowDecision)[]) {
  const state = new InMemoryState();
  for (const item of history) {
    if ('type' in item) state.apply(item);
    else for (const decided of item.events) state.apply(decided.event);
  }
  return { state, when: (row: ReceivedRow) => decide(row, state) };
}

function profileCreated(careosId: string, phones: string[]): EventOf<'ProfileCreated'> {
  return {
    type: 'ProfileCreated',
    data: {
      careosId, source: 'careos', importId: EARLIER_IMPORT_ID, row: 1, firstname: 'Someone', lastname: 'Else',
      gender: null, dateOfBirth: null, emails: [], phones, companies: [],
    },
    metadata: { by: 'bi.admin', at: '2025-06-01T00:00:00.000Z', importId: EARLIER_IMPORT_ID, row: 1, v: 1 },
  };
}

function relationLinked(careosId: string, originalIds: string[]): EventOf<'RelationLinked'> {
  return {
    type: 'RelationLinked',
    data: { careosId, source: 'nana', originalIds, importId: EARLIER_IMPORT_ID, row: 1 },
    metadata: { by: 'bi.admin', at: '2025-06-01T00:00:00.000Z', importId: EARLIER_IMPORT_ID, row: 1, v: 1 },
  };
}

function types(decision: RowDecision): string[] {
  return decision.events.map((decided) => decided.event.type);
}

function eventOf<T extends ImporterEvent['type']>(decision: RowDecision, type: T): EventOf<T> {
  const found = decision.events.find((decided) => decided.event.type === type);
  if (!found) throw new Error(`expected a ${type} event, got ${types(decision).join(', ') || 'none'}`);
  return found.event as EventOf<T>;
}

/** Then the row is rejected: its reasons (the RowRejected event is its only event). */
function rejection(decision: RowDecision): RowReason[] {
  assert.is(decision.outcome, 'rejected', 'the row is rejected');
  assert.equal(types(decision), ['RowRejected']);
  return eventOf(decision, 'RowRejected').data.reasons;
}

function only(reasons: RowReason[]): RowReason {
  assert.is(reasons.length, 1, `exactly one reason: ${JSON.stringify(reasons)}`);
  return reasons[0]!;
}

function created(decision: RowDecision): EventOf<'ProfileCreated'>['data'] {
  assert.is(decision.outcome, 'imported', 'the row is imported');
  return eventOf(decision, 'ProfileCreated').data;
}

// --- field checks (nana) -----------------------------------------------------------------------

test('nana › stores every value trimmed', () => {
  const decision = given().when(nanaRow({
    nana_cus_id: ' n5001 , n5002 ', gender: ' F ', firstname: '  Kanya ', lastname: ' Rattanakul  ', email: ' kanya.r@example.co.th ',
    date_of_birth: ' 1988-02-14 ', phone: ' 081-777-1111 ', company_name: '  "Rabbit Care Co., Ltd."  ', force_create: '   ',
  }));
  const profile = created(decision);
  assert.equal(
    { firstname: profile.firstname, lastname: profile.lastname, gender: profile.gender, emails: profile.emails, dateOfBirth: profile.dateOfBirth, phones: profile.phones, companies: profile.companies },
    { firstname: 'Kanya', lastname: 'Rattanakul', gender: 'F', emails: ['kanya.r@example.co.th'], dateOfBirth: '1988-02-14', phones: ['+66817771111'], companies: ['Rabbit Care Co., Ltd.'] },
  );
  assert.equal(eventOf(decision, 'RelationLinked').data.originalIds, ['n5001', 'n5002']);
});

test('nana › trims careos_cus_id before looking the profile up', () => {
  const decision = given(profileCreated('C0100001', [])).when(nanaRow({ careos_cus_id: '  C0100001 ' }));
  assert.equal(types(decision), ['RelationLinked']);
  assert.is(eventOf(decision, 'RelationLinked').data.careosId, 'C0100001');
});

test('nana › validates every field and gives every reason of a row, not just the first', () => {
  const reasons = rejection(given().when(nanaRow({
    nana_cus_id: '', gender: 'X', firstname: ' ', lastname: '', email: 'suda@@example.com', date_of_birth: '1990-13-01',
    phone: '0712345678', company_name: '"Rabbit Care', force_create: 'N',
  })));
  assert.equal(reasons.map((r) => r.field), [
    'nana_cus_id', 'gender', 'firstname', 'lastname', 'email', 'date_of_birth', 'phone', 'company_name', 'force_create',
  ]);
  for (const [field, value] of [['gender', 'X'], ['email', 'suda@@example.com'], ['date_of_birth', '1990-13-01'], ['phone', '0712345678'], ['company_name', 'Rabbit Care'], ['force_create', 'N']] as const) {
    const reason = reasons.find((r) => r.field === field)!;
    assert.match(reason.message, field, `the ${field} reason names its field`);
    assert.match(reason.message, value, `the ${field} reason names the value`);
  }
});

test('nana › a rejected row keeps the whole record as received, with the row and import it came from', () => {
  const row = nanaRow({ gender: 'X' }, { row: 42 });
  const event = eventOf(given().when(row), 'RowRejected');
  assert.equal(event.data.record, row.data.record);
  assert.equal({ importId: event.data.importId, row: event.data.row, source: event.data.source, replayOf: event.data.replayOf }, { importId: IMPORT_ID, row: 42, source: "nana", replayOf: null });
  assert.equal(event.metadata, { by: 'bi.admin', at: RECEIVED_AT, importId: IMPORT_ID, row: 42, v: 2 }, "written as RowRejected v2 (with replayOf)");
});

test('nana › nana_cus_id is mandatory', () => {
  for (const value of ['', '   ', ' , ']) {
    const reason = only(rejection(given().when(nanaRow({ nana_cus_id: value }))));
    assert.equal([reason.field, reason.code], ['nana_cus_id', 'required'], JSON.stringify(value));
  }
});

test('nana › nana_cus_id holds one or more comma-separated ids, all linked', () => {
  assert.equal(eventOf(given().when(nanaRow({ nana_cus_id: 'n5001' })), 'RelationLinked').data.originalIds, ['n5001']);
  assert.equal(eventOf(given().when(nanaRow({ nana_cus_id: 'n5001,n5002,n5003' })), 'RelationLinked').data.originalIds, ['n5001', 'n5002', 'n5003']);
});

test('nana › rejects a nana_cus_id list with an empty item, naming the value', () => {
  const reason = only(rejection(given().when(nanaRow({ nana_cus_id: 'n5001,,n5002' }))));
  assert.equal([reason.field, reason.code], ['nana_cus_id', 'empty-item']);
  assert.match(reason.message, '"n5001,,n5002"');
});

test('nana › firstname and lastname are mandatory', () => {
  const firstname = only(rejection(given().when(nanaRow({ firstname: '  ' }))));
  assert.equal([firstname.field, firstname.code], ['firstname', 'required']);
  assert.match(firstname.message, 'firstname');
  const lastname = only(rejection(given().when(nanaRow({ lastname: '' }))));
  assert.equal([lastname.field, lastname.code], ['lastname', 'required']);
  assert.match(lastname.message, 'lastname');
});

test('nana › gender may be empty, F or M, and nothing else', () => {
  assert.is(created(given().when(nanaRow({ gender: '' }))).gender, null);
  assert.is(created(given().when(nanaRow({ gender: 'F' }))).gender, 'F');
  assert.is(created(given().when(nanaRow({ gender: 'M' }))).gender, 'M');
  for (const value of ['X', 'Female', 'U']) {
    const reason = only(rejection(given().when(nanaRow({ gender: value }))));
    assert.equal([reason.field, reason.code], ['gender', 'invalid-gender'], value);
    assert.match(reason.message, `"${value}"`);
  }
});

test('nana › date_of_birth may be empty, and must be a real calendar date in yyyy-mm-dd form', () => {
  assert.is(created(given().when(nanaRow({ date_of_birth: '' }))).dateOfBirth, null);
  assert.is(created(given().when(nanaRow({ date_of_birth: '2000-02-29' }))).dateOfBirth, '2000-02-29');
  for (const value of ['1990-13-01', '2023-02-29', '1990-04-31', '14/02/1988', '1988-2-14']) {
    const reason = only(rejection(given().when(nanaRow({ date_of_birth: value }))));
    assert.equal([reason.field, reason.code], ['date_of_birth', 'invalid-date'], value);
    assert.match(reason.message, value);
  }
});

test('nana › date_of_birth must not be after the day the row was received, in Bangkok', () => {
  // Received at midnight in Bangkok (still 14 June in UTC): 15 June is today, not the future.
  assert.is(created(given().when(nanaRow({ date_of_birth: '2025-06-15' }, { at: '2025-06-14T17:00:00.000Z' }))).dateOfBirth, '2025-06-15');
  const reason = only(rejection(given().when(nanaRow({ date_of_birth: '2025-06-16' }, { at: '2025-06-14T17:00:00.000Z' }))));
  assert.equal([reason.field, reason.code], ['date_of_birth', 'future-date']);
  assert.match(reason.message, '2025-06-16');
  assert.match(reason.message, '2025-06-15');
  // One second earlier it is still 14 June in Bangkok, so 15 June is in the future.
  const dayBefore = only(rejection(given().when(nanaRow({ date_of_birth: '2025-06-15' }, { at: '2025-06-14T16:59:59.000Z' }))));
  assert.equal([dayBefore.field, dayBefore.code], ['date_of_birth', 'future-date']);
});

test('nana › email may be empty, and each comma-separated address is validated on its own', () => {
  assert.equal(created(given().when(nanaRow({ email: '' }))).emails, []);
  assert.equal(created(given().when(nanaRow({ email: 'kanya@example.com, k.r@example.co.th' }))).emails, ['kanya@example.com', 'k.r@example.co.th']);
  const reasons = rejection(given().when(nanaRow({ email: 'kanya@example.com,suda@@example.com,no-at.example.com' })));
  assert.equal(reasons.map((r) => [r.field, r.code]), [['email', 'invalid-email'], ['email', 'invalid-email']]);
  assert.match(reasons[0]!.message, '"suda@@example.com"');
  assert.match(reasons[1]!.message, '"no-at.example.com"');
});

test('nana › phone is mandatory and each comma-separated number is validated on its own', () => {
  const required = only(rejection(given().when(nanaRow({ phone: '' }))));
  assert.equal([required.field, required.code], ['phone', 'required']);
  const reasons = rejection(given().when(nanaRow({ phone: '081-777-1111, 012345678, abc0812345678' })));
  assert.equal(reasons.map((r) => [r.field, r.code]), [['phone', 'invalid-phone'], ['phone', 'invalid-phone']]);
  assert.match(reasons[0]!.message, '"012345678"');
  assert.match(reasons[1]!.message, '"abc0812345678"');
});

test('nana › a phone without + must fit the Thai numbering plan', () => {
  assert.equal(created(given().when(nanaRow({ phone: '02-555-0101' }))).phones, ['+6625550101']);
  for (const value of ['0712345678', '14155552671', '0812345']) {
    const reason = only(rejection(given().when(nanaRow({ phone: value }))));
    assert.equal([reason.field, reason.code], ['phone', 'invalid-phone'], value);
    assert.match(reason.message, `"${value}"`);
  }
});

test('nana › 081-234-5678, +66812345678 and 66812345678 are one number, stored once in E.164', () => {
  assert.equal(created(given().when(nanaRow({ phone: '081-234-5678, +66812345678, 66812345678' }))).phones, ['+66812345678']);
});

test('nana › company_name is read into a list of names, keeping commas inside quotes', () => {
  const profile = created(given().when(nanaRow({ company_name: '"Rabbit Care Co., Ltd.", "Rabbit Internet Co., Ltd."' })));
  assert.equal(profile.companies, ['Rabbit Care Co., Ltd.', 'Rabbit Internet Co., Ltd.']);
  assert.equal(created(given().when(nanaRow({ company_name: '' }))).companies, []);
});

test('nana › force_create is empty or Y, anything else is an error', () => {
  for (const value of ['N', 'yes', '1']) {
    const reason = only(rejection(given().when(nanaRow({ force_create: value }))));
    assert.equal([reason.field, reason.code], ['force_create', 'invalid-force-create'], value);
    assert.match(reason.message, `"${value}"`);
  }
});

// --- careos_cus_id given: relations only (rule 2) ----------------------------------------------

test('nana › rejects a row whose careos_cus_id is not an existing profile, naming it', () => {
  const reason = only(rejection(given(profileCreated('C0100001', ['+66817771111'])).when(nanaRow({ careos_cus_id: 'C0999999' }))));
  assert.equal([reason.field, reason.code], ['careos_cus_id', 'unknown-profile']);
  assert.match(reason.message, 'C0999999');
});

test('nana › links every nana id to the given careos_cus_id, in one RelationLinked', () => {
  const decision = given(profileCreated('C0100001', ['+66817771111'])).when(nanaRow({ careos_cus_id: 'C0100001', nana_cus_id: 'n5001,n5002' }, { row: 3 }));
  assert.is(decision.outcome, 'imported');
  assert.equal(types(decision), ['RelationLinked']);
  const linked = eventOf(decision, 'RelationLinked');
  assert.equal(linked.data, { careosId: 'C0100001', source: 'nana', originalIds: ['n5001', 'n5002'], importId: IMPORT_ID, row: 3 });
  assert.equal(linked.metadata, { by: 'bi.admin', at: RECEIVED_AT, importId: IMPORT_ID, row: 3, v: 1 });
});

test('nana › with careos_cus_id given, a phone of another profile is no reason to reject', () => {
  const decision = given(profileCreated('C0100001', ['+66817771111']), profileCreated('C0100002', ['+66812345678']))
    .when(nanaRow({ careos_cus_id: 'C0100001', phone: '081-234-5678' }));
  assert.equal(types(decision), ['RelationLinked']);
});

test('nana › nana ids already actively linked to the same profile change nothing: RelationConfirmed says the row stands behind them, and it counts as imported', () => {
  const decision = given(profileCreated('C0100001', []), relationLinked('C0100001', ['n5001', 'n5002']))
    .when(nanaRow({ careos_cus_id: 'C0100001', nana_cus_id: 'n5001,n5002' }));
  assert.is(decision.outcome, 'imported');
  assert.equal(types(decision), ['RelationConfirmed']);
  assert.equal(eventOf(decision, 'RelationConfirmed').data, { careosId: 'C0100001', source: 'nana', originalIds: ['n5001', 'n5002'], importId: IMPORT_ID, row: 1 });
});

test('nana › links only the nana ids of a row that are not yet linked to that profile, and confirms the others', () => {
  const decision = given(profileCreated('C0100001', []), relationLinked('C0100001', ['n5001']))
    .when(nanaRow({ careos_cus_id: 'C0100001', nana_cus_id: 'n5001,n5002' }));
  assert.equal(types(decision), ['RelationLinked', 'RelationConfirmed']);
  assert.equal(eventOf(decision, 'RelationLinked').data.originalIds, ['n5002']);
  assert.equal(eventOf(decision, 'RelationConfirmed').data.originalIds, ['n5001']);
});

test('nana › a nana id actively linked to another profile is unlinked there, then linked here', () => {
  const decision = given(profileCreated('C0100001', []), profileCreated('C0100002', []), relationLinked('C0100001', ['n5003']))
    .when(nanaRow({ careos_cus_id: 'C0100002', nana_cus_id: 'n5003' }, { row: 5 }));
  assert.is(decision.outcome, 'imported');
  assert.equal(types(decision), ['RelationUnlinked', 'RelationLinked']);
  assert.equal(eventOf(decision, 'RelationUnlinked').data, {
    careosId: 'C0100001', source: 'nana', originalId: 'n5003', relinkedTo: 'C0100002', importId: IMPORT_ID, row: 5,
  });
  assert.equal(eventOf(decision, 'RelationLinked').data.careosId, 'C0100002');
  assert.equal(eventOf(decision, 'RelationLinked').data.originalIds, ['n5003']);
});

test('nana › a nana id once unlinked from a profile can be linked to it again', () => {
  const moved = given(profileCreated('C0100001', []), profileCreated('C0100002', []), relationLinked('C0100001', ['n5003']));
  for (const decided of moved.when(nanaRow({ careos_cus_id: 'C0100002', nana_cus_id: 'n5003' }, { row: 1 })).events) moved.state.apply(decided.event);
  const back = moved.when(nanaRow({ careos_cus_id: 'C0100001', nana_cus_id: 'n5003' }, { row: 2 }));
  assert.equal(types(back), ['RelationUnlinked', 'RelationLinked']);
  assert.equal(eventOf(back, 'RelationUnlinked').data.careosId, 'C0100002');
  assert.equal(eventOf(back, 'RelationLinked').data.careosId, 'C0100001');
});

// --- careos_cus_id empty: a new profile (rule 3) -----------------------------------------------

test('nana › rejects a row whose phone belongs to an existing profile, naming the profile', () => {
  const reason = only(rejection(given(profileCreated('C0100001', ['+66817771111'])).when(nanaRow({ phone: '02-555-0101, 081-777-1111' }))));
  assert.equal([reason.field, reason.code], ['phone', 'duplicate-phone']);
  assert.match(reason.message, 'C0100001');
  assert.match(reason.message, '+66817771111');
});

test('nana › the duplicate check matches a phone written in any format', () => {
  for (const value of ['0817771111', '+66 81 777 1111', '66817771111']) {
    const reason = only(rejection(given(profileCreated('C0100001', ['+66817771111'])).when(nanaRow({ phone: value }))));
    assert.equal([reason.code, reason.message.includes('C0100001')], ['duplicate-phone', true], value);
  }
});

test('nana › rejects a row whose phone belongs to a profile created earlier in the same file', () => {
  const earlier = given().when(nanaRow({ nana_cus_id: 'n5003', firstname: 'Wichai', lastname: 'Boonmee', phone: '089-555-0101, 02-555-0101' }, { row: 2 }));
  const earlierId = created(earlier).careosId;
  const reason = only(rejection(given(earlier).when(nanaRow({ nana_cus_id: 'n5005', firstname: 'Wichai', lastname: 'Boonmee', phone: '0895550101' }, { row: 4 }))));
  assert.equal([reason.field, reason.code], ['phone', 'duplicate-phone']);
  assert.match(reason.message, earlierId);
});

test('nana › force_create=Y creates a new profile even though its phone belongs to another profile', () => {
  const decision = given(profileCreated('C0100001', ['+66817771111'])).when(nanaRow({ force_create: 'Y', nana_cus_id: 'n5006' }));
  assert.equal(types(decision), ['ProfileCreated', 'RelationLinked']);
  assert.equal(created(decision).phones, ['+66817771111']);
});

test('nana › a new profile is created and every nana id of the row is linked to it', () => {
  const decision = given().when(nanaRow({ nana_cus_id: 'n5003,n5008', firstname: 'Wichai', lastname: 'Boonmee', gender: 'M', email: 'wichai@example.com', date_of_birth: '1979-11-30', phone: '089-555-0101,02-555-0101', company_name: '"Rabbit Care Co., Ltd.", "Rabbit Internet Co., Ltd."' }, { row: 2 }));
  assert.equal(types(decision), ['ProfileCreated', 'RelationLinked']);
  const profile = created(decision);
  assert.equal(profile, {
    careosId: profile.careosId, source: 'nana', importId: IMPORT_ID, row: 2, firstname: 'Wichai', lastname: 'Boonmee', gender: 'M',
    dateOfBirth: '1979-11-30', emails: ['wichai@example.com'], phones: ['+66895550101', '+6625550101'],
    companies: ['Rabbit Care Co., Ltd.', 'Rabbit Internet Co., Ltd.'],
  });
  assert.equal(eventOf(decision, 'RelationLinked').data, { careosId: profile.careosId, source: 'nana', originalIds: ['n5003', 'n5008'], importId: IMPORT_ID, row: 2 });
});

test('nana › deciding the same row twice gives identical events, ids and careosId included', () => {
  const row = nanaRow({ nana_cus_id: 'n5003' }, { row: 2 });
  const first = given().when(row);
  const second = given().when(row);
  assert.equal(second, first);
  assert.ok(first.events.every((decided) => /^[0-9a-f-]{36}$/.test(decided.id)), 'every event has an id');
  const otherRow = given().when(nanaRow({ nana_cus_id: 'n5003' }, { row: 3 }));
  assert.is.not(created(otherRow).careosId, created(first).careosId, 'another row creates another profile');
  assert.is.not(otherRow.events[0]!.id, first.events[0]!.id);
});

test('nana › a new profile takes over a nana id that was linked to another profile', () => {
  const decision = given(profileCreated('C0100001', []), relationLinked('C0100001', ['n5006'])).when(nanaRow({ nana_cus_id: 'n5006', force_create: 'Y' }));
  const careosId = created(decision).careosId;
  assert.equal(types(decision), ['ProfileCreated', 'RelationUnlinked', 'RelationLinked']);
  assert.equal(eventOf(decision, 'RelationUnlinked').data.careosId, 'C0100001');
  assert.equal(eventOf(decision, 'RelationUnlinked').data.relinkedTo, careosId);
});

// --- careos source -----------------------------------------------------------------------------

test('careos › careos_cus_id is mandatory', () => {
  const reason = only(rejection(given().when(careosRow({ careos_cus_id: '  ' }))));
  assert.equal([reason.field, reason.code], ['careos_cus_id', 'required']);
});

test('careos › creates the profile under the careos_cus_id given, with no relation', () => {
  const decision = given().when(careosRow({ careos_cus_id: ' C0100001 ' }, { row: 1 }));
  assert.equal(types(decision), ['ProfileCreated']);
  assert.equal(created(decision), {
    careosId: 'C0100001', source: 'careos', importId: IMPORT_ID, row: 1, firstname: 'Kanya', lastname: 'Rattanakul', gender: 'F',
    dateOfBirth: '1988-02-14', emails: ['kanya.r@example.co.th'], phones: ['+66817771111'], companies: [],
  });
});

test('careos › rejects a careos_cus_id that already exists, naming it', () => {
  const reason = only(rejection(given(profileCreated('C0100001', [])).when(careosRow({ careos_cus_id: 'C0100001' }))));
  assert.equal([reason.field, reason.code], ['careos_cus_id', 'duplicate-careos-id']);
  assert.match(reason.message, 'C0100001');
});

test('careos › rejects a careos_cus_id repeated later in the same file', () => {
  const earlier = given().when(careosRow({ careos_cus_id: 'C0100001' }, { row: 1 }));
  const reason = only(rejection(given(earlier).when(careosRow({ careos_cus_id: 'C0100001', phone: '021110000' }, { row: 2 }))));
  assert.equal(reason.code, 'duplicate-careos-id');
});

test('careos › validates every field and gives every reason', () => {
  const reasons = rejection(given().when(careosRow({ firstname: '', lastname: '', phone: '0712345678', email: 'x@', gender: 'Q', date_of_birth: '2024-02-30' })));
  assert.equal(reasons.map((r) => r.field), ['firstname', 'lastname', 'gender', 'date_of_birth', 'email', 'phone']);
});

// --- the shape of a row ------------------------------------------------------------------------

test('row › rejects a row with more values than the header has columns, saying so', () => {
  const row = nanaRow();
  row.data.record._extra1 = 'Rabbit Internet Co.';
  row.data.record._extra2 = ' Ltd.';
  const reason = only(rejection(given().when(row)));
  assert.equal([reason.field, reason.code], ['row', 'extra-values']);
  assert.match(reason.message, '2 value(s) more than the header');
});

test('row › rejects a row with fewer values than the header, naming every missing column', () => {
  const row = nanaRow();
  delete row.data.record.company_name;
  delete row.data.record.force_create;
  const reasons = rejection(given().when(row));
  assert.equal(reasons.map((r) => [r.field, r.code]), [['company_name', 'missing-value'], ['force_create', 'missing-value']]);
  assert.match(reasons[0]!.message, 'company_name');
  assert.match(reasons[0]!.message, 'fewer values than the header');
});

test('row › rejects a record that is not valid CSV, quoting the parser and the row as written', () => {
  const row = received('nana', { _unparsable: 'Quote Not Closed: the parsing is finished with an opening quote at line 9', _raw: ',n9,"F,Broken,Row\n' });
  const reason = only(rejection(given().when(row)));
  assert.equal([reason.field, reason.code], ['row', 'unparsable']);
  assert.match(reason.message, 'Quote Not Closed');
  assert.match(reason.message, 'as written: ",n9,\\"F,Broken,Row"');
});

// --- what PostgreSQL cannot store (storable.ts) ---------------------------------------------------

test('unstorable › a value holding a NUL rejects its row, naming the field and the value (NUL shown as \\u0000); the error log keeps a copy with U+FFFD', () => {
  const decision = given().when(nanaRow({ firstname: 'Nul\u0000Byte' }));
  const reason = only(rejection(decision));
  assert.equal([reason.field, reason.code], ['firstname', 'unstorable']);
  assert.match(reason.message, 'firstname "Nul\\u0000Byte" holds a NUL character (U+0000, at character 4), which cannot be stored; remove it');
  assert.is(eventOf(decision, 'RowRejected').data.record.firstname, 'Nul\uFFFDByte');
});

test('unstorable › a lone UTF-16 surrogate rejects its row, naming the field, the value and the code unit; a whole pair (an emoji) is accepted', () => {
  const decision = given().when(nanaRow({ lastname: 'Half\ud83d' }));
  const reason = only(rejection(decision));
  assert.equal([reason.field, reason.code], ['lastname', 'unstorable']);
  assert.match(reason.message, 'lastname "Half\\ud83d" holds half of a UTF-16 surrogate pair (U+D83D, at character 5) without its other half');
  assert.is(eventOf(decision, 'RowRejected').data.record.lastname, 'Half\uFFFD');
  assert.is(given().when(nanaRow({ lastname: 'Smile\ud83d\ude00' })).outcome, 'imported');
});

test('unstorable › a value over 500 characters rejects its row, saying how long and what is accepted; the error log keeps it cut (still over the bound), and the row keeps its other reasons', () => {
  const long = 'ก'.repeat(1200);
  const decision = given().when(nanaRow({ company_name: long, email: 'not-an-address' }));
  const reasons = rejection(decision);
  assert.equal(reasons.map((r) => [r.field, r.code]), [['company_name', 'unstorable'], ['email', 'invalid-email']]);
  assert.match(reasons[0]!.message, /^company_name is 1200 characters long \("ก{60}"…\); at most 500 characters are accepted$/);
  const kept = eventOf(decision, 'RowRejected').data.record.company_name!;
  assert.is(kept, `${'ก'.repeat(500)}… [cut: 1200 characters in all]`);
  assert.equal(checkRow(nanaRow({ company_name: kept })).ok, false, 'the copy, sent again unchanged, is refused again');
  assert.is(given().when(nanaRow({ company_name: 'x'.repeat(500) })).outcome, 'imported', '500 characters are accepted');
});

test('unstorable › a row over 5000 characters in all is rejected as a whole', () => {
  const row = nanaRow();
  for (let i = 1; i <= 11; i++) row.data.record[`_extra${i}`] = 'x'.repeat(480);
  const reasons = rejection(given().when(row));
  assert.equal(reasons.map((r) => [r.field, r.code]), [['row', 'unstorable'], ['row', 'extra-values']]);
  assert.match(reasons[0]!.message, /^row holds \d+ characters in all; at most 5000 are accepted in a row/);
});

test('unstorable › a Care Shop record with an over-long customer id is rejected and kept out of the history log (its id is no key)', () => {
  const row = received('careshop', { customer_id: `CS-${'9'.repeat(600)}`, firstname: 'Somchai', lastname: 'Jaidee', mobile_phone: '0812345678', email: '', updated_at: '' });
  const decision = given().when(row);
  assert.equal(decision.events.map((e) => e.event.type), ['RowRejected']);
  assert.equal(only(rejection(decision)).field, 'customer_id');
});

test('unstorable › an unparsable row holding a NUL is rejected as unparsable, its text shown escaped and kept with U+FFFD', () => {
  const decision = given().when(received('nana', { _unparsable: 'Quote Not Closed', _raw: ',n9,"a\u0000b\n' }));
  assert.match(only(rejection(decision)).message, 'as written: ",n9,\\"a\\u0000b"');
  assert.is(eventOf(decision, 'RowRejected').data.record._raw, ',n9,"a\uFFFDb\n');
});

test('row › a careos row with too few values is rejected too', () => {
  const row = careosRow();
  delete row.data.record.date_of_birth;
  const reason = only(rejection(given().when(row)));
  assert.equal([reason.field, reason.code], ['date_of_birth', 'missing-value']);
});


// ── Care Shop (the spec's "Customer profile sync process") ─────────────────────────────────────

function careshopRow(values: Record<string, string> = {}, options: RowOptions = {}): ReceivedRow {
  const record: Record<string, string> = {
    customer_id: 'CS-0001', firstname: 'Kanya', lastname: 'Rattanakul', mobile_phone: '0817771111', email: 'kanya.r@example.co.th',
  };
  for (const [key, value] of Object.entries(values)) record[key] = value;
  return received('careshop', record, options);
}

function namedProfile(careosId: string, phone: string, firstname: string, lastname: string): EventOf<'ProfileCreated'> {
  const event = profileCreated(careosId, [phone]);
  return { ...event, data: { ...event.data, firstname, lastname } };
}

function recordSynced(originalId: string, outcome: 'created' | 'matched' | 'rejected', careosId: string | null): EventOf<'RecordSynced'> {
  return {
    type: 'RecordSynced',
    data: { importId: EARLIER_IMPORT_ID, source: 'careshop', row: 7, originalId, outcome, careosId, sourceUpdatedAt: null },
    metadata: { by: 'scheduler', at: '2025-06-01T00:00:00.000Z', importId: EARLIER_IMPORT_ID, row: 7, v: 1 },
  };
}

test('careshop › rule 1: a record already in the history log is skipped, naming its first sync, and nothing else happens', () => {
  const decision = given(recordSynced('CS-0001', 'created', 'C0100009')).when(careshopRow());
  assert.is(decision.outcome, 'skipped');
  assert.equal(types(decision), ['RowSkipped']);
  const skipped = eventOf(decision, 'RowSkipped').data;
  assert.equal([skipped.code, skipped.originalId, skipped.careosId], ['already-synced', 'CS-0001', 'C0100009']);
  assert.match(skipped.message, `import ${EARLIER_IMPORT_ID}, row 7`);
});

test('careshop › rule 1 comes first: an invalid record already in the history is skipped, not rejected again', () => {
  const decision = given(recordSynced('CS-0004', 'rejected', null)).when(careshopRow({ customer_id: ' CS-0004 ', mobile_phone: '0712345678' }));
  assert.is(decision.outcome, 'skipped');
  assert.equal(eventOf(decision, 'RowSkipped').data.code, 'already-synced');
});

test('careshop › a record changed in the shop after its sync stays skipped, and the skip carries when the shop changed it', () => {
  const decision = given(recordSynced('CS-0001', 'created', 'C0100009')).when(careshopRow({ updated_at: '2026-11-30T09:15:00+07:00', lastname: 'Changed' }));
  assert.is(decision.outcome, 'skipped');
  assert.is(eventOf(decision, 'RowSkipped').data.sourceUpdatedAt, '2026-11-30T02:15:00.000Z');
});

test('careshop › rule 2: an invalid Thai number goes to the error log with its reason, and the record to the history as rejected', () => {
  const decision = given().when(careshopRow({ customer_id: 'CS-0004', mobile_phone: '0712345678' }));
  assert.is(decision.outcome, 'rejected');
  assert.equal(types(decision), ['RowRejected', 'RecordSynced']);
  const reason = only(eventOf(decision, 'RowRejected').data.reasons);
  assert.equal([reason.field, reason.code], ['mobile_phone', 'invalid-phone']);
  assert.match(reason.message, '0712345678');
  assert.equal(eventOf(decision, 'RecordSynced').data, {
    importId: IMPORT_ID, source: 'careshop', row: 1, originalId: 'CS-0004', outcome: 'rejected', careosId: null, sourceUpdatedAt: null,
  });
});

/** Then the Care Shop record is rejected, and enters the history as rejected: its reasons. */
function careshopRejection(decision: RowDecision): RowReason[] {
  assert.is(decision.outcome, 'rejected', 'the record is rejected');
  assert.equal(types(decision), ['RowRejected', 'RecordSynced']);
  return eventOf(decision, 'RowRejected').data.reasons;
}

test('careshop › rule 2: one number only, of the Thai plan; one email address only; both names required', () => {
  const two = only(careshopRejection(given().when(careshopRow({ mobile_phone: '0817771111,0812345678' }))));
  assert.equal([two.field, two.code], ['mobile_phone', 'multiple-values']);
  const foreign = only(careshopRejection(given().when(careshopRow({ mobile_phone: '+1 415 555 2671' }))));
  assert.equal([foreign.field, foreign.code], ['mobile_phone', 'invalid-phone']);
  assert.match(foreign.message, 'Thai numbering plan');
  const emails = only(careshopRejection(given().when(careshopRow({ email: 'a@example.com,b@example.com' }))));
  assert.equal([emails.field, emails.code], ['email', 'multiple-values']);
  const names = careshopRejection(given().when(careshopRow({ firstname: ' ', lastname: '' })));
  assert.equal(names.map((r) => `${r.field}:${r.code}`), ['firstname:required', 'lastname:required']);
});

test('careshop › a record without a customer id is rejected and cannot enter the history', () => {
  const decision = given().when(careshopRow({ customer_id: '' }));
  assert.equal(types(decision), ['RowRejected']);
  assert.equal(only(eventOf(decision, 'RowRejected').data.reasons).field, 'customer_id');
});

test('careshop › rule 3: the phone matches a profile with exactly the same names: nothing happens to profiles, the row is skipped and the history names the profile', () => {
  const decision = given(namedProfile('C0100001', '+66817771111', 'Kanya', 'Rattanakul')).when(careshopRow({ mobile_phone: '081-777-1111' }));
  assert.is(decision.outcome, 'skipped');
  assert.equal(types(decision), ['RowSkipped', 'RecordSynced']);
  assert.equal(eventOf(decision, 'RowSkipped').data.code, 'matched-profile');
  assert.equal([eventOf(decision, 'RecordSynced').data.outcome, eventOf(decision, 'RecordSynced').data.careosId], ['matched', 'C0100001']);
});

test('careshop › rule 3: the phone matches but no matching profile has the same names (case counts): a new profile, though the phone is duplicated', () => {
  const decision = given(namedProfile('C0100001', '+66817771111', 'Kanya', 'Rattanakul'))
    .when(careshopRow({ customer_id: 'CS-0002', lastname: 'Rattanakul-Lee', email: '' }, { row: 2 }));
  assert.is(decision.outcome, 'imported');
  assert.equal(types(decision), ['ProfileCreated', 'RelationLinked', 'RecordSynced']);
  const profile = created(decision);
  assert.equal([profile.phones, profile.emails, profile.lastname, profile.source], [['+66817771111'], [], 'Rattanakul-Lee', 'careshop']);
  assert.equal(eventOf(decision, 'RelationLinked').data.originalIds, ['CS-0002']);
  assert.equal(eventOf(decision, 'RelationLinked').data.source, 'careshop');
  assert.equal(eventOf(decision, 'RecordSynced').data.outcome, 'created');
  assert.equal(eventOf(decision, 'RecordSynced').data.careosId, profile.careosId);
  const upper = given(namedProfile('C0100001', '+66817771111', 'Kanya', 'Rattanakul')).when(careshopRow({ firstname: 'KANYA' }));
  assert.is(upper.outcome, 'imported');
});

test('careshop › rule 3: a phone no profile holds: a new profile linked to the customer id', () => {
  const decision = given(namedProfile('C0100001', '+66812345678', 'Kanya', 'Rattanakul')).when(careshopRow({ customer_id: 'CS-0003' }));
  assert.equal(types(decision), ['ProfileCreated', 'RelationLinked', 'RecordSynced']);
});

test('careshop › the same customer id twice in one sync: the second is skipped as already in the history', () => {
  const first = given().when(careshopRow());
  const second = given(first).when(careshopRow({}, { row: 2 }));
  assert.is(second.outcome, 'skipped');
  assert.match(eventOf(second, 'RowSkipped').data.message, `import ${IMPORT_ID}, row 1`);
});

// ── BI replays: a row naming a rejected row in _replay_of (as the error file writes it) ────────

function rowRejected(importId: string, row: number, replayOf: { importId: string; row: number } | null = null, source: SourceName = 'nana'): EventOf<'RowRejected'> {
  return {
    type: 'RowRejected',
    data: { importId, source, row, record: {}, reasons: [{ field: 'email', code: 'invalid-email', message: 'bad' }], replayOf },
    metadata: { by: 'bi.admin', at: '2025-06-01T00:00:00.000Z', importId, row, v: 2 },
  };
}

function errorResolved(importId: string, row: number, resolves: { importId: string; row: number }): EventOf<'ErrorResolved'> {
  return {
    type: 'ErrorResolved',
    data: { importId, source: 'nana', row, resolves },
    metadata: { by: 'bi.admin', at: '2025-06-02T00:00:00.000Z', importId, row, v: 1 },
  };
}

const ORIGINAL = { importId: EARLIER_IMPORT_ID, row: 6 };

test('replay › a fixed row naming an open rejected row is decided by its source\'s rules and resolves that row', () => {
  const decision = given(rowRejected(EARLIER_IMPORT_ID, 6)).when(nanaRow({ _replay_of: `${EARLIER_IMPORT_ID}:6` } as NanaRecord, { row: 2 }));
  assert.is(decision.outcome, 'imported');
  assert.equal(types(decision), ['ProfileCreated', 'RelationLinked', 'ErrorResolved']);
  assert.equal(eventOf(decision, 'ErrorResolved').data, { importId: IMPORT_ID, source: 'nana', row: 2, resolves: ORIGINAL });
});

test('replay › rejected again, the new rejection links to the row it was meant to fix, which stays open', () => {
  const decision = given(rowRejected(EARLIER_IMPORT_ID, 6)).when(nanaRow({ _replay_of: `${EARLIER_IMPORT_ID}:6`, email: 'still@@bad' } as NanaRecord));
  assert.is(decision.outcome, 'rejected');
  assert.equal(types(decision), ['RowRejected']);
  assert.equal(eventOf(decision, 'RowRejected').data.replayOf, ORIGINAL);
});

test('replay › a replay of a replay rejected again fixes the chain\'s first rejection, and only once', () => {
  const laterImport = '01900000-0000-7000-8000-000000000002';
  const chain = [rowRejected(EARLIER_IMPORT_ID, 6), rowRejected(laterImport, 1, ORIGINAL)];
  const decision = given(...chain).when(nanaRow({ _replay_of: `${laterImport}:1` } as NanaRecord, { row: 4 }));
  assert.equal(eventOf(decision, 'ErrorResolved').data.resolves, ORIGINAL);
  const again = given(...chain, decision).when(nanaRow({ _replay_of: `${EARLIER_IMPORT_ID}:6`, nana_cus_id: 'n7777', phone: '0812345678' } as NanaRecord, { row: 5 }));
  const reason = only(rejection(again));
  assert.equal([reason.field, reason.code], ['_replay_of', 'invalid-replay']);
  assert.match(reason.message, `already fixed by row 4 of import ${IMPORT_ID}`);
});

test('replay › a row that names a row never rejected, a malformed reference or a row of another source is rejected, naming _replay_of', () => {
  const notRejected = only(rejection(given().when(nanaRow({ _replay_of: `${EARLIER_IMPORT_ID}:9` } as NanaRecord))));
  assert.match(notRejected.message, 'was not rejected, so there is nothing to replay');
  const malformed = only(rejection(given().when(nanaRow({ _replay_of: 'row 6' } as NanaRecord))));
  assert.match(malformed.message, 'is not a rejected row as the error file names it');
  const otherSource = only(rejection(given(rowRejected(EARLIER_IMPORT_ID, 6, null, 'careos')).when(nanaRow({ _replay_of: `${EARLIER_IMPORT_ID}:6` } as NanaRecord))));
  assert.match(otherSource.message, 'a rejected row of a CareOS import');
  for (const reason of [notRejected, malformed, otherSource]) assert.equal([reason.field, reason.code], ['_replay_of', 'invalid-replay']);
});

test('replay › an empty _replay_of is a new row; errors (the error file\'s reasons) are ignored', () => {
  const decision = given().when(nanaRow({ _replay_of: '', errors: 'phone is invalid' } as NanaRecord));
  assert.equal(types(decision), ['ProfileCreated', 'RelationLinked']);
});

test('replay › a rejected row of a reverted import is not replayed: rejected, naming _replay_of and how to import the row anew', () => {
  const reverted: EventOf<'ImportReverted'> = {
    type: 'ImportReverted',
    data: { importId: EARLIER_IMPORT_ID, reason: 'wrong file', relationsReverted: 0, relationsRestored: 0, profilesRetired: 0, errorsReopened: 0, blocked: [], blockedCount: 0 },
    metadata: { by: 'admin', at: RECEIVED_AT, importId: EARLIER_IMPORT_ID, v: 1 },
  };
  const reason = only(rejection(given(rowRejected(EARLIER_IMPORT_ID, 6), reverted).when(nanaRow({ _replay_of: `${EARLIER_IMPORT_ID}:6` } as NanaRecord))));
  assert.equal([reason.field, reason.code], ['_replay_of', 'invalid-replay']);
  assert.match(reason.message, 'the import of that row was reverted, so its rows are not replayed');
  // Not reverted: the same row is replayed.
  assert.is(given(rowRejected(EARLIER_IMPORT_ID, 6)).when(nanaRow({ _replay_of: `${EARLIER_IMPORT_ID}:6` } as NanaRecord)).outcome, 'imported');
});

test('replay › a resolution folded in (an earlier batch) is seen: the same row cannot be fixed twice', () => {
  const decision = given(rowRejected(EARLIER_IMPORT_ID, 6), errorResolved(IMPORT_ID, 1, ORIGINAL)).when(nanaRow({ _replay_of: `${EARLIER_IMPORT_ID}:6` } as NanaRecord, { row: 3 }));
  assert.match(only(rejection(decision)).message, `already fixed by row 1 of import ${IMPORT_ID}`);
});

test.run();
