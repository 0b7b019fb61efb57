// The default event store: events kept in the same PostgreSQL as the read models.
//
// Late commits: positions come from a sequence, handed out before commit, so commits land out
// of order. Every event records its writing transaction's id (xid8) and readers only read events
// of transactions older than the oldest one still running (pg_snapshot_xmin), in
// (transaction id, position) order. Everything below that horizon is final, so a checkpoint
// (commit = xid, prepare = position) can never be overtaken by a late commit.
//
// Streams: (stream_id, revision) is unique; revision = previous + 1 is checked inside the
// appending transaction, and the unique index turns a racing writer into WrongExpectedRevision.
import pg from 'pg';
import { CopyTextWriter, copyIn, escapeCopyText } from '../db/copy-text.ts';
import type {
  AppendResult, EventStore, ExpectedRevision, NewEvent, Position, ReadAllOptions, ReadAllPage, RecordedEvent,
  StreamAppend, SubscribeOptions,
} from './types.ts';
import { START, WrongExpectedRevision, comparePositions } from './types.ts';
import { withLock } from '../db/locks.ts';

/**
 * The event types es_events_input indexes: the processor's input (services/processor/intake.ts),
 * read page by page while an import runs. A readAll of only these types walks that index.
 */
export const INDEXED_TYPES: readonly string[] = ['ImportStarted', 'RowReceived', 'ImportFileRead', 'RevertRequested'];

/** INDEXED_TYPES as an SQL list, for the index's predicate and the query that must match it. */
const INDEXED_TYPE_LIST = INDEXED_TYPES.map((type) => `'${type}'`).join(', ');

/** A filtered readAll looks at up to this many times maxCount events. */
const SCAN_FACTOR = 4;

export const EVENT_STORE_DDL = `
create sequence if not exists es_position as bigint;
create table if not exists es_events (
  transaction_id xid8 not null default pg_current_xact_id(),
  position bigint not null default nextval('es_position'),
  stream_id text not null,
  revision bigint not null,
  event_id uuid not null,
  type text not null,
  -- JSON text, checked against schemas/ by the application when written and when read;
  -- stored as text so PostgreSQL does not parse it a second time (query it with data::jsonb).
  data text not null,
  metadata text not null,
  primary key (transaction_id, position)
);
create unique index if not exists es_events_stream_revision on es_events (stream_id, revision);
-- The processor reads only its input types, which a running import interleaves with ~1.5 times as
-- many outcome events: walked through this index, a page of input touches only input rows.
create index if not exists es_events_input on es_events (transaction_id, position)
  where type in (${INDEXED_TYPE_LIST});
-- A page of input events in global order, below the horizon (see readAll). The plan is pinned to
-- walking es_events_input in order and stopping at the limit: with statistics that lag a growing
-- table, the planner would otherwise fetch and sort every row after a checkpoint far behind.
create or replace function es_read_input(after_commit xid8, after_position bigint, max_count integer, wanted text[])
  returns setof es_events language sql stable
  set enable_seqscan = off set enable_bitmapscan = off set enable_sort = off
as $$
  select * from es_events
   where (transaction_id, position) > (after_commit, after_position)
     and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     and type in (${INDEXED_TYPE_LIST})
     and type = any(wanted)
   order by transaction_id, position
   limit max_count
$$;
`;

/** A page of a stream: $1 stream, $2 first revision, $3 at most this many events. */
export const READ_STREAM_SQL = `select transaction_id::text, position, stream_id, revision, event_id, type, data, metadata
  from es_events where stream_id = $1 and revision >= $2 and revision < $2 + $3 order by revision`;

/** Appends of at most this many events use one multi-row INSERT; larger ones use COPY. */
const COPY_THRESHOLD = 64;

interface EventRow {
  transaction_id: string;
  position: number;
  stream_id: string;
  revision: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    streamId: row.stream_id,
    revision: BigInt(row.revision),
    position: { commit: BigInt(row.transaction_id), prepare: BigInt(row.position) },
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
  };
}

async function currentRevision(client: pg.ClientBase, streamId: string): Promise<bigint | null> {
  const { rows } = await client.query<{ revision: number | null }>(
    'select max(revision) as revision from es_events where stream_id = $1',
    [streamId],
  );
  const revision = rows[0]?.revision;
  return revision === null || revision === undefined ? null : BigInt(revision);
}

/**
 * Idempotency beyond the expected revision: compares the events already stored right after
 * `expected` with the ones being appended. When they are the same ids (a retry after a crash),
 * returns how many of them are stored; any other event there means a real conflict (null).
 */
