// The processor's pure core for a batch: the input events (ImportStarted, RowReceived,
// ImportFileRead) in global order, their rows' field checks, the imports' progress before the
// batch and the decision state → the outcome events of each import and its progress after the
// batch. Progress marks and completion (Success or Failed) are decided here too. No IO: the
// processor (run.ts) loads what this reads and writes what it returns.
import { eventId } from '../events/ids.ts';
import type { EventMetadata, ImporterEvent, SourceName } from '../events/types.ts';
import { decideRow, replayOf, rulesFor } from './decide.ts';
import { rejected, type Checked, type DecidedEvent } from './rules.ts';
import type { InMemoryState } from './state.ts';

/** An ImportProgressed event every this many decided rows of an import. */
export const PROGRESS_EVERY_ROWS = 10_000;

export interface ImportProgress {
  importId: string;
  source: SourceName;
  startedBy: string;
  totalRows: number | null;
  processedRows: number;
  importedRows: number;
  rejectedRows: number;
  skippedRows: number;
  completed: boolean;
}

export interface BatchInput {
  events: readonly ImporterEvent[];
  /** The field check of each RowReceived of `events`, in order. */
  checked: readonly Checked<unknown>[];
  /**
   * Each row is decided as a RowRejected for its check's reasons and nothing else (no replay
   * link, no history entry): the last resort for a row whose rejection by its rules could not be
   * stored either (run.ts).
   */
  bare?: boolean;
}

export interface BatchDecision {
  /** Outcome events per import, in order. */
  outcomes: Map<string, DecidedEvent[]>;
  /** Every import the batch touched, as the batch leaves it. */
  progress: ImportProgress[];
}

/** What a batch looks up in the read models: keys of every source's rows together. */
export interface BatchLookups {
  phones: string[];
  careosIds: string[];
  links: { source: string; originalId: string }[];
  /** Phones whose owners are loaded with their names. */
  namedPhones: string[];
  /** Records whose history entry is loaded. */
  synced: { source: string; originalId: string }[];
  /** Rejected rows that replayed rows name (`_replay_of`), loaded with their chain's first rejection. */
  replays: { importId: string; row: number }[];
}

/** Everything the batch's valid rows may look up, as their sources' rules name it. */
export function lookupKeysOf(input: BatchInput): BatchLookups {
  const phones = new Set<string>();
  const careosIds = new Set<string>();
  const links = new Map<string, { source: string; originalId: string }>();
  const namedPhones = new Set<string>();
  const synced = new Map<string, { source: string; originalId: string }>();
  const replays = new Map<string, { importId: string; row: number }>();
  let row = 0;
  for (const event of input.events) {
    if (event.type !== 'RowReceived') continue;
    const checked = input.checked[row++]!;
    const { source } = event.data;
    const rules = rulesFor(source);
    // The history is asked before the fields are checked: a record synced before is skipped, valid or not.
    const historyKey = rules.history?.key(event.data.record) ?? null;
    if (historyKey !== null) synced.set(`${source}\u0000${historyKey}`, { source, originalId: historyKey });
    const replay = replayOf(event.data.record);
    if (replay !== null && replay !== 'malformed') replays.set(`${replay.importId}#${replay.row}`, replay);
    if (!checked.ok) continue;
    const keys = rules.keys(checked.value);
    for (const phone of keys.phones) phones.add(phone);
    for (const careosId of keys.careosIds) careosIds.add(careosId);
    for (const originalId of keys.originalIds) links.set(`${source}\u0000${originalId}`, { source, originalId });
    if (keys.namedPhones) for (const phone of keys.namedPhones) namedPhones.add(phone);
  }
  return {
    phones: [...phones], careosIds: [...careosIds], links: [...links.values()], namedPhones: [...namedPhones], synced: [...synced.values()],
    replays: [...replays.values()],
  };
}

function progressEvent(progress: ImportProgress, metadata: EventMetadata): DecidedEvent {
  return {
    id: eventId(progress.importId, progress.processedRows, 'progress'),
    event: {
      type: 'ImportProgressed',
      data: {
        importId: progress.importId, processedRows: progress.processedRows, importedRows: progress.importedRows,
        rejectedRows: progress.rejectedRows, skippedRows: progress.skippedRows,
      },
      metadata: { ...metadata, v: 2 },
    },
  };
}

function completedEvent(progress: ImportProgress, metadata: EventMetadata): DecidedEvent {
  return {
    id: eventId(progress.importId, 0, 'completed'),
    event: {
      type: 'ImportCompleted',
      data: {
        importId: progress.importId, status: progress.rejectedRows > 0 ? 'Failed' : 'Success', totalRows: progress.totalRows!,
        importedRows: progress.importedRows, rejectedRows: progress.rejectedRows, skippedRows: progress.skippedRows,
      },
      metadata: { by: metadata.by, at: metadata.at, importId: progress.importId, v: 2 },
    },
  };
}

/**
 * Decides a batch. `state` holds everything the batch looks up (lookupKeysOf) and is folded
 * forward as rows are decided; `before` is not changed.
 */
export function decideBatch(input: BatchInput, before: ReadonlyMap<string, ImportProgress>, state: InMemoryState): BatchDecision {
  const outcomes = new Map<string, DecidedEvent[]>();
  const after = new Map<string, ImportProgress>();
  const progressOf = (importId: string, type: string): ImportProgress => {
    let progress = after.get(importId);
    if (!progress) {
      const known = before.get(importId);
      if (!known) throw new Error(`${type} for import ${importId} before its ImportStarted`);
      after.set(importId, (progress = { ...known }));
    }
    return progress;
  };
  const emit = (importId: string, decided: DecidedEvent) => {
    let list = outcomes.get(importId);
    if (!list) outcomes.set(importId, (list = []));
    list.push(decided);
  };
  let row = 0;
  for (const event of input.events) {
    const importId = event.metadata.importId;
    switch (event.type) {
      case 'ImportStarted': {
        if (!after.has(importId) && !before.has(importId)) {
          after.set(importId, {
            importId, source: event.data.source, startedBy: event.metadata.by, totalRows: null,
            processedRows: 0, importedRows: 0, rejectedRows: 0, skippedRows: 0, completed: false,
          });
        } else {
          progressOf(importId, event.type);
        }
        break;
      }
      case 'RowReceived': {
        const progress = progressOf(importId, event.type);
        const checked = input.checked[row++]!;
        const decision = input.bare && !checked.ok ? rejected(event, checked.reasons) : decideRow(event, checked, state);
        for (const decided of decision.events) {
          state.apply(decided.event);
          emit(importId, decided);
        }
        progress.processedRows++;
        if (decision.outcome === 'imported') progress.importedRows++;
        else if (decision.outcome === 'rejected') progress.rejectedRows++;
        else progress.skippedRows++;
        // Progress marks sit at fixed row counts, so the outcome stream is a pure function of
        // the rows whatever the batch boundaries (a re-decided batch appends the same events).
        if (progress.processedRows % PROGRESS_EVERY_ROWS === 0) emit(importId, progressEvent(progress, event.metadata));
        break;
      }
      case 'ImportFileRead': {
        const progress = progressOf(importId, event.type);
        progress.totalRows = event.data.totalRows;
        // The import's rows all come before its ImportFileRead (one stream, appended in order).
        if (!progress.completed && progress.processedRows === progress.totalRows) {
          progress.completed = true;
          emit(importId, completedEvent(progress, event.metadata));
        }
        break;
      }
      default:
        throw new Error(`the processor does not read ${event.type}`);
    }
  }
  return { outcomes, progress: [...after.values()] };
}
