// What PostgreSQL can store of a received value, checked at every door before a row is decided
// (uploaded and synced rows in checkRow, fixes and replays in the service layer):
//  - no NUL (U+0000): a text column refuses it outright ("invalid byte sequence for encoding UTF8:
//    0x00"), jsonb refuses its escape;
//  - no lone UTF-16 surrogate (half of a pair, which JSON can carry as \ud83d but which is not a
//    character): a text column would silently store U+FFFD instead, jsonb refuses it;
//  - at most MAX_VALUE_CHARS characters a value, MAX_ROW_CHARS a row: ids are btree keys, and an
//    index entry holds at most 2,704 bytes (~900 Thai characters); nothing a customer row carries
//    comes near the bound (an address is at most 254 characters, RFC 5321).
// A rejected row's record is stored as a sanitised copy (storableRecord) so the error log and the
// error file can still show it; the RowReceived keeps the row exactly as received.
//
// Pure and cheap: the import runs isStorableText on every value of up to a million rows, so the
// common case is one length test, one indexOf and one isWellFormed (constant time on a one-byte
// string), and allocates nothing.
import type { RowReason } from '../events/types.ts';

declare global {
  // ES2024, in V8 since Node 20; not in the ES2022 lib this project compiles against.
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/** The longest value accepted in a field (UTF-16 units, as String.length counts). */
export const MAX_VALUE_CHARS = 500;
/** The most characters accepted in a whole row, its values together. */
export const MAX_ROW_CHARS = 5_000;

/** The reason code of a value (or row) PostgreSQL cannot store. */
export const UNSTORABLE = 'unstorable';

/** True when PostgreSQL stores the value as it is, and it is not longer than `max`. */
export function isStorableText(value: string, max = MAX_VALUE_CHARS): boolean {
  return value.length <= max && value.indexOf('\u0000') === -1 && value.isWellFormed();
}

/** Index of the first lone surrogate (-1: none). */
function loneSurrogateAt(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0xd800 || code > 0xdfff) continue;
    if (code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

/** At most `max` units of `value`, never ending on the first half of a surrogate pair. */
export function head(value: string, max: number): string {
  if (value.length <= max) return value;
  const code = value.charCodeAt(max - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * The value as a message shows it: quoted (JSON, so a NUL reads \u0000 and a lone surrogate
 * \ud83d), around `at` when it is long.
 */
export function shownValue(value: string, at = 0, width = 60): string {
  if (value.length <= width) return JSON.stringify(value);
  let start = Math.max(0, Math.min(at - (width >> 1), value.length - width));
  const code = value.charCodeAt(start);
  if (start > 0 && code >= 0xdc00 && code <= 0xdfff) start--; // not after the first half of a pair
  const shown = head(value.slice(start), width);
  return `${start > 0 ? '…' : ''}${JSON.stringify(shown)}${start + shown.length < value.length ? '…' : ''}`;
}

/** Why PostgreSQL cannot store the value, as a phrase after its name; null when it can. */
export function unstorableProblem(value: string, max = MAX_VALUE_CHARS): string | null {
  const nul = value.indexOf('\u0000');
  if (nul !== -1) {
    return `${shownValue(value, nul)} holds a NUL character (U+0000, at character ${nul + 1}), which cannot be stored; remove it (any other character is accepted)`;
  }
  const lone = value.isWellFormed() ? -1 : loneSurrogateAt(value);
  if (lone !== -1) {
    const unit = value.charCodeAt(lone).toString(16).toUpperCase();
    return `${shownValue(value, lone)} holds half of a UTF-16 surrogate pair (U+${unit}, at character ${lone + 1}) without its other half: not a character, so it cannot be stored; type the value again or send it as UTF-8 text`;
  }
  if (value.length > max) {
    return `is ${value.length} characters long (${shownValue(value)}); at most ${max} characters are accepted`;
  }
  return null;
}

function unstorableReason(field: string, problem: string): RowReason {
  return { field, code: UNSTORABLE, message: `${field} ${problem}` };
}

/**
 * Why each value of a record (and the record as a whole) cannot be stored; null when all can —
 * the common case, checked without allocating (~0.4 µs for a Nana row of ten values). Column
 * names are not checked: a row's are its import's (checked against the source's columns at the
 * file door) or the reader's own (`_extra1`, `_raw`, ...), and the one place a record's names are
 * stored, the error log's json column, takes any (storableRecord still cleans them).
 */
export function unstorableReasons(record: Record<string, string>): RowReason[] | null {
  let total = 0;
  let reasons: RowReason[] | null = null;
  for (const key in record) {
    const value = record[key]!;
    total += value.length;
    if (isStorableText(value)) continue;
    (reasons ??= []).push(unstorableReason(key, unstorableProblem(value)!));
  }
  if (total > MAX_ROW_CHARS) {
    (reasons ??= []).push({
      field: 'row', code: UNSTORABLE,
      message: `row holds ${total} characters in all; at most ${MAX_ROW_CHARS} are accepted in a row (at most ${MAX_VALUE_CHARS} in a value)`,
    });
  }
  return reasons;
}

/**
 * A copy PostgreSQL can store: NUL and lone surrogates become U+FFFD, and a value over `max`
 * keeps its first `max` characters and says how long it was (so it stays over the bound, and a
 * replay of it unchanged is refused again rather than imported cut).
 */
export function storableText(value: string, max = MAX_VALUE_CHARS): string {
  if (isStorableText(value, max)) return value;
  let text = value.indexOf('\u0000') === -1 ? value : value.replaceAll('\u0000', '\uFFFD');
  text = text.toWellFormed();
  if (text.length > max) text = `${head(text, max)}… [cut: ${text.length} characters in all]`;
  return text;
}

/** The record itself when PostgreSQL can store every key and value of it; else a sanitised copy (storableText). */
export function storableRecord(record: Record<string, string>): Record<string, string> {
  let clean = true;
  for (const key in record) {
    if (!isStorableText(record[key]!) || !isStorableText(key)) {
      clean = false;
      break;
    }
  }
  if (clean) return record;
  const copy: Record<string, string> = {};
  for (const key in record) copy[storableText(key)] = storableText(record[key]!);
  return copy;
}
