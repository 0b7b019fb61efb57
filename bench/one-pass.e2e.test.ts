// bench/one-pass.ts, the measurement behind README's analysis of issue 12's bar, is a real import:
// on a generated file it decides every row as the product must (the generator's expected counts),
// and the read models it writes are the ones a rebuild from its events makes (`careos verify`).
// No time is asserted.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stopEmbedded } from '../services/db/embedded.ts';
import { generateBenchmarkFiles } from './generate.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function run(dataDir: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, CAREOS_DATA_DIR: dataDir };
  for (const name of ['DATABASE_URL', 'EVENTSTORE_URL', 'CAREOS_READ_BATCH', 'CAREOS_PROCESS_BATCH']) delete env[name];
  const result = spawnSync(process.execPath, args, { cwd: REPO, env, encoding: 'utf8', timeout: 180_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('bench › the one-pass measurement decides every row as the product must, and its read models are what a rebuild makes', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-one-pass-'));
  const dataDir = path.join(root, 'data');
  try {
    const files = await generateBenchmarkFiles({ rows: 3000, dir: path.join(root, 'files'), batchRows: 1000 });
    const baseline = run(dataDir, [path.join(REPO, 'bin', 'careos.js'), 'import', '--source', 'careos', files.baselineFile, '--json']);
    assert.is(baseline.status, 0, baseline.stderr);

    const onePass = run(dataDir, ['--import', 'tsx', path.join(REPO, 'bench', 'one-pass.ts'), files.nanaFile]);
    assert.is(onePass.status, 0, onePass.stderr);
    const result = JSON.parse(onePass.stdout.trim().split('\n').pop()!) as { rows: number; progress: { importedRows: number; rejectedRows: number; completed: boolean } };
    assert.is(result.rows, 3000);
    assert.ok(result.progress.completed);
    assert.equal({ imported: result.progress.importedRows, rejected: result.progress.rejectedRows }, files.expected);
    assert.ok(files.expected.rejected > 0 && files.kinds.duplicate > 0, 'the file has rejected rows, duplicate phones among them');

    const verify = run(dataDir, [path.join(REPO, 'bin', 'careos.js'), 'verify']);
    assert.is(verify.status, 0, `careos verify: ${verify.stdout}${verify.stderr}`);
    assert.match(verify.stdout, /every read model matches the event store/);
  } finally {
    await stopEmbedded(dataDir);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
