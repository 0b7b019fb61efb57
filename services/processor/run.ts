// The processor: reads ImportStarted / RowReceived / ImportFileRead in global order, decides each
// row with its source's rules, appends the outcome to the import's outcome stream and applies the
// read models (projections) in the same transaction.
//
// Exactly once: decisions are pure (ids derived from import + row, time taken from the received
// row); the outcome append, the read models and the processor's checkpoint commit together
// (PostgreSQL store), or the append comes first and the rest commits after it (EventStoreDB: a
// re-decided batch re-appends the same ids, recognised as already written). The checkpoint moves
// only from the value read (optimistic).
//
// Never deciding from lagging state: the read models are projected inline, in the transaction
// that moves the checkpoint, so the profile and relation tables always show exactly every
// decision before the next batch. The projections are still pure functions of the events:
// `careos rebuild` replays them from the event store (projections/runner.ts).
//
// Pipelined: the intake (intake.ts, on a thread of its own in the engine) reads and checks batch
// N+2 while this thread decides batch N+1 and PostgreSQL commits batch N. N+1 is decided against
// the read models plus the net effect of batch N, whether or not the read models show it yet. Batch N+1 is appended only once N has committed; if N fails, N+1 is
// thrown away and everything is read again from the committed checkpoint.
//
// No poison event: every row's values are checked before it is decided (checkRow: a value
// PostgreSQL cannot store rejects the row), and whatever slips through anyway (a bug, a limit no
// check knows) cannot stop the processor. When PostgreSQL refuses a batch for the data it carries
// (isDataRefused: the same data would be refused again), or a batch cannot be decided at all, the
// batch is decided again one input event per commit: the row whose outcome is refused is then
// decided again as rejected, with PostgreSQL's reason (refusedReason), and everything after it goes
// on. That decision is a function of the row and of what PostgreSQL says of its outcome, not of
// when the refusal came, so deciding the row again gives the same events. A connection lost is
// not a refusal: the batch is decided again from the checkpoint, as before. With EventStoreDB the
// outcome is appended before PostgreSQL commits, and an appended event cannot be taken back: there
// the read models are first written in a transaction that is rolled back (tryProjecting), and only
// an outcome PostgreSQL took is appended.
import type pg from 'pg';
import { checkEvent } from '../events/schemas.ts';
import type { EventOf, ImporterEvent, RowReason } from '../events/types.ts';
import { streams } from '../events/types.ts';
import type { EventStore, NewEvent, Position, StreamAppend } from '../eventstore/types.ts';
import { START, comparePositions } from '../eventstore/types.ts';
import { PROJECTIONS } from '../../projections/runner.ts';
import { existingProfiles, phoneOwners, phoneOwnersWithNames } from '../../projections/profile.ts';
import { syncedRecords } from '../../projections/history.ts';
import { rejectedRows } from '../../projections/error-log.ts';
import { activeLinks } from '../../projections/relation.ts';
import type { PositionedEvent } from '../../projections/types.ts';
import { decideBatch, lookupKeysOf, type BatchInput, type BatchLookups, type ImportProgress } from './batch.ts';
import { LocalIntake, type Intake } from './intake.ts';
import { moveCheckpoint, readCheckpoint, readProgress, writeProgress } from './processor-store.ts';
import { InMemoryState } from './state.ts';
import { decideRevertOutcome, decideRevertPage, emptyTally, revertPages, revertPrecondition } from './revert.ts';
import { getImport } from '../../projections/import-log.ts';
import { isDataRefused } from '../db/pool.ts';
import type { Checked } from './rules.ts';
import { UNSTORABLE, storableText } from './storable.ts';

export interface ProcessorOptions {
  batchSize: number;
  /** Outcome events read per page of an import being reverted (revert.ts); one commit each. */
  revertPage?: number;
  /** Reads and checks the input; by default in this thread. */
  intake?: Intake;
}

