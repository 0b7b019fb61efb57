// The event store port: the one small interface both adapters (PostgreSQL, EventStoreDB)
// implement and the shared contract suite (contract.ts) proves.
import type pg from 'pg';

/**
 * A place in the global ($all) order. Same shape as EventStoreDB's position.
 * PostgreSQL adapter: commit = writing transaction id (xid8), prepare = sequence position.
 * Ordering is (commit, prepare).
 */
export interface Position {
  commit: bigint;
  prepare: bigint;
}

/** Before the first event: reading after START reads everything. */
export const START: Position = { commit: 0n, prepare: 0n };

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export interface NewEvent {
  /** Deterministic id (UUID). Appending the same ids at the same place again is a no-op. */
  id: string;
  type: string;
  data: unknown;
  metadata: unknown;
}

export interface RecordedEvent<D = unknown, M = unknown> {
  id: string;
  type: string;
  streamId: string;
  /** 0-based revision within the stream. */
  revision: bigint;
  position: Position;
  data: D;
  metadata: M;
}

/** 'no_stream': the stream must not exist; 'any': no check; bigint: revision of the stream's last event. */
export type ExpectedRevision = 'no_stream' | 'any' | bigint;

export interface StreamAppend {
  streamId: string;
  events: NewEvent[];
  expectedRevision: ExpectedRevision;
  /** Report every event's position (AppendResult.positions), e.g. to project them right away. */
  withPositions?: boolean;
}

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  nextExpectedRevision: bigint;
  /** Position of the last event written (or found already written). */
  position: Position;
  /** With withPositions: the position of each event of the append, in order, as readAll reports it. */
  positions?: Position[];
}

export interface ReadAllOptions {
  /** Only these event types (filtering happens in the store where it can). */
  types?: readonly string[];
  maxCount: number;
}

/** A page of $all: the events that matched, and where the next read continues. */
export interface ReadAllPage {
  events: RecordedEvent[];
  /**
   * Position after everything this read looked at (matching or not); equals `after` when there was
   * nothing to read. A reader filtering by type continues from here, so it never rescans rows of
   * other types, and an empty `events` with an advanced position is not "caught up".
   */
  position: Position;
}

export interface SubscribeOptions extends ReadAllOptions {
  signal?: AbortSignal;
  /** Poll interval when caught up (PostgreSQL adapter). */
  idleMs?: number;
}

export interface EventStore {
  readonly kind: 'postgres' | 'eventstoredb';
  /**
   * Append events to one stream, checking the expected revision.
   * Idempotent: when the stream already holds exactly these event ids right after the
   * expected revision, nothing is written and the result points at them.
   * Otherwise a mismatch throws WrongExpectedRevision.
   */
  append(append: StreamAppend): Promise<AppendResult>;
  /**
   * Append to several streams, then run `commit` with a PostgreSQL client.
   * PostgreSQL adapter: all appends and `commit` are one transaction.
   * EventStoreDB adapter: appends first (each idempotent), then `commit` in its own
   * PostgreSQL transaction; a crash in between is healed by re-deciding and re-appending.
   */
  appendMany(appends: StreamAppend[], commit?: (client: pg.PoolClient, results: AppendResult[]) => Promise<void>): Promise<AppendResult[]>;
  /** Events of one stream from a revision on, in order. */
  readStream(streamId: string, options?: { fromRevision?: bigint; maxCount?: number }): Promise<RecordedEvent[]>;
  /** Revision of the stream's last event, or null when the stream does not exist. */
  streamRevision(streamId: string): Promise<bigint | null>;
  /** Position of the last event in the global order now (START when there is none): how far a full replay goes (a rebuild's progress). */
  headPosition(): Promise<Position>;
  /**
   * Up to maxCount events strictly after `after`, in global order, looking at a bounded number of
   * events of other types. Never skips an event that commits later at an earlier place (the
   * PostgreSQL adapter reads only below the oldest running writer). Caught up = no events and
   * position equal to `after`.
   */
  readAll(after: Position, options: ReadAllOptions): Promise<ReadAllPage>;
  /** Catch-up subscription from `after`: batches of events, forever, until the signal aborts. */
  subscribeToAll(after: Position, options: SubscribeOptions): AsyncIterable<RecordedEvent[]>;
  close(): Promise<void>;
}

export class WrongExpectedRevision extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: bigint | null,
  ) {
    super(`stream ${streamId}: expected revision ${String(expected)}, actual ${actual === null ? 'no stream' : String(actual)}`);
    this.name = 'WrongExpectedRevision';
  }
}
