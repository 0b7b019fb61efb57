// Steps a processor in process until an import is finished. "Nothing new to read" is not enough:
// $all shows only what is older than the oldest transaction running anywhere in the PostgreSQL
// cluster, so another test file's open transaction can hide the last rows for a moment.
import type pg from 'pg';
import { getImport } from '../../projections/import-log.ts';
import type { Processor } from '../../services/processor/run.ts';

/** Returns how many steps moved; a step's error goes to onError (or is thrown). */
export async function stepUntilFinished(
  processor: Processor, pool: pg.Pool, importId: string, onError?: (error: Error) => void, timeoutMs = 120_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let steps = 0;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`import ${importId} did not finish in ${timeoutMs} ms`);
    let moved: boolean;
    try {
      moved = await processor.step();
    } catch (error) {
      if (!onError) throw error;
      onError(error as Error);
      continue;
    }
    if (moved) {
      steps++;
      continue;
    }
    // Not in the import log yet (its ImportStarted not projected) is not finished either.
    const status = (await getImport(pool, importId))?.status;
    if (status !== undefined && status !== 'In progress') return steps;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
