// Read model: the history log of synced source records (Care Shop). One entry per record, made by
// its first sync (RecordSynced: created, matched or rejected); every later sync that meets the
// record again skips it (RowSkipped already-synced), and the entry keeps when the shop last
// changed the record after that first sync.
import type pg from 'pg';
import { copyRows, type CopyValue } from './copy.ts';
import type { PositionedEvent, Projection } from './types.ts';
import type { HistoryEntryView } from '../schemas/api.ts';

export const historyProjection: Projection = {
  name: 'sync_history',
  tables: ['sync_history'],
  ddl: `
    create table if not exists sync_history (
      source text not null,
      original_id text not null,
      import_id text not null,
      row_number integer not null,
      outcome text not null,
      careos_id text,
      synced_by text not null,
      synced_at timestamptz not null,
      -- when the source had last changed the record at its first sync (table syncs)
      source_updated_at timestamptz,
      -- the latest change the source made after that, seen by a later sync (which skipped it)
      changed_at timestamptz,
      skipped_times integer not null default 0,
      last_skipped_import_id text,
      primary key (source, original_id)
    );
    create index if not exists sync_history_import on sync_history (import_id, row_number);
  `,
  handles: ['RecordSynced', 'RowSkipped'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    const entries: CopyValue[][] = [];
    const skips = new Map<string, { source: string; originalId: string; times: number; importId: string; changedAt: string | null }>();
    for (const event of events) {
      if (event.type === 'RecordSynced') {
        const d = event.data;
        entries.push([d.source, d.originalId, d.importId, d.row, d.outcome, d.careosId, event.metadata.by, event.metadata.at, d.sourceUpdatedAt]);
      } else if (event.type === 'RowSkipped' && event.data.code === 'already-synced') {
        const d = event.data;
        const key = `${d.source}\u0000${d.originalId}`;
        const skip = skips.get(key) ?? { source: d.source, originalId: d.originalId, times: 0, importId: d.importId, changedAt: null };
        skip.times++;
        skip.importId = d.importId;
        if (d.sourceUpdatedAt !== null && (skip.changedAt === null || d.sourceUpdatedAt > skip.changedAt)) skip.changedAt = d.sourceUpdatedAt;
        skips.set(key, skip);
      }
    }
    // Entries first: a record synced and met again in the same batch is skipped against its new entry.
    await copyRows(client, 'sync_history', [
      'source', 'original_id', 'import_id', 'row_number', 'outcome', 'careos_id', 'synced_by', 'synced_at', 'source_updated_at',
    ], entries);
    if (skips.size === 0) return;
    const list = [...skips.values()];
    await client.query(
      `update sync_history h
          set skipped_times = h.skipped_times + s.times, last_skipped_import_id = s.import_id,
              changed_at = case when s.changed_at > coalesce(h.source_updated_at, '-infinity')
                                then greatest(h.changed_at, s.changed_at) else h.changed_at end
         from unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[]) as s(source, original_id, times, import_id, changed_at)
        where h.source = s.source and h.original_id = s.original_id`,
      [list.map((s) => s.source), list.map((s) => s.originalId), list.map((s) => s.times), list.map((s) => s.importId), list.map((s) => s.changedAt)],
    );
  },
};

export type HistoryEntry = HistoryEntryView;

type HistoryRow = {
  source: string; original_id: string; import_id: string; row_number: number; outcome: HistoryEntry['outcome']; careos_id: string | null;
  synced_by: string; synced_at: Date; source_updated_at: Date | null; changed_at: Date | null; skipped_times: number; last_skipped_import_id: string | null;
};

function toEntry(r: HistoryRow): HistoryEntry {
  return {
    source: r.source, originalId: r.original_id, importId: r.import_id, row: r.row_number, outcome: r.outcome, careosId: r.careos_id,
    syncedBy: r.synced_by, syncedAt: r.synced_at.toISOString(), sourceUpdatedAt: r.source_updated_at?.toISOString() ?? null,
    changedAt: r.changed_at?.toISOString() ?? null, skippedTimes: r.skipped_times, lastSkippedImportId: r.last_skipped_import_id,
  };
}

/** History entries: of one record, of one import's rows (row order), or the latest of a source. */
export async function historyEntries(
  db: pg.Pool, filter: { source: string; originalId?: string; importId?: string; limit: number; offset: number },
): Promise<{ items: HistoryEntry[]; total: number }> {
  const where = ['source = $1'];
  const params: unknown[] = [filter.source];
  if (filter.originalId !== undefined) where.push(`original_id = $${params.push(filter.originalId)}`);
  if (filter.importId !== undefined) where.push(`import_id = $${params.push(filter.importId)}`);
  const order = filter.importId !== undefined ? 'row_number' : 'synced_at desc, import_id desc, row_number';
  const [page, count] = await Promise.all([
    db.query<HistoryRow>(
      `select * from sync_history where ${where.join(' and ')} order by ${order} limit $${params.length + 1} offset $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    ),
    db.query<{ n: number }>(`select count(*)::int as n from sync_history where ${where.join(' and ')}`, params),
  ]);
  return { items: page.rows.map(toEntry), total: count.rows[0]!.n };
}

/** The history entries of these records (the processor skips a record that has one). */
export async function syncedRecords(
  db: pg.Pool | pg.ClientBase, keys: readonly { source: string; originalId: string }[],
): Promise<{ source: string; originalId: string; importId: string; row: number; careosId: string | null }[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<{ source: string; original_id: string; import_id: string; row_number: number; careos_id: string | null }>(
    `select h.source, h.original_id, h.import_id, h.row_number, h.careos_id
       from unnest($1::text[], $2::text[]) as k(source, original_id)
       join sync_history h on h.source = k.source and h.original_id = k.original_id`,
    [keys.map((k) => k.source), keys.map((k) => k.originalId)],
  );
  return rows.map((r) => ({ source: r.source, originalId: r.original_id, importId: r.import_id, row: r.row_number, careosId: r.careos_id }));
}

/** For each profile, the first history entry of another import naming it (a Care Shop record matched to it), if any. */
export async function historyFromOtherImports(
  db: pg.Pool | pg.ClientBase, importId: string, careosIds: readonly string[],
): Promise<Map<string, { importId: string; row: number }>> {
  if (careosIds.length === 0) return new Map();
  // No index on careos_id (every index costs the sync); a revert is rare.
  const { rows } = await db.query<{ careos_id: string; import_id: string; row_number: number }>(
    `select distinct on (careos_id) careos_id, import_id, row_number from sync_history
      where careos_id = any($2::text[]) and import_id <> $1 order by careos_id, synced_at, import_id, row_number`,
    [importId, careosIds],
  );
  return new Map(rows.map((r) => [r.careos_id, { importId: r.import_id, row: r.row_number }]));
}
