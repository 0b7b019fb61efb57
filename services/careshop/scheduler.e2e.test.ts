// The scheduled Care Shop sync on a real `npm start` server: each tick that finds the Nana gate
// closed is logged and skipped; once it is marked complete a tick starts a sync as "scheduler";
// a malformed CARESHOP_SYNC_CRON stops the server at start with a one-line error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestServer, type TestServer } from '../../test/support/server.ts';

let server: TestServer | undefined;

test.after(async () => {
  await server?.stop();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${server?.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('scheduler › ticks behind the Nana gate are logged and skipped; once it is marked complete a tick syncs as "scheduler"', async () => {
  server = await startTestServer({ CARESHOP_SYNC_CRON: '*/2 * * * * *' });
  const s = server;
  assert.match(s.output(), /Care Shop sync scheduled: \*\/2 \* \* \* \* \*/);
  await s.shop.pool.query("insert into customer (customer_id, firstname, lastname, mobile_phone) values ('CS-7001', 'Suda', 'Jaidee', '0891112222')");
  await until('a skipped tick', async () => (/scheduled Care Shop sync not started: Care Shop cannot be imported until Nana onboarding is marked complete/.test(s.output()) ? true : undefined));
  const headers = { authorization: `Bearer ${s.tokens.admin}` };
  const marked = await fetch(`${s.url}/api/onboarding/nana`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"complete":true}' });
  assert.is(marked.status, 200);
  const sync = await until('a scheduled sync that finished', async () => {
    const imports = await (await fetch(`${s.url}/api/imports`, { headers })).json() as { source: string; importedBy: string; status: string; importedRows: number }[];
    return imports.find((i) => i.source === 'careshop' && i.status !== 'In progress');
  });
  assert.equal([sync.importedBy, sync.status, sync.importedRows], ['scheduler', 'Success', 1]);
});

test('scheduler › a malformed CARESHOP_SYNC_CRON stops the server at start with a one-line error', async () => {
  try {
    const started = await startTestServer({ CARESHOP_SYNC_CRON: 'every night' });
    await started.stop();
    assert.unreachable('the server started');
  } catch (error) {
    assert.match((error as Error).message, /CARESHOP_SYNC_CRON "every night" is not a cron schedule/);
  }
});

test.run();
