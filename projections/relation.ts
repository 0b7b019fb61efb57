// Read model: the relation table. Links are never overwritten: an unlink sets the row inactive
// and records when, by whom and in which import; the new pair is a new row. So the table answers
// "which relations were active at any past moment" (linked_at <= t < coalesce(unlinked_at, ∞)).
import type pg from 'pg';
import { copyRows, type CopyValue } from './copy.ts';
import type { PositionedEvent, Projection } from './types.ts';
import type { RelationView as ApiRelationView } from '../schemas/api.ts';

interface PendingLink {
  row: CopyValue[];
  active: boolean;
}

const UNLINK_COLUMNS = 4; // unlinked_at, unlinked_by, unlinked_import_id, unlinked_row

export const relationProjection: Projection = {
  name: 'relation',
  tables: ['relation', 'relation_confirmation'],
  ddl: `
    create table if not exists relation (
      original_source text not null,
      original_id text not null,
      care_os_id text not null,
      active boolean not null,
      linked_at timestamptz not null,
      linked_by text not null,
      linked_import_id text not null,
      linked_row integer not null,
      unlinked_at timestamptz,
      unlinked_by text,
      unlinked_import_id text,
      unlinked_row integer,
      linked_commit bigint not null,
      linked_prepare bigint not null
    );
    create index if not exists relation_original on relation (original_source, original_id);
    create index if not exists relation_care_os on relation (care_os_id);
    -- Undo an import: a link it made ended by its revert, and a link it had ended made active again
    -- (a new row naming the import and row that first made it, and the import whose revert restored it).
    alter table relation add column if not exists unlinked_by_revert boolean not null default false,
      add column if not exists restored_by_revert text;
    -- A row that named links already active to the profile it names (RelationConfirmed): the
    -- links do not change, but a revert of the import that made them leaves them as they are.
    create table if not exists relation_confirmation (
      original_source text not null,
      original_id text not null,
      care_os_id text not null,
      import_id text not null,
      row integer not null,
      confirmed_at timestamptz not null,
      confirmed_by text not null
    );
    create index if not exists relation_confirmation_original on relation_confirmation (original_source, original_id);
    create index if not exists relation_confirmation_care_os on relation_confirmation (care_os_id);
  `,
  handles: ['RelationLinked', 'RelationUnlinked', 'RelationReverted', 'RelationRestored', 'RelationConfirmed'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    // Links made in this batch are kept in memory so that a later unlink in the same batch
    // changes the pending row; unlinks of older rows become one UPDATE.
    const pending = new Map<string, PendingLink>();
    const inserts: PendingLink[] = [];
    const unlinks: { source: string; originalId: string; careosId: string; at: string; by: string; importId: string; row: number; revert: boolean }[] = [];
    const confirmations: CopyValue[][] = [];
    const link = (source: string, originalId: string, careosId: string, event: PositionedEvent, importId: string, row: number, restoredBy: string | null) => {
      const pendingLink: PendingLink = {
        active: true,
        row: [
          source, originalId, careosId, true, event.metadata.at, event.metadata.by, importId, row, null, null, null, null,
          event.position.commit, event.position.prepare, false, restoredBy,
        ],
      };
      pending.set(`${source}\u0000${originalId}`, pendingLink);
      inserts.push(pendingLink);
    };
    const unlink = (d: { source: string; originalId: string; careosId: string; importId: string; row: number }, event: PositionedEvent, revert: boolean) => {
      const key = `${d.source}\u0000${d.originalId}`;
      const pendingLink = pending.get(key);
      if (pendingLink && pendingLink.active && pendingLink.row[2] === d.careosId) {
        pendingLink.active = false;
        pendingLink.row[3] = false;
        pendingLink.row.splice(8, UNLINK_COLUMNS, event.metadata.at, event.metadata.by, d.importId, d.row);
        pendingLink.row[14] = revert;
        pending.delete(key);
      } else {
        unlinks.push({ source: d.source, originalId: d.originalId, careosId: d.careosId, at: event.metadata.at, by: event.metadata.by, importId: d.importId, row: d.row, revert });
      }
    };
    for (const event of events) {
      switch (event.type) {
        case 'RelationLinked':
          for (const originalId of event.data.originalIds) link(event.data.source, originalId, event.data.careosId, event, event.data.importId, event.data.row, null);
          break;
        case 'RelationRestored': {
          const d = event.data;
          link(d.source, d.originalId, d.careosId, event, d.restores.importId, d.restores.row, d.importId);
          break;
        }
        case 'RelationUnlinked':
          unlink(event.data, event, false);
          break;
        case 'RelationReverted':
          unlink(event.data, event, true);
          break;
        case 'RelationConfirmed': {
          const d = event.data;
          for (const originalId of d.originalIds) confirmations.push([d.source, originalId, d.careosId, d.importId, d.row, event.metadata.at, event.metadata.by]);
          break;
        }
        default:
          break;
      }
    }
    if (unlinks.length) {
      await client.query(
        `update relation r set active = false, unlinked_at = u.at, unlinked_by = u.by, unlinked_import_id = u.import_id, unlinked_row = u.row,
                unlinked_by_revert = u.revert
           from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::int[], $8::boolean[])
                as u(source, original_id, careos_id, at, by, import_id, row, revert)
          where r.original_source = u.source and r.original_id = u.original_id and r.care_os_id = u.careos_id and r.active`,
        [
          unlinks.map((u) => u.source), unlinks.map((u) => u.originalId), unlinks.map((u) => u.careosId),
          unlinks.map((u) => u.at), unlinks.map((u) => u.by), unlinks.map((u) => u.importId), unlinks.map((u) => u.row), unlinks.map((u) => u.revert),
        ],
      );
    }
    await copyRows(client, 'relation', [
      'original_source', 'original_id', 'care_os_id', 'active', 'linked_at', 'linked_by', 'linked_import_id', 'linked_row',
      'unlinked_at', 'unlinked_by', 'unlinked_import_id', 'unlinked_row', 'linked_commit', 'linked_prepare', 'unlinked_by_revert', 'restored_by_revert',
    ], inserts.map((pendingLink) => pendingLink.row));
    if (confirmations.length) {
      await copyRows(client, 'relation_confirmation', ['original_source', 'original_id', 'care_os_id', 'import_id', 'row', 'confirmed_at', 'confirmed_by'], confirmations);
    }
  },
};

