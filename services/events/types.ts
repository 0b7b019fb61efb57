// The event contract of the importer: every event type, its data and its metadata.
// Stored names are a contract: each type has one JSON Schema per version in schemas/
// (e.g. schemas/RowReceived.v1.json); an incompatible change is a new version.

export type SourceName = 'nana' | 'careos' | 'careshop';
export const SOURCES: readonly SourceName[] = ['nana', 'careos', 'careshop'];

/** Who caused an event, when, and for which import and row. */
export interface EventMetadata {
  /** User (or system task) that caused the event. */
  by: string;
  /** ISO-8601 instant. For processor output this is the time of the causing RowReceived, so re-deciding is byte-identical. */
  at: string;
  importId: string;
  /** 1 = first record after the header; absent for import-level events. */
  row?: number;
  /** Version of the event's data schema (CURRENT_VERSION; 1 for most types). */
  v: 1 | 2;
}

export interface RowReason {
  field: string;
  code: string;
  message: string;
}

export type ImportStatus = 'In progress' | 'Success' | 'Failed' | 'Reverted';

/** Where an import's rows come from (schemas/ImportStarted.v2.json). */
export type ImportOrigin =
  | {
    kind: 'file';
    fileName: string;
    /** Path of the durable UTF-8 copy of the upload, relative to the data directory. */
    storedFile: string;
    sizeBytes: number;
  }
  | {
    /** A table synced from a source system (Care Shop). */
    kind: 'table';
    /** As configured (schema.table); never a connection string. */
    table: string;
    /** The keyset position the sync reads after (as text); null for the first sync. */
    cursor: string | null;
  }
  | {
    /** Rejected rows of an earlier import, sent again (fixed, or unchanged). */
    kind: 'replay';
    /** The import whose rows are replayed. */
    of: string;
    /** Their row numbers in that import, in the order replayed. */
    rows: number[];
  };

export type OriginKind = ImportOrigin['kind'];

/** How the import log names an import's origin in its "file name" column. */
export function originLabel(origin: ImportOrigin): string {
  switch (origin.kind) {
    case 'file':
      return origin.fileName;
    case 'table':
      return `table ${origin.table}`;
    case 'replay':
      return `replay of ${origin.rows.length} row${origin.rows.length === 1 ? '' : 's'} of import ${origin.of}`;
  }
}

/** ImportStarted as read and written (schemas/ImportStarted.v2.json; v1 events are upcast to it). */
export interface ImportStartedData {
  importId: string;
  source: SourceName;
  /** The record's columns as the origin names them (a file's header as written, trimmed), in order. */
  columns: string[];
  origin: ImportOrigin;
}

/** ImportStarted v1, as stored before imports had an origin (every one was a file). */
export interface ImportStartedV1Data {
  importId: string;
  source: SourceName;
  fileName: string;
  storedFile: string;
  sizeBytes: number;
  columns: string[];
}

/** The version each event type is written in today (metadata.v). */
export const CURRENT_VERSION: Partial<Record<EventType, 2>> = { ImportStarted: 2, RowReceived: 2, ImportProgressed: 2, ImportCompleted: 2, RowRejected: 2 };

/** RowReceived as read (v1 as stored; v2 with its record rebuilt from the import's columns, see row-received.ts). */
export interface RowReceivedData {
  importId: string;
  source: SourceName;
  row: number;
  /** The raw record: canonical (lower-case) column name → value exactly as in the file. */
  record: Record<string, string>;
}

/**
 * RowReceived v2 as stored (schemas/RowReceived.v2.json): the header is not repeated in every row.
 * A record whose keys are the import's columns in order is its values alone; any other, whole.
 */
export type RowReceivedV2Data = { importId: string; source: SourceName; row: number } & (
  | { values: string[]; record?: undefined }
  | { record: Record<string, string>; values?: undefined }
);

export interface ImportFileReadData {
  importId: string;
  totalRows: number;
}

export interface ProfileCreatedData {
  careosId: string;
  source: SourceName;
  importId: string;
  row: number;
  firstname: string;
  lastname: string;
  gender: 'F' | 'M' | null;
  dateOfBirth: string | null;
  emails: string[];
  phones: string[];
  companies: string[];
}

export interface RelationLinkedData {
  careosId: string;
  source: SourceName;
  originalIds: string[];
  importId: string;
  row: number;
}

/** A row named links that were already active to the profile it names: no change, but the row stands behind them. */
export interface RelationConfirmedData {
  careosId: string;
  source: SourceName;
  originalIds: string[];
  importId: string;
  row: number;
}

