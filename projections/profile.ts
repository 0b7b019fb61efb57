// Read model: CareOS profiles, and the phone index that finds them by any format of a number.
import type pg from 'pg';
import { copyRows, type CopyValue } from './copy.ts';
import type { PositionedEvent, Projection } from './types.ts';
import type { ProfileView } from '../schemas/api.ts';

export const profileProjection: Projection = {
  name: 'profile',
  tables: ['profile_phone', 'profile'],
  ddl: `
    create table if not exists profile (
      careos_id text primary key,
      firstname text not null,
      lastname text not null,
      gender text,
      date_of_birth date,
      emails text[] not null,
      phones text[] not null,
      companies text[] not null,
      source text not null,
      import_id text not null,
      row_number integer not null,
      created_by text not null,
      created_at timestamptz not null,
      -- the ProfileCreated event's place in the global order; "oldest first" means this order
      created_commit bigint not null,
      created_prepare bigint not null
    );
    create table if not exists profile_phone (
      phone text not null,
      careos_id text not null,
      -- the profile's creation order, so finding a phone's owners oldest first needs no join
      created_commit bigint not null,
      created_prepare bigint not null
    );
    create index if not exists profile_phone_phone on profile_phone (phone);
    -- A profile a reverted import created: kept (its history, its page) but no longer found by phone
    -- (its profile_phone rows go) or by CareOS id in a row, and not listed.
    alter table profile add column if not exists retired_at timestamptz, add column if not exists retired_by text;
  `,
  handles: ['ProfileCreated', 'ProfileRetired'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    const profiles: CopyValue[][] = [];
    const phones: CopyValue[][] = [];
    const retired: { careosId: string; at: string; by: string }[] = [];
    for (const event of events) {
      if (event.type === 'ProfileRetired') {
        retired.push({ careosId: event.data.careosId, at: event.metadata.at, by: event.metadata.by });
        continue;
      }
      if (event.type !== 'ProfileCreated') continue;
      const d = event.data;
      profiles.push([
        d.careosId, d.firstname, d.lastname, d.gender, d.dateOfBirth, d.emails, d.phones, d.companies,
        d.source, d.importId, d.row, event.metadata.by, event.metadata.at, event.position.commit, event.position.prepare,
      ]);
      for (const phone of d.phones) phones.push([phone, d.careosId, event.position.commit, event.position.prepare]);
    }
    await copyRows(client, 'profile', [
      'careos_id', 'firstname', 'lastname', 'gender', 'date_of_birth', 'emails', 'phones', 'companies',
      'source', 'import_id', 'row_number', 'created_by', 'created_at', 'created_commit', 'created_prepare',
    ], profiles);
    await copyRows(client, 'profile_phone', ['phone', 'careos_id', 'created_commit', 'created_prepare'], phones);
    if (retired.length === 0) return;
    // After the inserts (a revert's batch holds no ProfileCreated, but the order is the events').
    await client.query(
      `update profile p set retired_at = r.at, retired_by = r.by
         from unnest($1::text[], $2::timestamptz[], $3::text[]) as r(careos_id, at, by) where p.careos_id = r.careos_id`,
      [retired.map((r) => r.careosId), retired.map((r) => r.at), retired.map((r) => r.by)],
    );
    // By phone (its index, one probe per phone), not by CareOS id (no index: every index costs the import).
    await client.query(
      `delete from profile_phone where ctid in (
         select pp.ctid from profile p cross join lateral unnest(p.phones) as ph(phone)
          cross join lateral (select ctid from profile_phone where phone = ph.phone and careos_id = p.careos_id offset 0) pp
          where p.careos_id = any($1::text[]))`,
      [retired.map((r) => r.careosId)],
    );
  },
};

export type { ProfileView };

