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
import type pg from 'pg';
import { checkEvent } from '../events/schemas.ts';
import type { EventOf, ImporterEvent } from '../events/types.ts';
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
    const decision = decideBatch(input, this.imports, state);
    for (const progress of decision.progress) this.imports.set(progress.importId, progress);

    // Checked before waiting, so the schema checks run while the previous batch commits.
    const decided: ImporterEvent[] = [];
    const outcomes: { importId: string; events: NewEvent[] }[] = [];
    for (const [importId, list] of decision.outcomes) {
      outcomes.push({ importId, events: checkedOutcome(list) });
      for (const { event } of list) decided.push(event);
    }

    // The previous batch must be committed before this one is appended after it.
    await this.flush();
    const next = batch.position;
    const done = this.commit({ checkpoint, next, stored: batch.events, outcomes, progress: decision.progress });
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

  /** Appends a decided batch and commits the read models, progress and checkpoint with it. */
  private async commit(batch: {
    checkpoint: Position; next: Position; stored: readonly { event: ImporterEvent; position: Position }[];
    outcomes: { importId: string; events: NewEvent[] }[]; progress: readonly ImportProgress[];
  }): Promise<void> {
    const { checkpoint, next, outcomes } = batch;
    // Every earlier batch has committed by now, so the revisions known are the streams' last.
    const appends: StreamAppend[] = outcomes.map(({ importId, events }) => ({
      streamId: streams.outcome(importId), expectedRevision: this.outcomeRevisions.get(importId) ?? 'no_stream', withPositions: true, events,
    }));
    let lastOutput = this.lastOutput;
    try {
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
      throw error;
    }
    this.lastOutput = lastOutput;
  }
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
