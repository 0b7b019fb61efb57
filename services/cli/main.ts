// `careos` — the command line. Other tools and people script against these exact output shapes.
// Exit codes: 0 done (rejected rows included), 1 failure, 2 file refused or bad usage.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { ensureEmbedded, stopEmbedded } from '../db/embedded.ts';
import { AppError, FileRefused, ValidationError } from '../errors.ts';
import { SOURCES, type SourceName } from '../events/types.ts';
import { checkFile } from '../importer/files.ts';
import { Engine, openApp, waitForImport, type App } from '../app.ts';
import { importsInProgress, listImports } from '../../projections/import-log.ts';
import { comparePositions } from '../eventstore/types.ts';
import { Careos, operator } from '../api/careos.ts';
import { readPassword } from './password.ts';
import { tryLock, unlock } from '../db/locks.ts';
import { NOT_CONFIGURED, ensureDemo } from '../careshop/shop.ts';
import { seedCareshop } from '../careshop/seed.ts';
import { verifyReadModels } from '../../projections/verify.ts';
import { readCheckpoint } from '../processor/processor-store.ts';
import type { RevertPlanView } from '../../schemas/api.ts';
import { jsonArray } from '../api/error-file.ts';
import { writeChunks } from '../api/stream.ts';

const USAGE = `usage:
  careos import FILE --source nana|careos|careshop [--by NAME] [--json]
  careos sync careshop [--by NAME] [--json]  sync the Care Shop customer table (behind the Nana gate)
  careos careshop seed --rows N [--json]    fill the embedded demo Care Shop table
  careos history careshop [--import ID | --customer-id ID] [--json]
  careos resume [--json]                    finish imports a crash interrupted
  careos imports [--json]
  careos errors IMPORT_ID [--format json|csv] [--open | --resolved]
  careos replay IMPORT_ID --rows 4,6 [--json]  send rejected rows again, unchanged
  careos revert IMPORT_ID --reason R [--preview] [--by NAME] [--json]
                                            undo an import, all that nothing later built on
  careos profiles [--phone P | --careos-id ID] [--json]
  careos relations [--careos-id ID | --source S --original-id ID] [--as-of ISO-8601] [--json]
  careos stats --json
  careos users add EMAIL --name NAME --role admin|bi|auditor [--password-stdin]
  careos users list [--json]
  careos users disable EMAIL
  careos onboarding [complete [--reason R] | reopen --reason R] [--by NAME] [--json]
                                            the Nana gate: Care Shop imports wait for it
  careos rebuild [--by NAME]
  careos verify [--json]                    rebuild the read models aside and compare (exit 1 on a difference)
  careos db stop                            stop the embedded PostgreSQL, on purpose: a server leaves it stopped
  careos db start                           start it (a server supervises it again)`;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function table(rows: Record<string, unknown>[]): string {
  if (!rows.length) return '(none)';
  const keys = Object.keys(rows[0]!);
  const cells = rows.map((r) => keys.map((k) => (Array.isArray(r[k]) ? (r[k] as unknown[]).join(', ') : String(r[k] ?? ''))));
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(keys), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** The CLI's actor: the operator at this machine (an admin), named by their OS user. */
function localOperator() {
  return operator(os.userInfo().username);
}

async function withApp<T>(work: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(loadConfig());
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

/** Runs the engine (the processor, which also projects, when this process leads) around some work. */
async function withEngine<T>(app: App, work: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = new Engine(app);
  engine.start();
  try {
    return await work(engine);
  } finally {
    await engine.stop();
  }
}

/** What `careos import`, `resume` and `sync` print for a finished import (--json: this object). */
function importSummary(view: { importId: string; status: string; totalRows: number | null; importedRows: number; rejectedRows: number; skippedRows: number }) {
  return {
    importId: view.importId, status: view.status, totalRows: view.totalRows ?? 0, importedRows: view.importedRows,
    rejectedRows: view.rejectedRows, skippedRows: view.skippedRows,
  };
}

function summaryLine(summary: ReturnType<typeof importSummary>): string {
  const skipped = summary.skippedRows ? `, ${summary.skippedRows} skipped` : '';
  const errors = summary.rejectedRows ? ` (careos errors ${summary.importId})` : '';
  return `${summary.status}: ${summary.totalRows} rows, ${summary.importedRows} imported, ${summary.rejectedRows} rejected${skipped}${errors}`;
}

async function cmdImport(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { source: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const file = positionals[0];
  if (!file) throw new ValidationError('import needs a FILE');
  const source = values.source as SourceName | undefined;
  if (!source || !SOURCES.includes(source)) throw new ValidationError(`--source must be one of: ${SOURCES.join(', ')} (got ${source ?? 'nothing'})`);
  const by = values.by ?? os.userInfo().username;
  // Refuse a bad file before anything starts (not even the database): answers at once.
  const config = loadConfig();
  checkFile(file, path.basename(file), source, config.maxFileBytes);
  return withApp(async (app) => {
    const { importId, read } = await new Careos(app).startImport(operator(by), { filePath: file, fileName: path.basename(file), source });
    if (!values.json) out(`import ${importId} started: ${path.basename(file)} (${source}) by ${by}`);
    const view = await withEngine(app, async () => {
      await read;
      return waitForImport(app, importId);
    });
    const summary = importSummary(view);
    if (values.json) out(JSON.stringify(summary));
    else out(summaryLine(summary));
    return 0;
  });
}

async function cmdResume(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  return withApp(async (app) => {
    // Every import started before the crash is in the import log: ImportStarted is logged when it is appended.
    return withEngine(app, async () => {
      const pending = (await listImports(app.pool, { limit: 100_000 })).filter((i) => i.status === 'In progress');
      const finished = [];
      for (const item of pending) {
        const view = await waitForImport(app, item.importId);
        finished.push(importSummary(view));
      }
      if (values.json) out(JSON.stringify(finished));
      else out(finished.length ? table(finished) : 'nothing to resume');
      return 0;
    });
  });
}

async function cmdImports(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  return withApp(async (app) => {
    const { items: imports } = await new Careos(app).listImports(localOperator(), { limit: 100_000, offset: 0 });
    const shaped = imports.map((i) => ({
      importId: i.importId, status: i.status, importDate: i.importDate, lastUpdate: i.lastUpdate, fileName: i.fileName,
      source: i.source, importedBy: i.importedBy, totalRows: i.totalRows, importedRows: i.importedRows, rejectedRows: i.rejectedRows,
      skippedRows: i.skippedRows, openRejectedRows: i.openRejectedRows, origin: i.origin,
    }));
    out(values.json ? JSON.stringify(shaped) : table(shaped));
    return 0;
  });
}

async function cmdErrors(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { format: { type: 'string', default: 'json' }, open: { type: 'boolean', default: false }, resolved: { type: 'boolean', default: false } },
  });
  const importId = positionals[0];
  if (!importId) throw new ValidationError('errors needs an IMPORT_ID');
  if (values.open && values.resolved) throw new ValidationError('give --open or --resolved, not both');
  const status = values.open ? 'open' : values.resolved ? 'resolved' : 'all';
  if (values.format !== 'json' && values.format !== 'csv') throw new ValidationError(`--format must be json or csv (got ${values.format})`);
  return withApp(async (app) => {
    const careos = new Careos(app);
    const actor = localOperator();
    if (values.format === 'json') {
      // A page at a time, as the API writes it: an import's rejected rows may not fit in memory at once.
      await writeChunks(process.stdout, jsonArray((await careos.errorStream(actor, importId, status)).pages));
      out('');
      return 0;
    }
    // The console's download, byte for byte: the upload's columns, _replay_of and the reasons, ready to fix and upload again.
    await writeChunks(process.stdout, (await careos.errorFile(actor, importId, status)).chunks());
    return 0;
  });
}

async function cmdProfiles(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, options: { phone: { type: 'string' }, 'careos-id': { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  return withApp(async (app) => {
    const profiles = await new Careos(app).findProfiles(localOperator(), { phone: values.phone, careosId: values['careos-id'], limit: 1_000_000 });
    out(values.json ? JSON.stringify(profiles) : table(profiles as unknown as Record<string, unknown>[]));
    return 0;
  });
}

async function cmdRelations(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'careos-id': { type: 'string' }, source: { type: 'string' }, 'original-id': { type: 'string' }, 'as-of': { type: 'string' }, json: { type: 'boolean', default: false },
    },
  });
  if (values['original-id'] !== undefined && values.source === undefined) throw new ValidationError('--original-id needs --source');
  return withApp(async (app) => {
    const filter = { careosId: values['careos-id'], source: values.source, originalId: values['original-id'] };
    const relations = await new Careos(app).relations(localOperator(), filter, values['as-of']);
    out(values.json ? JSON.stringify(relations) : table(relations as unknown as Record<string, unknown>[]));
    return 0;
  });
}

