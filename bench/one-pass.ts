// A measurement, not product code: the floor of a one-pass import (README "Benchmark", issue 12).
// One thread reads the file, checks, decides each batch (the processor's own pure functions) and
// commits the batch's RowReceived, its outcome, the read models and the import's progress in one
// transaction, with the processor's checkpoint moved past it. No worker threads, nothing read
// back, no pipelining between batches, and none of the product's guarantees beyond one Nana import
// alone in a data directory where no `careos` process runs (no check for other input, no crash
// recovery). With `full`, `careos verify` afterwards finds the read models as a rebuild makes them.
//
//   CAREOS_DATA_DIR=/tmp/one-pass node bin/careos.js import --source careos bench/tmp/careos-baseline-1000000.csv
//   CAREOS_DATA_DIR=/tmp/one-pass node --import tsx bench/one-pass.ts bench/tmp/nana-1000000.csv [outcome]
//
// `outcome`: full (default), lean (ProfileCreated stored without the profile's fields; the read
// models still get them) or none (no outcome event stored): what storing less per row would buy.
// Prints wall time, this process's CPU and PostgreSQL's (embedded server only), and the counts.
// The decision state is loaded as the processor loads it (loadDecisionState).
import path from 'node:path';
import { loadConfig } from '../services/config.ts';
import { openApp } from '../services/app.ts';
import { startImport } from '../services/importer/reader.ts';
import { rowSource } from '../services/importer/row-source.ts';
import { recordKeys, storedRowReceived } from '../services/events/row-received.ts';
import { checkEvent, toImporterEvent } from '../services/events/schemas.ts';
import { eventId } from '../services/events/ids.ts';
import { streams, type EventMetadata, type ImportStartedData, type ImporterEvent } from '../services/events/types.ts';
import { checkRow } from '../services/processor/decide.ts';
import { decideBatch, lookupKeysOf, type ImportProgress } from '../services/processor/batch.ts';
import { checkedOutcome, loadDecisionState } from '../services/processor/run.ts';
import { moveCheckpoint, readCheckpoint, writeProgress } from '../services/processor/processor-store.ts';
import { PROJECTIONS } from '../projections/runner.ts';
import { postgresCpuSeconds } from './run.ts';
import type { PositionedEvent } from '../projections/types.ts';
import type { NewEvent, StreamAppend } from '../services/eventstore/types.ts';

const [file, outcomeMode = 'full'] = process.argv.slice(2);
if (!file || !['full', 'lean', 'none'].includes(outcomeMode)) {
  console.error('usage: node --import tsx bench/one-pass.ts FILE [full|lean|none]');
  process.exit(2);
}
const config = loadConfig();
const app = await openApp(config);

// PostgreSQL's CPU is measured for the embedded server only (null with DATABASE_URL).
const postgresCpu = () => (config.databaseUrl ? null : postgresCpuSeconds(config.dataDir));
const started = { wall: performance.now(), cpu: process.cpuUsage(), postgres: postgresCpu() };
const importId = await startImport(app.store, { filePath: file, fileName: path.basename(file), source: 'nana', by: 'one-pass' }, app.readerOptions, app.pool);
const [first] = await app.store.readStream(streams.import(importId), { maxCount: 1 });
const { data: startData, metadata: startMetadata } = toImporterEvent(first!) as { data: ImportStartedData; metadata: EventMetadata };
const keys = recordKeys(startData.columns);
const progress = new Map<string, ImportProgress>([[importId, {
  importId, source: 'nana', startedBy: 'one-pass', totalRows: null, processedRows: 0, importedRows: 0, rejectedRows: 0, skippedRows: 0, completed: false,
}]]);
let { checkpoint, lastOutput } = await readCheckpoint(app.pool);
let revision = 0n;
let outcomeRevision: bigint | 'no_stream' = 'no_stream';
let row = 0;
let stored: NewEvent[] = [];
let received: ImporterEvent[] = [];