export interface RelationUnlinkedData {
  /** The profile the original id was linked to until now. */
  careosId: string;
  source: SourceName;
  originalId: string;
  /** The profile it is linked to instead. */
  relinkedTo: string;
  importId: string;
  row: number;
}

/** A row of an import: what a replay refers to. */
export interface RowRef {
  importId: string;
  row: number;
}

export interface RowRejectedData {
  importId: string;
  source: SourceName;
  row: number;
  record: Record<string, string>;
  reasons: RowReason[];
  /** v2: a replayed row rejected again: the rejected row it was meant to fix (the chain's first); null otherwise. */
  replayOf: RowRef | null;
}

/** A replayed row (importId, row) was accepted: the rejected row it fixes is resolved. */
export interface ErrorResolvedData {
  importId: string;
  source: SourceName;
  row: number;
  /** The chain's first rejection; every later rejection of a replay of it is resolved with it. */
  resolves: RowRef;
}

/** Why a row was skipped: its record is in the history already, or it matched a profile exactly. */
export type SkipCode = 'already-synced' | 'matched-profile';

export interface RowSkippedData {
  importId: string;
  source: SourceName;
  row: number;
  /** The record's id in its source (the Care Shop customer id). */
  originalId: string;
  code: SkipCode;
  message: string;
  /** The profile matched (matched-profile), or the one the record's first sync created or matched (already-synced). */
  careosId: string | null;
  /** When the source last changed the record (table syncs); null when unknown (files). */
  sourceUpdatedAt: string | null;
}

/** A record enters the history log (its first sync) with what came of it. */
export interface RecordSyncedData {
  importId: string;
  source: SourceName;
  row: number;
  originalId: string;
  outcome: 'created' | 'matched' | 'rejected';
  /** The profile created or matched; null when rejected. */
  careosId: string | null;
  sourceUpdatedAt: string | null;
}

export interface ImportProgressedData {
  importId: string;
  processedRows: number;
  importedRows: number;
  rejectedRows: number;
  /** v2: rows skipped (already synced, or matched a profile exactly); v1 events read as 0. */
  skippedRows: number;
}

export interface ImportCompletedData {
  importId: string;
  status: 'Success' | 'Failed';
  totalRows: number;
  importedRows: number;
  rejectedRows: number;
  /** v2; v1 events read as 0. */
  skippedRows: number;
}

/** An admin asks to revert a completed import (appended to the import's stream; the processor decides it in order). */
export interface RevertRequestedData {
  importId: string;
  reason: string;
}

/** A link a reverted import's row made is ended. */
export interface RelationRevertedData {
  careosId: string;
  source: SourceName;
  originalId: string;
  /** The reverted import, and its row that made the link. */
  importId: string;
  row: number;
}

/** A link the reverted import's row had ended (a remap) is active again. */
export interface RelationRestoredData {
  careosId: string;
  source: SourceName;
  originalId: string;
  /** The reverted import, and its row that had ended the link. */
  importId: string;
  row: number;
  /** The import and row that first made the link. */
  restores: RowRef;
}

/** A profile a reverted import's row created is retired (its history stays). */
export interface ProfileRetiredData {
  careosId: string;
  importId: string;
  row: number;
}

/** An effect of a reverted import left as it is, because a later import built on it. */
export interface RevertBlocker {
  /**
   * relation-changed: a later import remapped a link the import made; relation-confirmed: a later
   * import named that link again; profile-in-use: a later import linked to, named or matched a
   * profile it created.
   */
  kind: 'relation-changed' | 'relation-confirmed' | 'profile-in-use';
  /** The reverted import's row whose effect stays. */
  row: number;
  careosId: string;
  /** The link's source and original id (relation-changed, relation-confirmed); null for a profile. */
  source: SourceName | null;
  originalId: string | null;
  /** The later import and row that built on it. */
  by: RowRef;
}

/** At most this many blockers are listed in a revert's outcome (blockedCount counts them all). */
export const REVERT_BLOCKERS_LISTED = 100;

interface RevertOutcomeData {
  importId: string;
  reason: string;
  blocked: RevertBlocker[];
  blockedCount: number;
}

export interface ImportRevertedData extends RevertOutcomeData {
  relationsReverted: number;
  relationsRestored: number;
  profilesRetired: number;
  /** Rejected rows this import (a replay) had resolved, open again. */
  errorsReopened: number;
}

