// The decision state a row is decided against: which CareOS profiles exist, which profile owns
// a phone, which profile an original id is actively linked to. Pure and in memory: the processor
// loads the part a batch needs from the read models (lookups beside each read model), and folds
// in each decision of the batch as it is made, so a row sees every row before it.
//
// One fold (apply) serves twice: deciding a batch, and as the net effect of a batch still being
// committed (an InMemoryState built from that batch's events alone, laid over the next batch's
// loaded state with overlay()). For that second use an unlink is kept as a tombstone: "this
// original id has no active link now", whatever the read models still show.
import { assertNever, type ImporterEvent, type RowRef } from '../events/types.ts';

export interface DecisionState {
  profileExists(careosId: string): boolean;
  /** CareOS ids of the profiles holding this E.164 phone, oldest first. */
  profilesWithPhone(phoneE164: string): readonly string[];
  /** CareOS id the original id is actively linked to, if any. */
  activeLink(source: string, originalId: string): string | undefined;
  /** First and last name of a profile, when loaded (owners of the phones a row named in `namedPhones`). */
  profileNames(careosId: string): ProfileNames | undefined;
  /** The record's history entry (its first sync), if it has one. */
  synced(source: string, originalId: string): SyncedRecord | undefined;
  /** A rejected row a replay names (loaded for the rows' `_replay_of`), with its chain's first rejection. */
  rejection(importId: string, row: number): RejectedRow | undefined;
}

/** A rejected row as a replay sees it. */
export interface RejectedRow {
  source: string;
  /** The chain's first rejection (itself, unless it is a replay rejected again). */
  root: RowRef;
  /** The replayed row that fixed the chain; null while open. Kept on the root's entry. */
  resolvedBy: RowRef | null;
  /** Its import, or the chain's first rejection's, was reverted: its rows are not replayed. */
  reverted: boolean;
}

export interface ProfileNames {
  firstname: string;
  lastname: string;
}

/** A record's history entry as a decision needs it. */
export interface SyncedRecord {
  importId: string;
  row: number;
  careosId: string | null;
}

/** What a batch's decisions may look up: each source's rules name the keys of a checked row. */
export interface LookupKeys {
  /** E.164 phones whose owners are asked for. */
  phones: string[];
  careosIds: string[];
  /** Original ids of the row's source whose active link is asked for. */
  originalIds: string[];
  /** E.164 phones whose owners are asked for with their names (Care Shop's exact-name match). */
  namedPhones?: string[];
  /** Original ids of the row's source whose history entry is asked for. */
  synced?: string[];
}

function rowKey(importId: string, row: number): string {
  return `${importId}#${row}`;
}

const NONE: readonly string[] = Object.freeze([]);

function linkKey(source: string, originalId: string): string {
  return `${source}\u0000${originalId}`;
}

export class InMemoryState implements DecisionState {
  private readonly profiles = new Set<string>();
  private readonly phoneOwners = new Map<string, string[]>();
  /** null: unlinked (a tombstone over what the read models show). */
  private readonly links = new Map<string, string | null>();
  private readonly names = new Map<string, ProfileNames>();
  private readonly history = new Map<string, SyncedRecord>();
  private readonly rejections = new Map<string, RejectedRow>();
  /** Imports whose revert was folded in (ImportReverted). */
  private readonly revertedImports = new Set<string>();

  /** The net effect of these events alone. */
  static of(events: Iterable<ImporterEvent>): InMemoryState {
    const state = new InMemoryState();
    for (const event of events) state.apply(event);
    return state;
  }

  addProfile(careosId: string): void {
    this.profiles.add(careosId);
  }

  addPhone(phoneE164: string, careosId: string): void {
    const owners = this.phoneOwners.get(phoneE164);
    if (!owners) this.phoneOwners.set(phoneE164, [careosId]);
    else if (!owners.includes(careosId)) owners.push(careosId);
  }

  setLink(source: string, originalId: string, careosId: string): void {
    this.links.set(linkKey(source, originalId), careosId);
  }

  addNames(careosId: string, names: ProfileNames): void {
    this.names.set(careosId, names);
  }

  addSynced(source: string, originalId: string, record: SyncedRecord): void {
    this.history.set(linkKey(source, originalId), record);
  }

  addRejection(importId: string, row: number, rejected: RejectedRow): void {
    this.rejections.set(rowKey(importId, row), rejected);
  }