function storedForm(event: NewEvent): NewEvent {
  if (outcomeMode !== 'lean' || event.type !== 'ProfileCreated') return event;
  const { careosId, source, importId: of, row: at } = event.data as { careosId: string; source: string; importId: string; row: number };
  return { ...event, data: { careosId, source, importId: of, row: at } };
}

async function commitBatch(): Promise<void> {
  if (!stored.length) return;
  const checked = received.filter((e) => e.type === 'RowReceived').map((e) => checkRow(e as Extract<ImporterEvent, { type: 'RowReceived' }>));
  const input = { events: received, checked };
  const state = await loadDecisionState(app.pool, lookupKeysOf(input));
  const decision = decideBatch(input, progress, state);
  for (const p of decision.progress) progress.set(p.importId, p);
  const outcome = checkedOutcome(decision.outcomes.get(importId) ?? []);
  const written = outcomeMode === 'none' ? [] : outcome.map(storedForm);
  const appends: StreamAppend[] = [{ streamId: streams.import(importId), expectedRevision: revision, events: stored, withPositions: true }];
  if (written.length) appends.push({ streamId: streams.outcome(importId), expectedRevision: outcomeRevision, events: written, withPositions: true });
  await app.store.appendMany(appends, async (client, results) => {
    revision = results[0]!.nextExpectedRevision;
    if (written.length) outcomeRevision = results[1]!.nextExpectedRevision;
    // The read models get the whole events, at the positions stored (the batch's last when none is).
    const events: PositionedEvent[] = [];
    stored.forEach((e, i) => {
      if (e.type !== 'RowReceived') events.push({ type: e.type, data: e.data, metadata: e.metadata, position: results[0]!.positions![i]! } as PositionedEvent);
    });
    outcome.forEach((e, i) => {
      events.push({ type: e.type, data: e.data, metadata: e.metadata, position: written.length ? results[1]!.positions![i]! : results[0]!.position } as PositionedEvent);
    });
    for (const projection of PROJECTIONS) {
      const mine = events.filter((e) => projection.handles.includes(e.type));
      if (mine.length) await projection.apply(client, mine);
    }
    await writeProgress(client, decision.progress.map((p) => ({ ...p, outcomeRevision: outcomeRevision === 'no_stream' ? null : outcomeRevision })));
    const next = results[0]!.position;
    if (written.length) lastOutput = results[1]!.position;
    await moveCheckpoint(client, checkpoint, next, lastOutput);
    checkpoint = next;
  });
  stored = [];
  received = [];
}

const rows = rowSource(startData.origin, startData.columns, { dataDir: config.dataDir, careshop: null, startedAt: startMetadata.at, pool: app.pool });
let at = new Date().toISOString();
for await (const record of rows.rows(0, null)) {
  row++;
  if (!stored.length) at = new Date().toISOString();
  const data = storedRowReceived(importId, 'nana', row, record, keys);
  const metadata: EventMetadata = { by: 'one-pass', at, importId, row, v: 2 };
  checkEvent('RowReceived', data, metadata);
  stored.push({ id: eventId(importId, row, 'received'), type: 'RowReceived', data, metadata });
  received.push({ type: 'RowReceived', data: { importId, source: 'nana', row, record }, metadata });
  if (stored.length >= config.readBatchRows) await commitBatch();
}
const fileRead = { importId, totalRows: row };
const fileReadMetadata: EventMetadata = { by: 'one-pass', at: new Date().toISOString(), importId, v: 1 };
stored.push({ id: eventId(importId, 0, 'file-read'), type: 'ImportFileRead', data: fileRead, metadata: fileReadMetadata });
received.push({ type: 'ImportFileRead', data: fileRead, metadata: fileReadMetadata });
await commitBatch();

const cpu = process.cpuUsage(started.cpu);
console.log(JSON.stringify({
  outcome: outcomeMode, rows: row, wallSeconds: (performance.now() - started.wall) / 1000, nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
  postgresCpuSeconds: started.postgres === null ? null : postgresCpu()! - started.postgres, progress: progress.get(importId),
}));
await app.close();