/** Confirmations that count: those of imports not reverted since. */
const STANDING_CONFIRMATION = `not exists (select 1 from import_log l where l.import_id = c.import_id and l.revert_state = 'reverted')`;

/** A relation as this read model holds it: the API's view without the display names. */
export type RelationView = Omit<ApiRelationView, 'linkedByName' | 'unlinkedByName'>;

type RelationRow = {
  care_os_id: string; original_id: string; original_source: string; active: boolean; linked_at: Date; linked_by: string;
  linked_import_id: string; linked_row: number; unlinked_at: Date | null; unlinked_by: string | null;
  unlinked_import_id: string | null; unlinked_row: number | null; unlinked_by_revert: boolean; restored_by_revert: string | null;
};

/**
 * Full history, oldest first, by CareOS id or by source + original id. With `asOf`: the relations
 * that existed at that moment, each `active` as it was then (linked by then, not yet unlinked).
 */
export async function relationHistory(
  db: pg.Pool, filter: { careosId?: string; source?: string; originalId?: string }, asOf?: Date,
): Promise<RelationView[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  let active = 'active';
  if (asOf !== undefined) {
    params.push(asOf.toISOString());
    where.push(`linked_at <= $${params.length}`);
    active = `(unlinked_at is null or unlinked_at > $${params.length})`;
  }
  if (filter.careosId !== undefined) {
    params.push(filter.careosId);
    where.push(`care_os_id = $${params.length}`);
  }
  if (filter.source !== undefined) {
    params.push(filter.source);
    where.push(`original_source = $${params.length}`);
  }
  if (filter.originalId !== undefined) {
    params.push(filter.originalId);
    where.push(`original_id = $${params.length}`);
  }
  const { rows } = await db.query<RelationRow>(
    `select care_os_id, original_id, original_source, ${active} as active, linked_at, linked_by, linked_import_id, linked_row,
            unlinked_at, unlinked_by, unlinked_import_id, unlinked_row, unlinked_by_revert, restored_by_revert
       from relation ${where.length ? `where ${where.join(' and ')}` : ''}
      order by linked_commit, linked_prepare, original_id`,
    params,
  );
  // As of a moment, what came after it is not shown: an unlink that had not happened yet is not there.
  const later = (at: Date | null) => asOf !== undefined && at !== null && at > asOf;
  return rows.map((r) => ({
    careosId: r.care_os_id, originalId: r.original_id, source: r.original_source, active: r.active,
    linkedAt: r.linked_at.toISOString(), linkedBy: r.linked_by, importId: r.linked_import_id, linkedRow: r.linked_row,
    unlinkedAt: r.unlinked_at && !later(r.unlinked_at) ? r.unlinked_at.toISOString() : null,
    unlinkedBy: later(r.unlinked_at) ? null : r.unlinked_by,
    unlinkedImportId: later(r.unlinked_at) ? null : r.unlinked_import_id, unlinkedRow: later(r.unlinked_at) ? null : r.unlinked_row,
    unlinkedByRevert: later(r.unlinked_at) ? false : r.unlinked_by_revert, restoredByRevertOf: r.restored_by_revert,
  }));
}

