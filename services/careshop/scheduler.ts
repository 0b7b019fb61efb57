// The scheduled Care Shop sync (CARESHOP_SYNC_CRON, off when unset): the server starts a sync on
// a node-cron schedule, in Bangkok time, as "scheduler". A sync that cannot start (the Nana gate,
// another sync in progress in any process, the shop unreachable) is logged and skipped; the next
// tick tries again. noOverlap: a tick never starts while the previous one is still reading.
// With two servers on one database, every server keeps the schedule but only the one whose engine
// leads runs a tick (`leads`): the sync runs once, and goes on with the server that takes over.
import cron, { type ScheduledTask } from 'node-cron';
import type { Careos } from '../api/careos.ts';
import { operator } from '../api/careos.ts';

export const SCHEDULER = 'scheduler';
export const SCHEDULE_TIMEZONE = 'Asia/Bangkok';

export function checkSchedule(expression: string): void {
  if (!cron.validate(expression)) {
    throw new Error(`CARESHOP_SYNC_CRON "${expression}" is not a cron schedule (e.g. "0 2 * * *": every day at 02:00 Bangkok time)`);
  }
}

export function scheduleCareshopSync(
  careos: Careos, expression: string, log: (line: string) => void = console.log, leads: () => boolean = () => true,
): ScheduledTask {
  checkSchedule(expression);
  return cron.schedule(expression, async () => {
    if (!leads()) return; // another server leads: its tick runs the sync
    try {
      const { importId, read } = await careos.syncCareshop(operator(SCHEDULER));
      log(`careos: scheduled Care Shop sync ${importId} started`);
      await read;
    } catch (error) {
      log(`careos: scheduled Care Shop sync not started: ${(error as Error).message}`);
    }
  }, { timezone: SCHEDULE_TIMEZONE, noOverlap: true, name: 'careshop-sync' });
}
