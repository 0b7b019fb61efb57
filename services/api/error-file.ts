// The error file BI downloads, fixes and uploads again: the upload's columns in their order plus
// `errors`. Excel-friendly (UTF-8 with a BOM so Thai shows right, CRLF line ends) and safe to open:
// a cell that begins with = + - @ tab or CR is prefixed with ' so no spreadsheet runs it as a formula.
// The console's download and `careos errors ID --format csv` write these same bytes.
import type { ErrorView } from '../../schemas/api.ts';

export const BOM = '\uFEFF';
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== safe.trim() ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function errorFileHeader(columns: readonly string[]): string {
  return `${BOM}${[...columns, 'errors'].map(csvCell).join(',')}\r\n`;
}

export function errorFileLine(columns: readonly string[], error: ErrorView): string {
  const cells = columns.map((c) => csvCell(error.record[c.toLowerCase()] ?? ''));
  cells.push(csvCell(error.reasons.map((r) => r.message).join('; ')));
  return `${cells.join(',')}\r\n`;
}

/** The download's name: the upload's name with "-errors" before .csv, ASCII-safe for the header. */
export function errorFileName(fileName: string): string {
  const base = fileName.replace(/\.csv$/i, '');
  return `${base}-errors.csv`;
}
