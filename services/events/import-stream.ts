// Reading an import's own stream: its RowReceived v2 events are read with the columns of its
// ImportStarted (revision 0), see row-received.ts.
import type { EventStore } from '../eventstore/types.ts';
import { needsColumns, toImporterEvent } from './schemas.ts';
import { recordKeys } from './row-received.ts';
import { streams, type ImporterEvent } from './types.ts';

/** The record keys of an import's rows (its ImportStarted's columns, lower-cased); null when it has no ImportStarted. */
export async function importRecordKeys(store: EventStore, importId: string): Promise<string[] | null> {
  const [started] = await store.readStream(streams.import(importId), { maxCount: 1 });
  if (!started || started.type !== 'ImportStarted') return null;
  const event = toImporterEvent(started);
  return event.type === 'ImportStarted' ? recordKeys(event.data.columns) : null;
}

/**
 * Events read from an import's own stream, anywhere in it: RowReceived v2 values are read with the
 * import's columns, which are read from its ImportStarted only when one of them needs them.
 */
export async function readImportEvents(
  store: EventStore, importId: string, stored: readonly { type: string; data: unknown; metadata: unknown }[],
): Promise<ImporterEvent[]> {
  const keys = stored.some(needsColumns) ? (await importRecordKeys(store, importId)) ?? undefined : undefined;
  return stored.map((event) => toImporterEvent(event, keys));
}

/** Events of an import's stream read from its start (ImportStarted first), each RowReceived with the import's columns. */
export function importStreamEvents(stored: readonly { type: string; data: unknown; metadata: unknown }[]): ImporterEvent[] {
  let keys: string[] | undefined;
  return stored.map((e) => {
    const event = toImporterEvent(e, keys);
    if (event.type === 'ImportStarted') keys = recordKeys(event.data.columns);
    return event;
  });
}