export class Processor {
  private checkpoint: Position | null = null;
  private lastOutput: Position = START;
  /** Each import's progress as the last decided batch left it. */
  private readonly imports = new Map<string, ImportProgress>();
  /** Revision of the last event of each import's outcome stream (null: none yet), as committed. */
  private readonly outcomeRevisions = new Map<string, bigint | null>();
  /** Where the next read starts: at or after the checkpoint (rows of other types skipped). */
  private cursor: Position | null = null;
  /** The batch being committed while the next one is decided, and its net effect on the decision state. */
  private inflight: { done: Promise<void>; effects: InMemoryState } | null = null;
  /**
   * A batch PostgreSQL refused for its data, or that could not be decided: decided again one input
   * event per commit up to `until` (its last event), from `queue` (read from the checkpoint).
   */
  private isolation: { until: Position; queue: InputEvent[] } | null = null;

  private readonly intake: Intake;
  private readonly revertPage: number | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly pool: pg.Pool,
    options: ProcessorOptions,
  ) {
    this.intake = options.intake ?? new LocalIntake(store, options.batchSize);
    this.revertPage = options.revertPage;
  }

  private async loadCheckpoint(): Promise<Position> {
    if (this.checkpoint) return this.checkpoint;
    const { checkpoint, lastOutput } = await readCheckpoint(this.pool);
    this.checkpoint = checkpoint;
    this.lastOutput = lastOutput;
    this.imports.clear();
    this.outcomeRevisions.clear();
    return checkpoint;
  }

  private async loadImports(importIds: string[]): Promise<void> {
    const missing = importIds.filter((id) => !this.imports.has(id));
    for (const { outcomeRevision, ...progress } of await readProgress(this.pool, missing)) {
      this.imports.set(progress.importId, progress);
      this.outcomeRevisions.set(progress.importId, outcomeRevision);
    }
  }

  /**
   * The decision state for a batch (loadDecisionState), with the net effect of the batch still
   * committing laid over it (the read models may or may not show it yet).
   */
  private async loadState(keys: BatchLookups): Promise<InMemoryState> {
    const state = await loadDecisionState(this.pool, keys);
    if (this.inflight) state.overlay(this.inflight.effects);
    return state;
  }

  /** Waits for the last commit and stops the intake. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.intake.close();
    }
  }

  /** Waits for the batch being committed; when it failed, everything is read again (and this throws). */
  async flush(): Promise<void> {
    const inflight = this.inflight;
    if (!inflight) return;
    this.inflight = null;
    await inflight.done;
  }

  /**
   * After a failed commit: counters in memory may be ahead of what committed, reload everything.
   * The failed batch stays in `inflight` until flush() reports it, so the batch decided after it
   * can never be appended.
   */
  private reset(): void {
    this.checkpoint = null;
    this.cursor = null;
  }

  /** Decides one batch. Returns false when there was nothing new to read. */
  async step(): Promise<boolean> {
    // After a failed commit, its batch must be gone before anything is decided again.
    if (!this.checkpoint) await this.flush();
    const checkpoint = await this.loadCheckpoint();
    if (this.isolation) {
      if (comparePositions(checkpoint, this.isolation.until) < 0) return this.stepAlone(checkpoint);
      this.isolation = null;
    }
    // Events of other types already looked at need not be read again before the next commit.
    const from = this.cursor && comparePositions(this.cursor, checkpoint) > 0 ? this.cursor : checkpoint;
    const batch = await this.intake.next(from);
    if (batch.events.length === 0) {
      // Caught up: nothing is decided but not yet committed.
      await this.flush();
      const moved = comparePositions(batch.position, from) !== 0;
      this.cursor = batch.position;
      return moved;
    }
    const first = batch.events[0]!;
    if (first.event.type === 'RevertRequested') return this.stepRevert(checkpoint, batch.position, first as { event: EventOf<'RevertRequested'>; position: Position });
    const input: BatchInput = { events: batch.events.map((e) => e.event), checked: batch.checked };
    await this.loadImports([...new Set(input.events.map((e) => e.metadata.importId))]);
    const state = await this.loadState(lookupKeysOf(input));
    let decision: ReturnType<typeof decideBatch>;
    // Checked before waiting, so the schema checks run while the previous batch commits.
    const decided: ImporterEvent[] = [];
    const outcomes: { importId: string; events: NewEvent[] }[] = [];
    try {
      decision = decideBatch(input, this.imports, state);
      for (const [importId, list] of decision.outcomes) {
        outcomes.push({ importId, events: checkedOutcome(list) });
        for (const { event } of list) decided.push(event);
      }
    } catch (error) {
      // A row the rules fail on, or whose outcome fails its schema: found by deciding one event at a time.
      await this.flush();
      this.reset();
      this.isolation = { until: batch.position, queue: [] };
      throw new Error(`the batch after ${positionText(checkpoint)} could not be decided (${(error as Error).message}); deciding it again one event at a time`, { cause: error });
    }
    for (const progress of decision.progress) this.imports.set(progress.importId, progress);

    // The previous batch must be committed before this one is appended after it.
    await this.flush();
    const next = batch.position;
    const done = this.commit({ checkpoint, next, stored: batch.events, outcomes, progress: decision.progress, isolateOnRefusal: true });
    done.catch(() => undefined); // surfaced by flush()
    this.inflight = { done, effects: InMemoryState.of(decided) };
    this.checkpoint = next;
    this.cursor = next;
    return true;
  }

  /**
   * A revert request (alone in its batch, see intake.ts): decided once every batch before it has
   * committed, so the read models show all of it, then page by page through the import's outcome
   * stream (revert.ts), each page's compensating events committed with the read models; the last
   * commit (ImportReverted or RevertRefused) moves the checkpoint past the request. Nothing after
   * it is decided meanwhile.
   */
  private async stepRevert(checkpoint: Position, next: Position, request: { event: EventOf<'RevertRequested'>; position: Position }): Promise<boolean> {
    await this.flush();
    const importId = request.event.data.importId;
    await this.loadImports([importId]);
    const progress = this.imports.get(importId);
    const written = progress ? [progress] : [];
    const refusal = revertPrecondition(progress, (await getImport(this.pool, importId))?.revert?.state === 'reverted', importId);
    const tally = emptyTally();
    if (refusal === null) {
      // What the import decided ends here: what follows is this revert's own (from an attempt cut short).
      for await (const page of revertPages(this.store, this.pool, importId, this.outcomeRevisions.get(importId) ?? null, this.revertPage)) {
        const events = decideRevertPage(request.event, page, tally);
        if (events.length) await this.commit({ checkpoint, next: checkpoint, stored: [], outcomes: [{ importId, events: checkedOutcome(events) }], progress: written });
      }
    }
    const key = `${request.position.commit}.${request.position.prepare}`;
    const outcome = decideRevertOutcome(request.event, tally, key, refusal);
    await this.commit({ checkpoint, next, stored: [request], outcomes: [{ importId, events: checkedOutcome([outcome]) }], progress: written });
    this.checkpoint = next;
    this.cursor = next;
    return true;
  }

  /**
   * One input event of a batch PostgreSQL refused (isolation), decided and committed alone. A row
   * whose outcome is refused is decided again as rejected for PostgreSQL's reason, by its source's
   * rules (its replay link, its history entry); when that is refused too, as a bare RowRejected.
   */
  private async stepAlone(checkpoint: Position): Promise<boolean> {
    const isolation = this.isolation!;
    if (isolation.queue.length === 0) {
      const batch = await this.intake.next(checkpoint);
      let row = 0;
      for (const { event, position } of batch.events) {
        const checked = event.type === 'RowReceived' ? batch.checked[row++] : undefined;
        if (comparePositions(position, isolation.until) <= 0) isolation.queue.push({ event, position, checked });
      }
      if (isolation.queue.length === 0) {
        this.isolation = null;
        return true;
      }
    }
    const item = isolation.queue.shift()!;
    if (item.event.type === 'RevertRequested') return this.stepRevert(checkpoint, item.position, item as { event: EventOf<'RevertRequested'>; position: Position });
    let refusal: RowReason | null = null;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.commitAlone(await this.loadCheckpoint(), item, refusal, attempt === 2);
        if (refusal) {
          const { importId, row } = (item.event as EventOf<'RowReceived'>).data;
          console.error(`careos: processor: row ${row} of import ${importId} could not be stored as decided and is rejected instead: ${refusal.message}`);
        }
        return true;
      } catch (error) {
        const refused = isDataRefused(error) || error instanceof UndecidableEvent;
        if (!refused || item.event.type !== 'RowReceived' || attempt === 2) {
          isolation.queue = []; // read again from the checkpoint
          throw error;
        }
        refusal = refusedReason(error);
      }
    }
  }

  /** Decides one input event alone (as rejected for `refusal`, when given) and commits it. */
  private async commitAlone(checkpoint: Position, item: InputEvent, refusal: RowReason | null, bare: boolean): Promise<void> {
    const checked: Checked<unknown>[] = refusal ? [{ ok: false, reasons: [refusal] }] : item.checked ? [item.checked] : [];
    const input: BatchInput = { events: [item.event], checked, bare };
    await this.loadImports([item.event.metadata.importId]);
    const state = await this.loadState(lookupKeysOf(input));
    let decision: ReturnType<typeof decideBatch>;
    const outcomes: { importId: string; events: NewEvent[] }[] = [];
    try {
      decision = decideBatch(input, this.imports, state);
      for (const [importId, list] of decision.outcomes) outcomes.push({ importId, events: checkedOutcome(list) });
    } catch (error) {
      throw new UndecidableEvent(error as Error);
    }
    await this.commit({ checkpoint, next: item.position, stored: [item], outcomes, progress: decision.progress });
    for (const progress of decision.progress) this.imports.set(progress.importId, progress);
    this.checkpoint = item.position;
    this.cursor = item.position;
  }

  /**
   * Writes the read models of an outcome in a transaction that is rolled back: whether PostgreSQL
   * takes it, found out before it is appended to a store whose appends cannot be taken back
   * (EventStoreDB). The positions are placeholders (the store has not given any yet); none of the
   * checks a read model makes depends on them.
   */
  private async tryProjecting(stored: readonly { event: ImporterEvent; position: Position }[], appends: readonly StreamAppend[]): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      await project(client, stored, appends, appends.map((append) => ({ positions: append.events.map(() => START) })));
    } catch (error) {
      if (!isDataRefused(error)) broken = error as Error; // the connection may be unusable: not returned to the pool
      throw error;
    } finally {
      await client.query('rollback').catch(() => undefined);
      client.release(broken);
    }
  }

  /** Appends a decided batch and commits the read models, progress and checkpoint with it. */
  private async commit(batch: {
    checkpoint: Position; next: Position; stored: readonly { event: ImporterEvent; position: Position }[];
    outcomes: { importId: string; events: NewEvent[] }[]; progress: readonly ImportProgress[];
    /** A refusal of the data starts the isolation of this batch (step). */
    isolateOnRefusal?: boolean;
  }): Promise<void> {
    const { checkpoint, next, outcomes } = batch;
    // Every earlier batch has committed by now, so the revisions known are the streams' last.
    const appends: StreamAppend[] = outcomes.map(({ importId, events }) => ({
      streamId: streams.outcome(importId), expectedRevision: this.outcomeRevisions.get(importId) ?? 'no_stream', withPositions: true, events,
    }));
    let lastOutput = this.lastOutput;
    try {
      if (this.store.kind !== 'postgres') await this.tryProjecting(batch.stored, appends);
      await this.store.appendMany(appends, async (client, results) => {
        results.forEach((result, i) => {
          if (comparePositions(result.position, lastOutput) > 0) lastOutput = result.position;
          this.outcomeRevisions.set(outcomes[i]!.importId, result.nextExpectedRevision);
        });
        await project(client, batch.stored, appends, results);
        await writeProgress(client, batch.progress.map((p) => ({ ...p, outcomeRevision: this.outcomeRevisions.get(p.importId) ?? null })));
        await moveCheckpoint(client, checkpoint, next, lastOutput);
      });
    } catch (error) {
      this.reset();
      if (batch.isolateOnRefusal && isDataRefused(error)) {
        this.isolation = { until: next, queue: [] };
        throw new Error(`PostgreSQL refused the batch after ${positionText(checkpoint)} (${(error as Error).message}); deciding it again one event per commit`, { cause: error });
      }
      throw error;
    }
    this.lastOutput = lastOutput;
  }
}

