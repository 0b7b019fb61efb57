// `npm start` (and `npm run dev`): one process serves the console, the HTTP API (/api) and the
// engine (processor, projections, resumed imports) on PORT.
//
// Start: configuration and API tokens are checked before anything starts; the console is built
// when its build is missing or stale; the port is bound (a port in use is a one-line error, exit
// 1); the first admin is created when there is no user. Stop (Ctrl-C, SIGTERM): the server stops
// taking requests, the engine stops its threads, and the embedded PostgreSQL this command uses
// is stopped too unless another careos process (a CLI import, a second server) is still connected.
import http from 'node:http';
import pg from 'pg';
import express from 'express';
import { loadConfig } from '../config.ts';
import { log, logFormat, requestContext } from '../log.ts';
import { createRequestPool } from '../db/pool.ts';
import { frontDoor, keepRunningOnStrayErrors, type FrontState } from './front.ts';
import { Readiness, bannerOf } from './readiness.ts';
import { registerServerMetrics } from './server-metrics.ts';
import { stopEmbedded } from '../db/embedded.ts';
import { superviseDatabase } from '../db/supervisor.ts';
import { setNotifier } from '../notify.ts';
import { Engine, openApp } from '../app.ts';
import { Careos } from '../api/careos.ts';
import { consoleService, provideConsoleContext } from '../api/context.ts';
import { ensureFirstAdmin } from '../auth/users.ts';
import { DEFAULT_SESSION_POLICY } from '../auth/sessions.ts';
import { answerClientError, createHttpApp, lastErrorHandler, loadTokens } from './http.ts';
import { CONSOLE_DIR, BUILD_DIR, ensureConsoleBuildAsync } from './console-build.ts';
import { checkSchedule, scheduleCareshopSync } from '../careshop/scheduler.ts';
import { ensureDemo } from '../careshop/shop.ts';

const dev = process.argv.includes('--dev');
// Who started this process, read before anything else: read after start-up (as it was), a starter
// killed just after the server said it listens, before the next line ran, left ppid already 1 and
// the orphaned server running on (seen under load in the lifecycle test).
const startedBy = process.ppid;

/** A start that cannot go on: one plain line on stderr for the person who started it, exit 1. */
function fail(message: string): never {
  console.error(`careos: ${message}`);
  process.exit(1);
}

// One request's failure, or a stray rejection, is logged and the server runs on (front.ts).
keepRunningOnStrayErrors();

// Signals are ours from the first moment. Without a handler a SIGTERM kills the process outright
// (a test that stopped the server right after it said it was up saw that 1 time in 6); one that
// comes while starting stops the server as soon as it is up.
let stopServer: ((signal: string) => Promise<void>) | null = null;
let stopRequested: string | null = null;
function onSignal(signal: string): void {
  if (stopServer) void stopServer(signal);
  else stopRequested ??= signal;
}
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('SIGINT', () => onSignal('SIGINT'));

let config: ReturnType<typeof loadConfig>;
let tokens: Awaited<ReturnType<typeof loadTokens>>;
try {
  logFormat();
  config = loadConfig();
  tokens = loadTokens(process.env);
  if (config.careshop.syncCron) checkSchedule(config.careshop.syncCron);
} catch (error) {
  fail((error as Error).message);
}

// The port is open, with its listener, before anything slow happens: a request that comes while
// the console builds or PostgreSQL starts is answered at once ("starting", 503, Retry-After).
const state: FrontState = { phase: 'starting', step: dev ? 'starting PostgreSQL' : 'checking the console build' };
let ready: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | null = null;
const server = http.createServer({
  // Slow clients are cut off: headers within headersTimeout (checked every second), the whole
  // request within requestTimeout, and a connection on which nothing moves for idleTimeout.
  headersTimeout: config.http.headersTimeoutMs,
  requestTimeout: Math.max(config.http.requestTimeoutMs, config.http.headersTimeoutMs),
  connectionsCheckingInterval: 1000,
}, frontDoor(state, () => ready));
server.setTimeout(config.http.idleTimeoutMs);
server.on('clientError', answerClientError);
await new Promise<void>((resolve) => {
  server.once('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') fail(`port ${config.port} is already in use (another careos server?); set PORT to another port`);
    if (error.code === 'EACCES') fail(`port ${config.port} needs privileges this user does not have; set PORT above 1024`);
    fail(`cannot listen on port ${config.port}: ${error.message}`);
  });
  server.listen(config.port, resolve);
});
log.info(`listening on port ${config.port}; starting`);

if (!dev) {
  try {
    await ensureConsoleBuildAsync((line) => {
      state.step = 'building the console';
      log.info(line.replace(/^careos: /, ''));
    });
  } catch (error) {
    fail((error as Error).message);
  }
}

state.step = config.databaseUrl ? 'connecting to PostgreSQL' : 'starting the embedded PostgreSQL';
let app: Awaited<ReturnType<typeof openApp>>;
try {
  app = await openApp(config);
} catch (error) {
  fail(`cannot open the database: ${(error as Error).message.split('\n')[0]}`);
}
state.step = 'preparing the service';
// The embedded PostgreSQL is supervised from here on: started again when it dies, unless stopped
// on purpose (services/db/supervisor.ts); with DATABASE_URL there is nothing to supervise.
// database.status() is what readiness, the console's banner and metrics show.
setNotifier((level, message) => log[level](message));
const database = superviseDatabase(config);
// Requests use a pool of their own, with statement and connection timeouts (db/pool.ts): a frozen
// PostgreSQL gives a 503 in seconds. The engine keeps the app's pool (a rebuild's statements are long).
const requestPool = createRequestPool(app.databaseUrl, config.http.statementTimeoutMs);
const careos = new Careos({ ...app, pool: requestPool }, { ...DEFAULT_SESSION_POLICY, idleMinutes: config.sessionIdleMinutes });
const firstAdmin = await ensureFirstAdmin(app.pool);
if (firstAdmin) log.warn(firstAdmin);
let banner: string | null = null;
provideConsoleContext({
  careos: consoleService(careos),
  secureCookies: config.publicUrl?.startsWith('https:') ?? false,
  noteUser: (userId) => {
    const context = requestContext();
    if (context) context.userId = userId;
  },
  banner: () => banner,
});

