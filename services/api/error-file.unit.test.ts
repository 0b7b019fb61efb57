// Answers written a page at a time (an import's rejected rows as JSON) read exactly as one
// JSON.stringify of all of them would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { jsonArray } from './error-file.ts';

async function text<T>(pages: T[][]): Promise<{ text: string; chunks: number }> {
  async function* source() {
    for (const page of pages) yield page;
  }
  let out = '';
  let chunks = 0;
  for await (const chunk of jsonArray(source())) {
    out += chunk;
    chunks++;
  }
  return { text: out, chunks };
}

test('json array › pages written one at a time read as JSON.stringify of every item, empty pages and Thai text included', async () => {
  const rows = Array.from({ length: 7 }, (_, i) => ({
    row: i + 1, record: { firstname: i % 2 ? 'สมชาย' : 'Wichai "W"', phone: '' }, reasons: [{ field: 'phone', code: 'required', message: 'phone\nis required' }],
    replayOf: i === 3 ? { importId: 'a', row: 1 } : null, gone: undefined,
  }));
  const { text: written, chunks } = await text([rows.slice(0, 3), [], rows.slice(3, 4), rows.slice(4)]);
  assert.is(written, JSON.stringify(rows));
  assert.equal(JSON.parse(written), JSON.parse(JSON.stringify(rows)));
  assert.is(chunks, 5, 'an opening bracket, one chunk per non-empty page, a closing bracket');
});

test('json array › no rows is an empty array', async () => {
  assert.is((await text([])).text, '[]');
  assert.is((await text([[], []])).text, '[]');
});

test.run();
