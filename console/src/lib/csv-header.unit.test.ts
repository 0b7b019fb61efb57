// The browser's header check says what the server's says: same CSV parsing of the header line
// (compared with csv-parse, the server's parser), same refusals, and only the file's head is read.
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { test } from 'uvu';
import { FILE_SOURCES } from '../../../schemas/api.ts';
import { HEAD_BYTES, checkFile, parseCsvLine } from './csv-header.ts';

const nana = FILE_SOURCES.find((s) => s.name === 'nana')!;
const careos = FILE_SOURCES.find((s) => s.name === 'careos')!;
const NANA_HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
const MB = 1024 * 1024;

test('csv header › cells are parsed as the server parses them, quotes included', () => {
  for (const line of ['a,b,c', '"a","b,c",d', '"say ""hi""",x', ',,', 'a', '"",b', ' a , b ', 'ไทย,"ชื่อ, นามสกุล"']) {
    assert.deepEqual(parseCsvLine(line), (parse(line, { relax_quotes: false }) as string[][])[0], line);
  }
  assert.throws(() => parseCsvLine('"a,b'), /not closed/);
  assert.throws(() => parseCsvLine('a"b,c'), /quote inside an unquoted cell/);
  assert.throws(() => parseCsvLine('"a"b,c'), /after a closing quote/);
});

test('csv header › a good file passes for its source, in any column order and letter case, BOM and CRLF too', async () => {
  const file = new File([`\uFEFF${NANA_HEADER.toUpperCase()}\r\n,n1,F,A,B,,,0812345678,,\r\n`], 'nana.csv');
  assert.deepEqual(await checkFile(file, nana, MB), { ok: true, columns: NANA_HEADER.toUpperCase().split(',') });
  const reordered = new File([`phone,firstname,lastname,careos_cus_id,email,gender,date_of_birth\n`], 'x.CSV');
  assert.equal((await checkFile(reordered, careos, MB)).ok, true);
});

test('csv header › refusals: wrong header for the source, size, type, empty, binary, encoding', async () => {
  const wrong = await checkFile(new File(['name,phone\nA,0812345678\n'], 'people.csv'), nana, MB);
  assert.equal(wrong.ok, false);
  assert.match(wrong.problem!, /^header has unknown column "name"/);
  assert.match((await checkFile(new File([`${NANA_HEADER}\n`], 'nana.csv'), careos, MB)).problem!, /unknown columns "nana_cus_id", "company_name", "force_create"/);
  assert.match((await checkFile(new File(['x'.repeat(2048)], 'big.csv'), nana, 1024)).problem!, /^file is 2 KB, over the 1 KB limit$/);
  assert.match((await checkFile(new File([`${NANA_HEADER}\n`], 'nana.xlsx'), nana, MB)).problem!, /^not a CSV file/);
  assert.match((await checkFile(new File([], 'empty.csv'), nana, MB)).problem!, /^file is empty/);
  assert.match((await checkFile(new File([new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00])], 'zip.csv'), nana, MB)).problem!, /binary data/);
  assert.match((await checkFile(new File([new Uint8Array([0x61, 0xff, 0x62, 0x0a])], 'latin1.csv'), nana, MB)).problem!, /^not UTF-8 nor Thai Windows-874 \(TIS-620\) text .*CSV UTF-8/);
  assert.match((await checkFile(new File([`${NANA_HEADER},"open\n`], 'q.csv'), nana, MB)).problem!, /^header line is not valid CSV/);
  assert.match((await checkFile(new File([`${NANA_HEADER},${NANA_HEADER}\n`], 'dup.csv'), nana, MB)).problem!, /repeats column "careos_cus_id"/);
});

test('csv header › a Thai Windows-874 file and a UTF-16 export pass, as they do on the server', async () => {
  // "นภา" in Windows-874 in a row after the header.
  const thai874 = new Uint8Array([...new TextEncoder().encode(`${NANA_HEADER}\n,n1,,`), 0xb9, 0xc0, 0xd2, ...new TextEncoder().encode(',x,,,0812345678,,\n')]);
  assert.equal((await checkFile(new File([thai874], 'thai.csv'), nana, MB)).ok, true);
  const utf16 = new Uint8Array([0xff, 0xfe, ...[...`${NANA_HEADER}\n`].flatMap((c) => [c.charCodeAt(0), 0])]);
  const checked = await checkFile(new File([utf16], 'unicode.csv'), nana, MB);
  assert.deepEqual([checked.ok, checked.columns?.length], [true, 10]);
});

test('csv header › only the first 64 KB are read, whatever the file size', async () => {
  const body = new Blob([`${NANA_HEADER}\n`, 'x'.repeat(8 * MB)]);
  let sliced: [number | undefined, number | undefined] | null = null;
  let wholeRead = false;
  const file = new File([body], 'big.csv');
  const spy = {
    name: file.name,
    size: file.size,
    slice(start?: number, end?: number) {
      sliced = [start, end];
      return file.slice(start, end);
    },
    arrayBuffer() {
      wholeRead = true;
      return file.arrayBuffer();
    },
    text() {
      wholeRead = true;
      return file.text();
    },
  } as unknown as File;
  assert.equal((await checkFile(spy, nana, 16 * MB)).ok, true);
  assert.deepEqual(sliced, [0, HEAD_BYTES]);
  assert.equal(wholeRead, false);
  // A first line longer than the head is refused, as the server refuses it.
  const long = new File(['a'.repeat(HEAD_BYTES + 10), '\n'], 'long.csv');
  assert.match((await checkFile(long, nana, MB)).problem!, /longer than 64 KB/);
});

test.run();
