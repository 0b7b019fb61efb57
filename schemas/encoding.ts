// Which text encoding an uploaded CSV is in, from its bytes: shared by the browser's pre-upload
// check and the server's file check, so both say the same. Thai users' Excel writes UTF-8 ("CSV
// UTF-8"), Windows-874/TIS-620 ("CSV" on a Thai Windows) or UTF-16 ("Unicode text"). Pure byte
// logic, no Node or DOM APIs beyond TextDecoder.

export type DetectedEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-874' | 'ascii';

export type Detection = { encoding: DetectedEncoding; problem?: undefined } | { encoding?: undefined; problem: string };

export const SAVE_AS_UTF8 = 'in Excel choose File › Save As › "CSV UTF-8 (Comma delimited) (*.csv)"';

// Windows-874 bytes that map to no character.
function undefined874(b: number): boolean {
  return (b >= 0x81 && b <= 0x84) || (b >= 0x86 && b <= 0x90) || (b >= 0x98 && b <= 0x9f) || (b >= 0xdb && b <= 0xde) || b >= 0xfc;
}

const consonant = (b: number) => b >= 0xa1 && b <= 0xce;
// Vowels above/below and tone marks: they sit on a consonant (or on another such mark).
const combining = (b: number) => b === 0xd1 || (b >= 0xd4 && b <= 0xda) || (b >= 0xe7 && b <= 0xee);

/**
 * Null when the bytes read as Thai text in Windows-874: every byte a defined character, and every
 * vowel or tone mark sitting on a Thai consonant. Latin-1 text (José) fails the second test, so it
 * is never mistaken for Thai. `previous` is the byte before `bytes` (for a file read in chunks).
 */
export function windows874Problem(bytes: Uint8Array, previous = 0x20): string | null {
  let before = previous;
  for (const b of bytes) {
    if (b >= 0x80) {
      if (undefined874(b)) return `byte 0x${b.toString(16)} is not a Thai Windows-874 character`;
      if (combining(b) && !consonant(before) && !combining(before)) return 'its bytes do not read as Thai text either';
    }
    before = b;
  }
  return null;
}

/**
 * The encoding of a file from its first bytes (`complete`: these are all its bytes). 'ascii'
 * means nothing but ASCII so far: UTF-8 and Windows-874 read it alike, and what follows decides.
 */
export function detectEncoding(head: Uint8Array, complete: boolean): Detection {
  if (head[0] === 0xff && head[1] === 0xfe) return { encoding: 'utf-16le' };
  if (head[0] === 0xfe && head[1] === 0xff) return { encoding: 'utf-16be' };
  if (!head.some((b) => b >= 0x80)) return { encoding: 'ascii' };
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: !complete });
    return { encoding: 'utf-8' };
  } catch {
    // not UTF-8: Thai Windows text, or something we cannot read reliably
  }
  const problem = windows874Problem(head);
  if (!problem) return { encoding: 'windows-874' };
  return { problem: `not UTF-8 nor Thai Windows-874 (TIS-620) text (${problem}); ${SAVE_AS_UTF8}` };
}

/** Decodes a head of the file in its encoding (a character cut at the end is dropped). */
export function decodeHead(head: Uint8Array, encoding: DetectedEncoding, complete: boolean): string {
  const label = encoding === 'ascii' ? 'utf-8' : encoding;
  return new TextDecoder(label).decode(head, { stream: !complete });
}

const BINARY = 'not a CSV file: it holds binary data';

/**
 * The head of a file as text, or why it is not a text file: its encoding detected, a NUL in its
 * first line refused (outside UTF-16, where NUL bytes are part of the characters), a byte order
 * mark dropped. A NUL in the first line is what a binary file shows (a zip or an .xlsx renamed
 * .csv, UTF-16 text without its byte order mark); a NUL further on is a value's, and rejects its
 * row with a reason (the processor's checkRow), not the file.
 * The server's file check and the browser's pre-upload check both read a head through this.
 */
export function headText(head: Uint8Array, complete: boolean): { text: string; encoding: DetectedEncoding } | { problem: string } {
  const detected = detectEncoding(head, complete);
  if (detected.problem !== undefined) return { problem: detected.problem };
  const utf16 = detected.encoding === 'utf-16le' || detected.encoding === 'utf-16be';
  const lineEnd = head.indexOf(0x0a);
  if (!utf16 && (lineEnd < 0 ? head : head.subarray(0, lineEnd)).includes(0)) return { problem: BINARY };
  let text = decodeHead(head, detected.encoding, complete);
  const textLineEnd = text.indexOf('\n');
  if ((textLineEnd < 0 ? text : text.slice(0, textLineEnd)).includes('\u0000')) return { problem: BINARY };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text, encoding: detected.encoding };
}
