// Field rules for imported customer-profile rows: each checker turns one raw CSV value into the
// value CareOS stores (trimmed, normalised) plus the reasons it cannot be accepted.
// Pure and allocation-light: no IO, no clock (today's date comes in), patterns compiled once,
// because the importer runs them on every field of up to a million rows.

import { Metadata, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/core';
import metadata from 'libphonenumber-js/max/metadata';
import type { RowReason } from '../events/types.ts';

export type { RowReason };

/** A checked field: what to store, and why it cannot be stored (empty when it can). */
export interface Checked<T> {
  value: T;
  reasons: readonly RowReason[];
}

// Most fields are fine, so the common case shares one frozen array instead of allocating.
const NO_REASONS: readonly RowReason[] = Object.freeze([]);

function checked<T>(value: T, reasons: readonly RowReason[] = NO_REASONS): Checked<T> {
  return { value, reasons };
}

function reason(field: string, code: string, message: string): RowReason {
  return { field, code, message };
}

// JSON.stringify quotes the offending value and makes control characters visible in the error log.
function quoted(raw: string): string {
  return JSON.stringify(raw);
}

/** Splits a comma-separated value into trimmed items; a blank value has no items. Empty items are kept so callers can report them. */
export function splitList(raw: string): string[] {
  if (raw.trim() === '') return [];
  const items = raw.split(',');
  for (let i = 0; i < items.length; i++) items[i] = items[i]!.trim();
  return items;
}

/**
 * The list-level rules shared by every comma-separated field: `required` when it holds no item at
 * all, `empty-item` when "a,,b" or a stray comma leaves a hole (one reason per field, not per hole).
 */
function listShapeReasons(
  field: string,
  raw: string,
  items: readonly string[],
  required: boolean,
  example: string,
): RowReason[] {
  let filled = 0;
  for (const item of items) if (item !== '') filled++;
  if (filled === items.length) return [];
  if (filled === 0 && required) {
    return [reason(field, 'required', `${field} is required but ${quoted(raw)} holds no value (e.g. ${example})`)];
  }
  return [
    reason(field, 'empty-item', `${field} ${quoted(raw)} has an empty item (separate values with single commas, e.g. ${example})`),
  ];
}

function requiredReason(field: string, example: string): RowReason {
  return reason(field, 'required', `${field} is required but is empty (e.g. ${example})`);
}

/** A mandatory free-text field such as firstname or lastname. */
export function checkRequiredText(field: string, raw: string): Checked<string> {
  const value = raw.trim();
  if (value === '') return checked(value, [reason(field, 'required', `${field} is required but is empty`)]);
  return checked(value);
}

/** A comma-separated list of ids in the source system (e.g. nana_cus_id "n5001,n5002"). Repeats collapse, first order kept. */
export function checkIdList(field: string, raw: string, options: { required: boolean }): Checked<string[]> {
  const items = splitList(raw);
  if (items.length === 0) return checked([], options.required ? [requiredReason(field, 'n5001,n5002')] : NO_REASONS);
  const ids: string[] = [];
  for (const item of items) if (item !== '' && !ids.includes(item)) ids.push(item);
  const reasons = listShapeReasons(field, raw, items, options.required, 'n5001,n5002');
  return checked(ids, reasons.length === 0 ? NO_REASONS : reasons);
}

/** gender: F, M or empty. Lower-case f/m are taken as F/M: the letter is unambiguous and the BI export is not always upper-case. */
export function checkGender(raw: string): Checked<'F' | 'M' | null> {
  const value = raw.trim();
  if (value === '') return checked(null);
  if (value === 'F' || value === 'f') return checked('F');
  if (value === 'M' || value === 'm') return checked('M');
  return checked(null, [
    reason('gender', 'invalid-gender', `gender ${quoted(raw)} is not accepted (use F or M, or leave it empty)`),
  ]);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function digitsAt(text: string, start: number, count: number): number {
  let n = 0;
  for (let i = start; i < start + count; i++) n = n * 10 + (text.charCodeAt(i) - 48);
  return n;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function isCalendarDate(isoDate: string): boolean {
  const year = digitsAt(isoDate, 0, 4);
  const month = digitsAt(isoDate, 5, 2);
  const day = digitsAt(isoDate, 8, 2);
  // The Gregorian calendar has no year 0 (1 BC is followed by AD 1); PostgreSQL refuses 0000-mm-dd.
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const lastDay = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
  return day <= lastDay;
}

/**
 * date_of_birth as yyyy-mm-dd, or empty. `today` is yyyy-mm-dd too: equal-length zero-padded ISO
 * dates order as strings, so no Date object and no time zone can shift the answer by a day.
 */
/** Thai dates are often written in the Buddhist Era: year BE = year CE + 543. */
const BUDDHIST_ERA_OFFSET = 543;

/** The Gregorian date a Buddhist Era date stands for, when it is one that could be a birth date. */
function fromBuddhistEra(value: string, today: string): string | null {
  if (!ISO_DATE.test(value)) return null;
  const year = Number(value.slice(0, 4));
  if (year < 2400) return null;
  const gregorian = `${String(year - BUDDHIST_ERA_OFFSET).padStart(4, '0')}${value.slice(4)}`;
  return isCalendarDate(gregorian) && gregorian <= today ? gregorian : null;
}

export function checkDateOfBirth(raw: string, today: string): Checked<string | null> {
  const value = raw.trim();
  if (value === '') return checked(null);
  const valid = ISO_DATE.test(value) && isCalendarDate(value);
  if (!valid || value > today) {
    const gregorian = fromBuddhistEra(value, today);
    if (gregorian) {
      return checked(null, [
        reason('date_of_birth', 'buddhist-era-date', `date_of_birth ${quoted(raw)} looks like a Buddhist Era year (${value.slice(0, 4)} BE = ${gregorian.slice(0, 4)}); write the Gregorian date ${gregorian}`),
      ]);
    }
  }
  if (!valid) {
    return checked(null, [
      reason('date_of_birth', 'invalid-date', `date_of_birth ${quoted(raw)} is not a real date in yyyy-mm-dd form (e.g. 1988-02-14)`),
    ]);
  }
  if (value > today) {
    return checked(null, [
      reason('date_of_birth', 'future-date', `date_of_birth ${quoted(raw)} is after today (${today}); a birth date must be on or before today`),
    ]);
  }
  return checked(value);
}

// A practical address, not full RFC 5322: dot-atom local part (no quoted strings, no leading,
// trailing or double dots), one @, and a domain of LDH labels ending in an alphabetic TLD.
const EMAIL =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
// Limits from RFC 5321 that a regex expresses badly.
const MAX_LOCAL_PART = 64;
const MAX_ADDRESS = 254;

function normaliseEmail(item: string): string | null {
  if (item.length > MAX_ADDRESS || !EMAIL.test(item)) return null;
  const at = item.indexOf('@');
  if (at > MAX_LOCAL_PART) return null;
  // Domains are case-insensitive; local parts may not be, so only the domain is lower-cased.
  return item.slice(0, at + 1) + item.slice(at + 1).toLowerCase();
}

/** email: empty, or comma-separated addresses, each checked on its own. Repeats (after normalising) collapse. */
export function checkEmails(raw: string, field = 'email'): Checked<string[]> {
  const items = splitList(raw);
  if (items.length === 0) return checked([]);
  const emails: string[] = [];
  const reasons = listShapeReasons(field, raw, items, false, 'suda@example.com,suda.k@example.co.th');
  for (const item of items) {
    if (item === '') continue;
    const email = normaliseEmail(item);
    if (email === null) {
      reasons.push(
        reason(field, 'invalid-email', `${field} ${quoted(item)} is not a valid email address (expected name@domain with a domain such as example.co.th, e.g. suda@example.co.th)`),
      );
    } else if (!emails.includes(email)) {
      emails.push(email);
    }
  }
  return checked(emails, reasons.length === 0 ? NO_REASONS : reasons);
}

// libphonenumber extracts a number out of any text ("abc0812345678", "081-234-5678 ext 5"), so the
// characters are checked first: separators anywhere, at most one + before the first digit.
const PHONE_CHARACTERS = /^[ \t\u00a0().-]*\+?[0-9 \t\u00a0().-]*$/;
const PHONE_SEPARATORS = /[ \t\u00a0().-]/g;
const HOME_COUNTRY = 'TH';

function phoneReason(field: string, item: string, international: boolean): RowReason {
  const accepted = international
    ? 'numbers with + are checked against their own country, e.g. +66 81 234 5678 or +1 415 555 2671'
    : 'numbers without + are read as Thai, e.g. 081-234-5678 or 02-123-4567';
  return reason(field, 'invalid-phone', `${field} ${quoted(item)} is not a valid phone number (${accepted})`);
}

function lettersReason(field: string, item: string): RowReason {
  return reason(
    field,
    'invalid-phone',
    `${field} ${quoted(item)} is not a valid phone number (only digits, one leading +, spaces, -, . and () are allowed, e.g. 081-234-5678)`,
  );
}

/** The home country's numbering plan, as libphonenumber's isValid applies it (getNumberType). */
interface HomePlan {
  callingCode: string;
  nationalPrefix: string;
  /** The prefix for dialling abroad (a number starting with it is not a home number). */
  idd: RegExp;
  /** The plan's national number pattern, anchored. */
  national: RegExp;
  /** Each number type's pattern, anchored, with the lengths it allows. */
  types: { pattern: RegExp; lengths: readonly number[] | undefined }[];
}

// Every type libphonenumber's getNumberType tries.
const NUMBER_TYPES = ['FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];

interface PatternSource {
  pattern(): string;
  possibleLengths(): number[] | undefined;
}

/**
 * The plan read from the same metadata libphonenumber parses with. Its numbering-plan accessors
 * (nationalNumberPattern, type) are not in its published types, so a version without them turns
 * the fast path off (homePlanRead says so, and a test fails) instead of breaking the check.
 */
function readHomePlan(country: CountryCode): HomePlan | null {
  const plans = new Metadata(metadata) as Metadata & { getCountryCodesForCallingCode?(code: string): string[] | undefined };
  plans.selectNumberingPlan(country);
  const plan = plans.numberingPlan as unknown as {
    callingCode?(): string; nationalPrefix?(): string | undefined; nationalPrefixForParsing?(): string | undefined;
    nationalPrefixTransformRule?(): string | undefined; IDDPrefix?(): string; nationalNumberPattern?(): string; type?(type: string): PatternSource | undefined;
  } | undefined;
  if (!plan?.callingCode || !plan.nationalPrefix || !plan.nationalPrefixForParsing || !plan.nationalPrefixTransformRule || !plan.IDDPrefix) return null;
  if (!plan.nationalNumberPattern || !plan.type || !plans.getCountryCodesForCallingCode) return null;
  const nationalPrefix = plan.nationalPrefix();
  // Only a plan read the plain way: one country behind its calling code, and a national prefix
  // that is stripped as written (no parsing pattern, no transform).
  if (!nationalPrefix || plan.nationalPrefixForParsing() !== nationalPrefix || plan.nationalPrefixTransformRule()) return null;
  if (plans.getCountryCodesForCallingCode(plan.callingCode())?.length !== 1) return null;
  const types: HomePlan['types'] = [];
  for (const name of NUMBER_TYPES) {
    const type = plan.type(name);
    const pattern = type?.pattern();
    if (type && pattern) types.push({ pattern: new RegExp(`^(?:${pattern})$`), lengths: type.possibleLengths() });
  }
  return {
    callingCode: plan.callingCode(), nationalPrefix, idd: new RegExp(`^(?:${plan.IDDPrefix()})`),
    national: new RegExp(`^(?:${plan.nationalNumberPattern()})$`), types,
  };
}

const HOME_PLAN = readHomePlan(HOME_COUNTRY);

const NATIONAL_DIGITS = /^[1-9][0-9]*$/;

/** Whether the fast path for home numbers is on (libphonenumber exposed the plan it needs). */
export const homePlanRead = HOME_PLAN !== null;

/**
 * A home number in its two everyday shapes, national prefix + national number (0812345678) or
 * +calling code + national number (+66812345678), accepted when the national number fits the plan
 * and one of its types: what libphonenumber's isValid decides, in a fraction of its ~8 µs. Every
 * other shape, and every number this does not accept, is left to libphonenumber (undefined), so
 * a refusal's wording and anything unusual (00 prefixes, 66 without +, a 0 after +66) stay its.
 * fields.unit.test.ts compares the two over every prefix of the plan.
 */
export function homeE164(dialled: string): string | undefined {
  if (!HOME_PLAN || HOME_PLAN.idd.test(dialled)) return undefined;
  let national: string;
  if (dialled.charCodeAt(0) === 43 /* + */) {
    if (!dialled.startsWith(HOME_PLAN.callingCode, 1)) return undefined;
    national = dialled.slice(1 + HOME_PLAN.callingCode.length);
  } else if (dialled.startsWith(HOME_PLAN.nationalPrefix)) {
    national = dialled.slice(HOME_PLAN.nationalPrefix.length);
  } else {
    return undefined;
  }
  // Digits only, not starting with a 0 (a prefix written twice, or after +66), and fitting the plan.
  if (!NATIONAL_DIGITS.test(national) || !HOME_PLAN.national.test(national)) return undefined;
  for (const type of HOME_PLAN.types) {
    if ((type.lengths === undefined || type.lengths.includes(national.length)) && type.pattern.test(national)) return `+${HOME_PLAN.callingCode}${national}`;
  }
  return undefined;
}

/** What libphonenumber makes of one number: its E.164 form, or null when it does not fit its numbering plan. */
export function libraryE164(dialled: string): string | null {
  const parsed = parsePhoneNumberFromString(dialled, HOME_COUNTRY, metadata);
  // isValid (with the full metadata) checks the number against the plan's ranges, not just its length.
  return parsed !== undefined && parsed.isValid() ? parsed.number : null;
}

/** The E.164 form of one number (separators removed), or null when it does not fit its numbering plan. */
export function toE164(dialled: string): string | null {
  return homeE164(dialled) ?? libraryE164(dialled);
}

/**
 * phone: comma-separated numbers, stored as E.164 with repeats (in any format) collapsed.
 * Without + a number is read as Thai and must fit the Thai plan; with + it must fit its own country's.
 */
export function checkPhones(raw: string, options: { required: boolean; field?: string }): Checked<string[]> {
  const field = options.field ?? 'phone';
  const items = splitList(raw);
  if (items.length === 0) return checked([], options.required ? [requiredReason(field, '081-234-5678')] : NO_REASONS);
  const phones: string[] = [];
  const reasons = listShapeReasons(field, raw, items, options.required, '081-234-5678,02-123-4567');
  for (const item of items) {
    if (item === '') continue;
    if (!PHONE_CHARACTERS.test(item)) {
      reasons.push(lettersReason(field, item));
      continue;
    }
    const dialled = item.replace(PHONE_SEPARATORS, '');
    const e164 = toE164(dialled);
    if (e164 === null) reasons.push(phoneReason(field, item, dialled.charCodeAt(0) === 43 /* + */));
    else if (!phones.includes(e164)) phones.push(e164);
  }
  return checked(phones, reasons.length === 0 ? NO_REASONS : reasons);
}

function companyListReason(raw: string, problem: string): RowReason {
  return reason(
    'company_name',
    'invalid-company-list',
    `company_name ${quoted(raw)} is not a readable company list (${problem}; expected quoted names separated by commas, e.g. "Rabbit Care Co., Ltd.", "Rabbit Internet Co., Ltd.")`,
  );
}

function isBlank(code: number): boolean {
  return code === 32 || code === 9 || code === 0xa0;
}

/**
 * company_name: a quoted comma-separated list, e.g. `"Rabbit Care Co., Ltd.", "Rabbit Internet Co., Ltd."`.
 * A quoted name keeps its commas and uses "" for a quote; an unquoted name runs to the next comma.
 * The spec asks for no validation, but a list we cannot read is reported rather than cut into
 * wrong names, since a name split at its comma would be stored silently.
 */
export function parseCompanyList(raw: string): Checked<string[]> {
  const companies: string[] = [];
  const end = raw.length;
  let i = 0;
  while (i < end) {
    while (i < end && isBlank(raw.charCodeAt(i))) i++;
    if (i >= end) break;
    let name: string;
    if (raw.charCodeAt(i) === 34 /* " */) {
      name = '';
      const openedAt = i + 1; // 1-based, for the message
      let start = ++i;
      for (;;) {
        const close = raw.indexOf('"', i);
        if (close === -1) {
          return checked([], [companyListReason(raw, `the quote opened at character ${openedAt} is never closed`)]);
        }
        if (raw.charCodeAt(close + 1) === 34) {
          name += raw.slice(start, close + 1);
          i = start = close + 2;
          continue;
        }
        name += raw.slice(start, close);
        i = close + 1;
        break;
      }
      while (i < end && isBlank(raw.charCodeAt(i))) i++;
      if (i < end && raw.charCodeAt(i) !== 44 /* , */) {
        return checked([], [companyListReason(raw, `text follows the closing quote at character ${i + 1}`)]);
      }
      name = name.trim();
    } else {
      const comma = raw.indexOf(',', i);
      const stop = comma === -1 ? end : comma;
      name = raw.slice(i, stop).trim();
      i = stop;
    }
    if (name !== '') companies.push(name);
    i++; // past the comma (or the end)
  }
  return checked(companies);
}

/** force_create: Y (or y) creates a new profile even when a phone matches; empty means no. */
export function checkForceCreate(raw: string): Checked<boolean> {
  const value = raw.trim();
  if (value === '') return checked(false);
  if (value === 'Y' || value === 'y') return checked(true);
  return checked(false, [
    reason('force_create', 'invalid-force-create', `force_create ${quoted(raw)} is not accepted (use Y, or leave it empty)`),
  ]);
}
