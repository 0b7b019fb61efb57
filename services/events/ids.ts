// Identifiers. Everything a decision produces is derived from its input (UUIDv5), so deciding a
// row twice yields byte-identical events; only roots (an import) get time-ordered random ids.
import crypto from 'node:crypto';

const NAMESPACE = Buffer.from('5b0c9e1e8f2a4c7d9a6e3f1b2c4d5e6f', 'hex');

function format(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const HEX = '0123456789abcdef';
// Namespace followed by the name, written in place: ids are made several times per row, and a
// one-shot hash over a reused buffer costs less than half of createHash().update().digest().
const scratch = Buffer.allocUnsafe(1024);
NAMESPACE.copy(scratch, 0);

// One view of the scratch buffer per input length, made once: a subarray per id was an allocation each.
const views: Buffer[] = [];

/** RFC 9562 UUIDv5 (SHA-1) of name in the importer's namespace. */
export function uuidV5(name: string): string {
  // A UTF-16 code unit is at most 3 bytes of UTF-8, so this bound needs no scan of the name.
  let input: Buffer;
  if (name.length * 3 <= scratch.length - NAMESPACE.length) {
    const length = NAMESPACE.length + scratch.write(name, NAMESPACE.length, 'utf8');
    input = views[length] ??= scratch.subarray(0, length);
  } else {
    input = Buffer.concat([NAMESPACE, Buffer.from(name, 'utf8')]);
  }
  const hex = crypto.hash('sha1', input, 'hex');
  // Version 5 in the high nibble of byte 6, variant 10xx in the high bits of byte 8.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${HEX[(parseInt(hex[16]!, 16) & 0x3) | 0x8]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** RFC 9562 UUIDv7: time-ordered, so imports sort by start. */
export function uuidV7(now = Date.now()): string {
  const bytes = crypto.randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return format(bytes);
}

/** Id of the event of `kind` that row `row` of import `importId` produced (kind: 'received', 'profile', 'link', 'unlink:<id>', ...). */
export function eventId(importId: string, row: number, kind: string): string {
  return uuidV5(`${importId}/${row}/${kind}`);
}

/** CareOS id of the profile created by row `row` of import `importId`. */
export function newCareosId(importId: string, row: number): string {
  return uuidV5(`profile/${importId}/${row}`);
}