async function storedPrefix(
  client: pg.ClientBase,
  streamId: string,
  expected: bigint | 'no_stream',
  events: NewEvent[],
): Promise<{ count: number; last: AppendResult | null; positions: Position[] } | null> {
  if (events.length === 0) return null;
  const first = expected === 'no_stream' ? 0n : expected + 1n;
  const { rows } = await client.query<{ event_id: string; revision: number; transaction_id: string; position: number }>(
    // Revisions are dense (0, 1, 2, ...), so a page is a bounded range (see readStream).
    `select event_id, revision, transaction_id::text, position from es_events
      where stream_id = $1 and revision >= $2 and revision < $2 + $3 order by revision`,
    [streamId, String(first), events.length],
  );
  if (rows.length === 0) return null;
  for (let i = 0; i < rows.length; i++) if (rows[i]!.event_id !== events[i]!.id) return null;
  const positions = rows.map((r) => ({ commit: BigInt(r.transaction_id), prepare: BigInt(r.position) }));
  const last = rows[rows.length - 1]!;
  return {
    count: rows.length,
    positions,
    last: { nextExpectedRevision: BigInt(last.revision), position: positions[positions.length - 1]! },
  };
}

/**
 * Writes events at the given revisions. With `positions` (taken from the sequence beforehand, in
 * order) each event gets its own; otherwise the column default hands them out. Small appends are
 * one multi-row INSERT, larger ones one COPY.
 */
async function insertEvents(client: pg.ClientBase, streamId: string, firstRevision: bigint, events: NewEvent[], positions?: bigint[]): Promise<void> {
  if (!positions && events.length <= COPY_THRESHOLD) {
    const values: unknown[] = [];
    const tuples: string[] = [];
    events.forEach((event, i) => {
      const n = i * 6;
      tuples.push(`($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6})`);
      values.push(streamId, String(firstRevision + BigInt(i)), event.id, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata));
    });
    await client.query(
      `insert into es_events (stream_id, revision, event_id, type, data, metadata) values ${tuples.join(', ')}`,
      values,
    );
    return;
  }
  const writer = new CopyTextWriter();
  const streamText = escapeCopyText(streamId);
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    writer.plain(streamText).plain(firstRevision + BigInt(i)).plain(event.id).text(event.type).json(event.data).json(event.metadata);
    if (positions) writer.plain(positions[i]!);
    writer.endRow();
  }
  await copyIn(client, 'es_events', `stream_id, revision, event_id, type, data, metadata${positions ? ', position' : ''}`, writer);
}

