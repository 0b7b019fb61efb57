// Benchmark data: a CareOS baseline CSV and a Nana CSV, from a fixed seed, written as streams
// (a million rows never sit in memory). Every row's intent is known (new profile, mapped to the
// baseline, forced, duplicate phone, invalid), so the expected outcome of an import is known too:
// rejected = invalid + duplicate, everything else imported.
//
// Phones are valid Thai numbers (mobile 06[1-5]/08x/09x, Bangkok landline 02) taken from
// bijective sequences, so they are unique unless a row repeats one on purpose (in another format).
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

export const CAREOS_HEADER = 'careos_cus_id,firstname,lastname,phone,email,gender,date_of_birth';
export const NANA_HEADER = 'careos_cus_id,nana_cus_id,gender,firstname,lastname,email,date_of_birth,phone,company_name,force_create';
export const DEFAULT_SEED = 20220427;
/** The importer's default read/process batch: duplicates are planted on both sides of its boundaries. */
export const DEFAULT_BATCH_ROWS = 5000;

/** mulberry32: a tiny seeded PRNG with good enough spread for test data; same seed, same file. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** 0 ≤ n < max */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

// --- phones ------------------------------------------------------------------------------------

const MOBILE_PREFIXES = ['61', '62', '63', '64', '65', ...Array.from({ length: 10 }, (_, i) => `8${i}`), ...Array.from({ length: 10 }, (_, i) => `9${i}`)];
const SUBSCRIBERS = 10_000_000;
const MOBILES = MOBILE_PREFIXES.length * SUBSCRIBERS; // 2.5e8 = 2^7 · 5^9
// Multipliers coprime with the space's size make i → (i·m + c) mod size a bijection: unique,
// random-looking numbers (and no index-friendly runs of consecutive numbers).
const MOBILE_STEP = 97_654_321;
const LANDLINE_STEP = 7_654_321;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** The k-th mobile number in national form, e.g. 0812345678; distinct for distinct k (k < 2.5e8). */
export function mobileNumber(k: number): string {
  const index = (k * MOBILE_STEP + 123_456_789) % MOBILES;
  return `0${MOBILE_PREFIXES[index % MOBILE_PREFIXES.length]!}${pad(Math.floor(index / MOBILE_PREFIXES.length), 7)}`;
}

/** The j-th Bangkok landline in national form, e.g. 021234567; distinct for distinct j (j < 1e7). */
export function landlineNumber(j: number): string {
  return `02${pad((j * LANDLINE_STEP + 2_345_678) % SUBSCRIBERS, 7)}`;
}

interface Phone {
  national: string;
  style: number;
}

const MOBILE_STYLES = 4; // 0812345678, 081-234-5678, +66812345678, 66812345678
const LANDLINE_STYLES = 3; // 021234567, 02-123-4567, +6621234567

function isLandline(national: string): boolean {
  return national.length === 9;
}

export function formatPhone(national: string, style: number): string {
  const rest = national.slice(1);
  if (isLandline(national)) {
    switch (style % LANDLINE_STYLES) {
      case 0: return national;
      case 1: return `${national.slice(0, 2)}-${national.slice(2, 5)}-${national.slice(5)}`;
      default: return `+66${rest}`;
    }
  }
  switch (style % MOBILE_STYLES) {
    case 0: return national;
    case 1: return `${national.slice(0, 3)}-${national.slice(3, 6)}-${national.slice(6)}`;
    case 2: return `+66${rest}`;
    default: return `66${rest}`;
  }
}

function randomStyle(random: Random, national: string): number {
  // Mostly plain and dashed, as exported from a CRM; international forms now and then.
  const u = random.float();
  if (isLandline(national)) return u < 0.5 ? 0 : u < 0.9 ? 1 : 2;
  return u < 0.4 ? 0 : u < 0.7 ? 1 : u < 0.9 ? 2 : 3;
}

