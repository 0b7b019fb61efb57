// The error log as an error file streams it: every rejected row, in order, a page at a time, and
// each page's query reading about a page whatever the planner's statistics say.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDatabase, type TestDatabase } from '../test/support/db.ts';
import { rowsScanned } from '../test/support/plan.ts';
import { errorPages } from './error-log.ts';
import { migrateProjections } from './runner.ts';

const IMPORT = '01a2300000007000800000000000aaaa';

/** Rejected rows at these row numbers, with statistics of the table taken when it held the first 300 (as right after a big import). */
async function errorLog(rows: number[]): Promise<TestDatabase> {
  const db = await createTestDatabase();
  await migrateProjections(db.pool);
  await db.pool.query('alter table error_log set (autovacuum_enabled = false)');
  // Another import's rows, which no page may return.
  await db.pool.query(
    `insert into error_log (import_id, row_number, source, record, reasons, rejected_at)
     select 'other', r, 'nana', '{}'::json, '[]'::jsonb, now() from generate_series(1, 20000) r`,
  );
  const insert = (part: number[]) => db.pool.query(
    `insert into error_log (import_id, row_number, source, record, reasons, rejected_at, resolved_by_import_id, resolved_by_row, resolved_at)
     select $1, r, 'nana', json_build_object('nana_cus_id', 'n' || r), '[{"field":"phone","code":"required","message":"phone is required"}]'::jsonb, now(),
            case when r % 5 = 0 then 'fix' end, case when r % 5 = 0 then r end, case when r % 5 = 0 then now() end
       from unnest($2::int[]) as r`,
    [IMPORT, part],
  );
  // Statistics taken early in the import (as autovacuum does while it runs): its first rows alone.
  await insert(rows.slice(0, 300));
  await db.pool.query('analyze error_log');
  await insert(rows.slice(300));
  return db;
}

/** Dense rejections (rows 1–20,000), sparse ones (every 97th row up to row 1,000,000), dense again (30,000). */
const ROWS = [
  ...Array.from({ length: 20_000 }, (_, i) => i + 1),
  ...Array.from({ length: 10_100 }, (_, i) => 20_001 + i * 97).filter((r) => r <= 1_000_000),
  ...Array.from({ length: 30_000 }, (_, i) => 1_000_001 + i),
];

test('error file › every rejected row once, in row order, in pages of at most the page size, across dense and sparse stretches', async () => {
  const db = await errorLog(ROWS);
  try {
    const seen: number[] = [];
    let pages = 0;
    for await (const page of errorPages(db.pool, IMPORT, 'all', 500)) {
      pages++;
      assert.ok(page.length >= 1 && page.length <= 500, `a page of ${page.length}`);
      seen.push(...page.map((e) => e.row));
    }
    assert.equal(seen, ROWS);
    // A page per 500 rows where they are dense, and in sparse stretches one per 32 pages' worth of row numbers at most.
    assert.ok(pages <= ROWS.length / 500 + 1_030_000 / (32 * 500) + 10, `${pages} pages for ${ROWS.length} rows`);
    const open: number[] = [];
    for await (const page of errorPages(db.pool, IMPORT, 'open', 500)) open.push(...page.map((e) => e.row));
    assert.equal(open, ROWS.filter((r) => r % 5 !== 0), 'the status filter keeps the open rows alone');
    const none: number[] = [];
    for await (const page of errorPages(db.pool, 'no-such-import', 'all', 500)) none.push(...page.map((e) => e.row));
    assert.equal(none, []);
  } finally {
    await db.drop();
  }
});

test('error file › the pages together read about as many rows as they return, never the rest of the log per page, whatever the statistics (a file costs its length, not its square)', async () => {
  const db = await errorLog(ROWS);
  try {
    const queries: { text: string; values: unknown[] }[] = [];
    const recording = {
      query: ((text: string, values: unknown[]) => {
        queries.push({ text, values });
        return db.pool.query(text, values);
      }) as typeof db.pool.query,
    };
    for await (const page of errorPages(recording, IMPORT)) void page;
    assert.ok(queries.length > ROWS.length / 2000, `${queries.length} queries`);
    let read = 0;
    let most = 0;
    for (const { text, values } of queries) {
      const rows = await rowsScanned(db.pool, 'error_log', text, values);
      read += rows;
      most = Math.max(most, rows);
    }
    // Reading the rest of the log for each page (the old query, under these statistics) read ~900,000.
    assert.ok(read <= 3 * ROWS.length, `the pages read ${read} rows of the error log to return ${ROWS.length}`);
    assert.ok(most <= 32 * 2000, `a page read ${most} rows to return at most 2,000`);
  } finally {
    await db.drop();
  }
});



test.run();
