// The EventStoreDB adapter against the shared contract. Needs a running EventStoreDB
// (e.g. `docker compose up eventstore`) named by EVENTSTORE_URL; without it the suite is skipped.
// Streams get unique names, so one long-lived server serves every run.
import { createTestDatabase } from '../../test/support/db.ts';
import { eventStoreContract } from './contract.ts';
import { EventStoreDbStore } from './eventstoredb.ts';

const url = process.env.EVENTSTORE_URL;

if (!url) {
  process.stderr.write('SKIPPED: EventStoreDB contract suite (set EVENTSTORE_URL=esdb://localhost:2113?tls=false to run it)\n');
  // test/run.ts counts this exit code as a skipped file, never as a pass.
  process.exitCode = 77;
} else {
  eventStoreContract('eventstoredb', async () => {
    const db = await createTestDatabase();
    const store = new EventStoreDbStore(url, db.pool);
    return {
      store,
      pool: db.pool,
      async cleanup() {
        await store.close();
        await db.drop();
      },
    };
  }).run();
}