  rejection(importId: string, row: number): RejectedRow | undefined {
    const found = this.rejections.get(rowKey(importId, row));
    if (!found || found.reverted || this.revertedImports.size === 0) return found;
    return { ...found, reverted: this.revertedImports.has(importId) || this.revertedImports.has(found.root.importId) };
  }

  profileNames(careosId: string): ProfileNames | undefined {
    return this.names.get(careosId);
  }

  synced(source: string, originalId: string): SyncedRecord | undefined {
    return this.history.get(linkKey(source, originalId));
  }

  profileExists(careosId: string): boolean {
    return this.profiles.has(careosId);
  }

  profilesWithPhone(phoneE164: string): readonly string[] {
    return this.phoneOwners.get(phoneE164) ?? NONE;
  }

  activeLink(source: string, originalId: string): string | undefined {
    return this.links.get(linkKey(source, originalId)) ?? undefined;
  }

  /** Lays a later state's effects over this one (its profiles and phones added, its links winning). */
  overlay(later: InMemoryState): void {
    for (const careosId of later.profiles) this.profiles.add(careosId);
    for (const [phone, owners] of later.phoneOwners) for (const owner of owners) this.addPhone(phone, owner);
    for (const [key, target] of later.links) this.links.set(key, target);
    for (const [careosId, names] of later.names) this.names.set(careosId, names);
    for (const [key, record] of later.history) this.history.set(key, record);
    for (const [key, rejected] of later.rejections) this.rejections.set(key, rejected);
    for (const importId of later.revertedImports) this.revertedImports.add(importId);
  }

  /** Folds a decided event into the state, exactly as the projections will. */
  apply(event: ImporterEvent): void {
    switch (event.type) {
      case 'ProfileCreated':
        this.profiles.add(event.data.careosId);
        for (const phone of event.data.phones) this.addPhone(phone, event.data.careosId);
        this.names.set(event.data.careosId, { firstname: event.data.firstname, lastname: event.data.lastname });
        return;
      case 'RelationLinked':
        for (const originalId of event.data.originalIds) this.setLink(event.data.source, originalId, event.data.careosId);
        return;
      case 'RelationUnlinked': {
        // Unknown here (a batch's effects alone) or linked to that profile: no active link now.
        const key = linkKey(event.data.source, event.data.originalId);
        const current = this.links.get(key);
        if (current === undefined || current === event.data.careosId) this.links.set(key, null);
        return;
      }
      case 'RecordSynced':
        this.addSynced(event.data.source, event.data.originalId, { importId: event.data.importId, row: event.data.row, careosId: event.data.careosId });
        return;
      case 'RowRejected': {
        const { importId, row, source, replayOf } = event.data;
        this.rejections.set(rowKey(importId, row), { source, root: replayOf ?? { importId, row }, resolvedBy: null, reverted: false });
        return;
      }
      case 'ErrorResolved': {
        // Kept on the chain's first rejection, which every replay of the chain is checked against.
        const { resolves, importId, row, source } = event.data;
        const key = rowKey(resolves.importId, resolves.row);
        const known = this.rejections.get(key);
        this.rejections.set(key, { source: known?.source ?? source, root: resolves, resolvedBy: { importId, row }, reverted: known?.reverted ?? false });
        return;
      }
      // A revert is decided and committed alone (run.ts waits for its commit before the next batch),
      // so these fold only for completeness: nothing is decided over a revert's net effect.
      case 'RelationReverted': {
        const key = linkKey(event.data.source, event.data.originalId);
        if ((this.links.get(key) ?? event.data.careosId) === event.data.careosId) this.links.set(key, null);
        return;
      }
      case 'RelationRestored':
        this.setLink(event.data.source, event.data.originalId, event.data.careosId);
        return;
      case 'ProfileRetired':
        this.profiles.delete(event.data.careosId);
        for (const [phone, owners] of this.phoneOwners) {
          const index = owners.indexOf(event.data.careosId);
          if (index >= 0) owners.splice(index, 1);
          if (owners.length === 0) this.phoneOwners.delete(phone);
        }
        return;
      case 'ImportReverted':
        this.revertedImports.add(event.data.importId);
        return;
      case 'RelationConfirmed': // the links stand as they were
      case 'RevertRequested':
      case 'RevertRefused':
      case 'ImportStarted':
      case 'RowReceived':
      case 'RowSkipped':
      case 'ImportFileRead':
      case 'ImportProgressed':
      case 'ImportCompleted':
        return;
      default:
        assertNever(event);
    }
  }
}