/** Another format of the same number: never the style it was written in before. */
function otherStyle(random: Random, phone: Phone): number {
  const styles = isLandline(phone.national) ? LANDLINE_STYLES : MOBILE_STYLES;
  return (phone.style + 1 + random.int(styles - 1)) % styles;
}

// --- names, e-mails, dates, companies ----------------------------------------------------------

const THAI_FIRST = ['สมชาย', 'สมศักดิ์', 'สมหญิง', 'นภา', 'กัญญา', 'วิชัย', 'ประเสริฐ', 'สุดา', 'อาทิตย์', 'ปรีชา', 'มาลี', 'ณัฐพล', 'ธนพร', 'จันทร์เพ็ญ', 'กิตติ', 'วรรณา', 'ศิริพร', 'พิมพ์', 'อนุชา', 'สุภาพร'];
const THAI_LAST = ['ศรีสวัสดิ์', 'บุญมี', 'รัตนกุล', 'สมศรี', 'ใจดี', 'แก้วมณี', 'ทองดี', 'วงศ์สวัสดิ์', 'จันทร์แก้ว', 'สุขสันต์', 'พรหมมา', 'ชัยโย', 'มั่นคง', 'เพชรรัตน์', 'อินทร์แก้ว'];
const LATIN_FIRST = ['Somchai', 'Somsak', 'Somying', 'Napa', 'Kanya', 'Wichai', 'Prasert', 'Suda', 'Arthit', 'Preecha', 'Malee', 'Nattapon', 'Thanaporn', 'Kitti', 'Wanna', 'Siriporn', 'Pim', 'Anucha', 'John', 'Emma'];
const LATIN_LAST = ['Srisawat', 'Boonmee', 'Rattanakul', 'Somsri', 'Jaidee', 'Kaewmanee', 'Thongdee', 'Wongsawat', 'Chankaew', 'Suksan', 'Prommar', 'Chaiyo', 'Munkong', 'Smith', 'Lee'];
const MAIL_DOMAINS = ['example.co.th', 'example.com', 'mail.example.org', 'example.in.th'];
const COMPANIES = ['Rabbit Care Co., Ltd.', 'Rabbit Internet Co., Ltd.', 'ADB Co., Ltd.', 'My Company Co., Ltd.', 'Siam "Best" Trading', 'Bangkok Insure Broker Co., Ltd.', 'Thai Auto Parts'];

interface Name {
  first: string;
  last: string;
  latin: boolean;
}

function randomName(random: Random): Name {
  return random.chance(0.5)
    ? { first: random.pick(THAI_FIRST), last: random.pick(THAI_LAST), latin: false }
    : { first: random.pick(LATIN_FIRST), last: random.pick(LATIN_LAST), latin: true };
}

function randomEmail(random: Random, name: Name, n: number): string {
  const local = name.latin ? `${name.first}.${name.last}${n % 1000}`.toLowerCase() : `customer${n}`;
  return `${local}@${random.pick(MAIL_DOMAINS)}`;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function randomBirthDate(random: Random): string {
  const month = 1 + random.int(12);
  const day = 1 + random.int(DAYS_IN_MONTH[month - 1]!);
  return `${1950 + random.int(56)}-${pad(month, 2)}-${pad(day, 2)}`;
}

function randomGender(random: Random): string {
  const u = random.float();
  return u < 0.45 ? 'F' : u < 0.9 ? 'M' : '';
}

/** One CSV field, quoted when it must be (commas, quotes, line breaks). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The spec's quoted comma-separated company list, e.g. "Rabbit Care Co., Ltd.", "ADB Co., Ltd." (before CSV escaping). */
function companyList(random: Random): string {
  const count = 1 + random.int(3);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = random.pick(COMPANIES);
    if (!names.includes(name)) names.push(name);
  }
  return names.map((name) => `"${name.replace(/"/g, '""')}"`).join(', ');
}

// --- the baseline ------------------------------------------------------------------------------

export function careosId(i: number): string {
  return `C${pad(i, 7)}`;
}

