// A CSV file's rows as the reader appends them: every part of the file accounted for, in file
// order, and a resumed reader given exactly the rows after the last one stored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import assert from 'node:assert/strict';
import { CsvFileRows } from './row-source.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-rows-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function rowsOf(text: string, after = 0): Promise<Record<string, string>[]> {
  const file = path.join(dir, `f${Math.random().toString(36).slice(2)}.csv`);
  fs.writeFileSync(file, text);
  const rows: Record<string, string>[] = [];
  for await (const row of new CsvFileRows(() => fs.createReadStream(file), ['A', 'b']).rows(after)) rows.push(row);
  return rows;
}

const BROKEN = 'a,b\n1,2\n3,4\n"5,6\n7,8\n';

test('rows › a record that cannot be parsed comes in its place, after the rows before it, with its text as written', async () => {
  const rows = await rowsOf(BROKEN);
  assert.deepEqual(rows.slice(0, 2), [{ a: '1', b: '2' }, { a: '3', b: '4' }]);
  assert.equal(rows.length, 3);
  assert.match(rows[2]!._unparsable!, /Quote Not Closed/);
  assert.equal(rows[2]!._raw, '"5,6\n7,8\n');
});

test('rows › a resumed read yields exactly the rows after the last one stored, the unparsable one included', async () => {
  const all = await rowsOf(BROKEN);
  for (const after of [0, 1, 2, 3]) assert.deepEqual(await rowsOf(BROKEN, after), all.slice(after), `after ${after}`);
});

test('rows › an unparsable first record comes first; values past the header are _extra1, _extra2', async () => {
  const rows = await rowsOf('a,b\n"1,2\n');
  assert.equal(rows.length, 1);
  assert.match(rows[0]!._unparsable!, /Quote Not Closed/);
  assert.deepEqual(await rowsOf('a,b\n1,2,3,4\n5\n'), [{ a: '1', b: '2', _extra1: '3', _extra2: '4' }, { a: '5' }]);
});

test.run();
