// RowReceived v2: a record that fits its import's columns is stored as values, any other whole;
// read back, every record is the one received, its keys in the same order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readRowReceived, recordKeys, storedRowReceived } from './row-received.ts';

const KEYS = recordKeys(['Careos_Cus_ID', 'nana_cus_id', 'gender']);

function roundTrip(record: Record<string, string>) {
  const stored = storedRowReceived('i', 'nana', 7, record, KEYS);
  const read = readRowReceived(stored, KEYS);
  assert.equal(Object.entries(read.record), Object.entries(record), 'read back as received, keys in order');
  assert.equal([read.importId, read.source, read.row], ['i', 'nana', 7]);
  return stored;
}

test('RowReceived v2 › a record with every column, in order, is stored as its values (the header lower-cased, not repeated)', () => {
  const stored = roundTrip({ careos_cus_id: '', nana_cus_id: 'n1,n2', gender: 'F' });
  assert.equal(stored.values, ['', 'n1,n2', 'F']);
  assert.is(stored.record, undefined);
});

test('RowReceived v2 › a row that ends early keeps the columns it has, as values', () => {
  assert.equal(roundTrip({ careos_cus_id: '', nana_cus_id: 'n1' }).values, ['', 'n1']);
  assert.equal(roundTrip({}).values, []);
});

test('RowReceived v2 › any other record is stored whole: values beyond the header, an unparsable row, a replay, keys out of order', () => {
  const records: Record<string, string>[] = [
    { careos_cus_id: '', nana_cus_id: 'n1', gender: 'F', _extra1: 'x' },
    { _unparsable: 'Invalid Closing Quote', _raw: 'a,"b"c\n' },
    { careos_cus_id: '', nana_cus_id: 'n1', gender: 'F', _replay_of: '01a0/4' },
    { nana_cus_id: 'n1', careos_cus_id: '' },
  ];
  for (const record of records) {
    const stored = roundTrip(record);
    assert.equal(stored.record, record);
    assert.is(stored.values, undefined);
  }
});

test('RowReceived v2 › values are never read without their import\'s columns, nor with fewer columns than values', () => {
  const stored = storedRowReceived('i', 'nana', 7, { careos_cus_id: '', nana_cus_id: 'n1' }, KEYS);
  assert.throws(() => readRowReceived(stored, undefined), /needs its import's columns/);
  assert.throws(() => readRowReceived(stored, ['careos_cus_id']), /2 values for 1 columns/);
});

test.run();
