// `npm start`: the importer service — HTTP API + engine (processor, projections, resumed imports).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config.ts';
import { Engine, openApp } from '../app.ts';
import { createHttpApp, parseTokens } from './http.ts';

const config = loadConfig();
const app = await openApp(config);
let spec = process.env.CAREOS_API_TOKENS ?? '';
if (!spec) {
  // First run on the embedded default: one admin token, kept in the data directory.
  const file = path.join(config.dataDir, 'admin-token');
  if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(24).toString('base64url'), { mode: 0o600 });
  spec = `${fs.readFileSync(file, 'utf8').trim()}=admin:admin`;
  console.log(`careos: no CAREOS_API_TOKENS set; admin token is in ${file}`);
}
const engine = new Engine(app);
engine.start();
const server = createHttpApp(app, parseTokens(spec)).listen(config.port, () => {
  console.log(`careos: importer listening on http://localhost:${config.port} (events in ${app.store.kind})`);
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`careos: ${signal}, stopping`);
  server.close();
  await engine.stop();
  await app.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
