// `careos careshop seed --rows N`: fills the demo Care Shop table with realistic customers so a new
// user can try the whole flow: Thai and Latin names, mobile numbers in the formats shops type them,
// some invalid numbers, some customers who already have a CareOS profile (same phone, same names:
// skipped) and some who share a profile's phone under other names (a new profile). Rows go in with
// one COPY per chunk; updated_at is the time of the seed (a sync reads what changed after the last).
import crypto from 'node:crypto';
import type pg from 'pg';
import { CopyTextWriter, copyIn } from '../db/copy-text.ts';
import { quotedTable, withShop, type ShopLocation } from './shop.ts';

const THAI_FIRST = ['สมชาย', 'สมศักดิ์', 'สมหญิง', 'นภา', 'กัญญา', 'วิชัย', 'ประเสริฐ', 'สุดา', 'อาทิตย์', 'ปรีชา', 'มาลี', 'ณัฐพล', 'ธนพร', 'กิตติ', 'วรรณา', 'ศิริพร'];
const THAI_LAST = ['ศรีสวัสดิ์', 'บุญมี', 'รัตนกุล', 'สมศรี', 'ใจดี', 'แก้วมณี', 'ทองดี', 'วงศ์สวัสดิ์', 'จันทร์แก้ว', 'สุขสันต์', 'ชัยโย', 'มั่นคง'];
const LATIN_FIRST = ['Somchai', 'Somsak', 'Napa', 'Kanya', 'Wichai', 'Prasert', 'Suda', 'Arthit', 'Malee', 'Nattapon', 'Thanaporn', 'Kitti', 'Pim', 'Anucha', 'John', 'Emma'];
const LATIN_LAST = ['Srisawat', 'Boonmee', 'Rattanakul', 'Somsri', 'Jaidee', 'Kaewmanee', 'Thongdee', 'Wongsawat', 'Chankaew', 'Suksan', 'Chaiyo', 'Smith', 'Lee'];
const MOBILE_PREFIXES = ['61', '62', '63', '64', '65', '80', '81', '82', '83', '84', '85', '86', '87', '88', '89', '90', '91', '92', '93', '94', '95', '96', '97', '98', '99'];
const DOMAINS = ['example.co.th', 'example.com', 'mail.example.org'];
// Numbers a shop till accepts and the Thai plan does not: a 07 prefix, too few digits, a typo'd letter.
const INVALID_PHONES = ['0712345678', '08123', '08l2345678', '1234'];

export interface SeedShares {
  /** Same phone and exactly the same names as an existing CareOS profile (skipped by a sync). */
  sameProfile: number;
  /** Same phone as a profile, other names (a new profile with a duplicated phone). */
  samePhone: number;
  invalidPhone: number;
  withEmail: number;
}

export const DEFAULT_SEED_SHARES: SeedShares = { sameProfile: 0.1, samePhone: 0.05, invalidPhone: 0.04, withEmail: 0.7 };

export interface SeedResult {
  table: string;
  rows: number;
  firstId: string;
  lastId: string;
  sameProfile: number;
  samePhone: number;
  invalidPhone: number;
}

const CHUNK_ROWS = 10_000;

function pick<T>(list: readonly T[]): T {
  return list[crypto.randomInt(list.length)]!;
}

function nationalOf(e164: string): string {
  return e164.startsWith('+66') ? `0${e164.slice(3)}` : e164;
}

/** How shop staff type a number: plain, dashed, or international. */
function typed(national: string): string {
  const style = crypto.randomInt(3);
  if (style === 0 || national.length !== 10) return national;
  if (style === 1) return `${national.slice(0, 3)}-${national.slice(3, 6)}-${national.slice(6)}`;
  return `+66 ${national.slice(1, 3)} ${national.slice(3, 6)} ${national.slice(6)}`;
}

