// Where an import's rows come from. The reader appends whatever a row source yields as RowReceived
// events, the same resumable way for every kind of origin: row N is revision N of the import's
// stream, and a resumed reader asks its source for the rows after the last one stored.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { parse, type Parser } from 'csv-parse';
import { readUpload, storedImportId } from './upload-store.ts';
import type { ImportOrigin } from '../events/types.ts';
import { decodeCursor, keysetOf, shopRecords, type ShopLocation } from '../careshop/shop.ts';

export interface RowSource {
  /**
   * The records in order, from row `after + 1` on (row 1 is the first record after the header).
   * `last` is row `after` as stored (null when after is 0): a source that reads by key continues after it.
   */
  rows(after: number, last: Record<string, string> | null): AsyncIterable<Record<string, string>>;
}

export interface RowSourceContext {
  dataDir: string;
  /** Where Care Shop syncs read (null: not configured). */
  careshop: ShopLocation | null;
  /** When the import started (ImportStarted's time): a table sync reads the records changed up to then. */
  startedAt: string;
  /** Where stored uploads are kept (upload-store.ts). */
  pool: pg.Pool;
}

export function rowSource(origin: ImportOrigin, columns: readonly string[], context: RowSourceContext): RowSource {
  switch (origin.kind) {
    case 'file': {
      // Copies are kept in PostgreSQL; imports made before that kept theirs under the data directory.
      const stored = storedImportId(origin.storedFile);
      return new CsvFileRows(stored ? () => readUpload(context.pool, stored) : () => fs.createReadStream(path.join(context.dataDir, origin.storedFile), { highWaterMark: 1 << 20 }), columns);
    }
    case 'table':
      if (!context.careshop) throw new Error('this import syncs the Care Shop table, and Care Shop sync is not configured here (CARESHOP_DATABASE_URL)');
      return new TableRows(context.careshop, decodeCursor(origin.cursor), context.startedAt);
    case 'replay':
      // A replay's rows are appended with its ImportStarted and ImportFileRead (startReplayImport): nothing is left to read.
      throw new Error('a replay has no rows to read: they were stored with its start');
  }
}

/** A Care Shop table sync: the records changed after the cursor and up to the sync's start, in keyset pages. */
export class TableRows implements RowSource {
  constructor(private readonly location: ShopLocation, private readonly cursor: ReturnType<typeof decodeCursor>, private readonly until: string) {}

  rows(after: number, last: Record<string, string> | null): AsyncIterable<Record<string, string>> {
    if (after > 0 && !last) throw new Error(`a table sync resumed after row ${after} needs that row's record`);
    return shopRecords(this.location, last ? keysetOf(last) : this.cursor, this.until);
  }
}

/**
 * The stored UTF-8 copy of an uploaded CSV file. Values are keyed by the header's columns
 * (lower-cased); values beyond them are `_extra1`, `_extra2`, ...
 *
 * A quote inside an unquoted value (Stray"Quote) is read as the character it is. A record that
 * truly cannot be parsed (a quote never closed) is kept as a row of its own, `_unparsable` (why)
 * and `_raw` (the text as written), in file order, and reading goes on after it: every part of the
 * file is accounted for.
 */
export class CsvFileRows implements RowSource {
  private readonly canonical: string[];

  constructor(private readonly open: () => Readable, columns: readonly string[]) {
    this.canonical = columns.map((c) => c.toLowerCase());
  }

  async *rows(after: number): AsyncIterable<Record<string, string>> {
    const { canonical } = this;
    // A record that cannot be parsed comes back through on_skip, in the middle of parsing: it is
    // kept with the number of records parsed before it, and yielded in that place. (csv-parse's
    // `info` option would give each record its line instead, at the price of two objects per row,
    // ~0.4 s of a 100k-row file's 1.6 s of parsing.)
    const unparsable: { before: number; record: Record<string, string> }[] = [];
    const parser: Parser = parse({
      bom: true, from_line: 2, relax_column_count: true, skip_empty_lines: true, relax_quotes: true,
      skip_records_with_error: true, raw: true,
      on_skip: (error, raw) => {
        unparsable.push({ before: parser.info.records, record: { _unparsable: error?.message ?? 'not valid CSV', _raw: raw ?? '' } });
      },
    });
    this.open().on('error', (error) => parser.destroy(error)).pipe(parser);
    let row = 0;
    let parsed = 0;
    for await (const { record: values } of parser as AsyncIterable<{ record: string[] }>) {
      while (unparsable.length && unparsable[0]!.before <= parsed) {
        const skipped = unparsable.shift()!.record;
        if (++row > after) yield skipped;
      }
      parsed++;
      if (++row <= after) continue;
      const record: Record<string, string> = {};
      const n = Math.min(values.length, canonical.length);
      for (let i = 0; i < n; i++) record[canonical[i]!] = values[i]!;
      for (let i = canonical.length; i < values.length; i++) record[`_extra${i - canonical.length + 1}`] = values[i]!;
      yield record;
    }
    for (const { record } of unparsable) if (++row > after) yield record;
  }
}
