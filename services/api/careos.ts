// The query/command layer: everything the HTTP API, the CLI and the console ask of the importer,
// with the role check on every call (so no client can forget one). Clients parse their input,
// call one of these, and map the result; none of them holds SQL or touches the processor.
import type pg from 'pg';
import { Conflict, Forbidden, NotFound, RowInvalid, Unavailable, ValidationError } from '../errors.ts';
import { importFile, readFile, type App, type Engine } from '../app.ts';
import type { RowReason, SourceName } from '../events/types.ts';
import { checkPhones } from '../processor/fields.ts';
import { getImport, pageImports, type ImportView as ImportRecord } from '../../projections/import-log.ts';
import { countErrors, errorPages, errorsAt, openErrorCounts, pageErrors, type ErrorStatusFilter } from '../../projections/error-log.ts';
import { findProfiles, findProfilesByName, profileRecord } from '../../projections/profile.ts';
import { relationConfirmations, relationHistory, type RelationView as RelationRecord } from '../../projections/relation.ts';
import {
  can, fileSource, FILE_SOURCES, type RevertPlanView, type RebuildView, type RebuildRecord, formatReplayRef, PERMISSIONS, REPLAY_COLUMN, type ErrorView, type ImportView, type Page, type Permission, type Principal,
  type CareshopPanelView, type OnboardingView, type TimelineEntry, type ProfileDetail, type ProfileView, type RelationView, type UserView,
} from '../../schemas/api.ts';
import { addUser, disableUser, displayNames, listUsers } from '../auth/users.ts';
import { DEFAULT_SESSION_POLICY, changePassword, sessionPrincipal, signIn, signOut, type SessionPolicy, type SignedIn } from '../auth/sessions.ts';
import { errorFileHeader, errorFileLine, errorFileName, uploadColumns } from './error-file.ts';
import { receivedRecords, startReplayImport } from '../importer/reader.ts';
import { checkRow } from '../processor/decide.ts';
import { UNSTORABLE, shownValue, unstorableReasons } from '../processor/storable.ts';
import { assertCareshopAllowed, markOnboarding, onboardingState, type OnboardingState } from '../importer/onboarding.ts';
import { runningSync, startCareshopSync } from '../careshop/sync.ts';
import { NOT_CONFIGURED } from '../careshop/shop.ts';
import { historyEntries, type HistoryEntry } from '../../projections/history.ts';
import { requestRevert } from '../importer/revert.ts';
import { decideRevertOutcome, decideRevertPage, emptyTally, planOf, revertPages, revertPrecondition } from '../processor/revert.ts';
import { readProgress } from '../processor/processor-store.ts';
import { ProjectionRunner } from '../../projections/runner.ts';

/** Why an import cannot be asked to revert now (running, reverted, a request pending); null when it can. */
function revertRefusal(view: ImportView): string | null {
  if (view.status === 'In progress') return `import ${view.importId} is still in progress: it can be reverted once it has finished`;
  if (view.status === 'Reverted') return `import ${view.importId} was reverted already (by ${view.revert?.requestedByName ?? 'an admin'})`;
  if (view.revert?.state === 'requested') return `a revert of import ${view.importId} was asked for already and is waiting for the imports before it`;
  return null;
}

/** The CLI acts for the operator at the machine: an admin, named by --by or the OS user. */
export function operator(name: string): Principal {
  return { id: name, name, role: 'admin', via: 'token', mustChangePassword: false };
}

