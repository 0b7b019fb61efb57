// The embedded default's cluster: created the same way on every machine, whatever its locale.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { availableMemoryBytes, defaultSharedBuffersMb } from '../config.ts';
import { ensureEmbedded, stopEmbedded } from './embedded.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-embedded-'));

test.after(async () => {
  await stopEmbedded(dir);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('embedded › a new cluster compares text as code points (builtin C.UTF-8), whatever LANG says', async () => {
  const server = await ensureEmbedded(dir);
  const client = new pg.Client({ connectionString: server.connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ provider: string; locale: string; upper_before_lower: boolean; upper_text: string }>(
      `select datlocprovider as provider, datlocale as locale, 'B' < 'a' as upper_before_lower, upper('ก é') as upper_text
         from pg_database where datname = current_database()`,
    );
    const row = rows[0]!;
    assert.is(row.provider, 'b');
    assert.is(row.locale, 'C.UTF-8');
    // Code point order (a linguistic collation such as en_US puts 'a' before 'B').
    assert.is(row.upper_before_lower, true);
    // Case mapping stays Unicode-aware.
    assert.is(row.upper_text, 'ก É');
  } finally {
    await client.end();
  }
});

test('embedded › shared_buffers is a quarter of the machine\'s memory, between 128 MB and 2 GB', () => {
  const GB = 1024 ** 3;
  assert.is(defaultSharedBuffersMb(24 * GB), 2048);
  assert.is(defaultSharedBuffersMb(4 * GB), 1024);
  assert.is(defaultSharedBuffersMb(2 * GB), 512);
  assert.is(defaultSharedBuffersMb(0.25 * GB), 128);
  // Inside a container limited to 1 GB on a 64 GB host, a quarter of the limit, not of the host.
  assert.is(defaultSharedBuffersMb(availableMemoryBytes(64 * GB, 1 * GB)), 256);
  // No limit: Node reports a huge number (or 0).
  assert.is(availableMemoryBytes(24 * GB, 2 ** 64), 24 * GB);
  assert.is(availableMemoryBytes(24 * GB, 0), 24 * GB);
});

test('embedded › the server gets its shared_buffers at each start, whatever its data directory was created with', async () => {
  await stopEmbedded(dir);
  // Data directories created before this setting carry shared_buffers = 512MB in postgresql.conf.
  fs.appendFileSync(path.join(dir, 'pg', 'postgresql.conf'), '\nshared_buffers = 512MB\n');
  const server = await ensureEmbedded(dir, { sharedBuffersMb: 256 });
  const client = new pg.Client({ connectionString: server.connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ shared_buffers: string }>('show shared_buffers');
    assert.is(rows[0]!.shared_buffers, '256MB');
  } finally {
    await client.end();
  }
});

test.run();
