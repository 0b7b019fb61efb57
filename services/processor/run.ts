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
import { eventId } from '../events/ids.ts';
import type { EventMetadata, ImporterEvent, RowReceivedData, SourceName } from '../events/types.ts';
import { streams } from '../events/types.ts';
import type { EventStore, NewEvent, Position, StreamAppend } from '../eventstore/types.ts';
import { START, comparePositions } from '../eventstore/types.ts';
import { PROJECTIONS } from '../../projections/runner.ts';
import type { PositionedEvent } from '../../projections/types.ts';
import { decideRow } from './decide.ts';
import { LocalIntake, type Intake } from './intake.ts';
import type { DecidedEvent } from './rules.ts';
import { InMemoryState } from './state.ts';

export const PROCESSOR_DDL = `
  create table if not exists processor_checkpoint (
    name text primary key,
    position_commit bigint not null,
    position_prepare bigint not null,
    last_output_commit bigint not null,
    last_output_prepare bigint not null
  );
  insert into processor_checkpoint values ('processor', 0, 0, 0, 0) on conflict (name) do nothing;
  create table if not exists processor_import (
    import_id text primary key,
    source text not null,
    started_by text not null,
    total_rows integer,
    processed_rows integer not null,
    imported_rows integer not null,
    rejected_rows integer not null,
    outcome_revision bigint,
    completed boolean not null
  );
`;

export const PROGRESS_EVERY_ROWS = 10_000;

function progressEvent(progress: ImportProgress, rowMetadata: EventMetadata): DecidedEvent {
  return {
    id: eventId(progress.importId, progress.processedRows, 'progress'),
    event: {
      type: 'ImportProgressed',
      data: { importId: progress.importId, processedRows: progress.processedRows, importedRows: progress.importedRows, rejectedRows: progress.rejectedRows },
      metadata: { ...rowMetadata, v: 1 },
    },
  };
}

interface ImportProgress {
  importId: string;
  source: SourceName;
  startedBy: string;
  totalRows: number | null;
  processedRows: number;
  importedRows: number;
  rejectedRows: number;
  /** Revision of the last event in the import's outcome stream; null = no stream yet. */
  outcomeRevision: bigint | null;
  completed: boolean;
}

/**
 * The net effect of a decided batch on the decision state, per key, so that the next batch can be
 * decided before this one is committed: applying it to state that already shows it changes nothing.
 */
interface BatchEffects {
  profiles: Set<string>;
  /** phone → profiles created with it in the batch, in order. */
  phones: Map<string, string[]>;
  /** source\0originalId → profile it is actively linked to after the batch; null = unlinked. */
  links: Map<string, string | null>;
}

function effectsOf(events: readonly ImporterEvent[]): BatchEffects {
  const effects: BatchEffects = { profiles: new Set(), phones: new Map(), links: new Map() };
  for (const event of events) {
    if (event.type === 'ProfileCreated') {
      effects.profiles.add(event.data.careosId);
      for (const phone of event.data.phones) {
        const owners = effects.phones.get(phone);
        if (owners) owners.push(event.data.careosId);
        else effects.phones.set(phone, [event.data.careosId]);
      }
    } else if (event.type === 'RelationLinked') {
      for (const originalId of event.data.originalIds) effects.links.set(`${event.data.source}\u0000${originalId}`, event.data.careosId);
    } else if (event.type === 'RelationUnlinked') {
      const key = `${event.data.source}\u0000${event.data.originalId}`;
      const target = effects.links.get(key);
      if (target === undefined || target === event.data.careosId) effects.links.set(key, null);
    }
  }
  return effects;
}

export class CheckpointMoved extends Error {
  constructor() {
    super('the processor checkpoint moved under this processor (another processor is active)');
    this.name = 'CheckpointMoved';
  }
}

export interface ProcessorOptions {
  batchSize: number;
  /** Reads and checks the input; by default in this thread. */
  intake?: Intake;
}

export type ReceivedRowInput = { data: RowReceivedData; metadata: EventMetadata };

export async function migrateProcessor(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock(7261001)');
    await client.query(PROCESSOR_DDL);
  } finally {
    await client.query('select pg_advisory_unlock(7261001)').catch(() => undefined);
    client.release();
  }
}