/**
 * The profile each of these original ids is actively linked to (the processor decides from it;
 * one index probe per key, see phoneOwners in profile.ts for why).
 */
export async function activeLinks(
  db: pg.Pool | pg.ClientBase, keys: readonly { source: string; originalId: string }[],
): Promise<{ source: string; originalId: string; careosId: string }[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<{ source: string; original_id: string; care_os_id: string }>(
    `select k.source, k.original_id, r.care_os_id
       from rows from (json_array_elements_text($1::json), json_array_elements_text($2::json)) as k(source, original_id)
       cross join lateral (select care_os_id from relation
                            where original_source = k.source and original_id = k.original_id and active offset 0) r`,
    [JSON.stringify(keys.map((k) => k.source)), JSON.stringify(keys.map((k) => k.originalId))],
  );
  return rows.map((r) => ({ source: r.source, originalId: r.original_id, careosId: r.care_os_id }));
}

/** What a revert needs to know of a link a reverted import's row made (revertLinkFacts). */
export interface LinkNow {
  source: string;
  originalId: string;
  row: number;
  /** That link as the relation table holds it now (its latest row: a revert of a later import may have restored it). */
  link: { active: boolean; endedBy: { importId: string; row: number } | null; endedByRevert: boolean } | null;
  /** The id's active link now, and the import and row that made it (a restored link names the one that first made it); null when none. */
  active: { careosId: string; importId: string; row: number } | null;
  /** The link the import ended for this id (active before it touched the id), with who made it; null when none, or its profile is retired. */
  before: { careosId: string; importId: string; row: number } | null;
  /** The revert of this import has restored a link of this id already. */
  restored: boolean;
  /** The first row of another import (not reverted) that named this very link again; null when none. */
  confirmedBy: { importId: string; row: number } | null;
}

/** A row that named a link again as it stood (RelationConfirmed). */
export interface Confirmation {
  careosId: string;
  source: string;
  originalId: string;
  importId: string;
  row: number;
  at: string;
  by: string;
}

/** Every confirmation of the links of a profile, or of an original id, oldest first (the auditors' timeline). */
export async function relationConfirmations(db: pg.Pool, filter: { careosId: string } | { source: string; originalId: string }): Promise<Confirmation[]> {
  const { rows } = await db.query<{ care_os_id: string; original_source: string; original_id: string; import_id: string; row: number; confirmed_at: Date; confirmed_by: string }>(
    'careosId' in filter
      ? 'select * from relation_confirmation where care_os_id = $1 order by confirmed_at, import_id, row'
      : 'select * from relation_confirmation where original_source = $1 and original_id = $2 order by confirmed_at, import_id, row',
    'careosId' in filter ? [filter.careosId] : [filter.source, filter.originalId],
  );
  return rows.map((r) => ({
    careosId: r.care_os_id, source: r.original_source, originalId: r.original_id, importId: r.import_id, row: r.row, at: r.confirmed_at.toISOString(), by: r.confirmed_by,
  }));
}

/**
 * For each link an import's row made (source, original id, profile, row): that link now, the id's
 * active link now, the link the import had ended for the id (what a revert restores) and whether
 * the import's revert restored one already. Index probes on (source, original id) per key.
 */
