// The event store contract: one suite, run against every adapter (postgres.int.test.ts,
// eventstoredb.int.test.ts). An adapter that passes it can carry the importer.
import crypto from 'node:crypto';
import type pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventStore, NewEvent, Position, RecordedEvent } from './types.ts';
import { START, WrongExpectedRevision, comparePositions } from './types.ts';

export interface ContractContext {
  store: EventStore;
  /** PostgreSQL the adapter commits its callbacks to. */
  pool: pg.Pool;
  cleanup(): Promise<void>;
}

function events(n: number, type = 'Thing', size = 10): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: crypto.randomUUID(),
    type,
    data: { n: i, text: 'x'.repeat(size), quote: 'back\\slash "quote"\ttab\nline' },
    metadata: { by: 'contract', at: '2026-01-01T00:00:00.000Z' },
  }));
}

function uniqueStream(prefix: string): string {
  return `${prefix}-${crypto.randomBytes(6).toString('hex')}`;
}

/** Reads $all to its end, page by page, as a subscriber does. */
async function readToEnd(store: EventStore, options: { types?: string[]; maxCount?: number } = {}, from: Position = START): Promise<RecordedEvent[]> {
  const found: RecordedEvent[] = [];
  let after = from;
  for (;;) {
    const page = await store.readAll(after, { maxCount: options.maxCount ?? 500, types: options.types });
    found.push(...page.events);
    if (page.events.length === 0 && comparePositions(page.position, after) === 0) return found;
    after = page.position;
  }
}

async function readAllOf(store: EventStore, streamIds: string[]): Promise<RecordedEvent[]> {
  return (await readToEnd(store)).filter((event) => streamIds.includes(event.streamId));
}

