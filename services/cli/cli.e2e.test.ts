// The `careos` command line, run as a child process against its own embedded PostgreSQL (a fresh
// data directory for this file), with the sample files of test/fixtures: the output shapes other
// tools script against, the numbers the samples must give, and rebuilding the read models.
//
// The tests run in order and build on each other like an admin's session: baseline, then Nana,
// then the listings, a re-import, a remap and finally a rebuild. Each test says what it expects
// of the state before it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(REPO, 'test', 'fixtures');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-cli-e2e-'));
const filesDir = path.join(dataDir, 'files');
fs.mkdirSync(filesDir);
for (const name of ['careos-baseline-sample.csv', 'nana-sample.csv']) fs.copyFileSync(path.join(FIXTURES, name), path.join(filesDir, name));
const BASELINE = path.join(filesDir, 'careos-baseline-sample.csv');
const NANA = path.join(filesDir, 'nana-sample.csv');
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

interface ImportSummary { importId: string; status: string; totalRows: number; importedRows: number; rejectedRows: number }
interface ImportListed extends ImportSummary { importDate: string; lastUpdate: string; fileName: string; source: string; importedBy: string }
interface Reason { field: string; code: string; message: string }
interface ErrorRow { row: number; record: Record<string, string>; reasons: Reason[] }
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

// What the tests learn and later tests use.
let baselineImportId = '';
let nanaImportId = '';
let wichaiIds: string[] = [];
let relationsOfKanyaBefore: Relation[] = [];