function newName(): { first: string; last: string; latin: boolean } {
  return crypto.randomInt(2) === 0
    ? { first: pick(THAI_FIRST), last: pick(THAI_LAST), latin: false }
    : { first: pick(LATIN_FIRST), last: pick(LATIN_LAST), latin: true };
}

/**
 * Adds `rows` customers to the demo table. `profiles` (the importer's database) provides the
 * existing profiles some customers share a phone with.
 */
export async function seedCareshop(location: ShopLocation, profiles: pg.Pool, rows: number, shares: SeedShares = DEFAULT_SEED_SHARES): Promise<SeedResult> {
  const wanted = Math.ceil(rows * (shares.sameProfile + shares.samePhone));
  const { rows: known } = await profiles.query<{ firstname: string; lastname: string; phone: string }>(
    `select firstname, lastname, phones[1] as phone from profile
      where cardinality(phones) > 0 and phones[1] like '+66%' and retired_at is null order by random() limit $1`,
    [wanted],
  ).catch(() => ({ rows: [] as { firstname: string; lastname: string; phone: string }[] }));
  const c = location.columns;
  const table = quotedTable(location.table);
  const result: SeedResult = { table: location.table, rows, firstId: '', lastId: '', sameProfile: 0, samePhone: 0, invalidPhone: 0 };
  await withShop(location, async (client) => {
    await client.query('begin');
    // One seed at a time: the next ids are taken under this lock.
    await client.query(`lock table ${table} in share row exclusive mode`);
    const { rows: last } = await client.query<{ n: number | null }>(
      `select max(substring(${JSON.stringify(c.customerId)} from '^CS-([0-9]+)$')::bigint)::float8 as n from ${table}`,
    );
    let next = (last[0]?.n ?? 0) + 1;
    result.firstId = `CS-${String(next).padStart(7, '0')}`;
    for (let done = 0; done < rows; done += CHUNK_ROWS) {
      const writer = new CopyTextWriter();
      for (let i = done; i < Math.min(rows, done + CHUNK_ROWS); i++) {
        const id = `CS-${String(next++).padStart(7, '0')}`;
        const u = crypto.randomInt(1_000_000) / 1_000_000;
        let first: string;
        let lastName: string;
        let phone: string;
        let latin = true;
        const profile = known.length ? known[crypto.randomInt(known.length)]! : null;
        if (profile && u < shares.sameProfile) {
          ({ firstname: first, lastname: lastName } = profile);
          phone = typed(nationalOf(profile.phone));
          result.sameProfile++;
        } else if (profile && u < shares.sameProfile + shares.samePhone) {
          const name = newName();
          first = name.first === profile.firstname ? `${name.first}a` : name.first;
          lastName = name.last;
          latin = name.latin;
          phone = typed(nationalOf(profile.phone));
          result.samePhone++;
        } else {
          const name = newName();
          first = name.first;
          lastName = name.last;
          latin = name.latin;
          if (u > 1 - shares.invalidPhone) {
            phone = pick(INVALID_PHONES);
            result.invalidPhone++;
          } else {
            phone = typed(`0${pick(MOBILE_PREFIXES)}${String(crypto.randomInt(10_000_000)).padStart(7, '0')}`);
          }
        }
        // A profile's names may be Thai, or hold spaces: an address is made of plain letters only.
        const plain = latin && /^[A-Za-z]+$/.test(first + lastName);
        const email = crypto.randomInt(100) < shares.withEmail * 100
          ? `${plain ? `${first}.${lastName}`.toLowerCase() : 'customer'}${next}@${pick(DOMAINS)}`
          : null;
        writer.text(id).text(first).text(lastName).text(phone);
        if (email === null) writer.null();
        else writer.text(email);
        writer.endRow();
        result.lastId = id;
      }
      await copyIn(client, table, [c.customerId, c.firstname, c.lastname, c.mobilePhone, c.email].map((n) => JSON.stringify(n)).join(', '), writer);
    }
    await client.query('commit');
  });
  return result;
}
