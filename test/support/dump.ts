// A canonical dump of every read model, for comparing two runs. Ids derived from an import id
// differ between runs, so a profile is named by the row that created it.
import type pg from 'pg';

export interface ReadModelDump {
  profiles: string[];
  relations: string[];
  errors: string[];
  imports: string[];
  /** The Care Shop history log. */
  history: string[];
  duplicates: { profiles: number; relations: number; errors: number };
}

export async function dumpReadModels(db: pg.Pool | pg.Client): Promise<ReadModelDump> {
  const names = new Map<string, string>();
  const profiles = await db.query(`select * from profile order by created_commit, created_prepare`);
  for (const p of profiles.rows) names.set(p.careos_id, p.source === 'careos' ? p.careos_id : `row${p.row_number}`);
  const name = (id: string) => names.get(id) ?? id;
  const rename = (text: string) => text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => name(id));
  const relations = await db.query(`select * from relation`);
  const errors = await db.query(`select * from error_log`);
  const imports = await db.query(`select * from import_log`);
  const history = await db.query(`select * from sync_history`);
  const count = async (sql: string) => Number((await db.query(sql)).rows[0].n);
  return {
    profiles: profiles.rows
      .map((p) => [name(p.careos_id), p.firstname, p.lastname, p.gender, p.date_of_birth?.toISOString?.() ?? p.date_of_birth, p.emails, p.phones, p.companies, p.source, p.row_number, p.retired_at !== null].map(String).join('|'))
      .sort(),
    relations: relations.rows
      .map((r) => [r.original_source, r.original_id, name(r.care_os_id), r.active, r.linked_row, r.unlinked_row, r.unlinked_by_revert, r.restored_by_revert !== null].map(String).join('|'))
      .sort(),
    errors: errors.rows.map((e) => `${e.row_number}|${JSON.stringify(e.record)}|${rename(JSON.stringify(e.reasons))}`).sort(),
    imports: imports.rows.map((i) => [i.file_name, i.source, i.status, i.total_rows, i.imported_rows, i.rejected_rows, i.skipped_rows].map(String).join('|')).sort(),
    history: history.rows
      .map((h) => [h.source, h.original_id, h.row_number, h.outcome, h.careos_id === null ? null : name(h.careos_id), h.source_updated_at?.toISOString(), h.changed_at?.toISOString(), h.skipped_times].map(String).join('|'))
      .sort(),
    duplicates: {
      profiles: await count('select count(*) - count(distinct careos_id) as n from profile'),
      relations: await count('select count(*) - count(distinct (original_source, original_id, care_os_id, linked_row)) as n from relation'),
      errors: await count('select count(*) - count(distinct (import_id, row_number)) as n from error_log'),
    },
  };
}
