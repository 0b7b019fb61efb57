// Read model: CareOS profiles, and the phone index that finds them by any format of a number.
import type pg from 'pg';
import { copyRows, type CopyValue } from './copy.ts';
import type { PositionedEvent, Projection } from './types.ts';

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
      careos_id text not null
    );
    create index if not exists profile_phone_phone on profile_phone (phone);
  `,
  handles: ['ProfileCreated'],
  async apply(client: pg.ClientBase, events: readonly PositionedEvent[]) {
    const profiles: CopyValue[][] = [];
    const phones: CopyValue[][] = [];
    for (const event of events) {
      if (event.type !== 'ProfileCreated') continue;
      const d = event.data;
      profiles.push([
        d.careosId, d.firstname, d.lastname, d.gender, d.dateOfBirth, d.emails, d.phones, d.companies,
        d.source, d.importId, d.row, event.metadata.by, event.metadata.at, event.position.commit, event.position.prepare,
      ]);
      for (const phone of d.phones) phones.push([phone, d.careosId]);
    }
    await copyRows(client, 'profile', [
      'careos_id', 'firstname', 'lastname', 'gender', 'date_of_birth', 'emails', 'phones', 'companies',
      'source', 'import_id', 'row_number', 'created_by', 'created_at', 'created_commit', 'created_prepare',
    ], profiles);
    await copyRows(client, 'profile_phone', ['phone', 'careos_id'], phones);
  },
};