export interface RevertRefusedData extends RevertOutcomeData {
  refusal: string;
}

export type ImporterEvent =
  | { type: 'ImportStarted'; data: ImportStartedData; metadata: EventMetadata }
  | { type: 'RowReceived'; data: RowReceivedData; metadata: EventMetadata }
  | { type: 'ImportFileRead'; data: ImportFileReadData; metadata: EventMetadata }
  | { type: 'ProfileCreated'; data: ProfileCreatedData; metadata: EventMetadata }
  | { type: 'RelationLinked'; data: RelationLinkedData; metadata: EventMetadata }
  | { type: 'RelationConfirmed'; data: RelationConfirmedData; metadata: EventMetadata }
  | { type: 'RelationUnlinked'; data: RelationUnlinkedData; metadata: EventMetadata }
  | { type: 'RowRejected'; data: RowRejectedData; metadata: EventMetadata }
  | { type: 'RowSkipped'; data: RowSkippedData; metadata: EventMetadata }
  | { type: 'ErrorResolved'; data: ErrorResolvedData; metadata: EventMetadata }
  | { type: 'RecordSynced'; data: RecordSyncedData; metadata: EventMetadata }
  | { type: 'ImportProgressed'; data: ImportProgressedData; metadata: EventMetadata }
  | { type: 'ImportCompleted'; data: ImportCompletedData; metadata: EventMetadata }
  | { type: 'RevertRequested'; data: RevertRequestedData; metadata: EventMetadata }
  | { type: 'RelationReverted'; data: RelationRevertedData; metadata: EventMetadata }
  | { type: 'RelationRestored'; data: RelationRestoredData; metadata: EventMetadata }
  | { type: 'ProfileRetired'; data: ProfileRetiredData; metadata: EventMetadata }
  | { type: 'ImportReverted'; data: ImportRevertedData; metadata: EventMetadata }
  | { type: 'RevertRefused'; data: RevertRefusedData; metadata: EventMetadata };

export type EventType = ImporterEvent['type'];
export const EVENT_TYPES: readonly EventType[] = [
  'ImportStarted', 'RowReceived', 'ImportFileRead', 'ProfileCreated', 'RelationLinked',
  'RelationUnlinked', 'RowRejected', 'RowSkipped', 'RecordSynced', 'ErrorResolved', 'ImportProgressed', 'ImportCompleted',
  'RevertRequested', 'RelationReverted', 'RelationRestored', 'ProfileRetired', 'ImportReverted', 'RevertRefused', 'RelationConfirmed',
];

/** The events the processor decides (everything but the readers' ImportStarted, RowReceived, ImportFileRead and admins' RevertRequested). */
export const OUTCOME_TYPES: readonly EventType[] = [
  'ProfileCreated', 'RelationLinked', 'RelationUnlinked', 'RowRejected', 'RowSkipped', 'RecordSynced', 'ErrorResolved', 'ImportProgressed', 'ImportCompleted',
  'RelationReverted', 'RelationRestored', 'ProfileRetired', 'ImportReverted', 'RevertRefused', 'RelationConfirmed',
];

/** Metadata of an admin's action that belongs to no import (schemas/ActionMetadata.v1.json). */
export interface ActionMetadata {
  by: string;
  at: string;
  v: 1;
}

/** Nana onboarding marked complete, or reopened (the gate in front of Care Shop). */
export interface OnboardingMarkedData {
  source: 'nana';
  complete: boolean;
  /** Required to reopen; optional when marking complete. */
  reason: string | null;
}

/** Events of admins' actions outside any import: not read by the processor. */
export type ActionEvent = { type: 'OnboardingMarked'; data: OnboardingMarkedData; metadata: ActionMetadata };
export type ActionEventType = ActionEvent['type'];
export const ACTION_EVENT_TYPES: readonly ActionEventType[] = ['OnboardingMarked'];

export type EventOf<T extends EventType> = Extract<ImporterEvent, { type: T }>;

export function assertNever(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`);
}

/** Stream names. One stream per import keeps index inserts sequential. */
export const streams = {
  /** ImportStarted, RowReceived × N (revision = row number), ImportFileRead, then any RevertRequested. */
  import: (importId: string) => `import-${importId}`,
  /** Everything the processor decided for an import's rows, in row order. */
  outcome: (importId: string) => `outcome-${importId}`,
  /** A source's onboarding marks (OnboardingMarked), oldest first. */
  onboarding: (source: string) => `onboarding-${source}`,
};