/** Baseline profile i (1-based) has one phone: every 8th a landline, the rest mobiles. */
function baselinePhone(i: number): Phone {
  const landlines = Math.floor(i / 8);
  const national = i % 8 === 0 ? landlineNumber(landlines - 1) : mobileNumber(i - 1 - landlines);
  return { national, style: i % 2 };
}

/** Lines of the CareOS baseline (header first), every row valid. */
export function* careosBaselineLines(baselineRows: number, seed = DEFAULT_SEED): Generator<string> {
  const random = new Random(seed ^ 0x5eed);
  yield `${CAREOS_HEADER}\n`;
  for (let i = 1; i <= baselineRows; i++) {
    const name = randomName(random);
    const phone = baselinePhone(i);
    const email = random.chance(0.6) ? randomEmail(random, name, i) : '';
    const birth = random.chance(0.7) ? randomBirthDate(random) : '';
    yield `${careosId(i)},${csvField(name.first)},${csvField(name.last)},${formatPhone(phone.national, phone.style)},${email},${randomGender(random)},${birth}\n`;
  }
}

// --- the Nana file -----------------------------------------------------------------------------

/**
 * What a row is meant to test, and so how the importer must treat it:
 * new / forced / mapped are imported; duplicate (a phone an existing profile owns, no force) and
 * invalid (one bad field, or an unknown careos_cus_id) are rejected.
 */
export type NanaRowKind = 'new' | 'mapped' | 'forced' | 'duplicate' | 'invalid';

export interface NanaLine {
  row: number;
  kind: NanaRowKind;
  /** Its nana ids. */
  ids: string[];
  /** For invalid rows: the reason code the importer should give. */
  fault?: string;
  line: string;
}

/**
 * 'standard': the mix described at nanaLines. 'remap': a file shaped like real Nana exports after
 * BI's mapping work — about a fifth of the rows carry a careos_cus_id that does not exist
 * (rejected), about one nana id in six appears again in a later row (unlinked from its first
 * profile, linked to the new one), about a quarter of all rows rejected.
 */
export type Scenario = 'standard' | 'remap';

export interface RemapShares {
  /** Rows whose careos_cus_id names no profile. */
  unknownProfile: number;
  /** Nana ids that repeat an id of an earlier row. */
  reappear: number;
  /** Rows rejected for another fault, and for a duplicate phone. */
  otherInvalid: number;
  duplicate: number;
}

export const DEFAULT_REMAP_SHARES: RemapShares = { unknownProfile: 0.2, reappear: 1 / 6, otherInvalid: 0.03, duplicate: 0.02 };

export interface NanaPlan {
  rows: number;
  baselineRows: number;
  seed?: number;
  batchRows?: number;
  scenario?: Scenario;
  remapShares?: RemapShares;
  /** Fresh phone numbers start this far into their sequences (files imported into one database must not share them). */
  phoneOffset?: number;
  /** Prefix of fresh nana ids (files imported into one database keep theirs apart). */
  idPrefix?: string;
}

interface Fault {
  code: string;
  apply(fields: NanaFields, random: Random): void;
}

interface NanaFields {
  careosId: string;
  nanaIds: string;
  gender: string;
  firstname: string;
  lastname: string;
  email: string;
  dateOfBirth: string;
  phone: string;
  companies: string;
  forceCreate: string;
}

const FAULTS: readonly Fault[] = [
  { code: 'invalid-email', apply: (f, r) => (f.email = r.pick(['somchai@@example.com', 'no-at-sign.example.com', 'suda@example', 'a b@example.co.th'])) },
  { code: 'invalid-date', apply: (f, r) => (f.dateOfBirth = r.pick(['1990-13-01', '1990-02-30', '14/02/1988', '1988-2-14'])) },
  { code: 'invalid-phone', apply: (f, r) => (f.phone = r.pick(['0712345678', '12345', '081-234-567', '0812345678x'])) },
  { code: 'invalid-gender', apply: (f, r) => (f.gender = r.pick(['X', 'male', 'U'])) },
  { code: 'required', apply: (f) => (f.firstname = '') },
  { code: 'required', apply: (f) => (f.lastname = ' ') },
  { code: 'required', apply: (f) => (f.nanaIds = '') },
  { code: 'invalid-force-create', apply: (f, r) => (f.forceCreate = r.pick(['N', 'yes'])) },
  { code: 'unknown-profile', apply: (f) => (f.careosId = 'C9999999') },
];

