// The processor's intake: reading the input events (ImportStarted, RowReceived, ImportFileRead)
// in global order, checking their schema and the rows' fields. It is the stateless half of
// deciding, so it can run on a thread of its own (intake-thread.ts, reached through RemoteIntake)
// and read and check batch N+1 while the processor decides batch N. Each batch is read one ahead.
import type { MessagePort } from 'node:worker_threads';
import { isEventMetadata, needsColumns, toImporterEvent } from '../events/schemas.ts';
import { importRecordKeys } from '../events/import-stream.ts';
import { recordKeys } from '../events/row-received.ts';
import { SOURCES, type ImporterEvent } from '../events/types.ts';
import type { EventStore, Position, RecordedEvent } from '../eventstore/types.ts';
import { comparePositions } from '../eventstore/types.ts';
import type { ThreadStoreInput } from '../threads/store.ts';
import { checkRow } from './decide.ts';
import type { Checked } from './rules.ts';

/** The processor's input: the PostgreSQL store keeps an index of exactly these (INDEXED_TYPES in eventstore/postgres.ts). */
export const INPUT_TYPES = ['ImportStarted', 'RowReceived', 'ImportFileRead', 'RevertRequested'] as const;

export interface PreparedBatch {
  /** Where the next batch starts: after everything this read looked at. */
  position: Position;
  /** The input events, in global order, with their positions. */
  events: { event: ImporterEvent; position: Position }[];
  /** The field check of each RowReceived of `events`, in order. */
  checked: Checked<unknown>[];
}

/**
 * A prepared batch as the intake thread sends it: one JSON text, which crosses threads as one copy.
 * Receiving a structured clone of the batch's object graph (every record and check, ~2,500 rows)
 * cost the processor thread, the import's longest path, ~1.65 s of a 100k-row import; parsing the
 * text costs it ~1.2 s, and the intake about what cloning cost it (~0.9 s). Positions (bigints)
 * travel as "commit:prepare".
 */
export function encodeBatch(batch: PreparedBatch): string {
  return JSON.stringify({
    position: positionText(batch.position),
    events: batch.events.map(({ event, position }) => ({ event, position: positionText(position) })),
    checked: batch.checked,
  });
}

export function decodeBatch(text: string): PreparedBatch {
  const wire = JSON.parse(text) as { position: string; events: { event: ImporterEvent; position: string }[]; checked: Checked<unknown>[] };
  return {
    position: positionOf(wire.position),
    events: wire.events.map(({ event, position }) => ({ event, position: positionOf(position) })),
    checked: wire.checked,
  };
}

function positionText(position: Position): string {
  return `${position.commit}:${position.prepare}`;
}

function positionOf(text: string): Position {
  const colon = text.indexOf(':');
  return { commit: BigInt(text.slice(0, colon)), prepare: BigInt(text.slice(colon + 1)) };
}

export interface Intake {
  /** The batch after `from` (empty, with `position` = `from`, when there is nothing new). */
  next(from: Position): Promise<PreparedBatch>;
  close(): Promise<void>;
}

/**
 * The first batch after a start, or after the processor had caught up, is this small, and each
 * batch after it twice the one before, up to the configured size: the first commit of a resumed or
 * newly arrived import comes in a fraction of a second (cold caches, a thread just started) instead
 * of after a full batch, and a long import runs at full batches after a few steps. Batch size never
 * changes outcomes (batching.int.test.ts).
 */
export const FIRST_BATCH = 500;

/** Reads and checks in this thread. */
export class LocalIntake implements Intake {
  private ahead: { from: Position; batch: Promise<PreparedBatch> } | null = null;
  private size: number;
  /** Each import's record keys (ImportStarted's columns), to read its RowReceived v2 values. */
  private readonly keys = new Map<string, string[]>();

  constructor(private readonly store: EventStore, private readonly batchSize: number) {
    this.size = Math.min(batchSize, FIRST_BATCH);
  }

  async next(from: Position): Promise<PreparedBatch> {
    const ahead = this.ahead;
    this.ahead = null;
    const batch = ahead && comparePositions(ahead.from, from) === 0 ? await ahead.batch : await this.prepare(from);
    if (batch.events.length > 0) {
      this.size = Math.min(this.batchSize, this.size * 2);
      const following = this.prepare(batch.position);
      following.catch(() => undefined); // a failed read ahead is simply read again
      this.ahead = { from: batch.position, batch: following };
    } else {
      this.size = Math.min(this.batchSize, FIRST_BATCH);
    }
    return batch;
  }

