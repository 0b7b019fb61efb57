// The browser's check of a file before upload: size, type, and the header line read from the first
// 64 KB only (File.slice; a 500 MB file is never read whole), checked with the same headerProblem()
// the server runs, so the modal refuses exactly what the server would refuse.
import { headerProblem, type FileSourceDefinition } from '../../../schemas/api.ts';
import { headText } from '../../../schemas/encoding.ts';
import { formatBytes } from './format.ts';

export const HEAD_BYTES = 64 * 1024;

/**
 * The cells of one CSV line (RFC 4180 quoting: "a, b" is one cell, "" is a quote inside quotes).
 * Throws on a stray quote, as the server's parser does.
 */
export function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  let atCellStart = true;
  while (i < line.length) {
    const char = line[i]!;
    if (quoted) {
      if (char === '"') {
        if (line[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        if (i < line.length && line[i] !== ',') throw new Error(`unexpected character after a closing quote at position ${i + 1}`);
        continue;
      }
      cell += char;
      i++;
      continue;
    }
    if (char === '"') {
      if (!atCellStart) throw new Error(`a quote inside an unquoted cell at position ${i + 1}`);
      quoted = true;
      atCellStart = false;
      i++;
      continue;
    }
    if (char === ',') {
      cells.push(cell);
      cell = '';
      atCellStart = true;
      i++;
      continue;
    }
    cell += char;
    atCellStart = false;
    i++;
  }
  if (quoted) throw new Error('a quoted cell is not closed');
  cells.push(cell);
  return cells;
}

export interface FileCheck {
  ok: boolean;
  /** Why the file is refused (when not ok). */
  problem?: string;
  /** The header's columns as written (when ok). */
  columns?: string[];
}

/** The head of the file as text (UTF-8, Thai Windows-874 or UTF-16, as the server reads them), or the reason it is not a text file. */
async function readHead(file: Blob): Promise<{ text: string } | { problem: string }> {
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  const read = headText(head, file.size <= head.length);
  return 'problem' in read ? { problem: read.problem } : { text: read.text };
}

/** Size, type and header of `file` for `source`, as the server checks them. */
export async function checkFile(file: File, source: FileSourceDefinition, maxBytes: number): Promise<FileCheck> {
  if (file.size > maxBytes) return { ok: false, problem: `file is ${formatBytes(file.size)}, over the ${formatBytes(maxBytes)} limit` };
  if (!/\.csv$/i.test(file.name)) return { ok: false, problem: 'not a CSV file (expected a .csv file of comma-separated values)' };
  if (file.size === 0) return { ok: false, problem: 'file is empty (expected a header line and rows)' };
  const head = await readHead(file);
  if ('problem' in head) return { ok: false, problem: head.problem };
  const lineEnd = head.text.search(/\r?\n/);
  if (lineEnd < 0 && file.size > HEAD_BYTES) return { ok: false, problem: 'header line is longer than 64 KB' };
  const headerLine = lineEnd < 0 ? head.text : head.text.slice(0, lineEnd);
  let cells: string[];
  try {
    cells = parseCsvLine(headerLine);
  } catch (error) {
    return { ok: false, problem: `header line is not valid CSV (${(error as Error).message})` };
  }
  const problem = headerProblem(source, cells);
  if (problem) return { ok: false, problem };
  return { ok: true, columns: cells.map((c) => c.trim()) };
}