export function eventStoreContract(name: string, open: () => Promise<ContractContext>) {
  const test = suite<{ ctx?: ContractContext }>(`event store contract › ${name}`, {});
  test.before.each(async (context) => {
    context.ctx = await open();
  });
  test.after.each(async (context) => {
    await context.ctx?.cleanup();
  });

  test('appends to a new stream and reads it back in order from revision 0', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('import');
    const written = events(5);
    const result = await store.append({ streamId: stream, events: written, expectedRevision: 'no_stream' });
    assert.is(result.nextExpectedRevision, 4n);
    const read = await store.readStream(stream);
    assert.equal(read.map((e) => e.id), written.map((e) => e.id));
    assert.equal(read.map((e) => e.revision), [0n, 1n, 2n, 3n, 4n]);
    assert.equal(read[2]!.data, written[2]!.data);
    assert.equal(read[2]!.metadata, written[2]!.metadata);
    assert.is(await store.streamRevision(stream), 4n);
    const tail = await store.readStream(stream, { fromRevision: 3n });
    assert.equal(tail.map((e) => e.revision), [3n, 4n]);
  });

  test('reads a stream page by page: maxCount events from fromRevision, the last page shorter, none past the end', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('import');
    const written = events(7);
    await store.append({ streamId: stream, events: written, expectedRevision: 'no_stream' });
    const pages: bigint[][] = [];
    for (let from = 0n; from <= 7n; from += 3n) pages.push((await store.readStream(stream, { fromRevision: from, maxCount: 3 })).map((e) => e.revision));
    assert.equal(pages, [[0n, 1n, 2n], [3n, 4n, 5n], [6n]]);
    assert.equal(await store.readStream(stream, { fromRevision: 7n, maxCount: 3 }), []);
    assert.equal((await store.readStream(stream, { fromRevision: 5n })).map((e) => e.id), written.slice(5).map((e) => e.id));
  });

  test('reports no revision for a stream that does not exist', async ({ ctx }) => {
    assert.is(await ctx!.store.streamRevision(uniqueStream('missing')), null);
    assert.equal(await ctx!.store.readStream(uniqueStream('missing')), []);
  });

  test('refuses an append whose expected revision is not the stream revision', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('import');
    await store.append({ streamId: stream, events: events(2), expectedRevision: 'no_stream' });
    for (const expected of ['no_stream', 0n, 5n] as const) {
      try {
        await store.append({ streamId: stream, events: events(1), expectedRevision: expected });
        assert.unreachable(`append with expected ${String(expected)} should fail`);
      } catch (error) {
        assert.instance(error, WrongExpectedRevision);
      }
    }
    assert.is(await store.streamRevision(stream), 1n);
  });

  test('re-appending the same event ids at the same expected revision writes nothing', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('import');
    const first = events(3);
    const second = events(2);
    await store.append({ streamId: stream, events: first, expectedRevision: 'no_stream' });
    const once = await store.append({ streamId: stream, events: second, expectedRevision: 2n });
    const again = await store.append({ streamId: stream, events: second, expectedRevision: 2n });
    const firstAgain = await store.append({ streamId: stream, events: first, expectedRevision: 'no_stream' });
    assert.is(again.nextExpectedRevision, 4n);
    assert.is(comparePositions(once.position, again.position), 0);
    assert.is(firstAgain.nextExpectedRevision, 2n);
    const read = await store.readStream(stream);
    assert.is(read.length, 5);
  });

  test('a retry whose head is already stored appends only the rest', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('outcome');
    const batch = events(5);
    await store.append({ streamId: stream, events: batch.slice(0, 3), expectedRevision: 'no_stream' });
    const result = await store.append({ streamId: stream, events: batch, expectedRevision: 'no_stream' });
    assert.is(result.nextExpectedRevision, 4n);
    const shorter = await store.append({ streamId: stream, events: batch.slice(0, 2), expectedRevision: 'no_stream' });
    assert.is(shorter.nextExpectedRevision, 1n);
    assert.equal((await store.readStream(stream)).map((e) => e.id), batch.map((e) => e.id));
  });

  test('other events at a stale expected revision are refused, not added', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('import');
    await store.append({ streamId: stream, events: events(3), expectedRevision: 'no_stream' });
    try {
      await store.append({ streamId: stream, events: events(3), expectedRevision: 'no_stream' });
      assert.unreachable('should fail');
    } catch (error) {
      assert.instance(error, WrongExpectedRevision);
    }
    assert.is((await store.readStream(stream)).length, 3);
  });

  test('readAll returns every stream in global order, strictly after a position, filtered by type', async ({ ctx }) => {
    const { store } = ctx!;
    const a = uniqueStream('a');
    const b = uniqueStream('b');
    const ra = await store.append({ streamId: a, events: events(3, 'Alpha'), expectedRevision: 'no_stream' });
    await store.append({ streamId: b, events: events(2, 'Beta'), expectedRevision: 'no_stream' });
    await store.append({ streamId: a, events: events(1, 'Beta'), expectedRevision: 2n });
    const all = await readAllOf(store, [a, b]);
    assert.equal(all.map((e) => `${e.streamId === a ? 'a' : 'b'}${e.revision}`), ['a0', 'a1', 'a2', 'b0', 'b1', 'a3']);
    for (let i = 1; i < all.length; i++) assert.ok(comparePositions(all[i - 1]!.position, all[i]!.position) < 0);
    const after = (await store.readAll(ra.position, { maxCount: 100 })).events;
    const mine = after.filter((e) => e.streamId === a || e.streamId === b);
    assert.equal(mine.map((e) => `${e.streamId === a ? 'a' : 'b'}${e.revision}`), ['b0', 'b1', 'a3']);
    const betas = (await readToEnd(store, { types: ['Beta'], maxCount: 10_000 })).filter((e) => e.streamId === a || e.streamId === b);
    assert.equal(betas.map((e) => e.type), ['Beta', 'Beta', 'Beta']);
    const page = await store.readAll(START, { maxCount: 2 });
    assert.is(page.events.length, 2);
    assert.is(comparePositions(page.position, page.events[1]!.position), 0);
  });

  test('headPosition is at or after the last event written, and a read after it finds nothing of it', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('head');
    const written = await store.append({ streamId: stream, events: events(3, 'Head'), expectedRevision: 'no_stream' });
    const head = await store.headPosition();
    assert.ok(comparePositions(head, written.position) >= 0, 'the head is not before the last event written');
    const after = (await readToEnd(store, { types: ['Head'], maxCount: 1000 }, head)).filter((e) => e.streamId === stream);
    assert.equal(after, []);
  });

  test('a filtered read moves past events of other types and says when it is caught up', async ({ ctx }) => {
    const { store } = ctx!;
    const noise = uniqueStream('noise');
    const wanted = uniqueStream('wanted');
    const type = `Wanted${crypto.randomBytes(4).toString('hex')}`;
    await store.append({ streamId: noise, events: events(5000, 'Noise', 1), expectedRevision: 'no_stream' });
    await store.append({ streamId: wanted, events: events(2, type), expectedRevision: 'no_stream' });
    let after = START;
    const found: RecordedEvent[] = [];
    let reads = 0;
    for (;;) {
      const page = await store.readAll(after, { maxCount: 10, types: [type] });
      reads++;
      found.push(...page.events);
      assert.ok(comparePositions(page.position, after) >= 0, 'the position never goes back');
      if (page.events.length === 0 && comparePositions(page.position, after) === 0) break;
      after = page.position;
    }
    assert.equal(found.map((e) => e.streamId), [wanted, wanted]);
    assert.ok(reads > 1, 'a bounded scan per read');
    const again = await store.readAll(after, { maxCount: 10, types: [type] });
    assert.equal(again.events, []);
    assert.is(comparePositions(again.position, after), 0);
  });

  test('appendMany appends to several streams and runs the commit callback', async ({ ctx }) => {
    const { store, pool } = ctx!;
    await pool.query('create table if not exists contract_state (k text primary key, v text)');
    const a = uniqueStream('a');
    const b = uniqueStream('b');
    const results = await store.appendMany(
      [
        { streamId: a, events: events(2), expectedRevision: 'no_stream' },
        { streamId: b, events: events(1), expectedRevision: 'no_stream' },
      ],
      async (client) => {
        await client.query('insert into contract_state (k, v) values ($1, $2)', [a, 'done']);
      },
    );
    assert.equal(results.map((r) => r.nextExpectedRevision), [1n, 0n]);
    const { rows } = await pool.query('select v from contract_state where k = $1', [a]);
    assert.equal(rows, [{ v: 'done' }]);
  });

  test('an append with positions reports each event where $all has it, also when it is a retry', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('positioned');
    const batch = events(5);
    const positionsInAll = async () => {
      const found = await readAllOf(store, [stream]);
      return found.map((e) => `${e.position.commit}/${e.position.prepare}`);
    };
    const head = await store.append({ streamId: stream, events: batch.slice(0, 2), expectedRevision: 'no_stream', withPositions: true });
    assert.equal(head.positions!.map((p) => `${p.commit}/${p.prepare}`), await positionsInAll());
    // A retry of a longer append whose head is stored: positions of the stored head and of the rest.
    const all = await store.append({ streamId: stream, events: batch, expectedRevision: 'no_stream', withPositions: true });
    const expected = await positionsInAll();
    assert.is(expected.length, 5);
    assert.equal(all.positions!.map((p) => `${p.commit}/${p.prepare}`), expected);
    assert.is(comparePositions(all.position, all.positions![4]!), 0);
    // The same append once more: nothing is written, the same positions come back.
    const again = await store.append({ streamId: stream, events: batch, expectedRevision: 'no_stream', withPositions: true });
    assert.equal(again.positions!.map((p) => `${p.commit}/${p.prepare}`), expected);
    for (let i = 1; i < 5; i++) assert.ok(comparePositions(all.positions![i - 1]!, all.positions![i]!) < 0, 'in stream order');
  });

  test('a retry after a failed commit callback leaves every event exactly once', async ({ ctx }) => {
    const { store, pool } = ctx!;
    await pool.query('create table if not exists contract_state (k text primary key, v text)');
    const stream = uniqueStream('outcome');
    const batch = events(4);
    try {
      await store.appendMany([{ streamId: stream, events: batch, expectedRevision: 'no_stream' }], async () => {
        throw new Error('crash before the checkpoint');
      });
      assert.unreachable('should fail');
    } catch (error) {
      assert.is((error as Error).message, 'crash before the checkpoint');
    }
    await store.appendMany([{ streamId: stream, events: batch, expectedRevision: 'no_stream' }], async (client) => {
      await client.query('insert into contract_state (k, v) values ($1, $2)', [stream, 'ok']);
    });
    const read = await store.readStream(stream);
    assert.equal(read.map((e) => e.id), batch.map((e) => e.id));
  });

  test('an append larger than 1 MiB is stored whole and in order', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('import');
    const big = events(600, 'Big', 4000);
    const result = await store.append({ streamId: stream, events: big, expectedRevision: 'no_stream' });
    assert.is(result.nextExpectedRevision, 599n);
    const again = await store.append({ streamId: stream, events: big, expectedRevision: 'no_stream' });
    assert.is(again.nextExpectedRevision, 599n);
    const read = await store.readStream(stream);
    assert.equal(read.map((e) => e.id), big.map((e) => e.id));
  });

  test('subscribeToAll delivers events appended after it started', async ({ ctx }) => {
    const { store } = ctx!;
    const stream = uniqueStream('live');
    let from = START;
    for (;;) {
      const page = await store.readAll(from, { maxCount: 10_000 });
      if (comparePositions(page.position, from) === 0) break;
      from = page.position;
    }
    const controller = new AbortController();
    const seen: RecordedEvent[] = [];
    const done = (async () => {
      for await (const batch of store.subscribeToAll(from, { maxCount: 100, signal: controller.signal, idleMs: 20 })) {
        seen.push(...batch.filter((e) => e.streamId === stream));
        if (seen.length >= 3) controller.abort();
      }
    })();
    await store.append({ streamId: stream, events: events(2), expectedRevision: 'no_stream' });
    await store.append({ streamId: stream, events: events(1), expectedRevision: 1n });
    await done;
    assert.equal(seen.map((e) => e.revision), [0n, 1n, 2n]);
  });

  return test;
}