/** An input event of a batch, with its field check when it is a row. */
interface InputEvent {
  event: ImporterEvent;
  position: Position;
  checked?: Checked<unknown> | undefined;
}

/** Deciding one event failed (its rules threw, or its outcome fails its schema): it would fail every time. */
class UndecidableEvent extends Error {
  constructor(readonly reason: Error) {
    super(reason.message, { cause: reason });
    this.name = 'UndecidableEvent';
  }
}

function positionText(position: Position): string {
  return `${position.commit}/${position.prepare}`;
}

/**
 * The reason a row is rejected with when PostgreSQL refused its outcome (or it could not be
 * decided): what PostgreSQL said, and where, from the parts of its error that depend on the data
 * alone (not the line of the COPY it was in).
 */
export function refusedReason(error: unknown): RowReason {
  if (error instanceof UndecidableEvent) {
    return { field: 'row', code: UNSTORABLE, message: storableText(`the row could not be decided (${error.reason.message}); it was not imported — correct it and replay it`, 1000) };
  }
  const e = error as { message?: string; code?: string; table?: string; column?: string; where?: string };
  const copy = /^COPY (\S+), line \d+(?:, column (\S+))?/.exec(e.where ?? '');
  const table = e.table ?? copy?.[1];
  const column = e.column ?? copy?.[2];
  const place = table ? `, in ${table}${column ? `.${column}` : ''}` : '';
  return {
    field: column ?? 'row', code: UNSTORABLE,
    message: storableText(`the row passed its checks, but PostgreSQL refused to store it: ${e.message ?? String(error)} (SQLSTATE ${e.code ?? '?'}${place}); it was not imported — correct it and replay it`, 1000),
  };
}

