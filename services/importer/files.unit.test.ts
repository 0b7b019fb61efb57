// The door of an import: which files are refused before any row is read, each with a one-line
// reason, and which are let in. Real files under the OS temp dir; no database.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import type { DetectedEncoding } from '../../schemas/encoding.ts';
import * as assert from 'uvu/assert';
import { FileRefused } from '../errors.ts';
import type { SourceName } from '../events/types.ts';
import { checkFile, utf8Copy } from './files.ts';

const NANA_HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
const NANA_ROW = ',n5003,M,Wichai,Boonmee,wichai@example.com,1979-11-30,089-555-0101,,';
const CAREOS_HEADER = 'careos_cus_id,firstname,lastname,phone,email,gender,date_of_birth';
const MAX_BYTES = 1024 * 1024;
const HEAD_BYTES = 64 * 1024;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-files-'));
let fileCount = 0;

function write(name: string, content: string | Buffer): string {
  const dir = path.join(root, String(++fileCount));
  fs.mkdirSync(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

/** A file of rows long enough that its head (what checkFile reads) ends before `tail`. */
/** Thai text in Windows-874: U+0E01–U+0E5B map to bytes 0xA1–0xFB. */
function encode874(text: string): Buffer {
  return Buffer.from([...text].map((c) => {
    const code = c.codePointAt(0)!;
    return code >= 0x0e01 && code <= 0x0e5b ? code - 0x0e01 + 0xa1 : code;
  }));
}

function longFile(tail: Buffer): Buffer {
  const lines = [NANA_HEADER];
  while (lines.join('\n').length < HEAD_BYTES + 1000) lines.push(NANA_ROW);
  return Buffer.concat([Buffer.from(`${lines.join('\n')}\n`), tail]);
}

/** The reason checkFile refuses the file with (fails when it is accepted). */
function refusal(file: string, options: { name?: string; source?: SourceName; maxBytes?: number } = {}): string {
  const name = options.name ?? path.basename(file);
  try {
    checkFile(file, name, options.source ?? 'nana', options.maxBytes ?? MAX_BYTES);
  } catch (error) {
    assert.instance(error, FileRefused);
    const refused = error as FileRefused;
    assert.is(refused.fileName, name);
    assert.is(refused.message, `${name}: ${refused.reason}`, 'the message names the file, then the reason');
    assert.not.match(refused.message, /[\r\n]/, 'the reason is one line');
    return refused.reason;
  }
  assert.unreachable(`${name} was accepted`);
  return '';
}

/** The UTF-8 copy the importer stores (upload-store.ts keeps it in PostgreSQL), whole. */
async function copied(file: string, name: string, encoding: DetectedEncoding = 'ascii'): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of utf8Copy(file, name, encoding)) parts.push(chunk);
  return Buffer.concat(parts);
}

async function storeRefusal(file: string, encoding: DetectedEncoding = 'ascii'): Promise<string> {
  try {
    await copied(file, path.basename(file), encoding);
  } catch (error) {
    assert.instance(error, FileRefused);
    assert.not.match((error as Error).message, /[\r\n]/, 'the reason is one line');
    return (error as FileRefused).reason;
  }
  assert.unreachable('the upload was stored');
  return '';
}

test.after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

test('file check › accepts a CSV whose header has every column of its source', () => {
  const file = write('nana.csv', `${NANA_HEADER}\n${NANA_ROW}\n`);
  const checked = checkFile(file, 'nana.csv', 'nana', MAX_BYTES);
  assert.equal(checked.columns, NANA_HEADER.split(','));
  assert.equal(checked.canonical, NANA_HEADER.split(','));
  assert.is(checked.sizeBytes, fs.statSync(file).size);
});

test('file check › refuses a file over the size limit, saying both sizes', () => {
  const file = write('big.csv', `${NANA_HEADER}\n${NANA_ROW}\n`);
  const size = fs.statSync(file).size;
  const reason = refusal(file, { maxBytes: 100 });
  assert.is(reason, `file is ${size} bytes, over the 100 bytes limit`);
});

test('file check › accepts a file of exactly the size limit', () => {
  const file = write('exact.csv', `${NANA_HEADER}\n`);
  checkFile(file, 'exact.csv', 'nana', fs.statSync(file).size);
});

test('file check › refuses a file whose name is not .csv, whatever it holds', () => {
  const file = write('nana.txt', `${NANA_HEADER}\n${NANA_ROW}\n`);
  assert.match(refusal(file), 'not a CSV file');
  assert.match(refusal(write('nana', `${NANA_HEADER}\n`)), 'not a CSV file');
});

test('file check › accepts the .csv extension in any case', () => {
  const file = write('NANA.CSV', `${NANA_HEADER}\n`);
  checkFile(file, 'NANA.CSV', 'nana', MAX_BYTES);
});

test('file check › refuses a .csv holding binary data (NUL bytes)', () => {
  const file = write('export.csv', Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(16), Buffer.from(NANA_HEADER)]));
  assert.is(refusal(file), 'not a CSV file: it holds binary data');
});

