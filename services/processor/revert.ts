// Undo an import. An admin's RevertRequested (appended to the import's own stream, after its rows)
// is decided by the processor in global order, like a row: every effect of the import that nothing
// later built on is undone by compensating events in the import's outcome stream —
//   a link it made and still active        → RelationReverted (and RelationRestored for the link
//                                             its row had ended, when it ended one)
//   a profile it created, used by no other → ProfileRetired
// — and an effect a later import built on stays, named in the outcome as a blocker:
//   a link it made that a later import remapped (relation-changed), a profile it created that a
//   later import linked an id to or matched (profile-in-use).
// ImportReverted closes the revert (the import log shows Reverted); RevertRefused when it would
// change nothing. Nothing is deleted from the event store.
//
// decideRevert is pure; loadRevertFacts reads what it needs: the import's own outcome stream (what
// it did) and the read models (what stands now). The processor decides a revert alone in its
// batch, after every batch before it has committed, so the read models show everything before it.
import type pg from 'pg';
import { eventId } from '../events/ids.ts';
import { toImporterEvent } from '../events/schemas.ts';
import {
  REVERT_BLOCKERS_LISTED, streams, type EventMetadata, type RevertBlocker, type RevertRequestedData, type RowRef, type SourceName,
} from '../events/types.ts';
import type { EventStore } from '../eventstore/types.ts';
import { linksFromOtherImports, revertLinkFacts, type LinkNow } from '../../projections/relation.ts';
import { historyFromOtherImports } from '../../projections/history.ts';
import { getImport } from '../../projections/import-log.ts';
import type { RevertPlanView } from '../../schemas/api.ts';
import type { ImportProgress } from './batch.ts';
import type { DecidedEvent } from './rules.ts';

/** An original id the import linked: its last link (the profile, the row) and what stands now. */
export interface RevertLink {
  source: SourceName;
  originalId: string;
  careosId: string;
  row: number;
  now: LinkNow;
}

export interface RevertFacts {
  /** The import was reverted already. */
  reverted: boolean;
  links: RevertLink[];
  /** Profiles the import created, with a later import that built on each (null: none). */
  profiles: { careosId: string; row: number; usedBy: RowRef | null }[];
  /** Rejected rows this import (a replay) resolved. */
  errorsResolved: number;
}

export interface RevertRequest {
  data: RevertRequestedData;
  metadata: EventMetadata;
}

export interface RevertDecision {
  events: DecidedEvent[];
  plan: RevertPlanView;
}

/** Pure: the events a revert request causes, and what they undo and leave. `requestKey` tells requests of one import apart. */
export function decideRevert(request: RevertRequest, progress: ImportProgress | undefined, facts: RevertFacts, requestKey: string): RevertDecision {
  const importId = request.data.importId;
  const metadata = (row?: number): EventMetadata => ({ by: request.metadata.by, at: request.metadata.at, importId, ...(row === undefined ? {} : { row }), v: 1 });
  const refused = (refusal: string, blocked: RevertBlocker[] = []): RevertDecision => ({
    events: [{
      id: eventId(importId, 0, `revert-refused:${requestKey}`),
      event: {
        type: 'RevertRefused',
        data: { importId, reason: request.data.reason, refusal, blocked: blocked.slice(0, REVERT_BLOCKERS_LISTED), blockedCount: blocked.length },
        metadata: metadata(),
      },
    }],
    plan: { relationsReverted: 0, relationsRestored: 0, profilesRetired: 0, errorsReopened: 0, blocked: blocked.slice(0, REVERT_BLOCKERS_LISTED), blockedCount: blocked.length, refusal },
  });
  if (!progress) return refused(`import ${importId} is not known to the processor`);
  if (!progress.completed) return refused('the import has not finished: every row must be decided before it can be reverted');
  if (facts.reverted) return refused('the import was reverted already');

  const blocked: RevertBlocker[] = [];
  const retiring = new Set<string>();
  const retires: DecidedEvent[] = [];
  for (const profile of facts.profiles) {
    if (profile.usedBy) {
      blocked.push({ kind: 'profile-in-use', row: profile.row, careosId: profile.careosId, source: null, originalId: null, by: profile.usedBy });
      continue;
    }
    retiring.add(profile.careosId);
    retires.push({
      id: eventId(importId, profile.row, 'revert-retire'),
      event: { type: 'ProfileRetired', data: { careosId: profile.careosId, importId, row: profile.row }, metadata: metadata(profile.row) },
    });
  }
  const links: DecidedEvent[] = [];
  let relationsReverted = 0;
  let relationsRestored = 0;
  for (const link of facts.links) {
    const { source, originalId, careosId, row, now } = link;
    const stillMine = now.active !== null && now.active.importId === importId && now.active.careosId === careosId;
    if (!stillMine) {
      const by = now.active ?? now.endedBy ?? { importId, row };
      blocked.push({ kind: 'relation-changed', row, careosId, source, originalId, by: { importId: by.importId, row: by.row } });
      continue;
    }
    relationsReverted++;
    links.push({
      id: eventId(importId, row, `revert-link:${source}:${originalId}`),
      event: { type: 'RelationReverted', data: { careosId, source, originalId, importId, row }, metadata: metadata(row) },
    });
    const before = now.before;
    if (before && !retiring.has(before.careosId)) {
      relationsRestored++;
      links.push({
        id: eventId(importId, row, `revert-restore:${source}:${originalId}`),
        event: {
          type: 'RelationRestored',
          data: { careosId: before.careosId, source, originalId, importId, row, restores: { importId: before.importId, row: before.row } },
          metadata: metadata(row),
        },
      });
    }
  }
  blocked.sort((a, b) => a.row - b.row || a.kind.localeCompare(b.kind));
  if (relationsReverted === 0 && retires.length === 0 && blocked.length > 0) {
    return refused(`every effect of this import was built on since (${blocked.length}): revert the later imports named first`, blocked);
  }
  const counts = {
    relationsReverted, relationsRestored, profilesRetired: retires.length, errorsReopened: facts.errorsResolved,
    blocked: blocked.slice(0, REVERT_BLOCKERS_LISTED), blockedCount: blocked.length,
  };
  const plan: RevertPlanView = { ...counts, refusal: null };
  return {
    events: [
      ...links, ...retires,
      { id: eventId(importId, 0, 'reverted'), event: { type: 'ImportReverted', data: { importId, reason: request.data.reason, ...counts }, metadata: metadata() } },
    ],
    plan,
  };
}