function nanaLine(f: NanaFields): string {
  return `${f.careosId},${csvField(f.nanaIds)},${f.gender},${csvField(f.firstname)},${csvField(f.lastname)},${csvField(f.email)},${f.dateOfBirth},${csvField(f.phone)},${csvField(f.companies)},${f.forceCreate}\n`;
}

/**
 * A bounded ring of recent items to draw from: phones that created profiles (the pool duplicates
 * come from) and nana ids of earlier rows (the pool reappearing ids come from).
 */
class Recent<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  add(item: T): void {
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }
  pick(random: Random): T | undefined {
    return this.items.length ? random.pick(this.items) : undefined;
  }
}

/**
 * Rows of the Nana file (header not included), each with its intent. Mix: ~5% invalid, ~5%
 * duplicate phone, ~5% force_create=Y (half of them on an owned phone), ~20% mapped to the
 * baseline, the rest new profiles; at every batch boundary b, rows b+1 and b+2 repeat the
 * phones of rows b-1 and b.
 */
export function* nanaLines(plan: NanaPlan): Generator<NanaLine> {
  const remap = plan.scenario === 'remap';
  const shares = plan.remapShares ?? DEFAULT_REMAP_SHARES;
  const random = new Random((plan.seed ?? DEFAULT_SEED) ^ (remap ? 0x5e5e : 0x4a4a));
  const batchRows = plan.batchRows ?? DEFAULT_BATCH_ROWS;
  const baselineRows = Math.max(1, plan.baselineRows);
  // Fresh numbers start after every number the baseline could have used.
  let mobiles = baselineRows + (plan.phoneOffset ?? 0);
  let landlines = baselineRows + (plan.phoneOffset ?? 0);
  let nanaIds = 0;
  const idPrefix = plan.idPrefix ?? 'n';
  // Ids of earlier rows, for the remap scenario's reappearing ids.
  const earlierIds = new Recent<string>(65_536);
  let unknownProfiles = 0;
  const recent = new Recent<Phone>(8192);
  // Phones of rows b-1 and b, for the boundary duplicates b+1 and b+2.
  const boundary = new Map<number, Phone>();

  const freshPhone = (): Phone => {
    const national = random.chance(0.12) ? landlineNumber(landlines++) : mobileNumber(mobiles++);
    return { national, style: randomStyle(random, national) };
  };
  const ownedPhone = (): Phone => {
    const fromNana = random.chance(0.7) ? recent.pick(random) : undefined;
    return fromNana ?? baselinePhone(1 + random.int(baselineRows));
  };

  for (let row = 1; row <= plan.rows; row++) {
    const atBoundary = row > batchRows && (row - 1) % batchRows === 0;
    const afterBoundary = row > batchRows && (row - 2) % batchRows === 0;
    const beforeBoundary = row < plan.rows - 2 && (row % batchRows === 0 || (row + 1) % batchRows === 0);
    let kind: NanaRowKind;
    if (atBoundary || afterBoundary) kind = 'duplicate';
    else if (beforeBoundary) kind = 'new';
    else if (remap) {
      const u = random.float();
      const invalid = shares.unknownProfile + shares.otherInvalid;
      kind = u < invalid ? 'invalid' : u < invalid + shares.duplicate ? 'duplicate' : u < invalid + shares.duplicate + 0.03 ? 'forced' : u < invalid + shares.duplicate + 0.23 ? 'mapped' : 'new';
    } else {
      const u = random.float();
      kind = u < 0.05 ? 'invalid' : u < 0.1 ? 'duplicate' : u < 0.15 ? 'forced' : u < 0.35 ? 'mapped' : 'new';
    }
    // In the remap scenario most invalid rows name a profile that does not exist.
    const unknownProfile = remap && kind === 'invalid' && random.float() < shares.unknownProfile / (shares.unknownProfile + shares.otherInvalid);

    const name = randomName(random);
    const idCount = 1 + (random.chance(0.5) ? 0 : random.chance(0.6) ? 1 : 2);
    const ids: string[] = [];
    for (let i = 0; i < idCount; i++) {
      const again = remap && random.chance(shares.reappear) ? earlierIds.pick(random) : undefined;
      ids.push(again !== undefined && !ids.includes(again) ? again : `${idPrefix}${pad(++nanaIds, 7)}`);
    }
    if (remap) for (const id of ids) earlierIds.add(id);

    // The first phone of a duplicate (and of half the forced rows) is one a profile already owns.
    let repeated: Phone | undefined;
    if (kind === 'duplicate') {
      repeated = (atBoundary || afterBoundary ? boundary.get(row - 2) : undefined) ?? ownedPhone();
    } else if (kind === 'forced' && random.chance(0.5)) {
      repeated = ownedPhone();
    }
    const fresh: Phone[] = [];
    if (!repeated || random.chance(0.3)) fresh.push(freshPhone());
    if (!repeated && random.chance(0.4)) fresh.push(freshPhone());
    // A repeated number is written in another format than its owner's: the importer must see through it.
    const written = [
      ...(repeated ? [formatPhone(repeated.national, otherStyle(random, repeated))] : []),
      ...fresh.map((p) => formatPhone(p.national, p.style)),
    ];

    const fields: NanaFields = {
      careosId: kind === 'mapped' ? careosId(1 + random.int(baselineRows)) : '',
      nanaIds: ids.join(','),
      gender: randomGender(random),
      firstname: name.first,
      lastname: name.last,
      email: random.chance(0.8) ? (random.chance(0.15) ? `${randomEmail(random, name, row)},${randomEmail(random, name, row + 1)}` : randomEmail(random, name, row)) : '',
      dateOfBirth: random.chance(0.7) ? randomBirthDate(random) : '',
      phone: written.join(','),
      companies: random.chance(0.25) ? companyList(random) : '',
      forceCreate: kind === 'forced' ? 'Y' : '',
    };
    let fault: string | undefined;
    if (unknownProfile) {
      // A careos_cus_id of the baseline's form that no profile has.
      fields.careosId = `X${pad(++unknownProfiles, 9)}`;
      fault = 'unknown-profile';
    } else if (kind === 'invalid') {
      const chosen = random.pick(FAULTS);
      chosen.apply(fields, random);
      fault = chosen.code;
    }
    // Rows that create a profile own their phones from now on.
    if (kind === 'new' || kind === 'forced') {
      for (const phone of fresh) recent.add(phone);
      if (kind === 'new' && (row % batchRows === 0 || (row + 1) % batchRows === 0)) boundary.set(row, fresh[0]!);
    }
    boundary.delete(row - 3);
    yield { row, kind, ids, fault, line: nanaLine(fields) };
  }
}

