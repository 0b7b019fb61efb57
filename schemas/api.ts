// The contract between the importer's services and its clients (HTTP API, CLI, console): the
// shapes they exchange, the roles, and the columns each file source accepts. Plain data and
// types only, so the browser can import it as well as the server.

export type Role = 'admin' | 'bi' | 'auditor';
export const ROLES: readonly Role[] = ['admin', 'bi', 'auditor'];

/** Who is asking: a signed-in user (session cookie) or a script (bearer token). */
export interface Principal {
  /** Stable id written into events' `by`: the user's email, or the token's name. */
  id: string;
  /** Display name shown in the console ("Imported by"). */
  name: string;
  role: Role;
  via: 'session' | 'token';
  /** A first-start admin with a generated password must change it before anything else. */
  mustChangePassword: boolean;
}

/**
 * What each role may do. Checked by the service layer on every call (so the HTTP API, the
 * console's loads and actions, and any future client get the same answer) and used by the console
 * to decide what to show.
 */
export const PERMISSIONS = {
  'imports.read': ['admin', 'bi', 'auditor'],
  'imports.create': ['admin'],
  'errors.read': ['admin', 'bi'],
  /** Replay rejected rows: fixed in place, or unchanged (BI's work; a replay by file is an upload: admins). */
  'errors.replay': ['admin', 'bi'],
  'profiles.read': ['admin', 'auditor'],
  'relations.read': ['admin', 'auditor'],
  'users.manage': ['admin'],
  'onboarding.mark': ['admin'],
  /** Undo an import (compensating events; nothing is deleted). */
  'imports.revert': ['admin'],
  /** Rebuild every read model from the event store (the importer pauses meanwhile). */
  'readmodels.rebuild': ['admin'],
  /** The server's metrics (GET /metrics; a scraper may use CAREOS_METRICS_TOKEN instead). */
  'metrics.read': ['admin'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

export function can(role: Role | undefined, permission: Permission): boolean {
  return role !== undefined && (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

export type ImportStatus = 'In progress' | 'Success' | 'Failed' | 'Reverted';

/** An effect of a reverted import left as it is, because a later import built on it. */
export interface RevertBlockerView {
  kind: 'relation-changed' | 'relation-confirmed' | 'profile-in-use';
  /** The reverted import's row whose effect stays. */
  row: number;
  careosId: string;
  source: string | null;
  originalId: string | null;
  /** The later import and row that built on it. */
  by: { importId: string; row: number };
}

/** What a revert undoes (or would undo: the preview), and what it leaves because later imports built on it. */
export interface RevertPlanView {
  relationsReverted: number;
  relationsRestored: number;
  profilesRetired: number;
  errorsReopened: number;
  /** The first REVERT_BLOCKERS_LISTED effects left as they are. */
  blocked: RevertBlockerView[];
  blockedCount: number;
  /** Why the revert changes nothing (not finished, reverted already, every effect built on since); null when it can go on. */
  refusal: string | null;
}

/** The read models' rebuild run by the server (GET/POST /api/rebuild, the console's Rebuild page). */
export interface RebuildView {
  state: 'running' | 'done' | 'failed';
  startedBy: string;
  startedAt: string;
  finishedAt: string | null;
  /** How far through the event store the replay is, 0–1 (by position in the global order); null before it starts replaying. */
  fraction: number | null;
  /** Events applied to the read models so far. */
  applied: number;
  /** Why it failed (the processor resumes; the next start finishes the rebuild first). */
  error: string | null;
}

/** A rebuild as rebuild_log keeps it, whoever ran it (the server, `careos rebuild`). */
export interface RebuildRecord {
  id: number;
  /** running: under way, or cut short (the next start finishes it); failed: it stopped on an error and waits for the next start. */
  state: 'running' | 'done' | 'failed';
  startedBy: string;
  startedAt: string;
  finishedAt: string | null;
  /** Events applied to the read models. */
  applied: number;
  /** Why it failed (kept when a later start finished it). */
  error: string | null;
  /** It was finished by a later start of the importer, after a failure or a stop. */
  finishedAfterRestart: boolean;
}

/** An import's revert as the import log keeps it. */
export interface RevertView extends RevertPlanView {
  /** requested: the processor has not decided it yet (imports before it in order come first). */
  state: 'requested' | 'reverted' | 'refused';
  requestedBy: string;
  requestedByName: string;
  requestedAt: string;
  reason: string;
  /** When the processor decided it; null while requested. */
  decidedAt: string | null;
}

export interface ImportView {
  importId: string;
  /** Where the rows came from: 'file' (an upload) today; a table sync and a replay next. */
  origin: string;
  fileName: string;
  source: string;
  /** Stable id of who started it (user email, token name, or the CLI's --by). */
  importedBy: string;
  /** Display name of importedBy when it is a user; importedBy otherwise. */
  importedByName: string;
  importDate: string;
  /** When the import stopped (Success or Failed); while it runs, its last progress. */
  lastUpdate: string;
  status: ImportStatus;
  totalRows: number | null;
  processedRows: number;
  importedRows: number;
  rejectedRows: number;
  /** Neither imported nor rejected: already in the history log, or matched a profile exactly (Care Shop). */
  skippedRows: number;
  /** Rejected rows not fixed by a replay yet (BI's work left). */
  openRejectedRows: number;
  columns: string[];
  /** Its latest revert request and what came of it; null when never asked. */
  revert: RevertView | null;
}

/** The Nana gate in front of Care Shop (GET /api/onboarding/nana). */
export interface OnboardingView {
  source: 'nana';
  complete: boolean;
  /** Every mark, newest first; byName is the user's display name. */
  marks: { complete: boolean; reason: string | null; by: string; byName: string; at: string }[];
  nanaInProgress: { importId: string; fileName: string }[];
  /** Why Care Shop cannot be imported now; null when it can. */
  careshopRefusal: string | null;
}

/** One record of the Care Shop history log (GET /api/careshop/history). */
export interface HistoryEntryView {
  source: string;
  originalId: string;
  importId: string;
  row: number;
  outcome: 'created' | 'matched' | 'rejected';
  careosId: string | null;
  syncedBy: string;
  syncedAt: string;
  /** When the shop had last changed the record at this sync (table syncs). */
  sourceUpdatedAt: string | null;
  /** The latest change the shop made after it, seen (and skipped) by a later sync. */
  changedAt: string | null;
  skippedTimes: number;
  lastSkippedImportId: string | null;
}

/** What the import page's Care Shop panel shows: the gate, and whether a sync can start now. */
export interface CareshopPanelView {
  gate: OnboardingView;
  /** The table a sync reads ([schema.]table); null when sync is not configured. */
  table: string | null;
  /** The sync in progress, if any. */
  running: { importId: string } | null;
  /** Why "Sync now" cannot start a sync now (gate, a sync running, not configured); null when it can. */
  syncRefusal: string | null;
}

/** One step of a relation's (or a profile's) history, for auditors (GET /api/audit/timeline). */
export interface TimelineEntry {
  /** link-confirmed: a row named the link again as it stood. link-reverted, link-restored, profile-retired: done by the revert of import `revertOf`. */
  kind: 'profile-created' | 'linked' | 'link-confirmed' | 'unlinked' | 'link-reverted' | 'link-restored' | 'profile-retired';
  at: string;
  by: string;
  byName: string;
  careosId: string;
  /** The linked source and original id (links and unlinks); null for a profile's creation. */
  source: string | null;
  originalId: string | null;
  /** The import and row that caused it, and that import's file name (or origin label). */
  importId: string;
  fileName: string | null;
  row: number;
  /** For an unlink: the profile the id was linked to instead. */
  relinkedTo: string | null;
  /** The raw row that caused it, as received (its RowReceived event); null when not found. */
  record: Record<string, string> | null;
  /** The import whose revert did it, and the reason the admin gave; null for everything else. */
  revertOf: string | null;
  revertReason: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
  /** 1-based. */
  page: number;
  size: number;
}

export const PAGE_SIZES = [10, 25, 50, 100] as const;
export const DEFAULT_PAGE_SIZE = 10;

export interface RowReasonView {
  field: string;
  code: string;
  message: string;
}

export interface ErrorView {
  /** 1 = first record after the header. */
  row: number;
  /** Canonical (lower-case) column name → value exactly as uploaded. */
  record: Record<string, string>;
  reasons: RowReasonView[];
  /** A replayed row rejected again: the rejected row it was meant to fix; null otherwise. */
  replayOf: { importId: string; row: number } | null;
  /** The replayed row that fixed it (or the chain it belongs to); null while open. */
  resolvedBy: { importId: string; row: number; at: string } | null;
}

export interface ProfileView {
  careosId: string;
  firstname: string;
  lastname: string;
  gender: 'F' | 'M' | null;
  dateOfBirth: string | null;
  emails: string[];
  phones: string[];
  companies: string[];
}

export interface RelationView {
  careosId: string;
  originalId: string;
  source: string;
  active: boolean;
  linkedAt: string;
  linkedBy: string;
  linkedByName: string;
  /** The import that made the link (kept under its old name for scripts). */
  importId: string;
  linkedRow: number;
  unlinkedAt: string | null;
  unlinkedBy: string | null;
  unlinkedByName: string | null;
  unlinkedImportId: string | null;
  unlinkedRow: number | null;
  /** Ended by the revert of the import that made it (unlinkedImportId, unlinkedRow: that import and row). */
  unlinkedByRevert: boolean;
  /** Made active again by the revert of this import (which had ended it); importId and linkedRow still name who first made it. */
  restoredByRevertOf: string | null;
}

export interface ProfileDetail extends ProfileView {
  source: string;
  importId: string;
  row: number;
  createdAt: string;
  createdBy: string;
  createdByName: string;
  /** Retired by the revert of the import that created it (no longer found by phone or CareOS id); null while live. */
  retired: { at: string; by: string; byName: string } | null;
  relations: RelationView[];
}

export interface UserView {
  email: string;
  name: string;
  role: Role;
  disabled: boolean;
  mustChangePassword: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

export interface ColumnDefinition {
  name: string;
  /** The header must carry this column (its value may still be optional). */
  requiredInHeader: boolean;
}

export interface FileSourceDefinition {
  name: 'nana' | 'careos' | 'careshop';
  /** As the upload modal lists it. */
  label: string;
  columns: readonly ColumnDefinition[];
}

const required = (name: string): ColumnDefinition => ({ name, requiredInHeader: true });

/**
 * The sources a file can be imported from, and the header each accepts (any order, any letter
 * case). The server's file check and the browser's pre-upload check both read this.
 */
export const FILE_SOURCES: readonly FileSourceDefinition[] = [
  {
    name: 'nana',
    label: 'Nana',
    columns: ['careos_cus_id', 'nana_cus_id', 'gender', 'firstname', 'lastname', 'email', 'date_of_birth', 'phone', 'company_name', 'force_create'].map(required),
  },
  {
    name: 'careos',
    label: 'CareOS existing profiles',
    columns: ['careos_cus_id', 'firstname', 'lastname', 'phone', 'email', 'gender', 'date_of_birth'].map(required),
  },
  {
    name: 'careshop',
    label: 'Care Shop',
    // A Care Shop export; updated_at (when the shop last changed the record) is optional in a file.
    columns: [...['customer_id', 'firstname', 'lastname', 'mobile_phone', 'email'].map(required), { name: 'updated_at', requiredInHeader: false }],
  },
];

export function fileSource(name: string): FileSourceDefinition | undefined {
  return FILE_SOURCES.find((s) => s.name === name);
}

/** Every source's label as the import log shows it (file sources and those that sync). */
export const SOURCE_LABELS: Record<string, string> = { nana: 'Nana', careos: 'CareOS', careshop: 'Care Shop' };

/**
 * The error file's own columns, after the upload's: `_replay_of` names the rejected row a line is
 * (import id:row of the chain's first rejection), `errors` the reasons. A file carrying
 * `_replay_of` uploaded again is a replay: each row refers to the rejected row it fixes; `errors`
 * is ignored.
 */
export const REPLAY_COLUMN = '_replay_of';
export const ERRORS_COLUMN = 'errors';
export const ERROR_FILE_COLUMNS = [REPLAY_COLUMN, ERRORS_COLUMN] as const;

export function formatReplayRef(ref: { importId: string; row: number }): string {
  return `${ref.importId}:${ref.row}`;
}

/** `import id:row` → the reference; null when the text is not one. */
export function parseReplayRef(text: string): { importId: string; row: number } | null {
  const match = /^\s*([0-9A-Za-z][0-9A-Za-z-]{0,99}):([1-9][0-9]{0,9})\s*$/.exec(text);
  if (!match) return null;
  const row = Number(match[2]);
  return row <= 2_147_483_647 ? { importId: match[1]!, row } : null;
}

/**
 * Checks a header line's cells against a source (shared by the browser and the server, so the
 * modal says exactly what the server would). Returns the reason it is refused, or null.
 */
export function headerProblem(source: FileSourceDefinition, cells: readonly string[]): string | null {
  const columns = cells.map((c) => c.trim());
  const canonical = columns.map((c) => c.toLowerCase());
  const expected = source.columns.map((c) => c.name);
  // The error file's own columns are accepted on every source (a fixed error file goes back as it is).
  const unknown = columns.filter((_, i) => !expected.includes(canonical[i]!) && !(ERROR_FILE_COLUMNS as readonly string[]).includes(canonical[i]!));
  if (unknown.length) {
    return `header has unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')} (accepted for ${source.label}: ${expected.join(', ')})`;
  }
  const duplicated = canonical.filter((name, i) => canonical.indexOf(name) !== i);
  if (duplicated.length) return `header repeats column "${duplicated[0]}"`;
  const missing = source.columns.filter((c) => c.requiredInHeader && !canonical.includes(c.name)).map((c) => c.name);
  if (missing.length) {
    return `header is missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (expected for ${source.label}: ${expected.join(', ')})`;
  }
  return null;
}