const STREAM_PAGE = 5000;

/**
 * What decideRevert needs: what the import did (its outcome stream, read in pages: its last link of
 * each original id, the profile its first unlink of each id ended, the profiles it created, the
 * errors it resolved) and what stands now (the read models).
 */
export async function loadRevertFacts(store: EventStore, db: pg.Pool | pg.ClientBase, importId: string): Promise<RevertFacts> {
  const lastLink = new Map<string, { source: SourceName; originalId: string; careosId: string; row: number }>();
  const firstEnded = new Map<string, string>();
  const created: { careosId: string; row: number }[] = [];
  const linkedHere = new Set<string>();
  let errorsResolved = 0;
  const stream = streams.outcome(importId);
  for (let from = 0n; ; from += BigInt(STREAM_PAGE)) {
    const page = await store.readStream(stream, { fromRevision: from, maxCount: STREAM_PAGE });
    for (const stored of page) {
      const event = toImporterEvent(stored);
      switch (event.type) {
        case 'ProfileCreated':
          created.push({ careosId: event.data.careosId, row: event.data.row });
          break;
        case 'RelationLinked':
          for (const originalId of event.data.originalIds) {
            const key = `${event.data.source}\u0000${originalId}`;
            lastLink.set(key, { source: event.data.source, originalId, careosId: event.data.careosId, row: event.data.row });
            linkedHere.add(`${key}\u0000${event.data.careosId}`);
          }
          break;
        case 'RelationUnlinked': {
          // The link this import found active (not one of its own rows' links, re-linked later in it).
          const key = `${event.data.source}\u0000${event.data.originalId}`;
          if (!firstEnded.has(key) && !linkedHere.has(`${key}\u0000${event.data.careosId}`)) firstEnded.set(key, event.data.careosId);
          break;
        }
        case 'ErrorResolved':
          errorsResolved++;
          break;
        default:
          break;
      }
    }
    if (page.length < STREAM_PAGE) break;
  }
  const keys = [...lastLink.entries()].map(([key, link]) => ({ ...link, endedCareosId: firstEnded.get(key) ?? null }));
  const careosIds = created.map((p) => p.careosId);
  const [now, linkedBy, matchedBy, log] = await Promise.all([
    revertLinkFacts(db, importId, keys), linksFromOtherImports(db, importId, careosIds), historyFromOtherImports(db, importId, careosIds),
    getImport(db, importId),
  ]);
  const nowOf = new Map(now.map((n) => [`${n.source}\u0000${n.originalId}`, n]));
  return {
    reverted: log?.revert?.state === 'reverted',
    links: keys
      .map((k) => ({ source: k.source, originalId: k.originalId, careosId: k.careosId, row: k.row, now: nowOf.get(`${k.source}\u0000${k.originalId}`)! }))
      .sort((a, b) => a.row - b.row || a.originalId.localeCompare(b.originalId)),
    profiles: created.map((p) => ({ ...p, usedBy: linkedBy.get(p.careosId) ?? matchedBy.get(p.careosId) ?? null })),
    errorsResolved,
  };
}
