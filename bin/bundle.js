// Runs the product's TypeScript as plain JavaScript: an entry point and everything it imports
// from this package is bundled once per process with esbuild (already the compiler under tsx)
// into node_modules/.cache/careos-bundles, dependencies left as imports. Used for the worker
// threads (services/threads/spawn.ts) and the `careos` command (bin/careos.js): a bundle loads in
// ~0.1 s where tsx's loader (a hooks thread of its own, every module compiled on load) takes
// ~0.6 s and ~20 MB more per process.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// esbuild is loaded only to build: every thread imports this file (through services/paths.ts)
// and most never build anything.
const require = createRequire(import.meta.url);

/** The package root (package.json and schemas/), found from here: this file may itself run bundled. */
function findRoot() {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'schemas'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package root with schemas/ above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const PACKAGE_ROOT = findRoot();
const CACHE_DIR = path.join(PACKAGE_ROOT, 'node_modules', '.cache', 'careos-bundles');
const built = new Map();

/**
 * The bundle of an entry (a path from the package root), built on first use in this process and
 * written once per content, atomically; older bundles of the same name are removed after a day.
 * Code split: a dynamic import() becomes a chunk of its own, so what it imports (the EventStoreDB
 * client, only used when EVENTSTORE_URL is set) is loaded only when that import runs.
 * @param {string} name a short name for the cache directory
 * @param {string} entry e.g. 'services/cli/main.ts'
 * @returns {URL}
 */
export function bundle(name, entry) {
  const known = built.get(entry) ?? unchanged(name, entry);
  if (known) {
    built.set(entry, known);
    return known;
  }
  const outdir = path.join(CACHE_DIR, 'out');
  const { buildSync } = require('esbuild');
  const result = buildSync({
    absWorkingDir: PACKAGE_ROOT,
    metafile: true,
    entryPoints: { entry: path.join(PACKAGE_ROOT, entry) },
    bundle: true,
    splitting: true,
    outdir,
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    keepNames: true,
    write: false,
    logLevel: 'silent',
  });
  if (!result.outputFiles.some((file) => path.basename(file.path) === 'entry.mjs')) throw new Error(`bundling ${entry} gave no entry file`);
  const files = result.outputFiles.map((file) => ({ name: path.relative(outdir, file.path), contents: file.contents })).sort((a, b) => a.name.localeCompare(b.name));
  const hash = crypto.createHash('sha1');
  for (const file of files) hash.update(file.name).update(file.contents);
  const dir = path.join(CACHE_DIR, `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (!fs.existsSync(dir)) {
    const partial = `${dir}.${process.pid}.tmp`;
    fs.rmSync(partial, { recursive: true, force: true });
    fs.mkdirSync(partial, { recursive: true });
    for (const file of files) fs.writeFileSync(path.join(partial, file.name), file.contents);
    try {
      fs.renameSync(partial, dir);
    } catch {
      fs.rmSync(partial, { recursive: true, force: true }); // another process wrote the same bundle first
    }
  }
  pruneOld(name, dir);
  writeManifest(name, { entry, dir, inputs: stamps(Object.keys(result.metafile.inputs)) });
  const url = pathToFileURL(path.join(dir, 'entry.mjs'));
  built.set(entry, url);
  return url;
}

/** Size and modification time of each source file (paths from the package root). */
function stamps(files) {
  return Object.fromEntries(files.map((file) => {
    const stat = fs.statSync(path.join(PACKAGE_ROOT, file));
    return [file, [stat.size, stat.mtimeMs]];
  }));
}

function manifestFile(name) {
  return path.join(CACHE_DIR, `${name}.json`);
}

function writeManifest(name, manifest) {
  const partial = `${manifestFile(name)}.${process.pid}.tmp`;
  fs.writeFileSync(partial, JSON.stringify(manifest));
  fs.renameSync(partial, manifestFile(name));
}

/**
 * The last bundle of this entry when none of its sources changed since it was built (no esbuild
 * run at all: starting a process or a thread then costs a few stat calls instead of ~0.1 s).
 */
function unchanged(name, entry) {
  try {
    const manifest = JSON.parse(fs.readFileSync(manifestFile(name), 'utf8'));
    if (manifest.entry !== entry || !fs.existsSync(path.join(manifest.dir, 'entry.mjs'))) return null;
    const now = stamps(Object.keys(manifest.inputs));
    for (const [file, [size, mtime]] of Object.entries(manifest.inputs)) {
      if (now[file][0] !== size || now[file][1] !== mtime) return null;
    }
    return pathToFileURL(path.join(manifest.dir, 'entry.mjs'));
  } catch {
    return null; // no manifest yet, or a source removed: build
  }
}

/** Bundles of earlier versions of the code: kept a day for processes still running that code. */
function pruneOld(name, current) {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const entry of fs.readdirSync(CACHE_DIR)) {
    const file = path.join(CACHE_DIR, entry);
    if (file === current || !entry.startsWith(`${name}-`) || entry.endsWith('.json')) continue;
    try {
      if (fs.statSync(file).mtimeMs < dayAgo) fs.rmSync(file, { recursive: true, force: true });
    } catch {
      // removed by another process meanwhile
    }
  }
}
