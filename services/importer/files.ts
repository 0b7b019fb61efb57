// The door of an import: a file is checked (size, type, encoding, header) before any row is read,
// and stored durably under a generated name before ImportStarted, so a crashed import can resume.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { SourceName } from '../events/types.ts';
import { RULES } from '../processor/decide.ts';
import { FileRefused } from '../errors.ts';
import { clearOutOfSpace, insufficientStorage, isOutOfSpace } from '../disk.ts';
import { FILE_SOURCES, fileSource, headerProblem } from '../../schemas/api.ts';
import { SAVE_AS_UTF8, detectEncoding, headText, windows874Problem, type DetectedEncoding } from '../../schemas/encoding.ts';

const HEAD_BYTES = 64 * 1024;
const CSV_TYPES = /\.csv$/i;

export interface CheckedFile {
  /** Header as written (trimmed, BOM removed), in file order. */
  columns: string[];
  /** Canonical (lower-case) column names, in file order. */
  canonical: string[];
  sizeBytes: number;
  /** As detected from the head ('ascii': nothing but ASCII so far; the rest decides). */
  encoding: DetectedEncoding;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${bytes} bytes`;
}

/** Reads only the head of the file: answers in milliseconds whatever the file's size. */
export function checkFile(filePath: string, fileName: string, source: SourceName, maxBytes: number): CheckedFile {
  const definition = fileSource(source);
  if (!definition || !RULES[source]) {
    throw new FileRefused(fileName, `source "${source}" cannot be imported from a file (accepted: ${FILE_SOURCES.map((s) => s.name).join(', ')})`);
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(filePath);
  } catch {
    throw new FileRefused(fileName, 'file not found');
  }
  if (!stat.isFile()) throw new FileRefused(fileName, 'not a file');
  if (stat.size > maxBytes) {
    throw new FileRefused(fileName, `file is ${formatBytes(stat.size)}, over the ${formatBytes(maxBytes)} limit`);
  }
  if (!CSV_TYPES.test(fileName)) throw new FileRefused(fileName, 'not a CSV file (expected a .csv file of comma-separated values)');
  if (stat.size === 0) throw new FileRefused(fileName, 'file is empty (expected a header line and rows)');

  const head = Buffer.alloc(Math.min(HEAD_BYTES, stat.size));
  const fd = fs.openSync(filePath, 'r');
  try {
    fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  const read = headText(head, stat.size <= head.length);
  if ('problem' in read) throw new FileRefused(fileName, read.problem);
  const text = read.text;
  const firstLineEnd = text.search(/\r?\n/);
  if (firstLineEnd < 0 && stat.size > head.length) throw new FileRefused(fileName, 'header line is longer than 64 KB');
  const headerLine = firstLineEnd < 0 ? text : text.slice(0, firstLineEnd);
  let header: string[];
  try {
    header = (parse(headerLine, { relax_quotes: false }) as string[][])[0] ?? [];
  } catch (error) {
    throw new FileRefused(fileName, `header line is not valid CSV (${(error as Error).message})`);
  }
  const columns = header.map((name) => name.trim());
  const canonical = columns.map((name) => name.toLowerCase());
  const problem = headerProblem(definition, columns);
  if (problem) throw new FileRefused(fileName, problem);
  return { columns, canonical, sizeBytes: stat.size, encoding: read.encoding };
}

/**
 * Turns the upload's bytes into UTF-8 while checking all of them: UTF-8 files pass byte for byte,
 * Windows-874 and UTF-16 ones are decoded (Thai intact). A file whose head was only ASCII is
 * decided at its first other byte. Throws FileRefused for anything that is not such text.
 */
class ToUtf8 {
  private decoder: TextDecoder | null = null;
  private previous = 0x20;

  constructor(private encoding: DetectedEncoding, private readonly fileName: string) {
    this.start();
  }

  private start(): void {
    if (this.encoding === 'utf-8') this.decoder = new TextDecoder('utf-8', { fatal: true });
    if (this.encoding === 'utf-16le' || this.encoding === 'utf-16be') this.decoder = new TextDecoder(this.encoding, { fatal: true });
    if (this.encoding === 'windows-874') this.decoder = new TextDecoder('windows-874');
  }

  private refuse(reason: string): never {
    throw new FileRefused(this.fileName, reason);
  }

  private notText(): never {
    const what = this.encoding === 'utf-8' ? 'UTF-8' : this.encoding === 'windows-874' ? 'Thai Windows-874 (TIS-620)' : 'UTF-16';
    this.refuse(`not decodable text: it starts as ${what} but later bytes are not; ${SAVE_AS_UTF8}`);
  }

  push(chunk: Buffer): Buffer {
    if (this.encoding === 'ascii') {
      const firstOther = chunk.findIndex((b) => b >= 0x80);
      if (firstOther < 0) {
        if (chunk.includes(0)) this.refuse('not a CSV file: it holds binary data');
        this.previous = chunk[chunk.length - 1] ?? this.previous;
        return chunk;
      }
      // The first non-ASCII byte decides, from what follows it in this chunk.
      const detected = detectEncoding(chunk.subarray(firstOther), false);
      if (detected.problem !== undefined) this.refuse(detected.problem);
      this.encoding = detected.encoding === 'ascii' ? 'utf-8' : detected.encoding;
      this.start();
    }
    if (this.encoding === 'utf-8') {
      try {
        this.decoder!.decode(chunk, { stream: true });
      } catch {
        this.notText();
      }
      if (chunk.includes(0)) this.refuse('not a CSV file: it holds binary data');
      return chunk;
    }
    if (this.encoding === 'windows-874') {
      if (windows874Problem(chunk, this.previous)) this.notText();
      if (chunk.includes(0)) this.refuse('not a CSV file: it holds binary data');
      this.previous = chunk[chunk.length - 1] ?? this.previous;
    }
    let text = '';
    try {
      text = this.decoder!.decode(chunk, { stream: true });
    } catch {
      this.notText();
    }
    if (text.includes('\u0000')) this.refuse('not a CSV file: it holds binary data');
    return Buffer.from(text, 'utf8');
  }

  end(): Buffer {
    if (!this.decoder) return Buffer.alloc(0);
    try {
      const rest = this.decoder.decode();
      return this.encoding === 'utf-8' ? Buffer.alloc(0) : Buffer.from(rest, 'utf8');
    } catch {
      this.refuse('not decodable text: the file ends inside a character');
    }
  }
}

/**
 * Copies the upload into the data directory as UTF-8 (fsynced, mode 0600 in a 0700 directory),
 * checking on the way that all of it is text in the encoding its head showed, so that no row of
 * an undecodable file is ever read. Returns the path relative to dataDir.
 */
export async function storeUpload(filePath: string, fileName: string, dataDir: string, importId: string, encoding: DetectedEncoding = 'ascii'): Promise<string> {
  const relative = path.join('uploads', `${importId}.csv`);
  const target = path.join(dataDir, relative);
  // Uploads hold personal data: readable by the server's user only (mkdir's and open's modes do
  // not apply to what already exists, hence the chmods).
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.dirname(target), 0o700);
  const partial = `${target}.partial`;
  const toUtf8 = new ToUtf8(encoding, fileName);
  const out = fs.openSync(partial, 'w', 0o600);
  fs.fchmodSync(out, 0o600);
  try {
    for await (const chunk of fs.createReadStream(filePath, { highWaterMark: 1 << 20 })) {
      fs.writeSync(out, toUtf8.push(chunk as Buffer));
    }
    fs.writeSync(out, toUtf8.end());
    fs.fsyncSync(out);
  } catch (error) {
    fs.closeSync(out);
    fs.rmSync(partial, { force: true });
    // Nothing is started (ImportStarted comes after the copy), and nothing of the copy is left.
    if (isOutOfSpace(error)) throw insufficientStorage('the upload could not be stored for import', path.dirname(target), error, fs.statSync(filePath).size);
    throw error;
  }
  fs.closeSync(out);
  fs.renameSync(partial, target);
  clearOutOfSpace(path.dirname(target));
  return relative;
}
