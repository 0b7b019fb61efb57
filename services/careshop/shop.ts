// The Care Shop customer table: where it is (CARESHOP_* settings, or the demo database of the
// embedded PostgreSQL), the demo table, and reading it in keyset pages.
//
// A sync reads the records changed after its cursor (updated_at, customer id), in that order, one
// page at a time (never the whole table in memory), up to the moment the sync started; the next
// sync starts after the last record this one read. A resumed sync continues after the last record
// already stored as RowReceived, so a crash loses or doubles nothing.
import pg from 'pg';
import type { CareshopColumns, CareshopConfig, Config } from '../config.ts';
import { Conflict } from '../errors.ts';

/** The record's fields as every Care Shop row carries them (file columns and table syncs alike). */
export const CARESHOP_FIELDS = ['customer_id', 'firstname', 'lastname', 'mobile_phone', 'email', 'updated_at'] as const;

/** The demo database's name in the embedded PostgreSQL. */
export const DEMO_DATABASE = 'careshop';

export interface ShopLocation {
  url: string;
  /** The embedded demo database (careos careshop seed may fill it). */
  demo: boolean;
  table: string;
  columns: CareshopColumns;
  pageRows: number;
}

/**
 * Where the sync reads from: CARESHOP_DATABASE_URL, or on the embedded default the demo database
 * beside the importer's; null when the importer runs on an external PostgreSQL without one.
 */
export function shopLocation(config: Config, importerUrl: string): ShopLocation | null {
  const shop: CareshopConfig = config.careshop;
  const base = { table: shop.table, columns: shop.columns, pageRows: shop.pageRows };
  if (shop.databaseUrl) return { url: shop.databaseUrl, demo: false, ...base };
  if (config.databaseUrl) return null;
  const url = new URL(importerUrl);
  url.pathname = `/${DEMO_DATABASE}`;
  return { url: url.toString(), demo: true, ...base };
}

export const NOT_CONFIGURED = 'Care Shop sync is not configured: set CARESHOP_DATABASE_URL (and CARESHOP_TABLE / CARESHOP_COLUMN_* if the table differs from public.customer)';

/** "schema"."table" */
export function quotedTable(table: string): string {
  return table.split('.').map(quoteIdent).join('.');
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The demo table (and its keyset index) as `careos careshop seed` fills it. */
export function demoTableDdl(location: ShopLocation): string {
  const c = location.columns;
  const table = quotedTable(location.table);
  const schema = location.table.includes('.') ? `create schema if not exists ${quoteIdent(location.table.split('.')[0]!)};` : '';
  return `${schema}
    create table if not exists ${table} (
      ${quoteIdent(c.customerId)} text primary key,
      ${quoteIdent(c.firstname)} text,
      ${quoteIdent(c.lastname)} text,
      ${quoteIdent(c.mobilePhone)} text,
      ${quoteIdent(c.email)} text,
      ${quoteIdent(c.updatedAt)} timestamptz not null default now()
    );
    create index if not exists ${quoteIdent(`${location.table.split('.').at(-1)}_sync_keyset`)} on ${table} (${quoteIdent(c.updatedAt)}, ${quoteIdent(c.customerId)});`;
}

/** Creates the demo database and table when absent (embedded default only). */
export async function ensureDemo(location: ShopLocation, importerUrl: string): Promise<void> {
  if (!location.demo) return;
  const admin = new pg.Client({ connectionString: importerUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [DEMO_DATABASE]);
    if (!rowCount) {
      await admin.query(`create database ${quoteIdent(DEMO_DATABASE)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created by another process a moment ago
      });
    }
  } finally {
    await admin.end();
  }
  await withShop(location, (client) => client.query(demoTableDdl(location)));
}

export async function withShop<T>(location: ShopLocation, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: location.url, application_name: 'careos careshop sync' });
  try {
    await client.connect();
  } catch (error) {
    throw new Conflict(`the Care Shop database is not reachable (${(error as Error).message})`);
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A keyset position: the last record read (its updated_at as written by selectPage, and its id). */
export interface Keyset {
  updatedAt: string;
  id: string;
}

export function encodeCursor(keyset: Keyset | null): string | null {
  return keyset === null ? null : JSON.stringify(keyset);
}

export function decodeCursor(cursor: string | null): Keyset | null {
  if (cursor === null) return null;
  const parsed = JSON.parse(cursor) as Keyset;
  if (typeof parsed?.updatedAt !== 'string' || typeof parsed.id !== 'string') throw new Error(`not a Care Shop cursor: ${cursor}`);
  return parsed;
}

/** The keyset position of a record read by a sync (a stored RowReceived's record). */
export function keysetOf(record: Record<string, string>): Keyset {
  return { updatedAt: record.updated_at ?? '', id: record.customer_id ?? '' };
}

/** One keyset page of the shop table: $1, $2 the last record read, $3 the sync's start, $4 at most this many. */
export function pageSql(location: ShopLocation): string {
  const c = location.columns;
  const id = quoteIdent(c.customerId);
  const updated = quoteIdent(c.updatedAt);
  const text = (column: string) => `coalesce(shop.${quoteIdent(column)}::text, '')`;
  // updated_at in UTC with microseconds: exact, so the next page starts right after it. The table's
  // columns are named through its alias: a bare "updated_at" in ORDER BY is the output column (the
  // text made here), which no index orders, so every page read and sorted the rest of the table.
  return `select ${text(c.customerId)} as customer_id, ${text(c.firstname)} as firstname, ${text(c.lastname)} as lastname,
                 ${text(c.mobilePhone)} as mobile_phone, ${text(c.email)} as email,
                 to_char(shop.${updated} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as updated_at
            from ${quotedTable(location.table)} as shop
           where (shop.${updated}, shop.${id}::text) > ($1::timestamptz, $2::text)
             and shop.${updated} <= $3::timestamptz
           order by shop.${updated}, shop.${id}::text
           limit $4`;
}

/**
 * Checks the table before a sync starts: it exists with the configured columns, and no record
 * lacks updated_at (such a record could never be read in order: it would be left out silently).
 */
export async function checkShopTable(location: ShopLocation): Promise<void> {
  await withShop(location, async (client) => {
    try {
      await client.query(pageSql(location), ['-infinity', '', new Date().toISOString(), 0]);
    } catch (error) {
      throw new Conflict(`the Care Shop table ${location.table} cannot be read as configured (${(error as Error).message}); check CARESHOP_TABLE and CARESHOP_COLUMN_*`);
    }
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from ${quotedTable(location.table)} where ${quoteIdent(location.columns.updatedAt)} is null`,
    );
    if (rows[0]!.n > 0) {
      throw new Conflict(`${rows[0]!.n} record(s) of the Care Shop table ${location.table} have no ${location.columns.updatedAt}; the sync reads records in the order they changed and would leave them out (give them a time)`);
    }
  });
}

/**
 * The records after `from` (exclusive) changed up to `until`, in (updated_at, id) order, a page
 * at a time on one connection.
 */
export async function* shopRecords(location: ShopLocation, from: Keyset | null, until: string): AsyncGenerator<Record<string, string>> {
  const client = new pg.Client({ connectionString: location.url, application_name: 'careos careshop sync' });
  await client.connect();
  try {
    const sql = pageSql(location);
    let after = from;
    for (;;) {
      const { rows } = await client.query<Record<string, string>>(sql, [after?.updatedAt ?? '-infinity', after?.id ?? '', until, location.pageRows]);
      for (const row of rows) yield row;
      if (rows.length < location.pageRows) return;
      after = keysetOf(rows[rows.length - 1]!);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