  private async prepare(from: Position): Promise<PreparedBatch> {
    const page = await this.store.readAll(from, { maxCount: this.size, types: INPUT_TYPES });
    let events: PreparedBatch['events'] = [];
    for (const stored of page.events) {
      const importId = (stored.data as { importId?: unknown } | null)?.importId;
      // (A malformed event reads without keys: its schema check says what is wrong with it.)
      const keys = needsColumns(stored) && typeof importId === 'string' ? this.keys.get(importId) ?? (await this.loadKeys(importId)) : undefined;
      const event = readInput(stored, keys);
      if (event.type === 'ImportStarted') this.remember(event.data.importId, recordKeys(event.data.columns));
      events.push({ event, position: stored.position });
    }
    let position = page.position;
    // A revert is decided alone, against read models that show everything before it (run.ts): the
    // batch ends before it, or is it.
    const revert = events.findIndex(({ event }) => event.type === 'RevertRequested');
    if (revert >= 0) {
      events = events.slice(0, Math.max(revert, 1));
      position = events[events.length - 1]!.position;
    }
    const checked: Checked<unknown>[] = [];
    for (const { event } of events) if (event.type === 'RowReceived') checked.push(checkRow(event));
    return { position, events, checked };
  }

  async close(): Promise<void> {
    this.ahead = null;
  }

  /** Reads the record keys of an import this intake has not seen start (from its ImportStarted). */
  private async loadKeys(importId: string): Promise<string[]> {
    const keys = await importRecordKeys(this.store, importId);
    if (!keys) throw new Error(`import ${importId} has rows but no ImportStarted`);
    this.remember(importId, keys);
    return keys;
  }

  private remember(importId: string, keys: string[]): void {
    // The imports read lately; a long-lived engine forgets the oldest (read again if needed).
    if (this.keys.size >= 256 && !this.keys.has(importId)) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(importId, keys);
  }
}

/**
 * An input event as the processor decides it. A stored RowReceived that cannot be read (it does not
 * match its schema: appended by other means than the reader, or a bug) is no reason to stop: it
 * reads as a row holding why (`_unreadable`) and its stored data (`_raw`), which its checks reject
 * (checkRow), as long as its import, source and row can be told. Anything else that cannot be read
 * is thrown (there is no row to reject).
 */
function readInput(stored: RecordedEvent, keys: readonly string[] | undefined): ImporterEvent {
  try {
    return toImporterEvent(stored, keys);
  } catch (error) {
    if (stored.type !== 'RowReceived') throw error;
    const data = stored.data as { importId?: unknown; source?: unknown; row?: unknown } | null;
    const { metadata } = stored;
    const source = SOURCES.find((name) => name === data?.source);
    if (typeof data?.importId !== 'string' || data.importId === '' || !source || !Number.isInteger(data.row) || (data.row as number) < 1 || !isEventMetadata(metadata)) throw error;
    const record = { _unreadable: (error as Error).message, _raw: JSON.stringify(stored.data) };
    return { type: 'RowReceived', data: { importId: data.importId, source, row: data.row as number, record }, metadata };
  }
}

export interface IntakeThreadInput extends ThreadStoreInput {
  batchSize: number;
}

/** The intake on a thread of its own (intake-thread.ts), reached through a MessagePort; one request at a time. */
export class RemoteIntake implements Intake {
  private pending: { resolve: (batch: PreparedBatch) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(private readonly port: MessagePort) {
    port.on('message', (message: { batch?: string; error?: string }) => {
      const pending = this.pending;
      this.pending = null;
      if (!pending) return;
      if (message.batch !== undefined) pending.resolve(decodeBatch(message.batch));
      else pending.reject(new Error(message.error ?? 'the intake thread failed'));
    });
    port.on('close', () => {
      this.failure = new Error('the intake thread stopped');
      this.pending?.reject(this.failure);
      this.pending = null;
    });
  }

  next(from: Position): Promise<PreparedBatch> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('the intake serves one request at a time'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.port.postMessage({ from });
    });
  }

  async close(): Promise<void> {
    if (this.failure) return;
    this.port.postMessage('stop');
    this.port.close();
  }
}