export class Processor {
  private checkpoint: Position | null = null;
  private lastOutput: Position = START;
  private readonly imports = new Map<string, ImportProgress>();
  /** Where the next read starts: at or after the checkpoint (rows of other types skipped). */
  private cursor: Position | null = null;
  /** The batch being committed while the next one is decided. */
  private inflight: { done: Promise<void>; effects: BatchEffects } | null = null;

  private readonly intake: Intake;

  constructor(
    private readonly store: EventStore,
    private readonly pool: pg.Pool,
    options: ProcessorOptions,
  ) {
    this.intake = options.intake ?? new LocalIntake(store, options.batchSize);
  }

  private async loadCheckpoint(): Promise<Position> {
    if (this.checkpoint) return this.checkpoint;
    const { rows } = await this.pool.query<Record<string, string>>(
      `select position_commit::text, position_prepare::text, last_output_commit::text, last_output_prepare::text
         from processor_checkpoint where name = 'processor'`,
    );
    const row = rows[0]!;
    this.checkpoint = { commit: BigInt(row.position_commit!), prepare: BigInt(row.position_prepare!) };
    this.lastOutput = { commit: BigInt(row.last_output_commit!), prepare: BigInt(row.last_output_prepare!) };
    this.imports.clear();
    return this.checkpoint;
  }

  private async loadImports(importIds: string[]): Promise<void> {
    const missing = importIds.filter((id) => !this.imports.has(id));
    if (!missing.length) return;
    const { rows } = await this.pool.query<{
      import_id: string; source: SourceName; started_by: string; total_rows: number | null; processed_rows: number;
      imported_rows: number; rejected_rows: number; outcome_revision: string | null; completed: boolean;
    }>('select *, outcome_revision::text as outcome_revision from processor_import where import_id = any($1)', [missing]);
    for (const r of rows) {
      this.imports.set(r.import_id, {
        importId: r.import_id, source: r.source, startedBy: r.started_by, totalRows: r.total_rows,
        processedRows: r.processed_rows, importedRows: r.imported_rows, rejectedRows: r.rejected_rows,
        outcomeRevision: r.outcome_revision === null ? null : BigInt(r.outcome_revision), completed: r.completed,
      });
    }
  }

