// The door of an import: a file is checked (size, type, encoding, header) before any row is read,
// and stored durably under a generated name before ImportStarted, so a crashed import can resume.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { SourceName } from '../events/types.ts';
import { RULES } from '../processor/decide.ts';
import { FileRefused } from '../errors.ts';
import { FILE_SOURCES, fileSource, headerProblem } from '../../schemas/api.ts';

const HEAD_BYTES = 64 * 1024;
const CSV_TYPES = /\.csv$/i;

export interface CheckedFile {
  /** Header as written (trimmed, BOM removed), in file order. */
  columns: string[];
  /** Canonical (lower-case) column names, in file order. */
  canonical: string[];
  sizeBytes: number;
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
  if (head.includes(0)) throw new FileRefused(fileName, 'not a CSV file: it holds binary data');
  let text: string;
  try {
    // stream: true tolerates a character cut at the end of the head.
    text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: stat.size > head.length });
  } catch {
    throw new FileRefused(fileName, 'not decodable text: the file must be UTF-8 encoded');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
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
  return { columns, canonical, sizeBytes: stat.size };
}

/**
 * Copies the upload into the data directory (fsynced, mode 0600 in a 0700 directory), checking on the way that all of it is
 * UTF-8 text, so that no row of an undecodable file is ever read. Returns the path relative to dataDir.
 */
export async function storeUpload(filePath: string, fileName: string, dataDir: string, importId: string): Promise<string> {
  const relative = path.join('uploads', `${importId}.csv`);
  const target = path.join(dataDir, relative);
  // Uploads hold personal data: readable by the server's user only (mkdir's and open's modes do
  // not apply to what already exists, hence the chmods).
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.dirname(target), 0o700);
  const partial = `${target}.partial`;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const out = fs.openSync(partial, 'w', 0o600);
  fs.fchmodSync(out, 0o600);
  try {
    for await (const chunk of fs.createReadStream(filePath, { highWaterMark: 1 << 20 })) {
      const buffer = chunk as Buffer;
      try {
        decoder.decode(buffer, { stream: true });
      } catch {
        throw new FileRefused(fileName, 'not decodable text: the file must be UTF-8 encoded');
      }
      if (buffer.includes(0)) throw new FileRefused(fileName, 'not a CSV file: it holds binary data');
      fs.writeSync(out, buffer);
    }
    try {
      decoder.decode();
    } catch {
      throw new FileRefused(fileName, 'not decodable text: the file ends inside a character');
    }
    fs.fsyncSync(out);
  } catch (error) {
    fs.closeSync(out);
    fs.rmSync(partial, { force: true });
    throw error;
  }
  fs.closeSync(out);
  fs.renameSync(partial, target);
  return relative;
}