async function cmdStats(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  return withApp(async (app) => {
    const { rows } = await app.pool.query<Record<string, number>>(`
      select (select count(*) from profile where retired_at is null)::int as profiles,
             (select count(*) from relation where active)::int as "relationsActive",
             (select count(*) from relation where not active)::int as "relationsInactive",
             (select count(*) from import_log)::int as imports,
             (select count(*) from error_log)::int as "rejectedRows"`);
    const stats = rows[0]!;
    out(values.json ? JSON.stringify(stats) : table([stats]));
    return 0;
  });
}

async function cmdRebuild(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { by: { type: 'string' } } });
  const by = values.by ?? os.userInfo().username;
  return withApp(async (app) => {
    // Rebuilding while another process projects would race it; the leader lock keeps it alone.
    const client = await app.pool.connect();
    try {
      if (!(await tryLock(client, 'leader'))) throw new AppError('another careos process is running the importer; stop it and run rebuild again', 409, 'Conflict');
      const started = Date.now();
      await app.projections.rebuild(by);
      out(`rebuilt every read model from the event store in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await unlock(client, 'leader');
    } finally {
      client.release();
    }
    return 0;
  });
}

/** `careos verify`: every read model rebuilt into scratch tables and compared with the live ones; exit 1 on a difference. */
async function cmdVerify(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  return withApp(async (app) => {
    const running = await importsInProgress(app.pool);
    if (running.length) throw new AppError(`${running.length} import(s) in progress (${running[0]!.importId}, ${running[0]!.fileName}): verify compares still read models; run it when they have finished`, 409, 'Conflict');
    const before = await readCheckpoint(app.pool);
    const result = await verifyReadModels(app.store, app.pool, app.databaseUrl);
    const after = await readCheckpoint(app.pool);
    if (comparePositions(after.lastOutput, before.lastOutput) !== 0) {
      throw new AppError('an import changed the read models while they were being verified; run verify again when none runs', 409, 'Conflict');
    }
    if (values.json) out(JSON.stringify(result));
    else {
      out(table(result.tables.map((t) => ({
        table: t.table, live: t.live.rows, rebuilt: t.rebuilt.rows, same: t.same ? 'yes' : 'NO',
        checksum: t.same ? t.live.checksum : `${t.live.checksum} ≠ ${t.rebuilt.checksum}`,
      }))));
      out(result.same
        ? `every read model matches the event store (${result.seconds.toFixed(1)} s)`
        : `DIFFERENT: ${result.tables.filter((t) => !t.same).map((t) => t.table).join(', ')} (careos rebuild rebuilds them from the events)`);
    }
    return result.same ? 0 : 1;
  });
}

async function cmdDb(args: string[]): Promise<number> {
  if (args[0] !== 'stop' && args[0] !== 'start') throw new ValidationError('db takes: stop, start');
  const config = loadConfig();
  if (config.databaseUrl) throw new ValidationError('DATABASE_URL is set: the embedded PostgreSQL is not in use');
  if (args[0] === 'start') {
    const server = await ensureEmbedded(config.dataDir, { sharedBuffersMb: config.pgSharedBuffersMb });
    out(`embedded PostgreSQL ${server.startedHere ? 'started' : 'runs'} on port ${server.port} (pid ${server.pid})`);
    return 0;
  }
  // On purpose: a server supervising it leaves it stopped (until db start, or any careos command, starts it).
  out((await stopEmbedded(config.dataDir)) ? 'embedded PostgreSQL stopped (a running careos server leaves it stopped; careos db start starts it)' : 'embedded PostgreSQL was not running (it stays stopped: a running careos server will not start it)');
  return 0;
}

async function cmdUsers(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const actor = localOperator();
  if (sub === 'add') {
    const { values, positionals } = parseArgs({
      args: rest, allowPositionals: true,
      options: { name: { type: 'string' }, role: { type: 'string' }, 'password-stdin': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    });
    const email = positionals[0];
    if (!email) throw new ValidationError('users add needs an EMAIL');
    if (!values.name) throw new ValidationError('users add needs --name NAME (shown as "Imported by")');
    if (!values.role) throw new ValidationError('users add needs --role admin|bi|auditor');
    const password = await readPassword(values['password-stdin']);
    return withApp(async (app) => {
      const user = await new Careos(app).addUser(actor, { email, name: values.name!, role: values.role!, password });
      out(values.json ? JSON.stringify(user) : `added ${user.email} (${user.name}, ${user.role})`);
      return 0;
    });
  }
  if (sub === 'list') {
    const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } } });
    return withApp(async (app) => {
      const users = await new Careos(app).listUsers(actor);
      out(values.json ? JSON.stringify(users) : table(users.map((u) => ({ ...u, disabled: u.disabled ? 'yes' : '' })) as unknown as Record<string, unknown>[]));
      return 0;
    });
  }
  if (sub === 'disable') {
    const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
    if (!positionals[0]) throw new ValidationError('users disable needs an EMAIL');
    return withApp(async (app) => {
      const user = await new Careos(app).disableUser(actor, positionals[0]!);
      out(`disabled ${user.email}; their sessions are ended`);
      return 0;
    });
  }
  throw new ValidationError('users takes: add, list, disable');
}

/** `careos sync careshop`: one Care Shop sync, start to finish (the same summary as import, with skippedRows). */
async function cmdSync(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { by: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals[0] !== 'careshop' || positionals.length > 1) throw new ValidationError('sync takes one source: careshop');
  const by = values.by ?? os.userInfo().username;
  return withApp(async (app) => {
    const { importId, read } = await new Careos(app).syncCareshop(operator(by));
    if (!values.json) out(`Care Shop sync ${importId} started by ${by}`);
    const view = await withEngine(app, async () => {
      await read;
      return waitForImport(app, importId);
    });
    const summary = importSummary(view);
    out(values.json ? JSON.stringify(summary) : summaryLine(summary));
    return 0;
  });
}

/** `careos careshop seed --rows N`: realistic customers in the embedded demo Care Shop table. */
async function cmdCareshop(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { rows: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals[0] !== 'seed' || positionals.length > 1) throw new ValidationError('careshop takes: seed --rows N');
  const rows = Number(values.rows ?? 1000);
  if (!Number.isInteger(rows) || rows < 1 || rows > 10_000_000) throw new ValidationError(`--rows must be a whole number from 1 to 10000000 (got ${values.rows})`);
  return withApp(async (app) => {
    const location = app.readerOptions.careshop;
    if (!location) throw new ValidationError(NOT_CONFIGURED);
    if (!location.demo) throw new ValidationError('careos careshop seed fills only the demo database of the embedded PostgreSQL; CARESHOP_DATABASE_URL points at a real Care Shop');
    await ensureDemo(location, app.databaseUrl);
    const result = await seedCareshop(location, app.pool, rows);
    if (values.json) out(JSON.stringify(result));
    else out(`${result.rows} customers added to ${result.table} (${result.firstId} … ${result.lastId}): ${result.sameProfile} share a profile's phone and names, ${result.samePhone} share a phone under other names, ${result.invalidPhone} have an invalid phone`);
    return 0;
  });
}

/** `careos history careshop [--import ID | --customer-id ID]`: the history log of synced records. */
async function cmdHistory(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { import: { type: 'string' }, 'customer-id': { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals[0] !== 'careshop' || positionals.length > 1) throw new ValidationError('history takes one source: careshop');
  const limit = Number(values.limit ?? 1000);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new ValidationError(`--limit must be a whole number from 1 to 100000 (got ${values.limit})`);
  return withApp(async (app) => {
    const { items } = await new Careos(app).careshopHistory(localOperator(), { importId: values.import, originalId: values['customer-id'] }, { limit, offset: 0 });
    out(values.json ? JSON.stringify(items) : table(items.map((e) => ({
      customerId: e.originalId, outcome: e.outcome, careosId: e.careosId ?? '', importId: e.importId, row: e.row, syncedAt: e.syncedAt,
      changedInShopAt: e.changedAt ?? '', skippedSince: e.skippedTimes,
    }))));
    return 0;
  });
}

/** `careos replay IMPORT_ID --rows 4,6`: rejected rows sent again unchanged, start to finish. */
async function cmdReplay(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { rows: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const importId = positionals[0];
  if (!importId || positionals.length > 1) throw new ValidationError('replay needs one IMPORT_ID');
  const rows = (values.rows ?? '').split(',').filter((r) => r.trim() !== '').map((r) => Number(r.trim()));
  if (!rows.length) throw new ValidationError('replay needs --rows with the rejected rows to send again, e.g. --rows 4,6');
  const by = values.by ?? os.userInfo().username;
  return withApp(async (app) => {
    const { importId: replayId } = await new Careos(app).replayErrors(operator(by), importId, rows);
    if (!values.json) out(`replay ${replayId} of rows ${rows.join(', ')} of import ${importId} started by ${by}`);
    const view = await withEngine(app, () => waitForImport(app, replayId));
    const summary = importSummary(view);
    out(values.json ? JSON.stringify(summary) : summaryLine(summary));
    return 0;
  });
}

/** How a revert's blockers read on a terminal: one line each. */
function blockerLines(plan: RevertPlanView): string[] {
  const said = { 'relation-changed': 'was remapped since by', 'relation-confirmed': 'was named again since by' } as const;
  const lines = plan.blocked.map((b) => (b.kind === 'profile-in-use'
    ? `  row ${b.row}: profile ${b.careosId} is in use since (linked to, named again or matched) by import ${b.by.importId} row ${b.by.row}`
    : `  row ${b.row}: ${b.source} ${b.originalId} → ${b.careosId} ${said[b.kind]} import ${b.by.importId} row ${b.by.row}`));
  if (plan.blockedCount > plan.blocked.length) lines.push(`  … and ${plan.blockedCount - plan.blocked.length} more`);
  return lines;
}

function planLine(plan: RevertPlanView): string {
  return `${plan.relationsReverted} links ended, ${plan.relationsRestored} restored, ${plan.profilesRetired} profiles retired, ${plan.errorsReopened} errors reopened, ${plan.blockedCount} effects left (later imports built on them)`;
}

/**
 * `careos revert IMPORT_ID --reason R`: asks for the revert and runs the processor until it is
 * decided. Exit 0 when reverted, 2 when refused (why, and every blocker listed, on stderr).
 * `--preview`: what it would undo and leave now, changing nothing.
 */
async function cmdRevert(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { reason: { type: 'string' }, preview: { type: 'boolean', default: false }, by: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const importId = positionals[0];
  if (!importId || positionals.length > 1) throw new ValidationError('revert needs one IMPORT_ID');
  if (!values.preview && !values.reason) throw new ValidationError('revert needs --reason: say why the import is reverted (auditors read it)');
  const actor = values.by ? operator(values.by) : localOperator();
  return withApp(async (app) => {
    const careos = new Careos(app);
    if (values.preview) {
      const plan = await careos.revertPlan(actor, importId);
      if (values.json) out(JSON.stringify(plan));
      else {
        out(plan.refusal ? `would be refused: ${plan.refusal}` : `would be reverted: ${planLine(plan)}`);
        for (const line of blockerLines(plan)) out(line);
      }
      return 0;
    }
    const view = await withEngine(app, () => careos.revertImport(actor, importId, { reason: values.reason }, 24 * 3600_000));
    const revert = view.revert!;
    if (values.json) out(JSON.stringify({ importId: view.importId, status: view.status, ...revert }));
    if (revert.state === 'refused') {
      process.stderr.write(`refused: ${revert.refusal}\n${blockerLines(revert).map((l) => `${l}\n`).join('')}`);
      return 2;
    }
    if (!values.json) {
      out(`import ${view.importId} reverted by ${revert.requestedBy}: ${planLine(revert)}`);
      for (const line of blockerLines(revert)) out(line);
    }
    return 0;
  });
}

/** `careos onboarding [complete|reopen]`: the Nana gate in front of Care Shop. */
async function cmdOnboarding(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { reason: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const action = positionals[0];
  if (action !== undefined && action !== 'complete' && action !== 'reopen') throw new ValidationError(`onboarding takes complete or reopen (got ${action})`);
  return withApp(async (app) => {
    const careos = new Careos(app);
    const actor = values.by ? operator(values.by) : localOperator();
    const view = action === undefined
      ? await careos.onboarding(actor)
      : await careos.markOnboarding(actor, { complete: action === 'complete', reason: values.reason ?? null });
    if (values.json) {
      out(JSON.stringify(view));
      return 0;
    }
    const last = view.marks[0];
    out(`Nana onboarding: ${view.complete ? 'complete' : 'open'}${last ? ` (${last.complete ? 'marked complete' : 'reopened'} by ${last.by} at ${last.at}${last.reason ? `: ${last.reason}` : ''})` : ' (never marked)'}`);
    out(view.careshopRefusal ?? 'Care Shop may be imported');
    return 0;
  });
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  import: cmdImport, resume: cmdResume, imports: cmdImports, errors: cmdErrors, profiles: cmdProfiles,
  relations: cmdRelations, stats: cmdStats, rebuild: cmdRebuild, db: cmdDb, users: cmdUsers, onboarding: cmdOnboarding,
  sync: cmdSync, careshop: cmdCareshop, history: cmdHistory, replay: cmdReplay, verify: cmdVerify, revert: cmdRevert,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
  try {
    return await run(args);
  } catch (error) {
    if (error instanceof FileRefused) {
      process.stderr.write(`refused: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ValidationError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {

      process.stderr.write(`careos: ${(error as Error).message}\n${USAGE}\n`);
      return 2;
    }
    // Refused requests (no such import, a user that exists, …) are the caller's to fix: exit 2.
    process.stderr.write(`careos: ${(error as Error).message}\n`);
    return error instanceof AppError && error.status < 500 ? 2 : 1;
  }
}