  /** Loads the decision state for a batch: one query per kind, keyed by everything the batch may look up. */
  private async loadState(phones: string[], careosIds: string[], links: { source: string; originalId: string }[]): Promise<InMemoryState> {
    const state = new InMemoryState();
    // Keys travel as one JSON text each (pg's array parameters cost more to build than the lookup).
    // Each lookup is one index probe per key (LATERAL, kept from being flattened into a join by
    // `offset 0`), whatever the planner's statistics say: right after a bulk load they are
    // stale, and `= any(array)` or a join then reads the whole table per batch (a sequential
    // scan or a full index scan: 100+ ms a batch at 200k phones, growing with the table).
    const [owners, existing, active] = await Promise.all([
      this.pool.query<{ phone: string; careos_id: string }>(
        `select k.phone, p.careos_id from json_array_elements_text($1::json) as k(phone)
           cross join lateral (select careos_id, created_commit, created_prepare from profile_phone where phone = k.phone offset 0) p
          order by p.created_commit, p.created_prepare`,
        [JSON.stringify(phones)],
      ),
      this.pool.query<{ careos_id: string }>(
        `select p.careos_id from json_array_elements_text($1::json) as k(careos_id)
           cross join lateral (select careos_id from profile where careos_id = k.careos_id offset 0) p`,
        [JSON.stringify(careosIds)],
      ),
      this.pool.query<{ source: string; original_id: string; care_os_id: string }>(
        `select k.source, k.original_id, r.care_os_id
           from rows from (json_array_elements_text($1::json), json_array_elements_text($2::json)) as k(source, original_id)
           cross join lateral (select care_os_id from relation
                                where original_source = k.source and original_id = k.original_id and active offset 0) r`,
        [JSON.stringify(links.map((l) => l.source)), JSON.stringify(links.map((l) => l.originalId))],
      ),
    ]);
    for (const r of owners.rows) state.addPhone(r.phone, r.careos_id);
    for (const r of existing.rows) state.addProfile(r.careos_id);
    for (const r of active.rows) state.setLink(r.source, r.original_id, r.care_os_id);
    const effects = this.inflight?.effects;
    if (effects) {
      // The batch still committing: its net effect, which the rows above may or may not show yet.
      for (const careosId of careosIds) if (effects.profiles.has(careosId)) state.addProfile(careosId);
      for (const phone of phones) for (const owner of effects.phones.get(phone) ?? []) state.addPhone(phone, owner);
      for (const link of links) {
        const target = effects.links.get(`${link.source}\u0000${link.originalId}`);
        if (target === null) state.removeLink(link.source, link.originalId);
        else if (target !== undefined) state.setLink(link.source, link.originalId, target);
      }
    }
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
    const stored = batch.events;
    if (stored.length === 0) {
      // Caught up: nothing is decided but not yet committed.
      await this.flush();
      const moved = comparePositions(batch.position, from) !== 0;
      this.cursor = batch.position;
      return moved;
    }
    const input = stored.map((e) => e.event);
    const importIds = [...new Set(input.map((e) => e.metadata.importId))];
    await this.loadImports(importIds);

    const rows: ReceivedRowInput[] = [];
    for (const event of input) if (event.type === 'RowReceived') rows.push({ data: event.data, metadata: event.metadata });
    const { checked } = batch;

    // Everything the batch's valid rows may look up, in one query per kind.
    const phones = new Set<string>();
    const careosIds = new Set<string>();
    const links = new Map<string, { source: string; originalId: string }>();
    checked.forEach((result, i) => {
      if (!result.ok) return;
      const value = result.value as { phones?: string[]; careosId?: string | null; nanaIds?: string[] };
      for (const phone of value.phones ?? []) phones.add(phone);
      if (value.careosId) careosIds.add(value.careosId);
      const source = rows[i]!.data.source;
      for (const originalId of value.nanaIds ?? []) links.set(`${source}\u0000${originalId}`, { source, originalId });
    });
    const state = await this.loadState([...phones], [...careosIds], [...links.values()]);

    const outcomes = new Map<string, DecidedEvent[]>();
    const touched = new Set<ImportProgress>();
    const emit = (importId: string, decided: DecidedEvent) => {
      let list = outcomes.get(importId);
      if (!list) outcomes.set(importId, (list = []));
      list.push(decided);
    };
    let rowIndex = 0;
    for (const event of input) {
      const importId = event.metadata.importId;
      switch (event.type) {
        case 'ImportStarted': {
          if (!this.imports.has(importId)) {
            this.imports.set(importId, {
              importId, source: event.data.source, startedBy: event.metadata.by, totalRows: null, processedRows: 0,
              importedRows: 0, rejectedRows: 0, outcomeRevision: null, completed: false,
            });
          }
          touched.add(this.imports.get(importId)!);
          break;
        }
        case 'RowReceived': {
          const progress = this.imports.get(importId);
          if (!progress) throw new Error(`RowReceived for import ${importId} before its ImportStarted`);
          const decision = decideRow(rows[rowIndex]!, checked[rowIndex]!, state);
          rowIndex++;
          for (const decided of decision.events) {
            state.apply(decided.event);
            emit(importId, decided);
          }
          progress.processedRows++;
          if (decision.imported) progress.importedRows++;
          else progress.rejectedRows++;
          touched.add(progress);
          // Progress marks sit at fixed row counts, so the outcome stream is a pure function of
          // the rows whatever the batch boundaries (a re-decided batch appends the same events).
          if (progress.processedRows % PROGRESS_EVERY_ROWS === 0) emit(importId, progressEvent(progress, event.metadata));
          break;
        }
        case 'ImportFileRead': {
          const progress = this.imports.get(importId);
          if (!progress) throw new Error(`ImportFileRead for import ${importId} before its ImportStarted`);
          progress.totalRows = event.data.totalRows;
          touched.add(progress);
          if (!progress.completed && progress.processedRows === progress.totalRows) {
            progress.completed = true;
            emit(importId, {
              id: eventId(importId, 0, 'completed'),
              event: {
                type: 'ImportCompleted',
                data: {
                  importId, status: progress.rejectedRows > 0 ? 'Failed' : 'Success', totalRows: progress.totalRows,
                  importedRows: progress.importedRows, rejectedRows: progress.rejectedRows,
                },
                metadata: { by: event.metadata.by, at: event.metadata.at, importId, v: 1 },
              },
            });
          }
          break;
        }
        default:
          throw new Error(`the processor does not read ${event.type}`);
      }
    }

    // Checked before waiting, so the schema checks run while the previous batch commits.
    const decidedEvents: ImporterEvent[] = [];
    const outcomeEvents = new Map<string, NewEvent[]>();
    for (const [importId, decided] of outcomes) {
      outcomeEvents.set(importId, decided.map(({ id, event }): NewEvent => {
        checkEvent(event.type, event.data, event.metadata);
        decidedEvents.push(event);
        return { id, type: event.type, data: event.data, metadata: event.metadata };
      }));
    }
    // The counters as this batch leaves them (the next batch moves the live ones on).
    const counters = [...touched].map((live) => ({ live, values: { ...live } }));

    // The previous batch must be committed before this one is appended after it.
    await this.flush();
    const appends: StreamAppend[] = [];
    const appendedImports: ImportProgress[] = [];
    for (const [importId, events] of outcomeEvents) {
      const progress = this.imports.get(importId)!;
      appends.push({ streamId: streams.outcome(importId), expectedRevision: progress.outcomeRevision ?? 'no_stream', withPositions: true, events });
      appendedImports.push(progress);
    }
    const next = batch.position;
    const done = this.commit({ checkpoint, next, stored, input, appends, appendedImports, counters });
    done.catch(() => undefined); // surfaced by flush()
    this.inflight = { done, effects: effectsOf(decidedEvents) };
    this.checkpoint = next;
    this.cursor = next;
    return true;
  }

