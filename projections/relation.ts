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
  tables: ['relation'],
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
  `,
  handles: ['RelationLinked', 'RelationUnlinked'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    // Links made in this batch are kept in memory so that a later unlink in the same batch
    // changes the pending row; unlinks of older rows become one UPDATE.
    const pending = new Map<string, PendingLink>();
    const inserts: PendingLink[] = [];
    const unlinks: { source: string; originalId: string; careosId: string; at: string; by: string; importId: string; row: number }[] = [];
    for (const event of events) {
      if (event.type === 'RelationLinked') {
        const d = event.data;
        for (const originalId of d.originalIds) {
          const link: PendingLink = {
            active: true,
            row: [d.source, originalId, d.careosId, true, event.metadata.at, event.metadata.by, d.importId, d.row, null, null, null, null, event.position.commit, event.position.prepare],
          };
          pending.set(`${d.source}\u0000${originalId}`, link);
          inserts.push(link);
        }
      } else if (event.type === 'RelationUnlinked') {
        const d = event.data;
        const key = `${d.source}\u0000${d.originalId}`;
        const link = pending.get(key);
        if (link && link.active && link.row[2] === d.careosId) {
          link.active = false;
          link.row[3] = false;
          link.row.splice(8, UNLINK_COLUMNS, event.metadata.at, event.metadata.by, d.importId, d.row);
          pending.delete(key);
        } else {
          unlinks.push({ source: d.source, originalId: d.originalId, careosId: d.careosId, at: event.metadata.at, by: event.metadata.by, importId: d.importId, row: d.row });
        }
      }
    }
    if (unlinks.length) {
      await client.query(
        `update relation r set active = false, unlinked_at = u.at, unlinked_by = u.by, unlinked_import_id = u.import_id, unlinked_row = u.row
           from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::int[])
                as u(source, original_id, careos_id, at, by, import_id, row)
          where r.original_source = u.source and r.original_id = u.original_id and r.care_os_id = u.careos_id and r.active`,
        [
          unlinks.map((u) => u.source), unlinks.map((u) => u.originalId), unlinks.map((u) => u.careosId),
          unlinks.map((u) => u.at), unlinks.map((u) => u.by), unlinks.map((u) => u.importId), unlinks.map((u) => u.row),
        ],
      );
    }
    await copyRows(client, 'relation', [
      'original_source', 'original_id', 'care_os_id', 'active', 'linked_at', 'linked_by', 'linked_import_id', 'linked_row',
      'unlinked_at', 'unlinked_by', 'unlinked_import_id', 'unlinked_row', 'linked_commit', 'linked_prepare',
    ], inserts.map((link) => link.row));
  },
};

/** A relation as this read model holds it: the API's view without the display names. */
export type RelationView = Omit<ApiRelationView, 'linkedByName' | 'unlinkedByName'>;

type RelationRow = {
  care_os_id: string; original_id: string; original_source: string; active: boolean; linked_at: Date; linked_by: string;
  linked_import_id: string; linked_row: number; unlinked_at: Date | null; unlinked_by: string | null;
  unlinked_import_id: string | null; unlinked_row: number | null;
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
            unlinked_at, unlinked_by, unlinked_import_id, unlinked_row
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