// The embedded default's demo Care Shop database is there from the first start (careos careshop seed fills it).
if (app.readerOptions.careshop?.demo) {
  await ensureDemo(app.readerOptions.careshop, app.databaseUrl).catch((error) => log.error(`the demo Care Shop database: ${(error as Error).message}`));
}

const engine = new Engine(app, {
  onError: (where, error) => log.error({ where, err: error }, `${where}: ${(error as Error)?.message ?? error}`),
  onNotice: (message) => log.warn(message),
});
engine.start();
careos.attachEngine(engine);
const schedule = config.careshop.syncCron ? scheduleCareshopSync(careos, config.careshop.syncCron, (line) => log.info(line.replace(/^careos: /, '')), () => engine.role === 'leading') : null;
if (schedule) log.info(`Care Shop sync scheduled: ${config.careshop.syncCron} (Bangkok time)`);

const readiness = new Readiness({ pool: requestPool, engine, consoleBuilt: true });
readiness.add('embeddedPostgres', () => {
  const status = database.status();
  return { ok: status.state === 'up' || status.state === 'external', detail: status.reason };
});
readiness.add('disk', () => {
  const full = database.status().diskFull;
  return full ? { ok: false, detail: `disk full: ${full.where}: ${full.detail}` } : { ok: true, detail: 'room to write' };
});
// Every page's banner follows readiness, kept fresh here so that a page load costs no query for it.
const watch = setInterval(() => {
  readiness.report().then((report) => {
    const was = banner;
    banner = bannerOf(report);
    if (banner !== was) (banner ? log.warn({ readiness: report }, `not ready: ${report.waitingFor}`) : log.info('ready again'));
  }, () => undefined);
}, 2000);
watch.unref();
registerServerMetrics({ app, requestPool, engine, database });
const api = createHttpApp(careos, tokens, { readiness, scrapeToken: process.env.CAREOS_METRICS_TOKEN });
let consoleHandler: express.RequestHandler;
let closeDev: (() => Promise<void>) | undefined;
if (dev) {
  // SvelteKit's Vite plugin finds svelte.config.js and src/ from the working directory (read once,
  // when it loads), so the dev server runs from console/. Everything of ours that is a path was
  // made absolute above (data directory, build paths).
  process.chdir(CONSOLE_DIR);
  const { createServer } = await import('vite');
  const vite = await createServer({ root: CONSOLE_DIR, configFile: `${CONSOLE_DIR}/vite.config.ts`, server: { middlewareMode: true, hmr: { server } }, appType: 'custom' });
  consoleHandler = vite.middlewares as unknown as express.RequestHandler;
  closeDev = () => vite.close();
} else {
  // adapter-node takes the page's origin (SvelteKit's CSRF check of form actions compares it with
  // the Origin header) from a protocol header, else assumes https. Express knows the request's
  // protocol, so it sets that header itself, overwriting whatever the client sent.
  process.env.PROTOCOL_HEADER = 'x-careos-protocol';
  const { handler } = (await import(`${BUILD_DIR}/handler.js`)) as { handler: (...args: Parameters<express.RequestHandler>) => unknown };
  consoleHandler = (req, res, next) => {
    req.headers['x-careos-protocol'] = req.protocol;
    // The handler's promise: a rejection (an error SvelteKit did not turn into a page) is this
    // request's error, answered by the last error handler, never an unhandled rejection.
    Promise.resolve(handler(req, res, next)).catch(next);
  };
}
api.use(consoleHandler);
api.use(lastErrorHandler);
ready = api as unknown as typeof ready;
state.phase = 'ready';
state.step = 'ready';
log.info(`console and API on http://localhost:${config.port}${dev ? ' (dev, hot reload)' : ''}; events in ${app.store.kind}`);

/** Other careos processes still connected to our PostgreSQL (after ours closed its connections). */
async function othersConnected(): Promise<number> {
  const client = new pg.Client({ connectionString: app.databaseUrl, application_name: 'careos-shutdown' });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name = 'careos-importer'");
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  state.phase = 'stopping';
  clearInterval(watch);
  await database.stop(); // first: a stopping server never starts PostgreSQL again
  log.info(`${signal}: stopping (requests, engine threads${config.databaseUrl ? '' : ', then the embedded PostgreSQL unless another careos process uses it'})`);
  server.close();
  server.closeAllConnections();
  await schedule?.stop();
  await closeDev?.();
  await engine.stop();
  await app.close();
  await requestPool.end().catch(() => undefined);
  if (!config.databaseUrl) {
    const others = await othersConnected().catch(() => 0);
    if (others) log.info(`left the embedded PostgreSQL running: ${others} connection(s) of another careos process use it (careos db stop stops it)`);
    else if (await stopEmbedded(config.dataDir, `the server's shutdown (${signal})`)) log.info('embedded PostgreSQL stopped');
  }
  process.exit(0);
}
// For a server started by another program (the tests): when that program is gone (killed
// without a chance to stop us), stop too instead of running on as an orphan.
if (process.env.CAREOS_STOP_WITH_PARENT) {
  setInterval(() => {
    if (process.ppid !== startedBy) void shutdown('the process that started this server is gone');
  }, 1000).unref();
}
stopServer = shutdown;
if (stopRequested) void shutdown(stopRequested);