test.after(() => {
  const stop = careos('db', 'stop');
  if (stop.status !== 0) process.stderr.write(`careos db stop: ${stop.stderr}\n`);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('cli › import --json prints the summary of the CareOS baseline: Success, 2 rows, 2 imported', () => {
  const summary = importJson(BASELINE, 'careos');
  assert.equal(Object.keys(summary), ['importId', 'status', 'totalRows', 'importedRows', 'rejectedRows']);
  assert.match(summary.importId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal({ ...summary, importId: '' }, { importId: '', status: 'Success', totalRows: 2, importedRows: 2, rejectedRows: 0 });
  baselineImportId = summary.importId;
});

test('cli › import --json of the Nana sample after the baseline: Failed, 7 rows, 4 imported, 3 rejected', () => {
  const summary = importJson(NANA, 'nana');
  assert.equal({ ...summary, importId: '' }, { importId: '', status: 'Failed', totalRows: 7, importedRows: 4, rejectedRows: 3 });
  assert.is.not(summary.importId, baselineImportId);
  nanaImportId = summary.importId;
});

test('cli › imports --json lists every import, newest first', () => {
  const imports = json<ImportListed[]>('imports', '--json');
  assert.equal(imports.map((i) => i.importId), [nanaImportId, baselineImportId]);
  assert.equal(Object.keys(imports[0]!), ['importId', 'status', 'importDate', 'lastUpdate', 'fileName', 'source', 'importedBy', 'totalRows', 'importedRows', 'rejectedRows', 'origin']);
  assert.equal(imports.map((i) => (i as unknown as { origin: string }).origin), ['file', 'file']);
  assert.equal(
    imports.map(({ fileName, source, importedBy, status, totalRows, importedRows, rejectedRows }) => ({ fileName, source, importedBy, status, totalRows, importedRows, rejectedRows })),
    [
      { fileName: 'nana-sample.csv', source: 'nana', importedBy: 'bi.admin', status: 'Failed', totalRows: 7, importedRows: 4, rejectedRows: 3 },
      { fileName: 'careos-baseline-sample.csv', source: 'careos', importedBy: 'bi.admin', status: 'Success', totalRows: 2, importedRows: 2, rejectedRows: 0 },
    ],
  );
  for (const item of imports) assert.ok(item.lastUpdate >= item.importDate, 'an import stops after it starts');
});

test('cli › profiles --phone finds both Wichai profiles, whatever the format of the number', () => {
  const profiles = json<Profile[]>('profiles', '--phone', '089-555-0101', '--json');
  assert.equal(profiles.map((p) => [p.firstname, p.lastname]), [['Wichai', 'Boonmee'], ['Wichai', 'Boonmee']]);
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
  wichaiIds = profiles.map((p) => p.careosId);
  for (const phone of ['0895550101', '+66895550101', '66895550101', '+66 89 555 0101']) {
    assert.equal(json<Profile[]>('profiles', '--phone', phone, '--json').map((p) => p.careosId), wichaiIds, phone);
  }
});

test('cli › errors ID --format json lists the rejected rows 4, 6 (two reasons) and 7, whole', () => {
  const errors = json<ErrorRow[]>('errors', nanaImportId, '--format', 'json');
  assert.equal(errors.map((e) => e.row), [4, 6, 7]);
  for (const error of errors) {
    assert.equal(Object.keys(error).sort(), ['reasons', 'record', 'row']);
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

test('cli › errors ID --format csv is the upload header plus an errors column, one CRLF line per rejected row, UTF-8 with a BOM', () => {
  const run = careos('errors', nanaImportId, '--format', 'csv');
  assert.is(run.status, 0, run.stderr);
  assert.ok(run.stdout.startsWith('\uFEFF'), 'starts with a byte order mark (Excel reads Thai right)');
  assert.ok(run.stdout.endsWith('\r\n'));
  const lines = run.stdout.slice(1).slice(0, -2).split('\r\n');
  assert.is(lines.length, 4);
  assert.is(lines[0], `${NANA_LINES[0]},errors`);
  const errors = json<ErrorRow[]>('errors', nanaImportId, '--format', 'json');
  const records = parse(run.stdout, { bom: true }) as string[][];
  const originals = parse(fs.readFileSync(NANA)) as string[][];
  errors.forEach((error, i) => {
    // The row as it was in the file (ready to fix and upload again), then every reason.
    assert.ok(lines[i + 1]!.startsWith(`${NANA_LINES[error.row]},`), `row ${error.row} is written as in the file`);
    assert.equal(records[i + 1], [...originals[error.row]!, error.reasons.map((r) => r.message).join('; ')]);
  });
});

test('cli › profiles --careos-id C0100001 --json shows the baseline profile', () => {
  assert.equal(json<Profile[]>('profiles', '--careos-id', 'C0100001', '--json'), [{
    careosId: 'C0100001', firstname: 'Kanya', lastname: 'Rattanakul', gender: 'F', dateOfBirth: '1988-02-14',
    emails: ['kanya.r@example.co.th'], phones: ['+66817771111'], companies: [],
  }]);
  assert.equal(json<Profile[]>('profiles', '--careos-id', 'C0999999', '--json'), []);
});

test('cli › relations --careos-id C0100001 --json shows n5001 and n5002 active, oldest first', () => {
  const relations = json<Relation[]>('relations', '--careos-id', 'C0100001', '--json');
  // The first seven keys are the original shape scripts use; who, which row and the unlink's details follow.
  assert.equal(Object.keys(relations[0]!), [
    'careosId', 'originalId', 'source', 'active', 'linkedAt', 'unlinkedAt', 'importId',
    'linkedBy', 'linkedByName', 'linkedRow', 'unlinkedBy', 'unlinkedByName', 'unlinkedImportId', 'unlinkedRow',
  ]);
  assert.equal(
    relations.map(({ careosId, originalId, source, active, unlinkedAt, importId }) => ({ careosId, originalId, source, active, unlinkedAt, importId })),
    [
      { careosId: 'C0100001', originalId: 'n5001', source: 'nana', active: true, unlinkedAt: null, importId: nanaImportId },
      { careosId: 'C0100001', originalId: 'n5002', source: 'nana', active: true, unlinkedAt: null, importId: nanaImportId },
    ],
  );
  for (const relation of relations) assert.ok(!Number.isNaN(Date.parse(relation.linkedAt)), 'linkedAt is an ISO instant');
  relationsOfKanyaBefore = relations;
});

test('cli › relations --source nana --original-id n5003 --json shows its link to the profile row 2 created', () => {
  const relations = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--json');
  assert.equal(relations.map(({ careosId, originalId, source, active, unlinkedAt }) => ({ careosId, originalId, source, active, unlinkedAt })), [
    { careosId: wichaiIds[0]!, originalId: 'n5003', source: 'nana', active: true, unlinkedAt: null },
  ]);
});

test('cli › stats --json counts profiles, relations, imports and rejected rows', () => {
  const stats = json<Stats>('stats', '--json');
  assert.equal(Object.keys(stats), ['profiles', 'relationsActive', 'relationsInactive', 'imports', 'rejectedRows']);
  // 2 baseline + rows 2, 3 and 5; n5001, n5002 (row 1), n5003, n5004, n5006.
  assert.equal(stats, { profiles: 5, relationsActive: 5, relationsInactive: 0, imports: 2, rejectedRows: 3 });
});

test('cli › a refused file exits 2 with a one-line reason on stderr, and no import is started', () => {
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
  const summary = importJson(NANA, 'nana');
  // Row 1: its relations exist already (imported, no event). Row 5: force_create=Y creates again.
  // Rows 2, 3, 4: their phones now belong to profiles. Rows 6, 7: invalid as before.
  assert.equal({ ...summary, importId: '' }, { importId: '', status: 'Failed', totalRows: 7, importedRows: 2, rejectedRows: 5 });
  const errors = json<ErrorRow[]>('errors', summary.importId, '--format', 'json');
  assert.equal(errors.map((e) => [e.row, e.reasons.map((r) => r.code)]), [
    [2, ['duplicate-phone']], [3, ['duplicate-phone']], [4, ['duplicate-phone']], [6, ['invalid-email', 'invalid-date']], [7, ['required']],
  ]);
  assert.match(errors[0]!.reasons[0]!.message, wichaiIds[0]!);
  assert.equal(json<Relation[]>('relations', '--careos-id', 'C0100001', '--json'), relationsOfKanyaBefore, 'no new relation event for row 1');
  assert.equal(json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--json').length, 1);
  assert.equal(json<Stats>('stats', '--json'), { profiles: 6, relationsActive: 5, relationsInactive: 1, imports: 3, rejectedRows: 8 });
});

test('cli › a row with careos_cus_id remaps a Nana id: the old link becomes inactive, the new one active', () => {
  const file = path.join(filesDir, 'remap.csv');
  fs.writeFileSync(file, `${NANA_LINES[0]}\nC0100002,n5003,M,Wichai,Boonmee,,,089-555-0101,,\n`);
  const summary = importJson(file, 'nana');
  assert.equal({ ...summary, importId: '' }, { importId: '', status: 'Success', totalRows: 1, importedRows: 1, rejectedRows: 0 });
  const relations = json<Relation[]>('relations', '--source', 'nana', '--original-id', 'n5003', '--json');
  assert.equal(relations.map(({ careosId, active, importId }) => ({ careosId, active, importId })), [
    { careosId: wichaiIds[0]!, active: false, importId: nanaImportId },
    { careosId: 'C0100002', active: true, importId: summary.importId },
  ]);
  assert.is(relations[0]!.unlinkedAt, relations[1]!.linkedAt, 'unlinked when the new link was made');
  assert.is(relations[1]!.unlinkedAt, null);
  assert.equal(json<Relation[]>('relations', '--careos-id', 'C0100002', '--json').map((r) => [r.originalId, r.active]), [['n5003', true]]);
});

test('cli › rebuild recreates every read model from the events: stats and every listing are identical', () => {
  const snapshot = () => {
    const imports = json<ImportListed[]>('imports', '--json');
    return {
      stats: json<Stats>('stats', '--json'),
      imports,
      profiles: json<Profile[]>('profiles', '--json'),
      relations: json<Relation[]>('relations', '--json'),
      errors: imports.map((i) => json<ErrorRow[]>('errors', i.importId, '--format', 'json')),
      errorsCsv: imports.map((i) => careos('errors', i.importId, '--format', 'csv').stdout),
    };
  };
  const before = snapshot();
  assert.equal(before.imports.length, 4);
  // The remap moved n5003: still 5 active relations, and its old link is the second inactive one.
  assert.equal(before.stats, { profiles: 6, relationsActive: 5, relationsInactive: 2, imports: 4, rejectedRows: 8 });
  const run = careos('rebuild');
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /^rebuilt every read model/);
  assert.equal(snapshot(), before);
});

test.run();