/**
 * The decision state for a batch as the read models show it: one lookup per kind, keyed by what
 * the batch's rules name (lookupKeysOf).
 */
export async function loadDecisionState(db: pg.Pool, keys: BatchLookups): Promise<InMemoryState> {
  const [owners, existing, active, named, synced, rejections] = await Promise.all([
    phoneOwners(db, keys.phones), existingProfiles(db, keys.careosIds), activeLinks(db, keys.links),
    phoneOwnersWithNames(db, keys.namedPhones), syncedRecords(db, keys.synced), rejectedRows(db, keys.replays),
  ]);
  const state = new InMemoryState();
  for (const r of owners) state.addPhone(r.phone, r.careosId);
  for (const careosId of existing) state.addProfile(careosId);
  for (const r of active) state.setLink(r.source, r.originalId, r.careosId);
  for (const r of named) {
    state.addPhone(r.phone, r.careosId);
    state.addNames(r.careosId, { firstname: r.firstname, lastname: r.lastname });
  }
  for (const r of synced) state.addSynced(r.source, r.originalId, { importId: r.importId, row: r.row, careosId: r.careosId });
  for (const r of rejections) {
    state.addRejection(r.importId, r.row, { source: r.source, root: r.root, resolvedBy: null, reverted: r.reverted });
    // The chain's resolution is kept on its first rejection.
    state.addRejection(r.root.importId, r.root.row, { source: r.source, root: r.root, resolvedBy: r.resolvedBy, reverted: r.reverted });
  }
  return state;
}