// --- files -------------------------------------------------------------------------------------

/** Writes lines to a file through a stream, in ~64 KB chunks, honouring back-pressure. */
async function writeLines(file: string, lines: Iterable<string>): Promise<number> {
  const out = fs.createWriteStream(file);
  let bytes = 0;
  let chunk = '';
  try {
    for (const line of lines) {
      chunk += line;
      if (chunk.length >= 1 << 16) {
        bytes += Buffer.byteLength(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
        chunk = '';
      }
    }
    bytes += Buffer.byteLength(chunk);
    out.end(chunk);
    await finished(out);
  } catch (error) {
    out.destroy();
    throw error;
  }
  return bytes;
}

export interface GeneratedFiles {
  baselineFile: string;
  baselineRows: number;
  baselineBytes: number;
  nanaFile: string;
  nanaRows: number;
  nanaBytes: number;
  /** Rows per intent in the Nana file. */
  kinds: Record<NanaRowKind, number>;
  /** What an import of the baseline and then the Nana file must report. */
  expected: { imported: number; rejected: number };
}

export interface GeneratedScenario {
  file: string;
  rows: number;
  bytes: number;
  kinds: Record<NanaRowKind, number>;
  /** Nana ids that repeat an id of an earlier row. */
  reappearingIds: number;
  expected: { imported: number; rejected: number };
}

/** A second Nana file for one scenario, to import after the standard one into the same database. */
export async function generateScenarioFile(options: { rows: number; dir: string; scenario: Scenario; seed?: number; batchRows?: number }): Promise<GeneratedScenario> {
  const { rows, dir, scenario } = options;
  const seed = options.seed ?? DEFAULT_SEED;
  const baselineRows = Math.max(1, Math.round(rows / 10));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `nana-${scenario}-${rows}.csv`);
  const kinds: Record<NanaRowKind, number> = { new: 0, mapped: 0, forced: 0, duplicate: 0, invalid: 0 };
  const seen = new Set<string>();
  let reappearingIds = 0;
  function* lines(): Generator<string> {
    yield `${NANA_HEADER}\n`;
    // Its fresh phones and ids lie past everything the standard file of the same size uses.
    for (const line of nanaLines({ rows, baselineRows, seed, batchRows: options.batchRows, scenario, phoneOffset: rows * 4, idPrefix: 'r' })) {
      kinds[line.kind]++;
      for (const id of line.ids) {
        if (seen.has(id)) reappearingIds++;
        else seen.add(id);
      }
      yield line.line;
    }
  }
  const bytes = await writeLines(file, lines());
  const rejected = kinds.duplicate + kinds.invalid;
  return { file, rows, bytes, kinds, reappearingIds, expected: { imported: rows - rejected, rejected } };
}