export async function revertLinkFacts(
  db: pg.Pool | pg.ClientBase, importId: string, keys: readonly { source: string; originalId: string; careosId: string; row: number }[],
): Promise<LinkNow[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<{
    source: string; original_id: string; row: number; mine_active: boolean | null; ended_import_id: string | null; ended_row: number | null;
    ended_by_revert: boolean | null; active_care_os_id: string | null; active_import_id: string | null; active_row: number | null;
    before_care_os_id: string | null; before_import_id: string | null; before_row: number | null; restored: boolean;
    confirmed_import_id: string | null; confirmed_row: number | null;
  }>(
    `select k.source, k.original_id, k.row::int as row, m.active as mine_active, m.unlinked_import_id as ended_import_id, m.unlinked_row as ended_row,
            m.unlinked_by_revert as ended_by_revert,
            a.care_os_id as active_care_os_id, a.linked_import_id as active_import_id, a.linked_row as active_row,
            b.care_os_id as before_care_os_id, b.linked_import_id as before_import_id, b.linked_row as before_row,
            exists (select 1 from relation r where r.original_source = k.source and r.original_id = k.original_id and r.restored_by_revert = $1) as restored,
            c.import_id as confirmed_import_id, c.row as confirmed_row
       from rows from (json_array_elements_text($2::json), json_array_elements_text($3::json), json_array_elements_text($4::json), json_array_elements_text($5::json))
            with ordinality as k(source, original_id, care_os_id, row, n)
       left join lateral (select active, unlinked_import_id, unlinked_row, unlinked_by_revert from relation
                           where original_source = k.source and original_id = k.original_id and care_os_id = k.care_os_id
                             and linked_import_id = $1 and linked_row = k.row::int
                           order by linked_commit desc, linked_prepare desc limit 1) m on true
       left join lateral (select care_os_id, linked_import_id, linked_row from relation
                           where original_source = k.source and original_id = k.original_id and active offset 0) a on true
       left join lateral (select care_os_id, linked_import_id, linked_row from relation r
                           where r.original_source = k.source and r.original_id = k.original_id
                             and r.unlinked_import_id = $1 and r.linked_import_id <> $1 and not r.unlinked_by_revert
                             and not exists (select 1 from profile p where p.careos_id = r.care_os_id and p.retired_at is not null)
                           order by r.linked_commit, r.linked_prepare limit 1) b on true
       left join lateral (select c.import_id, c.row from relation_confirmation c
                           where c.original_source = k.source and c.original_id = k.original_id and c.care_os_id = k.care_os_id
                             and c.import_id <> $1 and ${STANDING_CONFIRMATION}
                           order by c.confirmed_at, c.import_id, c.row limit 1) c on true
      order by k.n`,
    [
      importId, JSON.stringify(keys.map((k) => k.source)), JSON.stringify(keys.map((k) => k.originalId)),
      JSON.stringify(keys.map((k) => k.careosId)), JSON.stringify(keys.map((k) => String(k.row))),
    ],
  );
  return rows.map((r) => ({
    source: r.source, originalId: r.original_id, row: r.row,
    link: r.mine_active === null ? null : {
      active: r.mine_active, endedBy: r.ended_import_id === null ? null : { importId: r.ended_import_id, row: r.ended_row! }, endedByRevert: r.ended_by_revert ?? false,
    },
    active: r.active_care_os_id === null ? null : { careosId: r.active_care_os_id, importId: r.active_import_id!, row: r.active_row! },
    before: r.before_care_os_id === null ? null : { careosId: r.before_care_os_id, importId: r.before_import_id!, row: r.before_row! },
    restored: r.restored,
    confirmedBy: r.confirmed_import_id === null ? null : { importId: r.confirmed_import_id, row: r.confirmed_row! },
  }));
}

/**
 * For each profile, the first link another import made to it that is still active, or else the first
 * row of another import (not reverted) that named a link to it again, that link still active: what
 * keeps a revert from retiring it (a link remapped away or reverted since no longer does).
 */
export async function linksFromOtherImports(
  db: pg.Pool | pg.ClientBase, importId: string, careosIds: readonly string[],
): Promise<Map<string, { importId: string; row: number }>> {
  if (careosIds.length === 0) return new Map();
  // An active link another import made to the profile, else a row of another import (not
  // reverted) that named a link to it again.
  const { rows } = await db.query<{ care_os_id: string; import_id: string; row: number }>(
    `select k.care_os_id, coalesce(r.linked_import_id, c.import_id) as import_id, coalesce(r.linked_row, c.row) as row
       from json_array_elements_text($2::json) as k(care_os_id)
       left join lateral (select linked_import_id, linked_row from relation
                           where care_os_id = k.care_os_id and linked_import_id <> $1 and active
                           order by linked_commit, linked_prepare limit 1) r on true
       left join lateral (select c.import_id, c.row from relation_confirmation c
                           where c.care_os_id = k.care_os_id and c.import_id <> $1 and ${STANDING_CONFIRMATION}
                             and exists (select 1 from relation r where r.original_source = c.original_source and r.original_id = c.original_id
                                                                   and r.care_os_id = c.care_os_id and r.active)
                           order by c.confirmed_at, c.import_id, c.row limit 1) c on true
      where r.linked_import_id is not null or c.import_id is not null`,
    [importId, JSON.stringify(careosIds)],
  );
  return new Map(rows.map((r) => [r.care_os_id, { importId: r.import_id, row: r.row }]));
}
