// An in-process importer on a fresh test database, for integration tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine, importFile, openApp, readFile, waitForImport, type App } from '../../services/app.ts';
import { loadConfig, type Config } from '../../services/config.ts';
import type { SourceName } from '../../services/events/types.ts';
import type { ImportView } from '../../projections/import-log.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export interface TestApp {
  app: App;
  db: TestDatabase;
  run(filePath: string, source: SourceName, by?: string): Promise<ImportView>;
  close(): Promise<void>;
}

export async function openTestApp(options: Partial<Config> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'careos-app-'));
  const config: Config = {
    databaseUrl: db.url, eventstoreUrl: undefined, dataDir, maxFileBytes: 512 * 1024 * 1024,
    readBatchRows: 5000, processBatchRows: 5000, threadHeapMb: 192, pgSharedBuffersMb: 128, port: 0, publicUrl: undefined, sessionIdleMinutes: 30,
    careshop: loadConfig({}).careshop, http: loadConfig({}).http, engineNice: 0, maxReaders: 2, ...options,
  };
  const app = await openApp(config);
  const engine = new Engine(app);
  engine.start();
  return {
    app,
    db,
    async run(filePath, source, by = 'tester') {
      const importId = await importFile(app, { filePath, fileName: path.basename(filePath), source, by });
      await readFile(app, importId);
      return waitForImport(app, importId, 5);
    },
    async close() {
      await engine.stop();
      await app.close();
      await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
