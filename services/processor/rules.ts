// What every source's rules share: the shape of a source, of a checked row and of a decision,
// and the linking rule (rule 2): an original id already active on the profile stays as it is,
// one active on another profile is unlinked there and linked here.
import type { EventMetadata, ImporterEvent, ProfileCreatedData, RowReason, RowReceivedData, SourceName } from '../events/types.ts';
import { eventId } from '../events/ids.ts';
import type { DecisionState, LookupKeys, SyncedRecord } from './state.ts';
import { storableRecord } from './storable.ts';

export interface ColumnSpec {
  name: string;
  /** The header must carry this column (its value may still be optional). */
  requiredInHeader: boolean;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reasons: RowReason[] };

export interface DecidedEvent {
  id: string;
  event: ImporterEvent;
}

export interface RowDecision {
  /** How the row counts in the import log. */
  outcome: 'imported' | 'rejected' | 'skipped';
  events: DecidedEvent[];
}

export interface ReceivedRow {
  data: RowReceivedData;
  metadata: EventMetadata;
}

export interface SourceRules<Row> {
  name: SourceName;
  /** Shown to admins. */
  label: string;
  columns: readonly ColumnSpec[];
  /** Pure, stateless: trims and validates every field; `today` is yyyy-mm-dd. */
  check(record: Record<string, string>, today: string): Checked<Row>;
  /**
   * Pure: the keys decide() may look up for this valid row (profiles, phones' owners, this
   * source's original ids' active links). The processor loads exactly these before a batch.
   */
  keys(row: Row): LookupKeys;
  /** Pure: the events this valid row causes, given everything decided before it. */
  decide(row: Row, received: ReceivedRow, state: DecisionState): RowDecision;
  /**
   * Sources with a history log (Care Shop): the id the history knows a record by, read from the raw
   * record before any field is checked (a record already synced is skipped, valid or not); null
   * when the record has none. Absent: the source keeps no history.
   */
  history?: {
    key(record: Record<string, string>): string | null;
    /** Pure: the row's decision when its record is in the history already. */
    skip(received: ReceivedRow, originalId: string, entry: SyncedRecord): RowDecision;
    /** Pure: the events that log a rejected record to the history. */
    rejected(received: ReceivedRow, originalId: string): DecidedEvent[];
  };
}

/** Metadata of an event the processor emits for a received row: same author, same instant. */
export function outcomeMetadata(received: ReceivedRow): EventMetadata {
  return { by: received.metadata.by, at: received.metadata.at, importId: received.data.importId, row: received.data.row, v: 1 };
}

/**
 * RowRejected for a received row: its record whole, as PostgreSQL can store it (a value it cannot
 * becomes a sanitised copy, storable.ts; the RowReceived keeps the original).
 */
export function rejected(received: ReceivedRow, reasons: RowReason[]): RowDecision {
  const { importId, source, row } = received.data;
  const record = storableRecord(received.data.record);
  return {
    outcome: 'rejected',
    events: [
      {
        id: eventId(importId, row, 'rejected'),
        event: { type: 'RowRejected', data: { importId, source, row, record, reasons, replayOf: null }, metadata: { ...outcomeMetadata(received), v: 2 } },
      },
    ],
  };
}

/** The fields of a new profile, as a source's rules read them from a valid row. */
export type NewProfile = Pick<ProfileCreatedData, 'firstname' | 'lastname' | 'gender' | 'dateOfBirth' | 'emails' | 'phones' | 'companies'>;

/** ProfileCreated for a received row (its id derived from the row, so deciding twice gives the same event). */
export function profileCreated(received: ReceivedRow, careosId: string, profile: NewProfile): DecidedEvent {
  const { importId, source, row } = received.data;
  return {
    id: eventId(importId, row, 'profile'),
    event: { type: 'ProfileCreated', data: { careosId, source, importId, row, ...profile }, metadata: outcomeMetadata(received) },
  };
}

/** Rule 2: link every original id to careosId, unlinking it from another profile first. */
export function linkEvents(received: ReceivedRow, careosId: string, originalIds: readonly string[], state: DecisionState): DecidedEvent[] {
  const { importId, source, row } = received.data;
  const metadata = outcomeMetadata(received);
  const events: DecidedEvent[] = [];
  const toLink: string[] = [];
  const confirmed: string[] = [];
  for (const originalId of originalIds) {
    const current = state.activeLink(source, originalId);
    if (current === careosId) {
      confirmed.push(originalId);
      continue;
    }
    if (current !== undefined) {
      events.push({
        id: eventId(importId, row, `unlink:${originalId}`),
        event: { type: 'RelationUnlinked', data: { careosId: current, source, originalId, relinkedTo: careosId, importId, row }, metadata },
      });
    }
    toLink.push(originalId);
  }
  if (toLink.length > 0) {
    events.push({
      id: eventId(importId, row, 'link'),
      event: { type: 'RelationLinked', data: { careosId, source, originalIds: toLink, importId, row }, metadata },
    });
  }
  // Links the row names as they are: nothing changes, but the row stands behind them now.
  if (confirmed.length > 0) {
    events.push({
      id: eventId(importId, row, 'confirm'),
      event: { type: 'RelationConfirmed', data: { careosId, source, originalIds: confirmed, importId, row }, metadata },
    });
  }
  return events;
}

/** Collects reasons of several checks; returns the values only when none failed. */
export class ReasonCollector {
  readonly reasons: RowReason[] = [];
  take<T>(checked: { value: T; reasons: readonly RowReason[] }): T {
    if (checked.reasons.length) this.reasons.push(...checked.reasons);
    return checked.value;
  }
}

/** yyyy-mm-dd of an ISO instant (UTC+7, Thailand, where the admins work). */
export function bangkokDate(isoInstant: string): string {
  // Rows of a batch share one instant: remember the last answer.
  if (isoInstant !== lastInstant) {
    lastDate = new Date(Date.parse(isoInstant) + 7 * 3600_000).toISOString().slice(0, 10);
    lastInstant = isoInstant;
  }
  return lastDate;
}
let lastInstant = '';
let lastDate = '';
