// The EventStoreDB adapter: events kept in EventStoreDB, read models and checkpoints in PostgreSQL.
//
// Large appends: EventStoreDB refuses an append above its MaxAppendSize (1 MiB by default), so an
// append is split into chunks whose boundaries depend only on the events (chunkForAppend). A retry
// after a crash therefore splits identically, and every chunk already written lands on
// EventStoreDB's idempotency (same ids at the same expected revision: nothing written). That check
// does not cover a retry whose head only is stored, so when the server answers WrongExpectedVersion
// we read the stream and decide ourselves, with the rule of storedPrefix in postgres.ts: these
// events, or a head of them, right after the expected revision means a retry (write the rest);
// anything else is WrongExpectedRevision. A multi-chunk append is not atomic: a crash between
// chunks leaves a head of it in the stream, which the retry completes.
//
// Positions: an append reports the $all position of its last event as read back from the stream,
// so a first append and its idempotent retry report the same place, and it is directly comparable
// with the positions readAll and subscribeToAll hand out.
//
// $all also holds EventStoreDB's own events ($-prefixed types and streams); they never leave here.
import {
  ANY,
  BACKWARDS,
  CancelledError,
  DeadlineExceededError,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  NotLeaderError,
  START as FROM_START,
  StreamNotFoundError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type AppendExpectedRevision,
  type EventData,
  type JSONType,
} from '@eventstore/db-client';
import type pg from 'pg';
import type {
  AppendResult, EventStore, ExpectedRevision, NewEvent, Position, ReadAllOptions, ReadAllPage, RecordedEvent,
  StreamAppend, SubscribeOptions,
} from './types.ts';
import { START, WrongExpectedRevision, comparePositions } from './types.ts';

/** Largest serialised chunk we send; EventStoreDB's default MaxAppendSize is 1 MiB. */
export const APPEND_LIMIT_BYTES = 900 * 1024;
/** Allowance per event beyond data, metadata and type: id, content type, framing, log record header. */
export const EVENT_OVERHEAD_BYTES = 256;

/** $all events per read request. */
const READ_PAGE_MIN = 64;
const READ_PAGE_MAX = 4096;
/** readAll scans at most this many times maxCount raw events before returning what matched. */
const SCAN_FACTOR = 4;
/** A subscription batch is handed out after this long without a new event... */
const BATCH_IDLE_MS = 20;
/** ...or at the latest this long after the first event of the batch arrived. */
const BATCH_MAX_WAIT_MS = 200;
const RESUBSCRIBE_MIN_MS = 100;
const RESUBSCRIBE_MAX_MS = 5000;

const utf8 = new TextEncoder();