async function appendInTransaction(client: pg.ClientBase, append: StreamAppend): Promise<AppendResult> {
  const { streamId, expectedRevision } = append;
  let { events } = append;
  let stored: Position[] = [];
  const current = await currentRevision(client, streamId);
  const matches =
    (expectedRevision === 'no_stream' && current === null) ||
    (typeof expectedRevision === 'bigint' && current === expectedRevision);
  if (!matches && expectedRevision !== 'any') {
    const prefix = await storedPrefix(client, streamId, expectedRevision, events);
    if (!prefix) throw new WrongExpectedRevision(streamId, expectedRevision, current);
    if (prefix.count === events.length) return append.withPositions ? { ...prefix.last!, positions: prefix.positions } : prefix.last!;
    // A retry of a longer append: its head is stored, write the rest.
    events = events.slice(prefix.count);
    stored = prefix.positions;
  }
  const first = current === null ? 0n : current + 1n;
  if (events.length === 0) {
    const position = await lastPositionOfStream(client, streamId);
    return { nextExpectedRevision: current ?? -1n, position, ...(append.withPositions ? { positions: [] } : {}) };
  }
  // Positions known before writing, when the caller needs each event's (one query, not one per event).
  let sequence: bigint[] | undefined;
  if (append.withPositions) {
    const { rows } = await client.query<{ position: string }>(
      "select nextval('es_position')::text as position from generate_series(1, $1)",
      [events.length],
    );
    sequence = rows.map((r) => BigInt(r.position)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
  try {
    await client.query('savepoint es_append');
    await insertEvents(client, streamId, first, events, sequence);
    await client.query('release savepoint es_append');
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      // A concurrent writer took these revisions first.
      await client.query('rollback to savepoint es_append');
      throw new WrongExpectedRevision(streamId, expectedRevision, await currentRevision(client, streamId));
    }
    throw error;
  }
  const { rows } = await client.query<{ xid: string; position: number }>(
    "select pg_current_xact_id()::text as xid, currval('es_position') as position",
  );
  const commit = BigInt(rows[0]!.xid);
  const last = sequence ? sequence[sequence.length - 1]! : BigInt(rows[0]!.position);
  return {
    nextExpectedRevision: first + BigInt(events.length) - 1n,
    position: { commit, prepare: last },
    ...(sequence ? { positions: [...stored, ...sequence.map((prepare) => ({ commit, prepare }))] } : {}),
  };
}

async function lastPositionOfStream(client: pg.ClientBase, streamId: string): Promise<Position> {
  const { rows } = await client.query<{ transaction_id: string; position: number }>(
    'select transaction_id::text, position from es_events where stream_id = $1 order by revision desc limit 1',
    [streamId],
  );
  const row = rows[0];
  return row ? { commit: BigInt(row.transaction_id), prepare: BigInt(row.position) } : { commit: 0n, prepare: 0n };
}

export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const;

  constructor(private readonly pool: pg.Pool) {}

  static async create(pool: pg.Pool): Promise<PostgresEventStore> {
    await migrateEventStore(pool);
    return new PostgresEventStore(pool);
  }

  async append(append: StreamAppend): Promise<AppendResult> {
    const [result] = await this.appendMany([append]);
    return result!;
  }

  async appendMany(appends: StreamAppend[], commit?: (client: pg.PoolClient, results: AppendResult[]) => Promise<void>): Promise<AppendResult[]> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const results: AppendResult[] = [];
      for (const append of appends) results.push(await appendInTransaction(client, append));
      if (commit) await commit(client, results);
      await client.query('commit');
      return results;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async readStream(streamId: string, options: { fromRevision?: bigint; maxCount?: number } = {}): Promise<RecordedEvent[]> {
    // Revisions are dense (0, 1, 2, ...): a page is the range [from, from + maxCount), which bounds
    // the scan whatever the planner picks. With `revision >= from ... limit n` and statistics that
    // predate a bulk import, it chose a bitmap scan of the rest of the stream and a sort per page:
    // reading a stream page by page (a revert) cost the square of its length.
    const { rows } = await this.pool.query<EventRow>(READ_STREAM_SQL, [streamId, String(options.fromRevision ?? 0n), options.maxCount ?? 2147483647]);
    return rows.map(toRecorded);
  }

  async streamRevision(streamId: string): Promise<bigint | null> {
    return currentRevision(this.pool as unknown as pg.ClientBase, streamId);
  }

  async headPosition(): Promise<Position> {
    const { rows } = await this.pool.query<{ commit: string; prepare: string }>(
      'select transaction_id::text as commit, position::text as prepare from es_events order by transaction_id desc, position desc limit 1',
    );
    return rows[0] ? { commit: BigInt(rows[0].commit), prepare: BigInt(rows[0].prepare) } : START;
  }

  async readAll(after: Position, options: ReadAllOptions): Promise<ReadAllPage> {
    if (options.types && options.types.length > 0 && options.types.every((type) => INDEXED_TYPES.includes(type))) {
      // Only indexed types: every row walked is one wanted. Nothing of them is left below the
      // horizon after the page when it is not full, so the next read starts after its last event.
      const { rows } = await this.pool.query<EventRow>(
        `select transaction_id::text, position, stream_id, revision, event_id, type, data, metadata
           from es_read_input($1::xid8, $2::bigint, $3, $4::text[]) as e
          order by e.transaction_id, e.position`,
        [String(after.commit), String(after.prepare), options.maxCount, options.types],
      );
      const events = rows.map(toRecorded);
      return { events, position: events.length > 0 ? events[events.length - 1]!.position : after };
    }
    // Walk the primary key in order and stop after a bounded number of rows (a type filter in the
    // WHERE clause made the planner scan and sort everything after the checkpoint: slow once a
    // reader is far behind). Only the wanted rows leave the server, plus the last row looked at,
    // which tells the reader where to continue.
    const scan = options.types ? Math.max(options.maxCount * SCAN_FACTOR, 1000) : options.maxCount;
    const { rows } = await this.pool.query<EventRow & { last: boolean }>(
      `with scanned as materialized (
         select transaction_id, position, stream_id, revision, event_id, type,
                ($4::text[] is null or type = any($4::text[])) as wanted,
                case when $4::text[] is null or type = any($4::text[]) then data end as data,
                case when $4::text[] is null or type = any($4::text[]) then metadata end as metadata
           from es_events
          where (transaction_id, position) > ($1::xid8, $2::bigint)
            and transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          order by transaction_id, position
          limit $3
       )
       select transaction_id, position, stream_id, revision, event_id, type, data, metadata, false as last
         from scanned where wanted
       union all
       (select transaction_id, position, null, null, null, null, null, null, true as last
          from scanned order by transaction_id desc, position desc limit 1)
       -- transaction_id is xid8 here (sent as text, compared as a number)
       order by transaction_id, position, last`,
      [String(after.commit), String(after.prepare), scan, options.types ?? null],
    );
    const events: RecordedEvent[] = [];
    let position = after;
    for (const row of rows) {
      if (row.last) {
        position = { commit: BigInt(row.transaction_id), prepare: BigInt(row.position) };
        break;
      }
      const event = toRecorded(row);
      events.push(event);
      if (events.length >= options.maxCount) {
        position = event.position;
        break;
      }
    }
    return { events, position };
  }

  async *subscribeToAll(after: Position, options: SubscribeOptions): AsyncIterable<RecordedEvent[]> {
    let position = after;
    let idle = 10;
    while (!options.signal?.aborted) {
      const page = await this.readAll(position, options);
      const moved = comparePositions(page.position, position) !== 0;
      position = page.position;
      if (page.events.length > 0) {
        idle = 10;
        yield page.events;
        continue;
      }
      if (moved) continue;
      await new Promise((resolve) => setTimeout(resolve, idle));
      idle = Math.min(idle * 2, options.idleMs ?? 250);
    }
  }

  async close(): Promise<void> {
    // The pool belongs to the composition root.
  }
}

export async function migrateEventStore(pool: pg.Pool): Promise<void> {
  // DDL from several processes at once would race on the catalog; serialise it.
  await withLock(pool, 'schema', (client) => client.query(EVENT_STORE_DDL));
}

export type { ExpectedRevision };