  /** Appends a decided batch and commits the read models, counters and checkpoint with it. */
  private async commit(batch: {
    checkpoint: Position; next: Position; stored: readonly { position: Position }[]; input: readonly ImporterEvent[];
    appends: StreamAppend[]; appendedImports: ImportProgress[]; counters: { live: ImportProgress; values: ImportProgress }[];
  }): Promise<void> {
    const { checkpoint, next, appends, appendedImports, counters } = batch;
    let lastOutput = this.lastOutput;
    try {
      await this.store.appendMany(appends, async (client, results) => {
        for (const result of results) if (comparePositions(result.position, lastOutput) > 0) lastOutput = result.position;
        results.forEach((result, i) => (appendedImports[i]!.outcomeRevision = result.nextExpectedRevision));
        // Every earlier batch has committed by now, so the live outcome revision is this batch's.
        const rows = counters.map(({ live, values }) => ({ ...values, outcomeRevision: live.outcomeRevision }));
        await project(client, batch.stored, batch.input, appends, results);
        await client.query(
          `insert into processor_import (import_id, source, started_by, total_rows, processed_rows, imported_rows, rejected_rows, outcome_revision, completed)
           select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::int[], $8::bigint[], $9::boolean[])
           on conflict (import_id) do update set total_rows = excluded.total_rows, processed_rows = excluded.processed_rows,
             imported_rows = excluded.imported_rows, rejected_rows = excluded.rejected_rows,
             outcome_revision = excluded.outcome_revision, completed = excluded.completed`,
          [
            rows.map((p) => p.importId), rows.map((p) => p.source), rows.map((p) => p.startedBy), rows.map((p) => p.totalRows),
            rows.map((p) => p.processedRows), rows.map((p) => p.importedRows), rows.map((p) => p.rejectedRows),
            rows.map((p) => (p.outcomeRevision === null ? null : String(p.outcomeRevision))), rows.map((p) => p.completed),
          ],
        );
        const { rowCount } = await client.query(
          `update processor_checkpoint set position_commit = $1, position_prepare = $2, last_output_commit = $3, last_output_prepare = $4
            where name = 'processor' and position_commit = $5 and position_prepare = $6`,
          [next.commit, next.prepare, lastOutput.commit, lastOutput.prepare, checkpoint.commit, checkpoint.prepare].map(String),
        );
        if (rowCount !== 1) throw new CheckpointMoved();
      });
    } catch (error) {
      this.reset();
      throw error;
    }
    this.lastOutput = lastOutput;
  }
}

/**
 * Applies the batch to every read model, in global order: the input events projections handle
 * (ImportStarted, ImportFileRead) at their stored positions, then the outcome just appended, at
 * the positions the store reports for it.
 */
async function project(
  client: pg.ClientBase, stored: readonly { position: Position }[], input: readonly ImporterEvent[],
  appends: readonly StreamAppend[], results: readonly { positions?: Position[] }[],
): Promise<void> {
  const events: PositionedEvent[] = [];
  input.forEach((event, i) => {
    if (event.type === 'ImportStarted' || event.type === 'ImportFileRead') events.push({ ...event, position: stored[i]!.position } as PositionedEvent);
  });
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
