// Event ids and new CareOS ids are derived, so they are a contract across versions: a retried
// append after an upgrade must produce the same ids as before it.
import crypto from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventId, newCareosId, uuidV5 } from './ids.ts';

const IMPORT = '0190a0e0-0000-7000-8000-000000000000';

/** RFC 9562 §5.5 done the plain way, to check the fast one against. */
function referenceUuidV5(name: string): string {
  const namespace = Buffer.from('5b0c9e1e8f2a4c7d9a6e3f1b2c4d5e6f', 'hex');
  const hash = crypto.createHash('sha1').update(namespace).update(name).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

test('ids › event and profile ids never change for the same import, row and kind', () => {
  assert.is(eventId(IMPORT, 1, 'received'), 'e9e863bd-3037-5959-ae4e-ed4541ab484b');
  assert.is(newCareosId(IMPORT, 42), '49ace5de-ed6c-5056-89b8-86735af173a6');
  assert.is(eventId(IMPORT, 7, 'unlink:น้ำ-5001'), '83d571ec-f32a-51bc-93a5-324a1e4670a5');
});

test('ids › uuidV5 is RFC 9562 version 5 for short, long and non-ASCII names', () => {
  // Names of the same length one after another (the scratch buffer's view is reused), and names
  // near and past the scratch buffer's size.
  const names = ['', 'a', 'b', `${IMPORT}/999999/link`, `${IMPORT}/999998/link`, 'ไทย'.repeat(10), 'x'.repeat(336), 'y'.repeat(337), 'x'.repeat(1000), 'ก'.repeat(400)];
  for (const name of names) {
    const id = uuidV5(name);
    assert.is(id, referenceUuidV5(name), `name of ${name.length} characters`);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});

test.run();