export async function generateBenchmarkFiles(options: { rows: number; dir: string; seed?: number; batchRows?: number }): Promise<GeneratedFiles> {
  const { rows, dir } = options;
  const seed = options.seed ?? DEFAULT_SEED;
  const baselineRows = Math.max(1, Math.round(rows / 10));
  fs.mkdirSync(dir, { recursive: true });
  const baselineFile = path.join(dir, `careos-baseline-${rows}.csv`);
  const nanaFile = path.join(dir, `nana-${rows}.csv`);
  const baselineBytes = await writeLines(baselineFile, careosBaselineLines(baselineRows, seed));
  const kinds: Record<NanaRowKind, number> = { new: 0, mapped: 0, forced: 0, duplicate: 0, invalid: 0 };
  function* lines(): Generator<string> {
    yield `${NANA_HEADER}\n`;
    for (const line of nanaLines({ rows, baselineRows, seed, batchRows: options.batchRows })) {
      kinds[line.kind]++;
      yield line.line;
    }
  }
  const nanaBytes = await writeLines(nanaFile, lines());
  const rejected = kinds.duplicate + kinds.invalid;
  return { baselineFile, baselineRows, baselineBytes, nanaFile, nanaRows: rows, nanaBytes, kinds, expected: { imported: rows - rejected, rejected } };
}

// `node --import tsx bench/generate.ts --rows N --dir DIR`: only the files.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, dir: { type: 'string', default: 'bench/tmp' }, scenario: { type: 'string', default: 'standard' } } });
  const rows = Number(values.rows!.replace(/_/g, ''));
  const generated = values.scenario === 'standard'
    ? await generateBenchmarkFiles({ rows, dir: values.dir! })
    : await generateScenarioFile({ rows, dir: values.dir!, scenario: values.scenario as Scenario });
  process.stdout.write(`${JSON.stringify(generated, null, 2)}\n`);
}