test('file check › reads a UTF-16 export (Excel\'s "Unicode text", with its byte order mark), and stores it as UTF-8, Thai intact', async () => {
  const text = `${NANA_HEADER}\n,n5004,,นภา,ศรีสวัสดิ์,,,+66895550102,,\n`;
  const file = write('utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
  const checked = checkFile(file, 'utf16.csv', 'nana', MAX_BYTES);
  assert.equal([checked.encoding, checked.canonical], ['utf-16le', NANA_HEADER.split(',')]);
  const stored = await copied(file, 'utf16.csv', checked.encoding);
  assert.is(stored.toString('utf8'), text);
});

test('file check › refuses an empty file', () => {
  assert.is(refusal(write('empty.csv', '')), 'file is empty (expected a header line and rows)');
});

test('file check › refuses a header missing a required column, naming it', () => {
  const header = NANA_HEADER.replace(',force_create', '');
  const reason = refusal(write('missing.csv', `${header}\n`));
  assert.match(reason, 'header is missing required column force_create');
});

test('file check › refuses a header missing several columns, naming each', () => {
  const reason = refusal(write('missing2.csv', 'careos_cus_id,nana_cus_id,firstname,lastname,phone\n'));
  assert.match(reason, 'missing required columns gender, email, date_of_birth, company_name, force_create');
});

test('file check › refuses a header with an unknown column, naming it', () => {
  const reason = refusal(write('unknown.csv', `${NANA_HEADER},nickname\n`));
  assert.match(reason, 'header has unknown column "nickname"');
  assert.match(reason, 'accepted for Nana');
});

test("file check › refuses another source's file (a CareOS baseline imported as Nana)", () => {
  const reason = refusal(write('baseline.csv', `${CAREOS_HEADER}\nC0100001,Kanya,Rattanakul,0817771111,,F,\n`));
  assert.match(reason, 'header is missing required column');
  assert.match(reason, 'nana_cus_id');
});

test('file check › refuses a header that repeats a column', () => {
  assert.match(refusal(write('repeat.csv', `${NANA_HEADER},Phone\n`)), 'header repeats column "phone"');
});

test('file check › trims header names, ignores their case and a UTF-8 byte order mark', () => {
  const header = NANA_HEADER.split(',').map((name, i) => (i % 2 ? ` ${name.toUpperCase()} ` : `${name[0]!.toUpperCase()}${name.slice(1)}`)).join(',');
  const file = write('bom.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${header}\r\n${NANA_ROW}\r\n`)]));
  const checked = checkFile(file, 'bom.csv', 'nana', MAX_BYTES);
  assert.equal(checked.canonical, NANA_HEADER.split(','));
  assert.equal(checked.columns, header.split(',').map((name) => name.trim()), 'columns are kept as written, trimmed');
  assert.ok(!checked.columns[0]!.startsWith('\ufeff'), 'the byte order mark is not part of the first column');
});

test('file check › accepts a header whose names are quoted', () => {
  const header = NANA_HEADER.split(',').map((name) => `"${name}"`).join(',');
  assert.equal(checkFile(write('quoted.csv', `${header}\n`), 'quoted.csv', 'nana', MAX_BYTES).canonical, NANA_HEADER.split(','));
});

test('file check › reads a Thai Windows-874 (TIS-620) file, as Excel saves "CSV" on a Thai Windows, and stores it as UTF-8, Thai intact', async () => {
  const thai = 'นภา,ศรีสวัสดิ์';
  const bytes = Buffer.concat([Buffer.from(`${NANA_HEADER}\n,n5004,,`), encode874(thai), Buffer.from(',,,+66895550102,,\n')]);
  const file = write('tis620.csv', bytes);
  const checked = checkFile(file, 'tis620.csv', 'nana', MAX_BYTES);
  assert.is(checked.encoding, 'windows-874');
  const stored = await copied(file, 'tis620.csv', checked.encoding);
  assert.is(stored.toString('utf8'), `${NANA_HEADER}\n,n5004,,${thai},,,+66895550102,,\n`);
});

test('file check › refuses bytes that are neither UTF-8 nor Thai (Latin-1 "José"), saying how to save as CSV UTF-8', () => {
  const file = write('latin1.csv', Buffer.concat([Buffer.from(`${NANA_HEADER}\n,n5004,,Jos`), Buffer.from([0xe9]), Buffer.from(',x,,,+66895550102,,\n')]));
  assert.match(refusal(file), /^not UTF-8 nor Thai Windows-874 \(TIS-620\) text .*CSV UTF-8/);
});

test('file store › a file whose head is only ASCII is decided by its first other byte: Thai Windows-874 deeper in the file is read', async () => {
  const file = write('deep-874.csv', longFile(Buffer.concat([Buffer.from(',n9999,,'), encode874('สมชาย'), Buffer.from(',x,,,+66895550102,,\n')])));
  const checked = checkFile(file, 'deep-874.csv', 'nana', MAX_BYTES);
  assert.is(checked.encoding, 'ascii');
  const stored = await copied(file, 'deep-874.csv', checked.encoding);
  assert.match(stored.toString('utf8'), ',n9999,,สมชาย,x,');
});

test('file check › accepts a multi-byte character cut by the end of the head', () => {
  // Place "ภา" (3 bytes each) so that the head's last byte is inside a character.
  const lines = [NANA_HEADER];
  while (lines.join('\n').length < HEAD_BYTES - 200) lines.push(NANA_ROW);
  let text = `${lines.join('\n')}\n,n9999,,`;
  text += 'x'.repeat(HEAD_BYTES - 1 - Buffer.byteLength(text));
  text += 'ภา,ศรี,,,+66895550102,,\n';
  const buffer = Buffer.from(text);
  assert.is(buffer[HEAD_BYTES - 1], 0xe0, 'the head ends on the first byte of a Thai character');
  checkFile(write('cut.csv', buffer), 'cut.csv', 'nana', MAX_BYTES);
});

test('file store › refuses a file that starts as UTF-8 and has other bytes deeper, storing nothing', async () => {
  const utf8Head = Buffer.from(`${NANA_HEADER}\n,n5004,,นภา,ศรีสวัสดิ์,,,+66895550102,,\n`);
  const file = write('deep.csv', Buffer.concat([utf8Head, longFile(Buffer.concat([Buffer.from(',n9999,,'), Buffer.from([0xc3, 0x28]), Buffer.from(',x,,,+66895550102,,\n')])).subarray(NANA_HEADER.length + 1)]));
  assert.is(checkFile(file, 'deep.csv', 'nana', MAX_BYTES).encoding, 'utf-8'); // the head is fine
  assert.match(await storeRefusal(file, 'utf-8'), /^not decodable text: it starts as UTF-8 but later bytes are not; .*CSV UTF-8/);
});

test('file store › refuses a file that ends inside a character', async () => {
  const file = write('cut-end.csv', longFile(Buffer.from([0xe0, 0xb8])));
  assert.is(await storeRefusal(file), 'not decodable text: the file ends inside a character');
});

test('file store › a NUL byte in a row, deep in the file, is a value (its row is rejected when decided), not binary data: stored as it is', async () => {
  const content = longFile(Buffer.from(',n9999,,a\u0000b,x,,,+66895550102,,\n'));
  const file = write('deep-nul.csv', content);
  checkFile(file, 'deep-nul.csv', 'nana', MAX_BYTES);
  assert.ok((await copied(file, 'deep-nul.csv')).equals(content));
});

test('file check › a NUL byte in a row of the head is a value, not binary data; in the header line it is binary data', () => {
  checkFile(write('row-nul.csv', `${NANA_HEADER}\n,n5004,,Nul\u0000Byte,x,,,+66895550102,,\n`), 'row-nul.csv', 'nana', MAX_BYTES);
  assert.is(refusal(write('header-nul.csv', `careos_cus_id,nana\u0000cus_id\n${NANA_ROW}\n`)), 'not a CSV file: it holds binary data');
  const utf16 = write('utf16-nul.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${NANA_HEADER}\n,n5004,,Nul\u0000Byte,x,,,+66895550102,,\n`, 'utf16le')]));
  assert.is(checkFile(utf16, 'utf16-nul.csv', 'nana', MAX_BYTES).encoding, 'utf-16le');
});

test('file check › a UTF-16 file without its byte order mark is binary data (NUL bytes in its first line)', () => {
  assert.is(refusal(write('utf16-nobom.csv', Buffer.from(`${NANA_HEADER}\n${NANA_ROW}\n`, 'utf16le'))), 'not a CSV file: it holds binary data');
  assert.is(refusal(write('utf16be-nobom.csv', Buffer.from(`${NANA_HEADER}\n${NANA_ROW}\n`, 'utf16le').swap16())), 'not a CSV file: it holds binary data');
});

test('file check › a file name PostgreSQL cannot store (a lone surrogate) is refused with why', () => {
  const file = write('fine.csv', `${NANA_HEADER}\n${NANA_ROW}\n`);
  try {
    checkFile(file, 'half\ud800.csv', 'nana', MAX_BYTES);
    assert.unreachable('accepted');
  } catch (error) {
    assert.instance(error, FileRefused);
    assert.match((error as FileRefused).reason, /^the file name "half\\ud800.csv" holds half of a UTF-16 surrogate pair \(U\+D800/);
  }
});

test('file store › the copy of an accepted UTF-8 upload is the upload byte for byte', async () => {
  const content = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), longFile(Buffer.from(',n5004,,นภา,ศรีสวัสดิ์,,,+66895550102,,\n'))]);
  const file = write('good.csv', content);
  assert.ok((await copied(file, 'good.csv')).equals(content));
});

test.run();
