// Undo an import. An admin's RevertRequested (appended to the import's own stream, after its rows)
// is decided by the processor in global order, like a row: every effect of the import that nothing
// later built on is undone by compensating events in the import's outcome stream —
//   a link it made, still its own         → RelationReverted (and RelationRestored for the link
//                                           its row had ended, when it ended one)
//   a profile it created, used by no other → ProfileRetired
// — and an effect a later import built on stays, named in the outcome as a blocker:
//   a link it made that a later import remapped (relation-changed) or named again as it is
//   (relation-confirmed: RelationConfirmed), a profile it created that a later import links an id
//   to, named in such a row, or matched (profile-in-use).
// ImportReverted closes the revert (the import log shows Reverted); RevertRefused when it would
// change nothing. Nothing is deleted from the event store.
//
// An import may have a million rows, so a revert goes page by page through the import's outcome
// stream (what it did), each page decided against the read models (what stands now) and committed
// with its compensating events; only the last commit (ImportReverted) moves the processor's
// checkpoint past the request. A revert cut short is decided again from the start: what it undid
// already reads as done (a link ended by this revert, a profile retired), so the pages left give
// the same events as before, and the totals count both. decideRevertPage and decideRevertOutcome
// are pure; revertPages reads.
import type pg from 'pg';
import { eventId } from '../events/ids.ts';
import { toImporterEvent } from '../events/schemas.ts';
import {
  REVERT_BLOCKERS_LISTED, streams, type EventMetadata, type RevertBlocker, type RevertRequestedData, type RowRef, type SourceName,
} from '../events/types.ts';
import type { EventStore, RecordedEvent } from '../eventstore/types.ts';
import { linksFromOtherImports, revertLinkFacts, type LinkNow } from '../../projections/relation.ts';
import { historyFromOtherImports } from '../../projections/history.ts';
import { retiredProfiles } from '../../projections/profile.ts';
import type { RevertPlanView } from '../../schemas/api.ts';
import type { ImportProgress } from './batch.ts';
import type { DecidedEvent } from './rules.ts';

/** A link a row of the import made, and what the relation table shows of it and its id now. */
export interface RevertLink {
  source: SourceName;
  originalId: string;
  careosId: string;
  row: number;
  now: LinkNow;
}

/** A profile a row of the import created: retired already (by this revert), or who builds on it now. */
export interface RevertProfile {
  careosId: string;
  row: number;
  retired: boolean;
  usedBy: RowRef | null;
}

/** One page of the import's outcome stream, with what stands now. */
export interface RevertPage {
  links: RevertLink[];
  profiles: RevertProfile[];
  /** Rejected rows the import (a replay) resolved in this page. */
  errorsResolved: number;
}

export interface RevertRequest {
  data: RevertRequestedData;
  metadata: EventMetadata;
}

/** The revert's totals so far: what it undid (now or before a crash) and what it leaves. */
export interface RevertTally {
  relationsReverted: number;
  relationsRestored: number;
  profilesRetired: number;
  errorsReopened: number;
  /** The first REVERT_BLOCKERS_LISTED. */
  blocked: RevertBlocker[];
  blockedCount: number;
}

export function emptyTally(): RevertTally {
  return { relationsReverted: 0, relationsRestored: 0, profilesRetired: 0, errorsReopened: 0, blocked: [], blockedCount: 0 };
}

function metadataOf(request: RevertRequest, row?: number): EventMetadata {
  return { by: request.metadata.by, at: request.metadata.at, importId: request.data.importId, ...(row === undefined ? {} : { row }), v: 1 };
}

/** Why the revert of this import is refused before anything is looked at; null when it goes on. */
export function revertPrecondition(progress: ImportProgress | undefined, reverted: boolean, importId: string): string | null {
  if (!progress) return `import ${importId} is not known to the processor`;
  if (!progress.completed) return 'the import has not finished: every row must be decided before it can be reverted';
  if (reverted) return 'the import was reverted already';
  return null;
}

/** Pure: the compensating events of one page; counts what it undoes, undid before, and leaves into `tally`. */
export function decideRevertPage(request: RevertRequest, page: RevertPage, tally: RevertTally): DecidedEvent[] {
  const importId = request.data.importId;
  const block = (blocker: RevertBlocker) => {
    if (tally.blocked.length < REVERT_BLOCKERS_LISTED) tally.blocked.push(blocker);
    tally.blockedCount++;
  };
  tally.errorsReopened += page.errorsResolved;
  const retiring = new Set<string>();
  const retires: DecidedEvent[] = [];
  for (const profile of page.profiles) {
    if (profile.retired) {
      tally.profilesRetired++;
    } else if (profile.usedBy) {
      block({ kind: 'profile-in-use', row: profile.row, careosId: profile.careosId, source: null, originalId: null, by: profile.usedBy });
    } else {
      tally.profilesRetired++;
      retiring.add(profile.careosId);
      retires.push({
        id: eventId(importId, profile.row, 'revert-retire'),
        event: { type: 'ProfileRetired', data: { careosId: profile.careosId, importId, row: profile.row }, metadata: metadataOf(request, profile.row) },
      });
    }
  }
  const links: DecidedEvent[] = [];
  for (const { source, originalId, careosId, row, now } of page.links) {
    const link = now.link;
    if (link && !link.active && link.endedByRevert && link.endedBy?.importId === importId) {
      // Undone by this revert already (a revert cut short, decided again).
      tally.relationsReverted++;
      if (now.restored) tally.relationsRestored++;
      continue;
    }
    // A later row of the same import linked the id again: that row's link is the one to undo.
    if (link && !link.active && link.endedBy?.importId === importId) continue;
    if (!link?.active) {
      const by = now.active ?? link?.endedBy ?? { importId, row };
      block({ kind: 'relation-changed', row, careosId, source, originalId, by: { importId: by.importId, row: by.row } });
      continue;
    }
    // A later import's row named this very link again: it stands behind the link, which stays.
    if (now.confirmedBy) {
      block({ kind: 'relation-confirmed', row, careosId, source, originalId, by: now.confirmedBy });
      continue;
    }
    tally.relationsReverted++;
    links.push({
      id: eventId(importId, row, `revert-link:${source}:${originalId}`),
      event: { type: 'RelationReverted', data: { careosId, source, originalId, importId, row }, metadata: metadataOf(request, row) },
    });
    const before = now.before;
    if (before && !retiring.has(before.careosId) && !now.restored) {
      tally.relationsRestored++;
      links.push({
        id: eventId(importId, row, `revert-restore:${source}:${originalId}`),
        event: {
          type: 'RelationRestored',
          data: { careosId: before.careosId, source, originalId, importId, row, restores: { importId: before.importId, row: before.row } },
          metadata: metadataOf(request, row),
        },
      });
    }
  }
  return [...links, ...retires];
}