/** Outcome events checked against their schemas, as the store takes them. */
export function checkedOutcome(events: readonly { id: string; event: ImporterEvent }[]): NewEvent[] {
  return events.map(({ id, event }) => {
    checkEvent(event.type, event.data, event.metadata);
    return { id, type: event.type, data: event.data, metadata: event.metadata };
  });
}

/**
 * Applies the batch to every read model, in global order: the input events projections handle
 * (ImportStarted, ImportFileRead) at their stored positions, then the outcome just appended, at
 * the positions the store reports for it.
 */
async function project(
  client: pg.ClientBase, stored: readonly { event: ImporterEvent; position: Position }[],
  appends: readonly StreamAppend[], results: readonly { positions?: Position[] }[],
): Promise<void> {
  const events: PositionedEvent[] = [];
  for (const { event, position } of stored) {
    if (event.type === 'ImportStarted' || event.type === 'ImportFileRead' || event.type === 'RevertRequested') events.push({ ...event, position } as PositionedEvent);
  }
  appends.forEach((append, i) => {
    const positions = results[i]!.positions;
    if (!positions || positions.length !== append.events.length) throw new Error(`the event store did not report the positions of ${append.streamId}`);
    append.events.forEach((event, j) => events.push({ type: event.type, data: event.data, metadata: event.metadata, position: positions[j]! } as PositionedEvent));
  });
  for (const projection of PROJECTIONS) {
    const mine = events.filter((event) => projection.handles.includes(event.type));
    if (mine.length) await projection.apply(client, mine);
  }
}
