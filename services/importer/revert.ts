// An admin's request to revert an import: RevertRequested, appended to the import's own stream
// after its rows (so the processor meets it after every one of them) and shown in the import log at
// once. The stream's revision is the guard: two requests made at once, or a request racing
// anything else appended to the import, cannot both land.
import { uuidV7 } from '../events/ids.ts';
import { checkEvent } from '../events/schemas.ts';
import { streams, type EventMetadata, type RevertRequestedData } from '../events/types.ts';
import { WrongExpectedRevision, type EventStore } from '../eventstore/types.ts';
import { Conflict, NotFound } from '../errors.ts';
import { appendAndLog } from './reader.ts';

export async function requestRevert(store: EventStore, request: { importId: string; reason: string; by: string }, now = new Date()): Promise<void> {
  const streamId = streams.import(request.importId);
  const revision = await store.streamRevision(streamId);
  if (revision === null) throw new NotFound(`no import ${request.importId} in the event store`);
  const data: RevertRequestedData = { importId: request.importId, reason: request.reason };
  const metadata: EventMetadata = { by: request.by, at: now.toISOString(), importId: request.importId, v: 1 };
  checkEvent('RevertRequested', data, metadata);
  try {
    await appendAndLog(store, { streamId, expectedRevision: revision, events: [{ id: uuidV7(now.getTime()), type: 'RevertRequested', data, metadata }] });
  } catch (error) {
    if (error instanceof WrongExpectedRevision) throw new Conflict(`import ${request.importId} changed while the revert was being asked for (another request came first): reload and try again`);
    throw error;
  }
}
