// The benchmark end to end on 2,000 rows: it runs, and each scenario's import (Nana, remaps, Care
// Shop sync) accounts for every row.
// No time is asserted: a test machine's speed proves nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stopEmbedded } from '../services/db/embedded.ts';
import { runBenchmark } from './run.ts';

test('bench › a 2,000-row run of every scenario imports or rejects every row, duplicate phones, remaps and unknown profiles included', async () => {
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
    // The COPY anchor is the median of three runs, not one.
    const { runs, seconds } = result.anchors.copy;
    assert.is(runs.length, 3);
    assert.is(seconds, [...runs].sort((a, b) => a - b)[1]);
    assert.is(result.anchors.naive.rows, 2000);
    assert.ok(result.memory.peakRssMB > 0 && result.cpu.nodeSeconds > 0, 'the careos import process itself was measured');

    // The second scenario, in the same PostgreSQL: remapped ids are unlinked, unknown careos_cus_ids rejected.
    const remap = result.remap!;
    assert.is(remap.import.totalRows, 2000);
    assert.equal({ imported: remap.import.importedRows, rejected: remap.import.rejectedRows }, remap.import.expected);
    assert.ok(remap.import.rejectedRows / 2000 > 0.2 && remap.import.rejectedRows / 2000 < 0.3, `about a quarter rejected (${remap.import.rejectedRows})`);
    assert.ok((remap.import.rejectionsByCode['unknown-profile'] ?? 0) / 2000 > 0.15, 'about a fifth name a profile that does not exist');
    assert.ok(remap.import.reappearingIds > 0 && remap.import.unlinkedRelations > 0, 'ids seen in earlier rows are remapped');
    assert.is(remap.copy.rows, 2000);
    assert.ok(remap.ratioToCopy > 0 && remap.memory.peakRssMB > 0);

    // The third: a Care Shop sync of the seeded demo table, every record accounted for.
    const careshop = result.careshop!;
    assert.is(careshop.import.totalRows, 2000);
    assert.is(careshop.import.importedRows + careshop.import.rejectedRows + careshop.import.skippedRows, 2000);
    assert.is(careshop.import.rejectedRows, careshop.seeded.invalidPhone, 'exactly the seeded invalid numbers are rejected');
    assert.ok(careshop.import.skippedRows >= careshop.seeded.sameProfile, 'customers with a profile\'s phone and names are skipped');
    assert.is(careshop.copy.rows, 2000);
    assert.ok(careshop.ratioToCopy > 0 && careshop.memory.peakRssMB > 0);
  } finally {
    await stopEmbedded(dataDir);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