/** Profiles by E.164 phone or CareOS id (or all, oldest first). */
export async function findProfiles(db: pg.Pool, filter: { phoneE164?: string; careosId?: string; limit?: number }): Promise<ProfileView[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.phoneE164 !== undefined) {
    params.push(filter.phoneE164);
    where.push(`careos_id in (select careos_id from profile_phone where phone = $${params.length})`);
  }
  if (filter.careosId !== undefined) {
    params.push(filter.careosId);
    where.push(`careos_id = $${params.length}`);
  }
  where.push('retired_at is null');
  params.push(filter.limit ?? 1000);
  const { rows } = await db.query<{
    careos_id: string; firstname: string; lastname: string; gender: 'F' | 'M' | null; date_of_birth: string | null;
    emails: string[]; phones: string[]; companies: string[];
  }>(
    `select careos_id, firstname, lastname, gender, to_char(date_of_birth, 'YYYY-MM-DD') as date_of_birth, emails, phones, companies
       from profile ${where.length ? `where ${where.join(' and ')}` : ''}
      order by created_commit, created_prepare limit $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    careosId: r.careos_id, firstname: r.firstname, lastname: r.lastname, gender: r.gender, dateOfBirth: r.date_of_birth,
    emails: r.emails, phones: r.phones, companies: r.companies,
  }));
}

export interface ProfileRecord extends ProfileView {
  source: string;
  importId: string;
  row: number;
  createdBy: string;
  createdAt: string;
  /** Retired by the revert of the import that created it; null while it is live. */
  retired: { at: string; by: string } | null;
}

type ProfileRow = {
  careos_id: string; firstname: string; lastname: string; gender: 'F' | 'M' | null; date_of_birth: string | null;
  emails: string[]; phones: string[]; companies: string[]; source: string; import_id: string; row_number: number;
  created_by: string; created_at: Date; retired_at: Date | null; retired_by: string | null;
};

/** One profile with where it came from, or null. */
export async function profileRecord(db: pg.Pool, careosId: string): Promise<ProfileRecord | null> {
  const { rows } = await db.query<ProfileRow>(
    `select careos_id, firstname, lastname, gender, to_char(date_of_birth, 'YYYY-MM-DD') as date_of_birth, emails, phones, companies,
            source, import_id, row_number, created_by, created_at, retired_at, retired_by
       from profile where careos_id = $1`,
    [careosId],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    careosId: r.careos_id, firstname: r.firstname, lastname: r.lastname, gender: r.gender, dateOfBirth: r.date_of_birth,
    emails: r.emails, phones: r.phones, companies: r.companies, source: r.source, importId: r.import_id, row: r.row_number,
    createdBy: r.created_by, createdAt: r.created_at.toISOString(),
    retired: r.retired_at ? { at: r.retired_at.toISOString(), by: r.retired_by ?? '' } : null,
  };
}

/**
 * Profiles whose names start with the words given (Thai or Latin, any letter case): one word
 * matches a first or a last name; two or more match the first name with the first word and the
 * last name with the rest. Oldest first. A scan with a limit (no name index: every index costs
 * the import); it stops at the limit.
 */
export async function findProfilesByName(db: pg.Pool, words: readonly string[], limit: number): Promise<ProfileView[]> {
  const escape = (w: string) => `${w.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const [first, ...rest] = words;
  if (first === undefined) return [];
  const where = rest.length
    ? 'lower(firstname) like $1 and lower(lastname) like $2'
    : 'lower(firstname) like $1 or lower(lastname) like $1';
  const params: unknown[] = rest.length ? [escape(first), escape(rest.join(' '))] : [escape(first)];
  params.push(limit);
  const { rows } = await db.query<ProfileRow>(
    `select careos_id, firstname, lastname, gender, to_char(date_of_birth, 'YYYY-MM-DD') as date_of_birth, emails, phones, companies
       from profile where (${where}) and retired_at is null order by created_commit, created_prepare limit $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    careosId: r.careos_id, firstname: r.firstname, lastname: r.lastname, gender: r.gender, dateOfBirth: r.date_of_birth,
    emails: r.emails, phones: r.phones, companies: r.companies,
  }));
}

// Lookups the processor decides from. Keys travel as one JSON text each (pg's array parameters
// cost more to build than the lookup). Each is one index probe per key (LATERAL, kept from being
// flattened into a join by `offset 0`), whatever the planner's statistics say: right after a bulk
// load they are stale, and `= any(array)` or a join then reads the whole table per batch (a
// sequential scan or a full index scan: 100+ ms a batch at 200k phones, growing with the table).

/** Which of these CareOS ids are existing profiles. */
export async function existingProfiles(db: pg.Pool | pg.ClientBase, careosIds: readonly string[]): Promise<string[]> {
  if (careosIds.length === 0) return [];
  const { rows } = await db.query<{ careos_id: string }>(
    `select p.careos_id from json_array_elements_text($1::json) as k(careos_id)
       cross join lateral (select careos_id from profile where careos_id = k.careos_id and retired_at is null offset 0) p`,
    [JSON.stringify(careosIds)],
  );
  return rows.map((r) => r.careos_id);
}

/** The profiles holding each of these E.164 phones, oldest profile first. */
export async function phoneOwners(db: pg.Pool | pg.ClientBase, phones: readonly string[]): Promise<{ phone: string; careosId: string }[]> {
  if (phones.length === 0) return [];
  const { rows } = await db.query<{ phone: string; careos_id: string }>(
    `select k.phone, p.careos_id from json_array_elements_text($1::json) as k(phone)
       cross join lateral (select careos_id, created_commit, created_prepare from profile_phone where phone = k.phone offset 0) p
      order by p.created_commit, p.created_prepare`,
    [JSON.stringify(phones)],
  );
  return rows.map((r) => ({ phone: r.phone, careosId: r.careos_id }));
}

/** The owners of these phones with their names, oldest first (Care Shop's exact-name match). */
export async function phoneOwnersWithNames(
  db: pg.Pool | pg.ClientBase, phones: readonly string[],
): Promise<{ phone: string; careosId: string; firstname: string; lastname: string }[]> {
  if (phones.length === 0) return [];
  const { rows } = await db.query<{ phone: string; careos_id: string; firstname: string; lastname: string }>(
    `select k.phone, p.careos_id, p.firstname, p.lastname from json_array_elements_text($1::json) as k(phone)
       cross join lateral (select pp.careos_id, pp.created_commit, pp.created_prepare, pr.firstname, pr.lastname
                             from profile_phone pp join profile pr on pr.careos_id = pp.careos_id
                            where pp.phone = k.phone offset 0) p
      order by p.created_commit, p.created_prepare`,
    [JSON.stringify(phones)],
  );
  return rows.map((r) => ({ phone: r.phone, careosId: r.careos_id, firstname: r.firstname, lastname: r.lastname }));
}

/** Which of these profiles are retired (a revert's progress: what it retired already). */
export async function retiredProfiles(db: pg.Pool | pg.ClientBase, careosIds: readonly string[]): Promise<Set<string>> {
  if (careosIds.length === 0) return new Set();
  const { rows } = await db.query<{ careos_id: string }>(
    `select p.careos_id from json_array_elements_text($1::json) as k(careos_id)
       cross join lateral (select careos_id from profile where careos_id = k.careos_id and retired_at is not null offset 0) p`,
    [JSON.stringify(careosIds)],
  );
  return new Set(rows.map((r) => r.careos_id));
}
