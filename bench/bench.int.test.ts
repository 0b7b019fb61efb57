// The benchmark end to end on 2,000 rows: it runs, and its import accounts for every row.
// No time is asserted: a test machine's speed proves nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stopEmbedded } from '../services/db/embedded.ts';
import { runBenchmark } from './run.ts';

test('bench › a 2,000-row run imports or rejects every row, duplicate phones included', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-bench-'));
  const dataDir = path.join(root, 'data');
  try {
    const result = await runBenchmark({ rows: 2000, dataDir, write: false });
    const { totalRows, importedRows, rejectedRows, rejectionsByCode } = result.import;
    assert.is(totalRows, 2000);
    assert.is(importedRows + rejectedRows, totalRows);
    assert.ok(rejectedRows > 0, 'some generated rows are invalid');
    assert.ok((rejectionsByCode['duplicate-phone'] ?? 0) > 0, 'a row repeating an owned phone in another format is rejected');
    assert.equal({ imported: importedRows, rejected: rejectedRows }, result.import.expected);
    assert.is(result.baseline.rejectedRows, 0);
    assert.is(result.anchors.copy.rows, 2000);
    assert.is(result.anchors.naive.rows, 2000);
    assert.ok(result.memory.peakRssMB > 0 && result.cpu.nodeSeconds > 0, 'the careos import process itself was measured');
  } finally {
    await stopEmbedded(dataDir);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