/** Pure: the event that closes a revert: ImportReverted with its totals, or RevertRefused when it undid nothing and something blocks it. */
export function decideRevertOutcome(request: RevertRequest, tally: RevertTally, requestKey: string, refusal: string | null = null): DecidedEvent {
  const importId = request.data.importId;
  const blocked = [...tally.blocked].sort(byRow);
  const blockedCount = tally.blockedCount;
  const undid = tally.relationsReverted + tally.profilesRetired + tally.relationsRestored;
  const refused = refusal ?? (undid === 0 && blockedCount > 0 ? `every effect of this import was built on since (${blockedCount}): revert the later imports named first` : null);
  if (refused !== null) {
    return {
      id: eventId(importId, 0, `revert-refused:${requestKey}`),
      event: { type: 'RevertRefused', data: { importId, reason: request.data.reason, refusal: refused, blocked, blockedCount }, metadata: metadataOf(request) },
    };
  }
  return {
    id: eventId(importId, 0, 'reverted'),
    event: { type: 'ImportReverted', data: { importId, reason: request.data.reason, ...tally, blocked }, metadata: metadataOf(request) },
  };
}

/** Blockers by the reverted import's row, then kind. */
function byRow(a: RevertBlocker, b: RevertBlocker): number {
  return a.row - b.row || a.kind.localeCompare(b.kind);
}

/** The plan a tally adds up to (a preview, or the outcome), as the API shows it. */
export function planOf(tally: RevertTally, refusal: string | null): RevertPlanView {
  return { ...tally, blocked: [...tally.blocked].sort(byRow), refusal };
}

const STREAM_PAGE = 2000;

/**
 * The import's outcome stream page by page, up to `lastRevision` (what the import decided, before
 * any revert event), each page with what the read models show now of its links and profiles.
 */
export async function* revertPages(
  store: EventStore, db: pg.Pool | pg.ClientBase, importId: string, lastRevision: bigint | null, pageSize = STREAM_PAGE,
): AsyncGenerator<RevertPage> {
  if (lastRevision === null) return;
  const stream = streams.outcome(importId);
  const size = BigInt(pageSize);
  const countFrom = (from: bigint) => Number(lastRevision - from + 1n < size ? lastRevision - from + 1n : size);
  // The stream up to lastRevision never changes (a revert appends after it), so the next page is
  // read and parsed while this one's facts are looked up and the caller decides (and commits) it;
  // the facts themselves are read only when their page's turn comes, after the pages before it.
  const readPage = (from: bigint) => store.readStream(stream, { fromRevision: from, maxCount: countFrom(from) }).then(eventsOfPage);
  let next: Promise<PageEvents> | null = readPage(0n);
  for (let from = 0n; next !== null; from += size) {
    const count = countFrom(from);
    const page: PageEvents = await next;
    const { links, created, errorsResolved } = page;
    next = page.read === count && from + size <= lastRevision ? readPage(from + size) : null;
    next?.catch(() => undefined); // surfaced when awaited; a generator left early drops it
    const careosIds = created.map((p) => p.careosId);
    const [now, retired, linkedBy, matchedBy] = await Promise.all([
      revertLinkFacts(db, importId, links), retiredProfiles(db, careosIds), linksFromOtherImports(db, importId, careosIds), historyFromOtherImports(db, importId, careosIds),
    ]);
    yield {
      links: links.map((link, i) => ({ ...link, now: now[i]! })),
      profiles: created.map((p) => ({ ...p, retired: retired.has(p.careosId), usedBy: linkedBy.get(p.careosId) ?? matchedBy.get(p.careosId) ?? null })),
      errorsResolved,
    };
  }
}

interface PageEvents {
  /** Events on the page. */
  read: number;
  links: Omit<RevertLink, 'now'>[];
  created: { careosId: string; row: number }[];
  errorsResolved: number;
}

/** What a page of an import's outcome stream made: its links, its profiles, the rows it fixed. */
function eventsOfPage(stored: readonly RecordedEvent[]): PageEvents {
  const links: Omit<RevertLink, 'now'>[] = [];
  const created: { careosId: string; row: number }[] = [];
  let errorsResolved = 0;
  for (const record of stored) {
    const event = toImporterEvent(record);
    if (event.type === 'ProfileCreated') created.push({ careosId: event.data.careosId, row: event.data.row });
    else if (event.type === 'RelationLinked') {
      for (const originalId of event.data.originalIds) links.push({ source: event.data.source, originalId, careosId: event.data.careosId, row: event.data.row });
    } else if (event.type === 'ErrorResolved') errorsResolved++;
  }
  return { read: stored.length, links, created, errorsResolved };
}
