// The console's production build (console/build, by Vite and adapter-node). `npm start` builds it
// when it is missing or stale — older than the console's sources, the shared schemas or the
// lock file — so a fresh clone needs nothing but `npm install` and `npm start`. A stamp file holds
// a hash of those inputs; `npm run build` builds unconditionally.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CONSOLE_DIR = path.join(ROOT, 'console');
export const BUILD_DIR = path.join(CONSOLE_DIR, 'build');
const STAMP = path.join(BUILD_DIR, '.careos-build-stamp');
const INPUTS = ['console/src', 'console/static', 'console/svelte.config.js', 'console/vite.config.ts', 'schemas/api.ts', 'package-lock.json'];

function addToHash(hash: crypto.Hash, file: string): void {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) return;
  if (stat.isDirectory()) {
    for (const entry of fs.readdirSync(file).sort()) addToHash(hash, path.join(file, entry));
    return;
  }
  hash.update(path.relative(ROOT, file)).update('\0').update(fs.readFileSync(file)).update('\0');
}

/** A hash of everything the build is made from. */
export function sourceHash(): string {
  const hash = crypto.createHash('sha256');
  for (const input of INPUTS) addToHash(hash, path.join(ROOT, input));
  return hash.digest('hex');
}

export function buildIsFresh(): boolean {
  if (!fs.existsSync(path.join(BUILD_DIR, 'handler.js'))) return false;
  // Without its sources (a slim image), a build that exists is the one to use.
  if (!fs.existsSync(path.join(CONSOLE_DIR, 'src'))) return true;
  try {
    return fs.readFileSync(STAMP, 'utf8').trim() === sourceHash();
  } catch {
    return false;
  }
}

/** Builds the console (Vite, in a child process); throws with Vite's output when it fails. */
export function buildConsole(log: (line: string) => void = console.log): void {
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!fs.existsSync(vite)) {
    throw new Error('the console is not built and Vite is not installed: run `npm install` (with dev dependencies), then `npm run build`');
  }
  const started = Date.now();
  const hash = sourceHash();
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: CONSOLE_DIR, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
  if (result.status !== 0) throw new Error(`building the console failed:\n${result.stdout}${result.stderr}`);
  fs.writeFileSync(STAMP, `${hash}\n`);
  log(`careos: console built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export function ensureConsoleBuild(log: (line: string) => void = console.log): void {
  if (buildIsFresh()) return;
  log('careos: building the console (its build is missing or older than its sources)…');
  buildConsole(log);
}

/**
 * The same build, without blocking the process: the server answers "starting" meanwhile (a
 * build takes ~10 s, and a request must never wait that long for its first byte).
 */
export async function ensureConsoleBuildAsync(log: (line: string) => void = console.log): Promise<void> {
  if (buildIsFresh()) return;
  log('careos: building the console (its build is missing or older than its sources)…');
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!fs.existsSync(vite)) {
    throw new Error('the console is not built and Vite is not installed: run `npm install` (with dev dependencies), then `npm run build`');
  }
  const started = Date.now();
  const hash = sourceHash();
  const output = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: CONSOLE_DIR, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, text }));
  });
  if (output.code !== 0) throw new Error(`building the console failed:\n${output.text}`);
  fs.writeFileSync(STAMP, `${hash}\n`);
  log(`careos: console built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  buildConsole();
}