/** JSON.stringify yields undefined for undefined (and functions); store those as null. */
function json(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/**
 * Bytes an event counts against EventStoreDB's append limit, estimated from above: the server
 * counts data + metadata + the type name (as UTF-16) plus a small record header.
 */
export function eventAppendSize(event: NewEvent): number {
  return (
    Buffer.byteLength(json(event.data)) +
    Buffer.byteLength(json(event.metadata)) +
    2 * Buffer.byteLength(event.type) +
    EVENT_OVERHEAD_BYTES
  );
}

/**
 * Splits events into consecutive chunks of at most `limitBytes` (by eventAppendSize), in order.
 * Boundaries depend only on the events, so a retry of the same append splits identically.
 * An event larger than the limit on its own forms a chunk of one: EventStoreDB will refuse it
 * (MaxAppendSizeExceeded) unless its MaxAppendSize is raised, and the error surfaces to the caller.
 */
export function chunkForAppend(events: readonly NewEvent[], limitBytes = APPEND_LIMIT_BYTES): NewEvent[][] {
  const chunks: NewEvent[][] = [];
  let chunk: NewEvent[] = [];
  let chunkBytes = 0;
  for (const event of events) {
    const size = eventAppendSize(event);
    if (chunk.length > 0 && chunkBytes + size > limitBytes) {
      chunks.push(chunk);
      chunk = [];
      chunkBytes = 0;
    }
    chunk.push(event);
    chunkBytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function toEventData(event: NewEvent): EventData {
  return jsonEvent({
    id: event.id,
    type: event.type,
    // The client serialises data with JSON.stringify, so any JSON value round-trips.
    data: event.data as JSONType,
    // Metadata goes as ready-made JSON bytes: the client would silently drop falsy metadata
    // (null, 0, false, '') and read it back as undefined.
    metadata: utf8.encode(json(event.metadata)),
  });
}

function toClientRevision(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'any') return ANY;
  return expected;
}

function isStart(position: Position): boolean {
  return position.commit === 0n && position.prepare === 0n;
}

/** What the client hands out for a recorded event, reduced to what we keep. */
interface StoredEvent {
  id: string;
  type: string;
  streamId: string;
  revision: bigint;
  data: unknown;
  metadata: unknown;
  position?: Position;
}

function toRecorded(event: StoredEvent): RecordedEvent {
  return {
    id: event.id,
    type: event.type,
    streamId: event.streamId,
    revision: event.revision,
    // Stream reads carry positions from server 22.6 on; $all reads always do.
    position: event.position ? { commit: event.position.commit, prepare: event.position.prepare } : { ...START },
    data: event.data,
    metadata: event.metadata ?? null,
  };
}

/** An event read from $all; without its position a reader could not move past it. */
function fromAll(resolved: AllStreamResolvedEvent): RecordedEvent {
  const event = resolved.event;
  if (!event?.position) throw new Error('EventStoreDB returned an $all event without its position');
  return toRecorded(event);
}

function isSystemEvent(event: RecordedEvent): boolean {
  return event.type.startsWith('$') || event.streamId.startsWith('$');
}

function isWanted(event: RecordedEvent, types: ReadonlySet<string> | null): boolean {
  return !isSystemEvent(event) && (types === null || types.has(event.type));
}

/** Server-side regex (.NET syntax) matching exactly these event types. */
function exactTypes(types: readonly string[]): string {
  return `^(?:${types.map((type) => type.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')).join('|')})$`;
}

/** The subscription ended without an error (e.g. the server closed it); resubscribe. */
class SubscriptionEnded extends Error {
  constructor() {
    super('EventStoreDB subscription ended');
    this.name = 'SubscriptionEnded';
  }
}

function isTransient(error: unknown): boolean {
  return (
    error instanceof SubscriptionEnded ||
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof TimeoutError ||
    error instanceof NotLeaderError ||
    error instanceof CancelledError
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Collects a live subscription's events into batches of at most maxCount. While a full batch
 * waits for the consumer the subscription is paused, so a slow consumer holds back the server
 * instead of filling memory.
 */
class BatchBuffer {
  private readonly events: RecordedEvent[] = [];
  private failure: unknown = undefined;
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly subscription: AllStreamSubscription,
    private readonly maxCount: number,
    keep: (resolved: AllStreamResolvedEvent) => RecordedEvent | null,
  ) {
    subscription.on('data', (resolved: AllStreamResolvedEvent) => {
      let event: RecordedEvent | null;
      try {
        event = keep(resolved);
      } catch (error) {
        this.fail(error);
        return;
      }
      if (!event) return;
      this.events.push(event);
      if (this.events.length >= this.maxCount) subscription.pause();
      this.wake?.();
    });
    // Stays attached after close(): an 'error' without a listener would crash the process.
    subscription.on('error', (error: Error) => this.fail(error));
    subscription.on('end', () => this.finish());
    subscription.on('close', () => this.finish());
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.wake?.();
  }

  private finish(): void {
    this.ended = true;
    this.wake?.();
  }

  /**
   * The next batch, or null once the signal aborts. When the subscription failed or ended, first
   * hands out what it still holds, then throws.
   */
  async next(signal?: AbortSignal): Promise<RecordedEvent[] | null> {
    let firstSeenAt: number | undefined;
    for (;;) {
      if (signal?.aborted) return null;
      if (this.events.length >= this.maxCount) return this.take();
      if (this.failure !== undefined || this.ended) {
        if (this.events.length > 0) return this.take();
        throw this.failure ?? new SubscriptionEnded();
      }
      if (this.events.length === 0) {
        await this.waitForNews(undefined, signal);
        continue;
      }
      firstSeenAt ??= Date.now();
      const left = BATCH_MAX_WAIT_MS - (Date.now() - firstSeenAt);
      if (left <= 0 || !(await this.waitForNews(Math.min(BATCH_IDLE_MS, left), signal))) return this.take();
    }
  }

  async close(): Promise<void> {
    this.subscription.removeAllListeners('data');
    await this.subscription.unsubscribe().catch(() => undefined);
  }

  private take(): RecordedEvent[] {
    const batch = this.events.splice(0, this.maxCount);
    if (this.subscription.isPaused() && this.events.length < this.maxCount) this.subscription.resume();
    return batch;
  }

  /** Resolves true on news (an event, the end, a failure, the abort), false after `ms` without. */
  private waitForNews(ms: number | undefined, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (news: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        resolve(news);
      };
      const onAbort = () => settle(true);
      this.wake = () => settle(true);
      if (ms !== undefined) timer = setTimeout(() => settle(false), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export class EventStoreDbStore implements EventStore {
  readonly kind = 'eventstoredb' as const;
  private readonly client: EventStoreDBClient;

  /**
   * @param connectionString e.g. esdb://localhost:2113?tls=false
   * @param pool PostgreSQL for appendMany's commit callback; it belongs to the composition root.
   */
  constructor(connectionString: string, private readonly pool: pg.Pool) {
    this.client = EventStoreDBClient.connectionString(connectionString);
  }

  async append(append: StreamAppend): Promise<AppendResult> {
    const { streamId, events, expectedRevision } = append;
    if (events.length === 0) {
      const nothing = await this.appendNothing(streamId, expectedRevision);
      return append.withPositions ? { ...nothing, positions: [] } : nothing;
    }
    let expected = expectedRevision;
    let last = -1n;
    for (const chunk of chunkForAppend(events)) {
      last = await this.appendChunk(streamId, chunk, expected);
      expected = last;
    }
    if (append.withPositions) {
      // The reply names only the last position: read the events back for each one's.
      const written = await this.readStream(streamId, { fromRevision: last - BigInt(events.length) + 1n, maxCount: events.length });
      return { nextExpectedRevision: last, position: written[written.length - 1]!.position, positions: written.map((e) => e.position) };
    }
    return { nextExpectedRevision: last, position: await this.positionAt(streamId, last) };
  }

  async appendMany(
    appends: StreamAppend[],
    commit?: (client: pg.PoolClient, results: AppendResult[]) => Promise<void>,
  ): Promise<AppendResult[]> {
    // In order, one stream after the other: events of one decision keep their order in $all.
    const results: AppendResult[] = [];
    for (const append of appends) results.push(await this.append(append));
    if (commit) {
      const client = await this.pool.connect();
      try {
        await client.query('begin');
        await commit(client, results);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    }
    return results;
  }

  async readStream(streamId: string, options: { fromRevision?: bigint; maxCount?: number } = {}): Promise<RecordedEvent[]> {
    if (options.maxCount !== undefined && options.maxCount <= 0) return [];
    const events: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(streamId, {
        fromRevision: options.fromRevision ?? FROM_START,
        direction: FORWARDS,
        ...(options.maxCount !== undefined ? { maxCount: options.maxCount } : {}),
      });
      for await (const resolved of read) if (resolved.event) events.push(toRecorded(resolved.event));
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  async streamRevision(streamId: string): Promise<bigint | null> {
    try {
      const read = this.client.readStream(streamId, { fromRevision: END, direction: BACKWARDS, maxCount: 1 });
      for await (const resolved of read) if (resolved.event) return resolved.event.revision;
      return null;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return null;
      throw error;
    }
  }

  async headPosition(): Promise<Position> {
    const read = this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 });
    for await (const resolved of read) return fromAll(resolved).position;
    return START;
  }

  async readAll(after: Position, options: ReadAllOptions): Promise<ReadAllPage> {
    const { maxCount } = options;
    if (maxCount <= 0) return { events: [], position: after };
    const types = options.types ? new Set(options.types) : null;
    // One more than wanted: a page from a position starts with the event at that position.
    const pageSize = Math.min(Math.max(maxCount, READ_PAGE_MIN) + 1, READ_PAGE_MAX);
    const scanLimit = Math.max(SCAN_FACTOR * maxCount, pageSize);
    const found: RecordedEvent[] = [];
    let cursor = after;
    let scanned = 0;
    for (;;) {
      const page = await this.readAllPage(cursor, pageSize);
      let advanced = false;
      for (const event of page) {
        if (comparePositions(event.position, cursor) <= 0) continue;
        cursor = event.position;
        advanced = true;
        scanned++;
        if (!isWanted(event, types)) continue;
        found.push(event);
        if (found.length >= maxCount) return { events: found, position: cursor };
      }
      if (page.length < pageSize) return { events: found, position: cursor }; // the end of $all
      if (!advanced) throw new Error(`EventStoreDB $all read did not move past ${cursor.commit}/${cursor.prepare}`);
      // Bounded work per call; the returned position lets the caller continue past what was scanned.
      if (scanned >= scanLimit) return { events: found, position: cursor };
    }
  }

  async *subscribeToAll(after: Position, options: SubscribeOptions): AsyncIterable<RecordedEvent[]> {
    const { signal } = options;
    const maxCount = Math.max(1, options.maxCount);
    const types = options.types ? new Set(options.types) : null;
    const filter = options.types ? eventTypeFilter({ regex: exactTypes(options.types) }) : excludeSystemEvents();
    let checkpoint = after;
    let retryMs = RESUBSCRIBE_MIN_MS;
    while (!signal?.aborted) {
      const from = checkpoint;
      const subscription = this.client.subscribeToAll({ fromPosition: isStart(from) ? FROM_START : from, filter });
      const buffer = new BatchBuffer(subscription, maxCount, (resolved) => {
        const event = fromAll(resolved);
        // The server starts after `from`; the check keeps that promise whatever it does.
        return comparePositions(event.position, from) > 0 && isWanted(event, types) ? event : null;
      });
      try {
        for (;;) {
          const batch = await buffer.next(signal);
          if (batch === null) return;
          checkpoint = batch[batch.length - 1]!.position;
          retryMs = RESUBSCRIBE_MIN_MS;
          yield batch;
          if (signal?.aborted) return;
        }
      } catch (error) {
        if (signal?.aborted) return;
        if (!isTransient(error)) throw error;
      } finally {
        await buffer.close();
      }
      // Connection lost or subscription dropped: resubscribe after the last batch handed out.
      await sleep(retryMs, signal);
      retryMs = Math.min(retryMs * 2, RESUBSCRIBE_MAX_MS);
    }
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  /** Appends one chunk at `expected`; returns the revision of its last event in the stream. */
  private async appendChunk(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<bigint> {
    try {
      const result = await this.client.appendToStream(streamId, events.map(toEventData), {
        expectedRevision: toClientRevision(expected),
      });
      // Computed rather than taken from the reply: an idempotent reply (a retry of a shorter
      // append) must point at these events, not at the stream's end.
      if (expected === 'any') return result.nextExpectedRevision;
      return (expected === 'no_stream' ? -1n : expected) + BigInt(events.length);
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      const prefix = expected === 'any' ? null : await this.storedPrefix(streamId, expected, events);
      if (!prefix) {
        throw new WrongExpectedRevision(streamId, expected, error.actualVersion === NO_STREAM ? null : error.actualVersion);
      }
      if (prefix.count === events.length) return prefix.last;
      // A retry of a longer append: its head is stored, write the rest after it.
      return this.appendChunk(streamId, events.slice(prefix.count), prefix.last);
    }
  }

  /**
   * Compares what the stream holds right after `expected` with `events`: when it is all of them
   * or a head of them (a retry), how many and the revision of the last; anything else, null.
   */
  private async storedPrefix(
    streamId: string,
    expected: bigint | 'no_stream',
    events: NewEvent[],
  ): Promise<{ count: number; last: bigint } | null> {
    const first = expected === 'no_stream' ? 0n : expected + 1n;
    const stored = await this.readStream(streamId, { fromRevision: first, maxCount: events.length });
    if (stored.length === 0) return null;
    for (let i = 0; i < stored.length; i++) {
      if (stored[i]!.id.toLowerCase() !== events[i]!.id.toLowerCase()) return null;
    }
    return { count: stored.length, last: stored[stored.length - 1]!.revision };
  }

  /** An append without events only checks the expected revision, like the PostgreSQL adapter. */
  private async appendNothing(streamId: string, expected: ExpectedRevision): Promise<AppendResult> {
    const current = await this.streamRevision(streamId);
    const matches = expected === 'any' || (expected === 'no_stream' ? current === null : current === expected);
    if (!matches) throw new WrongExpectedRevision(streamId, expected, current);
    if (current === null) return { nextExpectedRevision: -1n, position: { ...START } };
    return { nextExpectedRevision: current, position: await this.positionAt(streamId, current) };
  }

  private async positionAt(streamId: string, revision: bigint): Promise<Position> {
    const [event] = await this.readStream(streamId, { fromRevision: revision, maxCount: 1 });
    return event?.position ?? { ...START };
  }

  private async readAllPage(from: Position, count: number): Promise<RecordedEvent[]> {
    const page: RecordedEvent[] = [];
    const read = this.client.readAll({ fromPosition: isStart(from) ? FROM_START : from, maxCount: count, direction: FORWARDS });
    for await (const resolved of read) page.push(fromAll(resolved));
    return page;
  }
}
