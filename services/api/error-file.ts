// The error file BI downloads, fixes and uploads again: the upload's columns in their order, then
// `_replay_of` (the rejected row each line is: uploaded again as it is, the file is a replay that
// fixes those rows) and `errors`. Excel-friendly (UTF-8 with a BOM so Thai shows right, CRLF line ends) and safe to open:
// a cell that begins with = + - @ tab or CR is prefixed with ' so no spreadsheet runs it as a formula.
// The console's download and `careos errors ID --format csv` write these same bytes.
import { ERROR_FILE_COLUMNS, formatReplayRef, type ErrorView, type TimelineEntry } from '../../schemas/api.ts';

export const BOM = '\uFEFF';
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== safe.trim() ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The upload's own columns: a replayed file's `_replay_of` and `errors` are written once, at the end. */
export function uploadColumns(columns: readonly string[]): string[] {
  return columns.filter((c) => !(ERROR_FILE_COLUMNS as readonly string[]).includes(c.toLowerCase()));
}

export function errorFileHeader(columns: readonly string[]): string {
  return `${BOM}${[...uploadColumns(columns), ...ERROR_FILE_COLUMNS].map(csvCell).join(',')}\r\n`;
}

/** One rejected row: its values as uploaded, the rejected row it is (the chain's first rejection), its reasons. */
export function errorFileLine(importId: string, columns: readonly string[], error: ErrorView): string {
  const cells = uploadColumns(columns).map((c) => csvCell(error.record[c.toLowerCase()] ?? ''));
  cells.push(csvCell(formatReplayRef(error.replayOf ?? { importId, row: error.row })));
  cells.push(csvCell(error.reasons.map((r) => r.message).join('; ')));
  return `${cells.join(',')}\r\n`;
}

/** The download's name: the upload's name with "-errors" before .csv, ASCII-safe for the header. */
export function errorFileName(fileName: string): string {
  const base = fileName.replace(/\.csv$/i, '');
  return `${base}-errors.csv`;
}

/** The auditors' timeline as CSV (the same BOM, CRLF and formula-safe cells as the error file). */
export function timelineCsv(entries: readonly TimelineEntry[]): string {
  const header = ['at', 'event', 'careos_id', 'source', 'original_id', 'relinked_to', 'by', 'import_id', 'file_name', 'row', 'raw_row', 'revert_of', 'revert_reason'];
  const lines = entries.map((e) => [
    e.at, e.kind, e.careosId, e.source ?? '', e.originalId ?? '', e.relinkedTo ?? '', e.byName === e.by ? e.by : `${e.byName} (${e.by})`,
    e.importId, e.fileName ?? '', String(e.row), e.record === null ? '' : JSON.stringify(e.record), e.revertOf ?? '', e.revertReason ?? '',
  ].map(csvCell).join(','));
  return `${BOM}${[header.join(','), ...lines].join('\r\n')}\r\n`;
}

/** The timeline download's name: what it is about, ASCII-safe for the header. */
export function timelineFileName(filter: { careosId?: string; source?: string; originalId?: string }): string {
  const about = filter.careosId ?? `${filter.source}-${filter.originalId}`;
  return `timeline-${about.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100)}.csv`;
}

/**
 * A JSON array written a page at a time: the same text as JSON.stringify of all the items, never
 * all of them (nor that text) in memory at once (a million rejected rows is a string longer than
 * JavaScript allows).
 */
export async function* jsonArray<T>(pages: AsyncIterable<readonly T[]>): AsyncGenerator<string> {
  let first = true;
  yield '[';
  for await (const page of pages) {
    if (!page.length) continue;
    const text = page.map((item) => JSON.stringify(item)).join(',');
    yield first ? text : `,${text}`;
    first = false;
  }
  yield ']';
}
