// The intake thread hands the processor each prepared batch as one JSON text (encodeBatch).
import { test } from 'uvu';
import assert from 'node:assert/strict';
import { checkRow } from './decide.ts';
import { decodeBatch, encodeBatch, type PreparedBatch } from './intake.ts';
import type { ImporterEvent } from '../events/types.ts';

const importId = '01a22f1a-1ab4-7ee9-8730-a3b7ec18a714';
const at = '2026-12-01T01:00:00.000Z';
const columns = ['careos_cus_id', 'nana_cus_id', 'gender', 'firstname', 'lastname', 'email', 'date_of_birth', 'phone', 'company_name', 'force_create'];

function received(row: number, values: string[]): ImporterEvent {
  const record = Object.fromEntries(columns.map((column, i) => [column, values[i] ?? '']));
  return { type: 'RowReceived', data: { importId, source: 'nana', row, record }, metadata: { by: 'admin@example.com', at, importId, row, v: 1 } } as ImporterEvent;
}

test('intake › a batch crosses to the processor as it was prepared: events, positions past 2^53, checks valid and not', () => {
  const rows = [
    received(1, ['', 'N1,N2', 'F', 'สมหญิง', 'ใจดี', 'a@example.com', '1990-05-01', '081-234-5678, +66 2 123 4567', '"Rabbit Care Co., Ltd."', '']),
    received(2, ['', 'N3', 'X', 'Tab\there', 'Line\nbreak "quoted" \\ back', 'not-an-email', '2533-05-01', '12', '', 'maybe']),
    { ...received(3, []), data: { importId, source: 'nana', row: 3, record: { _unparsable: 'Quote Not Closed', _raw: '"open,\n' } } } as ImporterEvent,
  ];
  const started = { type: 'ImportFileRead', data: { importId, totalRows: 3 }, metadata: { by: 'admin@example.com', at, importId, v: 1 } } as ImporterEvent;
  const big = 2n ** 63n - 5n;
  const batch: PreparedBatch = {
    position: { commit: big, prepare: big + 3n },
    events: [...rows, started].map((event, i) => ({ event, position: { commit: big, prepare: big + BigInt(i) } })),
    checked: rows.map((event) => checkRow(event as Parameters<typeof checkRow>[0])),
  };
  assert.equal(batch.checked[0]!.ok, true);
  assert.equal(batch.checked[1]!.ok, false);
  const text = encodeBatch(batch);
  assert.equal(typeof text, 'string');
  assert.deepEqual(decodeBatch(text), batch);
});

test('intake › an empty batch (nothing new after a position) crosses as empty, position kept', () => {
  const batch: PreparedBatch = { position: { commit: 0n, prepare: 0n }, events: [], checked: [] };
  assert.deepEqual(decodeBatch(encodeBatch(batch)), batch);
});

test.run();
