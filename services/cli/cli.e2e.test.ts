// The `careos` command line, run as a child process against its own embedded PostgreSQL (a fresh
// data directory for this file), with the sample files of test/fixtures: the output shapes other
// tools script against, the numbers the samples must give, and rebuilding the read models.
//
// The tests run in any order: each one asks for what it needs (given(): the baseline and the Nana
// sample imported, once) and asserts only what holds whatever the others did before it (a
// re-import, a remap, a rebuild). The order is shuffled on every run (TEST_ORDER_SEED to repeat one).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { test as uvuTest } from 'uvu';
import * as assert from 'uvu/assert';
import { newCareosId } from '../events/ids.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(REPO, 'test', 'fixtures');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-cli-e2e-'));
const filesDir = path.join(dataDir, 'files');
fs.mkdirSync(filesDir);
for (const name of ['careos-baseline-sample.csv', 'nana-sample.csv', 'careshop-sample.csv']) fs.copyFileSync(path.join(FIXTURES, name), path.join(filesDir, name));
const BASELINE = path.join(filesDir, 'careos-baseline-sample.csv');
const NANA = path.join(filesDir, 'nana-sample.csv');
const CARESHOP = path.join(filesDir, 'careshop-sample.csv');
const NANA_LINES = fs.readFileSync(NANA, 'utf8').split('\n');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function careos(...args: string[]): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, CAREOS_DATA_DIR: dataDir };
  for (const name of ['DATABASE_URL', 'EVENTSTORE_URL', 'CAREOS_MAX_FILE_BYTES', 'CAREOS_READ_BATCH', 'CAREOS_PROCESS_BATCH']) delete env[name];
  const result = spawnSync(process.execPath, [path.join(REPO, 'bin', 'careos.js'), ...args], { cwd: REPO, env, encoding: 'utf8', timeout: 180_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command that must succeed and returns its last stdout line parsed as JSON. */
function json<T = unknown>(...args: string[]): T {
  const run = careos(...args);
  assert.is(run.status, 0, `careos ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  const lines = run.stdout.trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

interface ImportSummary { importId: string; status: string; totalRows: number; importedRows: number; rejectedRows: number; skippedRows: number }
interface ImportListed extends ImportSummary { importDate: string; lastUpdate: string; fileName: string; source: string; importedBy: string }
interface Reason { field: string; code: string; message: string }
interface ErrorRow { row: number; record: Record<string, string>; reasons: Reason[]; replayOf: unknown; resolvedBy: unknown }
interface Profile { careosId: string; firstname: string; lastname: string; gender: string | null; dateOfBirth: string | null; emails: string[]; phones: string[]; companies: string[] }
interface Relation { careosId: string; originalId: string; source: string; active: boolean; linkedAt: string; unlinkedAt: string | null; importId: string }
interface Stats { profiles: number; relationsActive: number; relationsInactive: number; imports: number; rejectedRows: number }

function importJson(file: string, source: string): ImportSummary {
  return json<ImportSummary>('import', file, '--source', source, '--by', 'bi.admin', '--json');
}

function uploads(): string[] {
  const dir = path.join(dataDir, 'uploads');
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** The state every test starts from: the baseline, then the Nana sample, imported through the CLI (once). */
interface Given {
  baseline: ImportSummary;
  nana: ImportSummary;
  /** The two Wichai profiles the sample creates (rows 2 and 5), oldest first. */
  wichaiIds: string[];
}
let state: Given | null = null;
function given(): Given {
  if (state) return state;
  const baseline = importJson(BASELINE, 'careos');
  const nana = importJson(NANA, 'nana');
  const wichaiIds = json<Profile[]>('profiles', '--phone', '089-555-0101', '--json').slice(0, 2).map((p) => p.careosId);
  state = { baseline, nana, wichaiIds };
  return state;
}

// Tests are registered in a shuffled order: none may depend on another having run.
const tests: [string, () => void][] = [];
const test = (name: string, body: () => void) => tests.push([name, body]);
const seed = Number(process.env.TEST_ORDER_SEED ?? Math.floor(Math.random() * 2 ** 31));
function shuffled<T>(items: T[]): T[] {
  let x = seed || 1;
  const random = () => ((x = (x * 48271) % 2147483647) / 2147483647);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

uvuTest.after(() => {
  const stop = careos('db', 'stop');
  if (stop.status !== 0) process.stderr.write(`careos db stop: ${stop.stderr}\n`);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('cli › import --json prints the summary of the CareOS baseline (Success, 2 rows, 2 imported), then of the Nana sample (Failed, 7 rows, 4 imported, 3 rejected)', () => {
  const { baseline, nana } = given();
  assert.equal(Object.keys(baseline), ['importId', 'status', 'totalRows', 'importedRows', 'rejectedRows', 'skippedRows']);
  assert.match(baseline.importId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal({ ...baseline, importId: '' }, { importId: '', status: 'Success', totalRows: 2, importedRows: 2, rejectedRows: 0, skippedRows: 0 });
  assert.equal({ ...nana, importId: '' }, { importId: '', status: 'Failed', totalRows: 7, importedRows: 4, rejectedRows: 3, skippedRows: 0 });
  assert.is.not(nana.importId, baseline.importId);
});

test('cli › imports --json lists every import, newest first', () => {
  const { baseline, nana } = given();
  const imports = json<ImportListed[]>('imports', '--json');
  // Other tests may have imported since: the given two are the oldest, in this order.
  assert.equal(imports.slice(-2).map((i) => i.importId), [nana.importId, baseline.importId]);
  for (let i = 1; i < imports.length; i++) assert.ok(imports[i - 1]!.importDate >= imports[i]!.importDate, 'newest first');
  assert.equal(Object.keys(imports[0]!), ['importId', 'status', 'importDate', 'lastUpdate', 'fileName', 'source', 'importedBy', 'totalRows', 'importedRows', 'rejectedRows', 'skippedRows', 'openRejectedRows', 'origin']);
  assert.equal(imports.slice(-2).map((i) => (i as unknown as { origin: string }).origin), ['file', 'file']);
  assert.equal(
    imports.slice(-2).map(({ fileName, source, importedBy, status, totalRows, importedRows, rejectedRows }) => ({ fileName, source, importedBy, status, totalRows, importedRows, rejectedRows })),
    [
      { fileName: 'nana-sample.csv', source: 'nana', importedBy: 'bi.admin', status: 'Failed', totalRows: 7, importedRows: 4, rejectedRows: 3 },
      { fileName: 'careos-baseline-sample.csv', source: 'careos', importedBy: 'bi.admin', status: 'Success', totalRows: 2, importedRows: 2, rejectedRows: 0 },
    ],
  );
  for (const item of imports) assert.ok(item.lastUpdate >= item.importDate, 'an import stops after it starts');
});

test('cli › profiles --phone finds both Wichai profiles, whatever the format of the number', () => {
  const { wichaiIds } = given();
  // A re-import may have forced a third one (newest, last): the given two come first, oldest first.
  const profiles = json<Profile[]>('profiles', '--phone', '089-555-0101', '--json');
  assert.equal(profiles.slice(0, 2).map((p) => [p.firstname, p.lastname]), [['Wichai', 'Boonmee'], ['Wichai', 'Boonmee']]);
  assert.equal(Object.keys(profiles[0]!), ['careosId', 'firstname', 'lastname', 'gender', 'dateOfBirth', 'emails', 'phones', 'companies']);
  // Oldest first: row 2's profile (with both phones and companies), then row 5's (force_create=Y).
  assert.equal(profiles[0], {
    careosId: profiles[0]!.careosId, firstname: 'Wichai', lastname: 'Boonmee', gender: 'M', dateOfBirth: '1979-11-30',
    emails: ['wichai@example.com'], phones: ['+66895550101', '+6625550101'], companies: ['Rabbit Care Co., Ltd.', 'Rabbit Internet Co., Ltd.'],
  });
  assert.equal(profiles[1], {
    careosId: profiles[1]!.careosId, firstname: 'Wichai', lastname: 'Boonmee', gender: 'M', dateOfBirth: null,
    emails: [], phones: ['+66895550101'], companies: [],
  });
  assert.equal(profiles.slice(0, 2).map((p) => p.careosId), wichaiIds);
  for (const phone of ['0895550101', '+66895550101', '66895550101', '+66 89 555 0101']) {
    assert.equal(json<Profile[]>('profiles', '--phone', phone, '--json').map((p) => p.careosId), profiles.map((p) => p.careosId), phone);
  }
});

test('cli › errors ID --format json lists the rejected rows 4, 6 (two reasons) and 7, whole', () => {
  const { nana, wichaiIds } = given();
  const errors = json<ErrorRow[]>('errors', nana.importId, '--format', 'json');
  assert.equal(errors.map((e) => e.row), [4, 6, 7]);
  for (const error of errors) {
    assert.equal(Object.keys(error).sort(), ['reasons', 'record', 'replayOf', 'resolvedBy', 'row']);
    assert.equal([error.replayOf, error.resolvedBy], [null, null], 'neither a replay nor fixed by one');
    for (const reason of error.reasons) assert.equal(Object.keys(reason).sort(), ['code', 'field', 'message']);
  }
  const [row4, row6, row7] = errors as [ErrorRow, ErrorRow, ErrorRow];
  assert.equal(row4.record, {
    careos_cus_id: '', nana_cus_id: 'n5005', gender: 'M', firstname: 'Wichai', lastname: 'Boonmee', email: '', date_of_birth: '',
    phone: '0895550101', company_name: '', force_create: '',
  });
  assert.equal(row4.reasons.map((r) => [r.field, r.code]), [['phone', 'duplicate-phone']]);
  assert.match(row4.reasons[0]!.message, wichaiIds[0]!, 'names the profile that holds the phone (row 2\'s)');
  assert.equal(row6.reasons.map((r) => [r.field, r.code]), [['email', 'invalid-email'], ['date_of_birth', 'invalid-date']]);
  assert.match(row6.reasons[0]!.message, 'suda@@example.com');
  assert.match(row6.reasons[1]!.message, '1990-13-01');
  assert.equal(row7.reasons.map((r) => [r.field, r.code]), [['nana_cus_id', 'required']]);
  assert.is(row7.record.firstname, 'Missing');
});

test('cli › errors ID --format csv is the upload header plus _replay_of and errors columns, one CRLF line per rejected row, UTF-8 with a BOM', () => {
  const nanaImportId = given().nana.importId;
  const run = careos('errors', nanaImportId, '--format', 'csv');
  assert.is(run.status, 0, run.stderr);
  assert.ok(run.stdout.startsWith('\uFEFF'), 'starts with a byte order mark (Excel reads Thai right)');
  assert.ok(run.stdout.endsWith('\r\n'));
  const lines = run.stdout.slice(1).slice(0, -2).split('\r\n');
  assert.is(lines.length, 4);
  assert.is(lines[0], `${NANA_LINES[0]},_replay_of,errors`);
  const errors = json<ErrorRow[]>('errors', nanaImportId, '--format', 'json');
  const records = parse(run.stdout, { bom: true }) as string[][];
  const originals = parse(fs.readFileSync(NANA)) as string[][];
  errors.forEach((error, i) => {
    // The row as it was in the file (ready to fix and upload again), then every reason.
    assert.ok(lines[i + 1]!.startsWith(`${NANA_LINES[error.row]},`), `row ${error.row} is written as in the file`);
    assert.equal(records[i + 1], [...originals[error.row]!, `${nanaImportId}:${error.row}`, error.reasons.map((r) => r.message).join('; ')]);
  });
});

test('cli › profiles --careos-id C0100001 --json shows the baseline profile', () => {
  given();
  assert.equal(json<Profile[]>('profiles', '--careos-id', 'C0100001', '--json'), [{
    careosId: 'C0100001', firstname: 'Kanya', lastname: 'Rattanakul', gender: 'F', dateOfBirth: '1988-02-14',
    emails: ['kanya.r@example.co.th'], phones: ['+66817771111'], companies: [],
  }]);
  assert.equal(json<Profile[]>('profiles', '--careos-id', 'C0999999', '--json'), []);
});

test('cli › relations --careos-id C0100001 --json shows n5001 and n5002 active, oldest first', () => {
  const nanaImportId = given().nana.importId;
  const relations = json<Relation[]>('relations', '--careos-id', 'C0100001', '--json');
  // The first seven keys are the original shape scripts use; who, which row and the unlink's details follow.
  assert.equal(Object.keys(relations[0]!), [
    'careosId', 'originalId', 'source', 'active', 'linkedAt', 'unlinkedAt', 'importId',
    'linkedBy', 'linkedByName', 'linkedRow', 'unlinkedBy', 'unlinkedByName', 'unlinkedImportId', 'unlinkedRow', 'unlinkedByRevert', 'restoredByRevertOf',
  ]);
  assert.equal(
    relations.map(({ careosId, originalId, source, active, unlinkedAt, importId }) => ({ careosId, originalId, source, active, unlinkedAt, importId })),
    [
      { careosId: 'C0100001', originalId: 'n5001', source: 'nana', active: true, unlinkedAt: null, importId: nanaImportId },
      { careosId: 'C0100001', originalId: 'n5002', source: 'nana', active: true, unlinkedAt: null, importId: nanaImportId },
    ],
  );
  for (const relation of relations) assert.ok(!Number.isNaN(Date.parse(relation.linkedAt)), 'linkedAt is an ISO instant');
});

test('cli › relations --source nana --original-id n5003 --json shows its link to the profile row 2 created', () => {
  const { nana, wichaiIds } = given();
  // Oldest first; a remap test may have moved it on since (then this link is inactive).
  const [first] = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--json');
  assert.equal({ careosId: first!.careosId, originalId: first!.originalId, source: first!.source, importId: first!.importId }, {
    careosId: wichaiIds[0]!, originalId: 'n5003', source: 'nana', importId: nana.importId,
  });
});

test('cli › stats --json counts profiles, relations, imports and rejected rows, as the listings show them', () => {
  given();
  const stats = json<Stats>('stats', '--json');
  assert.equal(Object.keys(stats), ['profiles', 'relationsActive', 'relationsInactive', 'imports', 'rejectedRows']);
  const imports = json<ImportListed[]>('imports', '--json');
  const relations = json<Relation[]>('relations', '--json');
  assert.equal(stats, {
    profiles: json<Profile[]>('profiles', '--json').length,
    relationsActive: relations.filter((r) => r.active).length,
    relationsInactive: relations.filter((r) => !r.active).length,
    imports: imports.length,
    rejectedRows: imports.reduce((sum, i) => sum + i.rejectedRows, 0),
  });
  // At least what the given imports made: 2 baseline + rows 2, 3 and 5; n5001, n5002 (row 1), n5003, n5004, n5006.
  assert.ok(stats.profiles >= 5 && stats.relationsActive >= 5 && stats.imports >= 2 && stats.rejectedRows >= 3);
});

test('cli › a refused file exits 2 with a one-line reason on stderr, and no import is started', () => {
  given();
  const importsBefore = json<ImportListed[]>('imports', '--json');
  const uploadsBefore = uploads();
  const file = path.join(filesDir, 'nickname.csv');
  fs.writeFileSync(file, `${NANA_LINES[0]},nickname\n,n5009,M,Somchai,Dee,,,0895550109,,,Chai\n`);
  const run = careos('import', file, '--source', 'nana', '--json');
  assert.is(run.status, 2);
  assert.is(run.stdout, '');
  assert.is(run.stderr, `refused: nickname.csv: header has unknown column "nickname" (accepted for Nana: ${NANA_LINES[0]!.split(',').join(', ')})\n`);
  assert.equal(json<ImportListed[]>('imports', '--json'), importsBefore);
  assert.equal(uploads(), uploadsBefore, 'the refused file is not stored');
});

test('cli › importing the same Nana file again rejects every row that would create a duplicate, and leaves existing relations as they are', () => {
  const { wichaiIds } = given();
  const statsBefore = json<Stats>('stats', '--json');
  const kanyaBefore = json<Relation[]>('relations', '--careos-id', 'C0100001', '--json');
  const n5003Before = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--json');
  const summary = importJson(NANA, 'nana');
  // Row 1: its relations exist already (imported, no event). Row 5: force_create=Y creates again.
  // Rows 2, 3, 4: their phones now belong to profiles. Rows 6, 7: invalid as before.
  assert.equal({ ...summary, importId: '' }, { importId: '', status: 'Failed', totalRows: 7, importedRows: 2, rejectedRows: 5, skippedRows: 0 });
  const errors = json<ErrorRow[]>('errors', summary.importId, '--format', 'json');
  assert.equal(errors.map((e) => [e.row, e.reasons.map((r) => r.code)]), [
    [2, ['duplicate-phone']], [3, ['duplicate-phone']], [4, ['duplicate-phone']], [6, ['invalid-email', 'invalid-date']], [7, ['required']],
  ]);
  assert.match(errors[0]!.reasons[0]!.message, wichaiIds[0]!);
  assert.equal(json<Relation[]>('relations', '--careos-id', 'C0100001', '--json'), kanyaBefore, 'no new relation event for row 1');
  assert.equal(json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--json'), n5003Before, 'row 2 rejected: n5003 untouched');
  // Row 5 (force_create) made one profile and moved n5006 to it: its old link is inactive now.
  const stats = json<Stats>('stats', '--json');
  assert.equal(stats, {
    profiles: statsBefore.profiles + 1, relationsActive: statsBefore.relationsActive, relationsInactive: statsBefore.relationsInactive + 1,
    imports: statsBefore.imports + 1, rejectedRows: statsBefore.rejectedRows + 5,
  });
});

test('cli › a row with careos_cus_id remaps a Nana id: the old link becomes inactive, the new one active', () => {
  given();
  // n5003 is on one profile now (row 2's, or C0100002 if this ran before): map it to the other.
  const before = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--json');
  const current = before.find((r) => r.active)!;
  const target = current.careosId === 'C0100002' ? 'C0100001' : 'C0100002';
  const file = path.join(filesDir, `remap-${before.length}.csv`);
  fs.writeFileSync(file, `${NANA_LINES[0]}\n${target},n5003,M,Wichai,Boonmee,,,089-555-0101,,\n`);
  const between = new Date().toISOString();
  const summary = importJson(file, 'nana');
  assert.equal({ ...summary, importId: '' }, { importId: '', status: 'Success', totalRows: 1, importedRows: 1, rejectedRows: 0, skippedRows: 0 });
  const relations = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--json');
  assert.is(relations.length, before.length + 1, 'a new row; the old one is kept');
  const [old, made] = relations.slice(-2) as [Relation, Relation];
  assert.equal({ careosId: old.careosId, active: old.active, importId: old.importId }, { careosId: current.careosId, active: false, importId: current.importId });
  assert.equal({ careosId: made.careosId, active: made.active, importId: made.importId }, { careosId: target, active: true, importId: summary.importId });
  assert.is(old.unlinkedAt, made.linkedAt, 'unlinked when the new link was made');
  assert.is(made.unlinkedAt, null);
  assert.equal(relations.filter((r) => r.active).length, 1, 'one active link per original id');
  assert.ok(json<Relation[]>('relations', '--careos-id', target, '--json').some((r) => r.originalId === 'n5003' && r.active));
  // As of a moment before the remap: linked to the old profile, the new link not there yet.
  const then = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--as-of', between, '--json');
  assert.is(then.length, before.length);
  assert.equal(then.filter((r) => r.active).map((r) => r.careosId), [current.careosId]);
  assert.is(then.at(-1)!.unlinkedAt, null, 'the unlink had not happened yet');
  const now = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--as-of', new Date().toISOString(), '--json');
  assert.equal(now.filter((r) => r.active).map((r) => r.careosId), [target]);
  const bad = careos('relations', '--source', 'nana', '--original-id', 'n5003', '--as-of', 'yesterday');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /asOf must be an ISO-8601 date and time/);
});

test('cli › Care Shop waits for the Nana gate (exit 2, the reason on stderr); then a file and a sync of the seeded demo table, with skipped rows and the history log', () => {
  given();
  // Only this test moves the gate: whatever ran before, it starts closed here.
  if (json<{ complete: boolean }>('onboarding', '--json').complete) assert.is(careos('onboarding', 'reopen', '--reason', 'cli test').status, 0);
  const before = json<unknown[]>('imports', '--json').length;
  for (const args of [['import', CARESHOP, '--source', 'careshop'], ['sync', 'careshop']]) {
    const refused = careos(...args);
    assert.is(refused.status, 2, `${args.join(' ')}: ${refused.stderr}`);
    assert.match(refused.stderr, /Care Shop cannot be imported until Nana onboarding is marked complete/);
  }
  assert.is(json<unknown[]>('imports', '--json').length, before, 'nothing started');
  assert.is(careos('onboarding', 'complete', '--reason', 'all Nana files loaded').status, 0);

  const file = importJson(CARESHOP, 'careshop');
  assert.equal({ ...file, importId: '' }, { importId: '', status: 'Failed', totalRows: 4, importedRows: 2, rejectedRows: 1, skippedRows: 1 });
  const again = importJson(CARESHOP, 'careshop');
  assert.equal([again.status, again.importedRows, again.rejectedRows, again.skippedRows], ['Success', 0, 0, 4]);

  const seeded = json<{ rows: number; invalidPhone: number; sameProfile: number }>('careshop', 'seed', '--rows', '300', '--json');
  assert.is(seeded.rows, 300);
  const synced = json<ImportSummary>('sync', 'careshop', '--json');
  assert.equal(Object.keys(synced), ['importId', 'status', 'totalRows', 'importedRows', 'rejectedRows', 'skippedRows']);
  assert.is(synced.totalRows, 300);
  assert.is(synced.importedRows + synced.rejectedRows + synced.skippedRows, 300, 'every record accounted for');
  assert.is(synced.rejectedRows, seeded.invalidPhone, 'exactly the invalid numbers are rejected');
  assert.ok(synced.skippedRows >= seeded.sameProfile, 'customers with a profile\'s phone and names are skipped');
  const history = json<{ outcome: string }[]>('history', 'careshop', '--import', synced.importId, '--json');
  assert.is(history.length, 300);
  assert.is(history.filter((e) => e.outcome === 'rejected').length, seeded.invalidPhone);
  const nothingNew = json<ImportSummary>('sync', 'careshop', '--json');
  assert.equal({ ...nothingNew, importId: '' }, { importId: '', status: 'Success', totalRows: 0, importedRows: 0, rejectedRows: 0, skippedRows: 0 });
});

test('cli › BI replay: the error file, fixed and uploaded back as it is, resolves the rows it fixes; a row rejected again links to the original, which stays open', () => {
  // An import of its own (other tests replay nothing, but may read the Nana sample's error log),
  // after the given ones (which stay the oldest).
  given();
  const header = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
  const file = path.join(filesDir, 'replay-source.csv');
  fs.writeFileSync(file, `${header}\n,r9001,F,Ploy,Sukjai,ploy@@example.com,,0891234001,,\n,r9002,M,Tan,Meesuk,,2599-01-01,0891234002,,\n,,F,No,Id,,,0891234003,,\n`);
  const first = importJson(file, 'nana');
  assert.equal([first.importedRows, first.rejectedRows], [0, 3]);
  const csv = careos('errors', first.importId, '--format', 'csv');
  const rows = parse(csv.stdout, { bom: true }) as string[][];
  assert.equal(rows[0]!.slice(-2), ['_replay_of', 'errors']);
  // BI fixes two rows in a spreadsheet and saves the file as it is, errors column and all.
  rows[1]![5] = 'ploy@example.com';
  rows[2]![6] = '1999-01-01';
  const fixed = path.join(filesDir, 'replay-fixed.csv');
  fs.writeFileSync(fixed, `\uFEFF${rows.map((r) => r.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',')).join('\r\n')}\r\n`);
  const replay = importJson(fixed, 'nana');
  assert.equal([replay.status, replay.totalRows, replay.importedRows, replay.rejectedRows], ['Failed', 3, 2, 1]);

  const open = json<ErrorRow[]>('errors', first.importId, '--open');
  assert.equal(open.map((e) => e.row), [3], 'the row still missing its id stays open');
  const resolved = json<(ErrorRow & { resolvedBy: { importId: string; row: number } })[]>('errors', first.importId, '--resolved');
  assert.equal(resolved.map((e) => [e.row, e.resolvedBy.importId, e.resolvedBy.row]), [[1, replay.importId, 1], [2, replay.importId, 2]]);
  const again = json<(ErrorRow & { replayOf: { importId: string; row: number } })[]>('errors', replay.importId);
  assert.equal(again.map((e) => [e.row, e.replayOf]), [[3, { importId: first.importId, row: 3 }]]);
  const listed = json<{ importId: string; openRejectedRows: number }[]>('imports', '--json');
  assert.is(listed.find((i) => i.importId === first.importId)!.openRejectedRows, 1);
  assert.is(listed.find((i) => i.importId === replay.importId)!.openRejectedRows, 1);

  // The same fixed file again: the fixed rows are refused as already fixed, nothing is created twice.
  const twice = importJson(fixed, 'nana');
  assert.equal([twice.importedRows, twice.rejectedRows], [0, 3]);
  const reasons = json<ErrorRow[]>('errors', twice.importId).map((e) => e.reasons[0]!.message);
  assert.match(reasons[0]!, `already fixed by row 1 of import ${replay.importId}`);
});

test('cli › revert: refused (exit 2) with every blocker on stderr while a later import builds on it; the later one reverted first, then it; --preview changes nothing', () => {
  given(); // the given imports stay the oldest
  const header = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
  const first = path.join(filesDir, 'revert-first.csv');
  fs.writeFileSync(first, `${header}\n,u8001,F,Mali,Undo,,,0893338001,,\n`);
  const a = importJson(first, 'nana');
  const p = newCareosId(a.importId, 1);
  // Another profile Q; then a mapping import: row 1 remaps u8001 to Q, row 2 links u8003 to the first import's profile.
  const other = path.join(filesDir, 'revert-other.csv');
  fs.writeFileSync(other, `${header}\n,u8002,M,Niran,Undo,,,0893338002,,\n`);
  const q = newCareosId(importJson(other, 'nana').importId, 1);
  const mapping = path.join(filesDir, 'revert-mapping.csv');
  fs.writeFileSync(mapping, `${header}\n${q},u8001,F,Mali,Undo,,,0893338001,,\n${p},u8003,F,Mali,Undo,,,0893338001,,\n`);
  const b = { mapping: importJson(mapping, 'nana') };
  assert.equal([b.mapping.importedRows, b.mapping.rejectedRows], [2, 0]);

  const noReason = careos('revert', a.importId);
  assert.is(noReason.status, 2);
  assert.match(noReason.stderr, /--reason/);
  const refused = careos('revert', a.importId, '--reason', 'wrong file', '--by', 'ops');
  assert.is(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /^refused: every effect of this import was built on since \(2\)/);
  assert.match(refused.stderr, `row 1: nana u8001 → ${p} was remapped since by import ${b.mapping.importId} row 1`);
  assert.match(refused.stderr, `row 1: profile ${p} is in use since (linked to, named again or matched) by import ${b.mapping.importId} row 2`);

  const preview = json<{ relationsReverted: number; relationsRestored: number; refusal: string | null }>('revert', b.mapping.importId, '--preview', '--json');
  assert.equal([preview.relationsReverted, preview.relationsRestored, preview.refusal], [2, 1, null]);
  const revertedB = json<{ status: string; state: string; requestedBy: string }>('revert', b.mapping.importId, '--reason', 'mapped by mistake', '--by', 'ops', '--json');
  assert.equal([revertedB.status, revertedB.state, revertedB.requestedBy], ['Reverted', 'reverted', 'ops']);
  const revertedA = json<{ status: string; profilesRetired: number; blockedCount: number }>('revert', a.importId, '--reason', 'wrong file', '--json');
  assert.equal([revertedA.status, revertedA.profilesRetired, revertedA.blockedCount], ['Reverted', 1, 0]);
  const relations = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'u8001', '--json');
  assert.equal(relations.filter((r) => r.active), [], 'u8001 is linked to nothing once both are reverted');
});

test('cli › rebuild recreates every read model from the events: stats and every listing are identical', () => {
  const snapshot = () => {
    const imports = json<ImportListed[]>('imports', '--json');
    return {
      stats: json<Stats>('stats', '--json'),
      imports,
      profiles: json<Profile[]>('profiles', '--json'),
      relations: json<Relation[]>('relations', '--json'),
      // The error log of every import with rejected rows (the others' are empty, and the stats count every rejected row).
      errors: imports.filter((i) => i.rejectedRows > 0).map((i) => json<ErrorRow[]>('errors', i.importId, '--format', 'json')),
      errorsCsv: imports.filter((i) => i.rejectedRows > 0).map((i) => careos('errors', i.importId, '--format', 'csv').stdout),
    };
  };
  given();
  const before = snapshot();
  assert.ok(before.imports.length >= 2 && before.relations.length >= 5 && before.errors.flat().length >= 3, 'there is something to rebuild');
  const run = careos('rebuild');
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /^rebuilt every read model/);
  assert.equal(snapshot(), before);
  // And verify, which rebuilds aside, finds the rebuilt read models equal to the events' replay.
  const verified = json<{ same: boolean; tables: { table: string; same: boolean }[] }>('verify', '--json');
  assert.equal(verified.tables.filter((t) => !t.same), []);
  assert.is(verified.same, true);
});

for (const [name, body] of shuffled(tests)) uvuTest(name, body);
process.stdout.write(`cli tests in a shuffled order (TEST_ORDER_SEED=${seed} repeats it)\n`);
uvuTest.run();