/** An id from outside (URL, query, form): printable, bounded, no NUL (PostgreSQL refuses it in text). */
export function checkId(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(`${what} is required`);
  if (value.length > 200) throw new ValidationError(`${what} is longer than 200 characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new ValidationError(`${what} holds a control character`);
  return value;
}

/** An ISO-8601 date and time with its offset (2026-11-30T09:15:00+07:00 or …Z), or a date (midnight UTC). */
export function checkInstant(value: unknown, what: string): Date {
  const text = typeof value === 'string' ? value.trim() : '';
  const time = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(time)) throw new ValidationError(`${what} must be an ISO-8601 date and time with its offset, e.g. 2026-11-30T09:15:00+07:00 (got ${JSON.stringify(value)})`);
  return new Date(time);
}

export type { ErrorStatusFilter };

/** A status filter from outside (query, flag): all, open or resolved. */
export function checkErrorStatus(value: unknown): ErrorStatusFilter {
  if (value === undefined) return 'all';
  if (value === 'all' || value === 'open' || value === 'resolved') return value;
  throw new ValidationError(`status must be all, open or resolved (got ${JSON.stringify(value)})`);
}

export interface Window {
  limit: number;
  offset: number;
}

export interface ErrorFile {
  fileName: string;
  /** The file's text, a chunk at a time (any number of rejected rows in bounded memory). */
  chunks(): AsyncGenerator<string>;
}

export interface ProfileSearch {
  /** How the query was read. */
  kind: 'phone' | 'careosId' | 'name';
  /** The phone in E.164 when kind is phone. */
  phoneE164?: string;
  items: ProfileView[];
}

const PHONE_LIKE = /^[+()\d\s.-]+$/;

/** One phone number, in any format, as E.164 (the Nana rules' check); ValidationError otherwise. */
function onePhoneE164(raw: string, notOne: string): string {
  const checked = checkPhones(raw, { required: true });
  if (checked.reasons.length || checked.value.length !== 1) throw new ValidationError(checked.reasons[0]?.message ?? notOne);
  return checked.value[0]!;
}

export class Careos {
  readonly pool: pg.Pool;

  /** The engine of this process (the server's), which runs a rebuild; null in processes that do not run one. */
  private engine: Engine | null = null;

  constructor(readonly app: App, readonly sessionPolicy: SessionPolicy = DEFAULT_SESSION_POLICY) {
    this.pool = app.pool;
  }

  attachEngine(engine: Engine): void {
    this.engine = engine;
  }

  // ── rebuild the read models ────────────────────────────────────────────────────────────────

  /** The last rebuild this server ran (null when none since it started). */
  rebuildStatus(actor: Principal): RebuildView | null {
    this.require(actor, 'readmodels.rebuild');
    return this.engine?.rebuild ?? null;
  }

  /** The rebuilds logged (newest first, at most `limit`), whichever process ran them. */
  async rebuildHistory(actor: Principal, limit = 20): Promise<RebuildRecord[]> {
    this.require(actor, 'readmodels.rebuild');
    return ProjectionRunner.history(this.pool, limit);
  }

  /** Starts rebuilding every read model from the event store, the importer paused meanwhile; Conflict when one runs or another process leads. */
  startRebuild(actor: Principal): RebuildView {
    this.require(actor, 'readmodels.rebuild');
    if (!this.engine) throw new Unavailable('this process runs no importer: rebuild from the server, or with careos rebuild');
    return this.engine.startRebuild(actor.id);
  }

  /** Throws Forbidden unless the actor's role has the permission. */
  require(actor: Principal, permission: Permission): void {
    if (actor.mustChangePassword) throw new Forbidden('change your one-time password first');
    if (!can(actor.role, permission)) {
      throw new Forbidden(`this needs the ${(PERMISSIONS[permission] as readonly string[]).join(' or ')} role (you are ${actor.role})`);
    }
  }

  // ── imports ────────────────────────────────────────────────────────────────────────────────

  private async withNames(records: ImportRecord[]): Promise<ImportView[]> {
    const [names, open] = await Promise.all([
      displayNames(this.pool, records.flatMap((r) => (r.revert ? [r.importedBy, r.revert.requestedBy] : [r.importedBy]))),
      openErrorCounts(this.pool, records.filter((r) => r.rejectedRows > 0).map((r) => r.importId)),
    ]);
    return records.map((r) => ({
      ...r, importedByName: names.get(r.importedBy) ?? r.importedBy, openRejectedRows: open.get(r.importId) ?? 0,
      revert: r.revert && { ...r.revert, requestedByName: names.get(r.revert.requestedBy) ?? r.revert.requestedBy },
    }));
  }

  async listImports(actor: Principal, window: Window): Promise<{ items: ImportView[]; total: number }> {
    this.require(actor, 'imports.read');
    const { items, total } = await pageImports(this.pool, window);
    return { items: await this.withNames(items), total };
  }

  async importPage(actor: Principal, page: number, size: number): Promise<Page<ImportView>> {
    const { items, total } = await this.listImports(actor, { limit: size, offset: (page - 1) * size });
    return { items, total, page, size };
  }

  async getImport(actor: Principal, importId: string): Promise<ImportView> {
    this.require(actor, 'imports.read');
    const record = await getImport(this.pool, checkId(importId, 'import id'));
    if (!record) throw new NotFound(`no import ${importId}`);
    return (await this.withNames([record]))[0]!;
  }

  /**
   * Checks and stores the file, appends ImportStarted (the import log lists it at once) and reads
   * its rows on a worker thread (`read` settles when the file is read). Throws FileRefused when the
   * file is refused: nothing is started.
   */
  async startImport(actor: Principal, input: { filePath: string; fileName: string; source: string }): Promise<{ importId: string; read: Promise<void> }> {
    this.require(actor, 'imports.create');
    if (!fileSource(input.source)) {
      throw new ValidationError(`source must be one of: ${FILE_SOURCES.map((s) => s.name).join(', ')} (got "${input.source}")`);
    }
    // The Nana gate: refused before the file is stored, so nothing starts.
    if (input.source === 'careshop') await assertCareshopAllowed(this.app.store, this.pool);
    const importId = await importFile(this.app, {
      filePath: input.filePath, fileName: input.fileName, source: input.source as SourceName, by: actor.id,
    });
    // The engine's resume loop reads it too if this process dies before the end.
    const read = readFile(this.app, importId);
    read.catch((error) => console.error(`careos: reading import ${importId}: ${(error as Error).message}`));
    return { importId, read };
  }

  // ── Care Shop sync ─────────────────────────────────────────────────────────────────────────

  /**
   * Starts a Care Shop sync (an import from the shop's customer table) and reads it on a worker
   * thread (`read` settles when every changed record is read). Conflict when it cannot start now.
   */
  async syncCareshop(actor: Principal, by = actor.id): Promise<{ importId: string; read: Promise<void> }> {
    this.require(actor, 'imports.create');
    const importId = await startCareshopSync(
      { store: this.app.store, pool: this.pool, databaseUrl: this.app.databaseUrl, careshop: this.app.readerOptions.careshop }, by,
    );
    const read = readFile(this.app, importId);
    read.catch((error) => console.error(`careos: reading Care Shop sync ${importId}: ${(error as Error).message}`));
    return { importId, read };
  }

  /** The import page's Care Shop panel: the Nana gate, and why a sync cannot start now (if it cannot). */
  async careshopPanel(actor: Principal): Promise<CareshopPanelView> {
    this.require(actor, 'imports.read');
    const gate = await this.onboarding(actor);
    const location = this.app.readerOptions.careshop;
    const running = await runningSync(this.pool);
    const syncRefusal = !location
      ? NOT_CONFIGURED
      : gate.careshopRefusal ?? (running ? `A Care Shop sync is in progress (import ${running.importId}); wait for it to finish` : null);
    return { gate, table: location?.table ?? null, running: running ? { importId: running.importId } : null, syncRefusal };
  }

  /** The history log of synced Care Shop records: of one import, of one customer id, or the latest. */
  async careshopHistory(actor: Principal, filter: { importId?: string; originalId?: string }, window: Window): Promise<{ items: HistoryEntry[]; total: number }> {
    this.require(actor, 'imports.read');
    return historyEntries(this.pool, {
      source: 'careshop',
      importId: filter.importId === undefined ? undefined : checkId(filter.importId, 'import id'),
      originalId: filter.originalId === undefined ? undefined : checkId(filter.originalId, 'customer id'),
      ...window,
    });
  }

  /** One page of an import's Care Shop history entries (the records it synced first), in row order. */
  async careshopHistoryPage(actor: Principal, importId: string, page: number, size: number): Promise<Page<HistoryEntry>> {
    const { items, total } = await this.careshopHistory(actor, { importId }, { limit: size, offset: (page - 1) * size });
    return { items, total, page, size };
  }

  // ── the Nana gate ──────────────────────────────────────────────────────────────────────────

  private async onboardingView(state: OnboardingState): Promise<OnboardingView> {
    const names = await displayNames(this.pool, state.marks.map((m) => m.by));
    return { ...state, marks: state.marks.map((m) => ({ ...m, byName: names.get(m.by) ?? m.by })) };
  }

  async onboarding(actor: Principal): Promise<OnboardingView> {
    this.require(actor, 'imports.read');
    return this.onboardingView(await onboardingState(this.app.store, this.pool));
  }

  /** Marks Nana onboarding complete, or reopens it with a reason (admins). */
  async markOnboarding(actor: Principal, input: { complete: unknown; reason?: unknown }): Promise<OnboardingView> {
    this.require(actor, 'onboarding.mark');
    if (typeof input.complete !== 'boolean') throw new ValidationError('complete must be true (mark Nana onboarding complete) or false (reopen it)');
    if (input.reason !== undefined && input.reason !== null && typeof input.reason !== 'string') throw new ValidationError('reason must be text');
    return this.onboardingView(await markOnboarding(this.app.store, this.pool, { by: actor.id, complete: input.complete, reason: input.reason ?? null }));
  }

  // ── error logs ─────────────────────────────────────────────────────────────────────────────

  async errorPage(
    actor: Principal, importId: string, page: number, size: number, status: ErrorStatusFilter = 'all',
  ): Promise<{ import: ImportView; errors: Page<ErrorView>; status: ErrorStatusFilter }> {
    this.require(actor, 'errors.read');
    const view = await this.getImport(actor, importId);
    const { items, total } = await pageErrors(this.pool, view.importId, { limit: size, offset: (page - 1) * size, status });
    return { import: view, errors: { items, total, page, size }, status };
  }

  /** A window of an import's rejected rows (row order) and how many there are. */
  async errorWindow(actor: Principal, importId: string, window: Window, status: ErrorStatusFilter = 'all'): Promise<{ items: ErrorView[]; total: number }> {
    this.require(actor, 'errors.read');
    const view = await this.getImport(actor, importId);
    return pageErrors(this.pool, view.importId, { ...window, status });
  }

  /**
   * Every rejected row of an import (or the open / resolved ones), page by page in row order, with
   * how many there are: an answer of any size without holding it in memory (jsonArray writes it).
   */
  async errorStream(actor: Principal, importId: string, status: ErrorStatusFilter = 'all'): Promise<{ total: number; pages: AsyncIterable<ErrorView[]> }> {
    this.require(actor, 'errors.read');
    const view = await this.getImport(actor, importId);
    return { total: await countErrors(this.pool, view.importId, status), pages: errorPages(this.pool, view.importId, status) };
  }

  /** One rejected row of an import. */
  async rejectedRow(actor: Principal, importId: string, row: number): Promise<{ import: ImportView; error: ErrorView }> {
    this.require(actor, 'errors.read');
    const view = await this.getImport(actor, importId);
    const [error] = await errorsAt(this.pool, view.importId, [row]);
    if (!error) throw new NotFound(`row ${row} of import ${view.importId} is not a rejected row`);
    return { import: view, error };
  }

  /** Waits (at most `timeoutMs`) for an import to finish; null when it still runs by then. */
  async awaitImport(actor: Principal, importId: string, timeoutMs: number): Promise<ImportView | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.getImport(actor, importId);
      if (view.status !== 'In progress') return view;
      if (Date.now() > deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  // ── undo an import ─────────────────────────────────────────────────────────────────────────

  /**
   * What reverting the import would undo now and what it would leave (a preview: the processor
   * decides the revert itself, in order, with the same rules, when the request reaches it).
   */
  async revertPlan(actor: Principal, importId: string): Promise<RevertPlanView> {
    this.require(actor, 'imports.revert');
    const view = await this.getImport(actor, importId);
    const [progress] = await readProgress(this.pool, [view.importId]);
    const request = { data: { importId: view.importId, reason: 'preview' }, metadata: { by: actor.id, at: new Date().toISOString(), importId: view.importId, v: 1 as const } };
    const tally = emptyTally();
    const refusal = revertRefusal(view) ?? revertPrecondition(progress, false, view.importId);
    if (refusal === null) {
      for await (const page of revertPages(this.app.store, this.pool, view.importId, progress?.outcomeRevision ?? null)) decideRevertPage(request, page, tally);
    }
    const outcome = decideRevertOutcome(request, tally, 'preview', refusal).event;
    return planOf(tally, outcome.type === 'RevertRefused' ? outcome.data.refusal : null);
  }

  /**
   * Asks for the import to be reverted (RevertRequested) and waits up to `waitMs` for the
   * processor's decision; the import as it then stands (its `revert.state` says whether it was
   * decided: reverted or refused, or still requested behind imports before it).
   */
  async revertImport(actor: Principal, importId: string, input: { reason?: unknown }, waitMs = 10_000): Promise<ImportView> {
    this.require(actor, 'imports.revert');
    const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
    if (reason === '') throw new ValidationError('reason is required: say why the import is reverted (auditors read it)');
    if (reason.length > 500) throw new ValidationError(`reason is longer than 500 characters (${reason.length})`);
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(reason)) throw new ValidationError('reason holds a control character');
    if (!reason.isWellFormed()) throw new ValidationError('reason holds half of a UTF-16 surrogate pair, which is not a character (send it as UTF-8 text)');
    const view = await this.getImport(actor, importId);
    const refusal = revertRefusal(view);
    if (refusal) throw new Conflict(refusal);
    await requestRevert(this.app.store, { importId: view.importId, reason, by: actor.id });
    // Polls the import log alone; the names and open counts are read once, for the answer.
    const deadline = Date.now() + waitMs;
    while ((await getImport(this.pool, view.importId))?.revert?.state === 'requested' && Date.now() <= deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return this.getImport(actor, view.importId);
  }

  // ── BI replays from the console and the API ────────────────────────────────────────────────

  /** The open rejected rows asked for, as a replay sends them again; NotFound / Conflict otherwise. */
  private async replayable(view: ImportView, rows: readonly number[]): Promise<Map<number, ErrorView>> {
    const errors = new Map((await errorsAt(this.pool, view.importId, rows)).map((e) => [e.row, e]));
    for (const row of rows) {
      const error = errors.get(row);
      if (!error) throw new NotFound(`row ${row} of import ${view.importId} is not a rejected row`);
      if (error.resolvedBy) throw new Conflict(`row ${row} of import ${view.importId} was already fixed by row ${error.resolvedBy.row} of import ${error.resolvedBy.importId}`);
    }
    return errors;
  }

  /** A rejected row's record as a replay sends it: the upload's values, and `_replay_of` naming the row. */
  private replayRecord(view: ImportView, error: ErrorView, values: Record<string, string> = {}): Record<string, string> {
    const record: Record<string, string> = {};
    for (const column of uploadColumns(view.columns)) {
      const key = column.toLowerCase();
      record[key] = values[key] ?? error.record[key] ?? '';
    }
    record[REPLAY_COLUMN] = formatReplayRef(error.replayOf ?? { importId: view.importId, row: error.row });
    return record;
  }

  private async startReplay(actor: Principal, view: ImportView, rows: { row: number; record: Record<string, string> }[]): Promise<string> {
    if (view.status === 'Reverted') throw new Conflict(`import ${view.importId} was reverted: its rejected rows are not sent again`);
    if (view.source === 'careshop') await assertCareshopAllowed(this.app.store, this.pool);
    return startReplayImport(this.app.store, {
      source: view.source as SourceName, by: actor.id, of: view.importId, columns: [...uploadColumns(view.columns), REPLAY_COLUMN], rows,
    });
  }

  /** Sends rejected rows again unchanged (e.g. after the conflicting profile was fixed): a new import whose origin is a replay. */
  async replayErrors(actor: Principal, importId: string, rows: unknown): Promise<{ importId: string }> {
    this.require(actor, 'errors.replay');
    if (!Array.isArray(rows) || rows.length === 0 || rows.length > 1000 || !rows.every((r) => Number.isInteger(r) && r >= 1 && r <= 2_147_483_647)) {
      throw new ValidationError('rows must be a list of 1 to 1000 row numbers (whole numbers from 1)');
    }
    const wanted = [...new Set(rows as number[])].sort((a, b) => a - b);
    const view = await this.getImport(actor, importId);
    const errors = await this.replayable(view, wanted);
    const records = wanted.map((row) => ({ row, record: this.replayRecord(view, errors.get(row)!) }));
    // A value PostgreSQL could not store is in the error log as a copy (U+FFFD in its place, or
    // cut): sent unchanged, that copy would be imported. Such a row is fixed in place instead.
    const refused: RowReason[] = [];
    for (const { row, record } of records) {
      const unstorable = errors.get(row)!.reasons.find((reason) => reason.code === UNSTORABLE);
      if (unstorable) {
        refused.push({
          field: unstorable.field, code: UNSTORABLE,
          message: `row ${row} was rejected because a value could not be stored (${unstorable.message}); the error log keeps a copy with U+FFFD or a cut in its place, so send it fixed (Replay fixed row), not unchanged`,
        });
        continue;
      }
      for (const reason of unstorableReasons(record) ?? []) refused.push({ ...reason, message: `row ${row}: ${reason.message}` });
    }
    if (refused.length) throw new RowInvalid(refused);
    return { importId: await this.startReplay(actor, view, records) };
  }

  /**
   * Replays one rejected row with its values fixed in place. The source's field checks run first:
   * a row that still fails them starts nothing (RowInvalid, with every reason per field).
   */
  async fixError(actor: Principal, importId: string, row: number, values: unknown): Promise<{ importId: string }> {
    this.require(actor, 'errors.replay');
    if (!Number.isInteger(row) || row < 1) throw new ValidationError('row must be a whole number from 1');
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new ValidationError('values must be an object of column → text');
    const view = await this.getImport(actor, importId);
    const columns = uploadColumns(view.columns).map((c) => c.toLowerCase());
    const given: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
      if (!columns.includes(key.toLowerCase())) throw new ValidationError(`"${key}" is not a column of this import (its columns: ${columns.join(', ')})`);
      // Its length, NUL and lone surrogates are the field checks' (checkRow: unstorable), with a reason.
      if (typeof value !== 'string') throw new ValidationError(`${key} must be text`);
      given[key.toLowerCase()] = value;
    }
    const error = (await this.replayable(view, [row])).get(row)!;
    const record = this.replayRecord(view, error, given);
    const checked = checkRow({
      data: { importId: view.importId, source: view.source as SourceName, row, record },
      metadata: { by: actor.id, at: new Date().toISOString(), importId: view.importId, row, v: 1 },
    });
    const reasons = checked.ok ? [] : [...checked.reasons];
    // A value rejected as unstorable is in the error log as a copy (U+FFFD where a character was
    // refused): left as it is, the copy would be imported.
    for (const unstorable of error.reasons) {
      const field = unstorable.field;
      if (unstorable.code !== UNSTORABLE || record[field] === undefined || record[field] !== error.record[field]) continue;
      if (reasons.some((reason) => reason.field === field)) continue;
      reasons.push({
        field, code: UNSTORABLE,
        message: `${field} ${shownValue(record[field]!)} is the error log's copy of a value that could not be stored (U+FFFD stands where a character was refused); type the value again`,
      });
    }
    if (reasons.length) throw new RowInvalid(reasons);
    return { importId: await this.startReplay(actor, view, [{ row, record }]) };
  }

  async errorFile(actor: Principal, importId: string, status: ErrorStatusFilter = 'all'): Promise<ErrorFile> {
    this.require(actor, 'errors.read');
    const view = await this.getImport(actor, importId);
    const pool = this.pool;
    return {
      fileName: errorFileName(view.fileName),
      async *chunks() {
        yield errorFileHeader(view.columns);
        for await (const page of errorPages(pool, view.importId, status)) {
          yield page.map((error) => errorFileLine(view.importId, view.columns, error)).join('');
        }
      },
    };
  }

  // ── profiles and relations ─────────────────────────────────────────────────────────────────

  /** Phone in any format, a CareOS id, or a name (Thai or Latin). */
  async searchProfiles(actor: Principal, query: string, limit = 50): Promise<ProfileSearch> {
    this.require(actor, 'profiles.read');
    const q = query.normalize('NFC').trim();
    if (/[\u0000-\u001f\u007f]/.test(q)) throw new ValidationError('search holds a control character');
    if (q.length > 200) throw new ValidationError('search is longer than 200 characters');
    if (!q) return { kind: 'name', items: [] };
    if (PHONE_LIKE.test(q) && q.replace(/\D/g, '').length >= 6) {
      const phoneE164 = onePhoneE164(q, `"${q}" is not one phone number`);
      return { kind: 'phone', phoneE164, items: await findProfiles(this.pool, { phoneE164, limit }) };
    }
    const byId = await findProfiles(this.pool, { careosId: q, limit: 1 });
    if (byId.length) return { kind: 'careosId', items: byId };
    return { kind: 'name', items: await findProfilesByName(this.pool, q.split(/\s+/), limit) };
  }

  /** The API's exact filters: E.164 phone (any format accepted) and/or CareOS id. */
  async findProfiles(actor: Principal, filter: { phone?: string; careosId?: string; limit: number }): Promise<ProfileView[]> {
    this.require(actor, 'profiles.read');
    const phoneE164 = filter.phone === undefined ? undefined : onePhoneE164(filter.phone, 'phone takes one number');
    const careosId = filter.careosId === undefined ? undefined : checkId(filter.careosId, 'careosId');
    return findProfiles(this.pool, { phoneE164, careosId, limit: filter.limit });
  }

  private async relationViews(records: RelationRecord[]): Promise<RelationView[]> {
    const names = await displayNames(this.pool, records.flatMap((r) => [r.linkedBy, ...(r.unlinkedBy ? [r.unlinkedBy] : [])]));
    // Key order: the original shape scripts read first, then who, which row and the unlink's details.
    return records.map((r) => ({
      careosId: r.careosId, originalId: r.originalId, source: r.source, active: r.active, linkedAt: r.linkedAt,
      unlinkedAt: r.unlinkedAt, importId: r.importId,
      linkedBy: r.linkedBy, linkedByName: names.get(r.linkedBy) ?? r.linkedBy, linkedRow: r.linkedRow,
      unlinkedBy: r.unlinkedBy, unlinkedByName: r.unlinkedBy ? (names.get(r.unlinkedBy) ?? r.unlinkedBy) : null,
      unlinkedImportId: r.unlinkedImportId, unlinkedRow: r.unlinkedRow, unlinkedByRevert: r.unlinkedByRevert, restoredByRevertOf: r.restoredByRevertOf,
    }));
  }

  async getProfile(actor: Principal, careosId: string): Promise<ProfileDetail> {
    this.require(actor, 'profiles.read');
    const record = await profileRecord(this.pool, checkId(careosId, 'CareOS id'));
    if (!record) throw new NotFound(`no profile ${careosId}`);
    const relations = await this.relationViews(await relationHistory(this.pool, { careosId: record.careosId }));
    const names = await displayNames(this.pool, record.retired ? [record.createdBy, record.retired.by] : [record.createdBy]);
    return {
      ...record, createdByName: names.get(record.createdBy) ?? record.createdBy, relations,
      retired: record.retired && { ...record.retired, byName: names.get(record.retired.by) ?? record.retired.by },
    };
  }

  /**
   * The auditors' timeline of a profile (by CareOS id) or of an original id (source + original
   * id): the profile's creation, every link and unlink, oldest first, each with who, when, which
   * import (and its file) and row, and the raw row that caused it (its RowReceived event).
   */
  async timeline(actor: Principal, filter: { careosId?: string; source?: string; originalId?: string }): Promise<TimelineEntry[]> {
    this.require(actor, 'relations.read');
    const byOriginal = filter.source !== undefined || filter.originalId !== undefined;
    if (byOriginal && (filter.source === undefined || filter.originalId === undefined)) throw new ValidationError('give source and originalId together');
    if (!byOriginal && filter.careosId === undefined) throw new ValidationError('give careosId, or source and originalId');
    const relations = await this.relations(actor, filter);
    const entries: Omit<TimelineEntry, 'byName' | 'fileName' | 'record' | 'revertReason'>[] = [];
    const profileIds = filter.careosId !== undefined ? [checkId(filter.careosId, 'careosId')] : [...new Set(relations.map((r) => r.careosId))];
    for (const careosId of profileIds) {
      const profile = await profileRecord(this.pool, careosId);
      if (profile) {
        const about = { careosId, source: null, originalId: null, importId: profile.importId, row: profile.row, relinkedTo: null };
        entries.push({ kind: 'profile-created', at: profile.createdAt, by: profile.createdBy, ...about, revertOf: null });
        if (profile.retired) entries.push({ kind: 'profile-retired', at: profile.retired.at, by: profile.retired.by, ...about, revertOf: profile.importId });
      }
    }
    for (const r of relations) {
      const link = { careosId: r.careosId, source: r.source, originalId: r.originalId };
      if (r.restoredByRevertOf !== null) {
        entries.push({ kind: 'link-restored', at: r.linkedAt, by: r.linkedBy, ...link, importId: r.importId, row: r.linkedRow, relinkedTo: null, revertOf: r.restoredByRevertOf });
      } else {
        entries.push({ kind: 'linked', at: r.linkedAt, by: r.linkedBy, ...link, importId: r.importId, row: r.linkedRow, relinkedTo: null, revertOf: null });
      }
      if (r.unlinkedAt !== null) {
        const unlinked = { at: r.unlinkedAt, by: r.unlinkedBy ?? '', ...link, importId: r.unlinkedImportId ?? '', row: r.unlinkedRow ?? 0 };
        if (r.unlinkedByRevert) {
          entries.push({ kind: 'link-reverted', ...unlinked, relinkedTo: null, revertOf: r.unlinkedImportId });
        } else {
          const relinked = relations.find((o) => o.source === r.source && o.originalId === r.originalId && o.importId === r.unlinkedImportId && o.linkedRow === r.unlinkedRow);
          entries.push({ kind: 'unlinked', ...unlinked, relinkedTo: relinked?.careosId ?? null, revertOf: null });
        }
      }
    }
    const confirmations = byOriginal
      ? await relationConfirmations(this.pool, { source: filter.source!, originalId: filter.originalId! })
      : await relationConfirmations(this.pool, { careosId: checkId(filter.careosId!, 'careosId') });
    for (const c of confirmations) {
      entries.push({
        kind: 'link-confirmed', at: c.at, by: c.by, careosId: c.careosId, source: c.source as SourceName, originalId: c.originalId,
        importId: c.importId, row: c.row, relinkedTo: null, revertOf: null,
      });
    }
    // Oldest first; at one instant a creation comes before its links, an unlink before the link that
    // replaced it, a revert's ended link before the one it restored, a profile's retirement last.
    const order = { 'profile-created': 0, unlinked: 1, 'link-reverted': 1, linked: 2, 'link-restored': 2, 'link-confirmed': 2, 'profile-retired': 3 } as const;
    entries.sort((a, b) => a.at.localeCompare(b.at) || order[a.kind] - order[b.kind] || a.row - b.row);
    const imports = new Map<string, ImportRecord | null>();
    for (const id of new Set(entries.flatMap((e) => (e.revertOf ? [e.importId, e.revertOf] : [e.importId])))) imports.set(id, await getImport(this.pool, id));
    const names = await displayNames(this.pool, entries.map((e) => e.by));
    const records = await receivedRecords(this.app.store, entries);
    return entries.map((e) => ({
      ...e, byName: names.get(e.by) ?? e.by, fileName: imports.get(e.importId)?.fileName ?? null, record: records.get(`${e.importId}#${e.row}`) ?? null,
      revertReason: e.revertOf ? (imports.get(e.revertOf)?.revert?.reason ?? null) : null,
    }));
  }

  /**
   * Full history, oldest first; with no filter, every relation (the CLI's listing). With `asOf`
   * (ISO-8601): the relations as they were at that moment, each `active` as it was then.
   */
  async relations(actor: Principal, filter: { careosId?: string; source?: string; originalId?: string }, asOf?: string): Promise<RelationView[]> {
    this.require(actor, 'relations.read');
    const checked = {
      careosId: filter.careosId === undefined ? undefined : checkId(filter.careosId, 'careosId'),
      source: filter.source === undefined ? undefined : checkId(filter.source, 'source'),
      originalId: filter.originalId === undefined ? undefined : checkId(filter.originalId, 'originalId'),
    };
    if (checked.originalId !== undefined && checked.source === undefined) throw new ValidationError('originalId needs source');
    return this.relationViews(await relationHistory(this.pool, checked, asOf === undefined ? undefined : checkInstant(asOf, 'asOf')));
  }

  // ── sign-in and users ──────────────────────────────────────────────────────────────────────

  signIn(input: { email: string; password: string; address: string; previousToken?: string }): Promise<SignedIn> {
    return signIn(this.pool, input, this.sessionPolicy);
  }

  signOut(token: string): Promise<void> {
    return signOut(this.pool, token);
  }

  principalOfSession(token: string): Promise<Principal | null> {
    return sessionPrincipal(this.pool, token, this.sessionPolicy);
  }

  async changePassword(actor: Principal, input: { token: string; current: string; next: string }): Promise<void> {
    if (actor.via !== 'session') throw new Forbidden('only a signed-in user changes their password');
    await changePassword(this.pool, { email: actor.id, token: input.token, current: input.current, next: input.next });
  }

  async addUser(actor: Principal, input: { email: string; name: string; role: string; password: string }): Promise<UserView> {
    this.require(actor, 'users.manage');
    return addUser(this.pool, input);
  }

  async listUsers(actor: Principal): Promise<UserView[]> {
    this.require(actor, 'users.manage');
    return listUsers(this.pool);
  }

  async disableUser(actor: Principal, email: string): Promise<UserView> {
    this.require(actor, 'users.manage');
    return disableUser(this.pool, email);
  }
}
