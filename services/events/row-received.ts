// RowReceived v2: a row's values without its header. The import's columns are in its ImportStarted
// (as written, trimmed); a record's keys are those columns lower-cased (row-source.ts), in order,
// and that is the only shape stored as values. Every other record is stored whole, as in v1: a row
// with fewer values than the header keeps the columns it has (a prefix, still values), a row that
// could not be parsed (`_unparsable`, `_raw`), one with values beyond the header (`_extra1`, ...)
// and a replayed row (`_replay_of`) are records. Reading rebuilds the record with its keys in the
// same order, so a rejected row's record (and the error log's column order) is what it was.
import type { RowReceivedData, RowReceivedV2Data, SourceName } from './types.ts';

/** The keys a record of an import with these columns has (lower-cased, in order). */
export function recordKeys(columns: readonly string[]): string[] {
  return columns.map((column) => column.toLowerCase());
}

/** The stored form of a received record, given its import's record keys. */
export function storedRowReceived(importId: string, source: SourceName, row: number, record: Record<string, string>, keys: readonly string[]): RowReceivedV2Data {
  const values: string[] = [];
  for (const key in record) {
    if (key !== keys[values.length]) return { importId, source, row, record };
    values.push(record[key]!);
  }
  return { importId, source, row, values };
}

/** A stored v2 RowReceived as read; `keys` are its import's (recordKeys of ImportStarted's columns). */
export function readRowReceived(data: RowReceivedV2Data, keys: readonly string[] | undefined): RowReceivedData {
  if (data.record) return { importId: data.importId, source: data.source, row: data.row, record: data.record };
  if (!keys) throw new Error(`RowReceived ${data.importId}/${data.row} is stored as values: reading it needs its import's columns`);
  if (data.values.length > keys.length) throw new Error(`RowReceived ${data.importId}/${data.row} has ${data.values.length} values for ${keys.length} columns`);
  const record: Record<string, string> = {};
  for (let i = 0; i < data.values.length; i++) record[keys[i]!] = data.values[i]!;
  return { importId: data.importId, source: data.source, row: data.row, record };
}
