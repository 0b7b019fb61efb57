// How the EventStoreDB adapter splits an append to stay under the server's append limit.
import crypto from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { APPEND_LIMIT_BYTES, EVENT_OVERHEAD_BYTES, chunkForAppend, eventAppendSize } from './eventstoredb.ts';
import type { NewEvent } from './types.ts';

/** EventStoreDB's default MaxAppendSize. */
const ONE_MIB = 1024 * 1024;

function event(textLength: number, type = 'RowReceived'): NewEvent {
  return {
    id: crypto.randomUUID(),
    type,
    data: { text: 'x'.repeat(textLength) },
    metadata: { by: 'unit', at: '2026-01-01T00:00:00.000Z' },
  };
}

/** Sizes that vary from event to event, the same every run. */
function events(n: number): NewEvent[] {
  return Array.from({ length: n }, (_, i) => event(((i * 7919) % 5000) + 1));
}

function chunkBytes(chunk: NewEvent[]): number {
  return chunk.reduce((sum, e) => sum + eventAppendSize(e), 0);
}

test('chunkForAppend › keeps every event exactly once, in order', () => {
  const input = events(700);
  const chunks = chunkForAppend(input, 64 * 1024);
  assert.ok(chunks.length > 1);
  assert.equal(chunks.flat().map((e) => e.id), input.map((e) => e.id));
  assert.ok(chunks.every((chunk) => chunk.length > 0), 'no empty chunk');
});

test('chunkForAppend › no chunk is over the limit when every event fits on its own', () => {
  const limit = 64 * 1024;
  for (const chunk of chunkForAppend(events(700), limit)) assert.ok(chunkBytes(chunk) <= limit);
});

test('chunkForAppend › a chunk is closed only when the next event would not fit', () => {
  const limit = 64 * 1024;
  const chunks = chunkForAppend(events(700), limit);
  for (let i = 0; i < chunks.length - 1; i++) {
    assert.ok(chunkBytes(chunks[i]!) + eventAppendSize(chunks[i + 1]![0]!) > limit);
  }
});

test('chunkForAppend › boundaries depend only on the events, so a retry splits identically', () => {
  const input = events(700);
  const first = chunkForAppend(input, 64 * 1024);
  const retry = chunkForAppend(structuredClone(input), 64 * 1024);
  assert.equal(retry.map((chunk) => chunk.map((e) => e.id)), first.map((chunk) => chunk.map((e) => e.id)));
});

test('chunkForAppend › an event larger than the limit stands alone (EventStoreDB will refuse it)', () => {
  const limit = 16 * 1024;
  const huge = event(limit * 2);
  const input = [event(10), event(10), huge, event(10)];
  const chunks = chunkForAppend(input, limit);
  assert.equal(chunks.map((chunk) => chunk.length), [2, 1, 1]);
  assert.is(chunks[1]![0], huge);
});

test('chunkForAppend › nothing to append gives no chunk', () => {
  assert.equal(chunkForAppend([]), []);
});

test('chunkForAppend › the default limit keeps a 2.5 MB append in chunks under 1 MiB', () => {
  const input = Array.from({ length: 600 }, () => event(4000, 'Big'));
  const chunks = chunkForAppend(input);
  assert.ok(chunks.length >= 3);
  assert.ok(APPEND_LIMIT_BYTES < ONE_MIB);
  for (const chunk of chunks) assert.ok(chunkBytes(chunk) <= APPEND_LIMIT_BYTES);
});

test('eventAppendSize › counts UTF-8 bytes of data and metadata, the type twice, and the allowance', () => {
  const e: NewEvent = { id: crypto.randomUUID(), type: 'Typ', data: 'é', metadata: null };
  // "é" as JSON is 4 bytes ("" plus 2 bytes), null is 4 bytes, the type 3 bytes counted twice.
  assert.is(eventAppendSize(e), 4 + 4 + 6 + EVENT_OVERHEAD_BYTES);
  assert.is(eventAppendSize({ ...e, data: undefined }), 4 + 4 + 6 + EVENT_OVERHEAD_BYTES);
});

test.run();
