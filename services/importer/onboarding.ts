// The Nana gate (spec: "Care Shop must not be imported until Nana's profiles are completely
// imported"). An admin marks Nana onboarding complete, or reopens it with a reason: each mark is an
// OnboardingMarked event in the stream onboarding-nana, whose last event is the gate's state (a
// handful of events: read whole, never stale). Care Shop may be imported only while the last
// mark says complete and no Nana import is in progress.
import type pg from 'pg';
import { Conflict, ValidationError } from '../errors.ts';
import { checkActionEvent, toActionEvent } from '../events/schemas.ts';
import { eventId } from '../events/ids.ts';
import { streams, type ActionMetadata, type OnboardingMarkedData } from '../events/types.ts';
import type { EventStore } from '../eventstore/types.ts';
import { WrongExpectedRevision } from '../eventstore/types.ts';
import { importsInProgress } from '../../projections/import-log.ts';

export interface OnboardingMark {
  complete: boolean;
  reason: string | null;
  by: string;
  at: string;
}

export interface OnboardingState {
  source: 'nana';
  complete: boolean;
  /** Every mark, newest first. */
  marks: OnboardingMark[];
  /** Nana imports not finished yet (In progress). */
  nanaInProgress: { importId: string; fileName: string }[];
  /** Why Care Shop cannot be imported now; null when it can. */
  careshopRefusal: string | null;
}

const MAX_REASON = 500;

async function readMarks(store: EventStore): Promise<{ marks: OnboardingMark[]; revision: bigint | null }> {
  const events = await store.readStream(streams.onboarding('nana'));
  const marks = events.map((stored) => {
    const event = toActionEvent(stored);
    return { complete: event.data.complete, reason: event.data.reason, by: event.metadata.by, at: event.metadata.at };
  });
  return { marks: marks.reverse(), revision: events.length ? events[events.length - 1]!.revision : null };
}

async function nanaInProgress(db: pg.Pool): Promise<{ importId: string; fileName: string }[]> {
  return (await importsInProgress(db, { source: 'nana' })).map(({ importId, fileName }) => ({ importId, fileName }));
}

function refusal(complete: boolean, marks: readonly OnboardingMark[], running: readonly { importId: string; fileName: string }[]): string | null {
  if (!complete) {
    const last = marks[0];
    const reopened = last && !last.complete ? ` (reopened by ${last.by}: ${last.reason})` : '';
    return `Care Shop cannot be imported until Nana onboarding is marked complete${reopened}; an admin marks it on the import page or with careos onboarding complete`;
  }
  if (running.length) {
    const first = running[0]!;
    return `Care Shop cannot be imported while a Nana import is in progress (import ${first.importId}, ${first.fileName}${running.length > 1 ? `, and ${running.length - 1} more` : ''}); try again when it has finished`;
  }
  return null;
}

export async function onboardingState(store: EventStore, db: pg.Pool): Promise<OnboardingState> {
  const [{ marks }, running] = await Promise.all([readMarks(store), nanaInProgress(db)]);
  const complete = marks[0]?.complete ?? false;
  return { source: 'nana', complete, marks, nanaInProgress: running, careshopRefusal: refusal(complete, marks, running) };
}

/** Throws Conflict with the reason unless Care Shop may be imported now. */
export async function assertCareshopAllowed(store: EventStore, db: pg.Pool): Promise<void> {
  const state = await onboardingState(store, db);
  if (state.careshopRefusal) throw new Conflict(state.careshopRefusal);
}

/**
 * Marks Nana onboarding complete, or reopens it (a reason is required). Refused when it is already
 * in that state, and marking complete while a Nana import is in progress. Two admins at once: the
 * stream's expected revision lets one win; the other is told the state changed.
 */
export async function markOnboarding(
  store: EventStore, db: pg.Pool, input: { by: string; complete: boolean; reason?: string | null; now?: Date },
): Promise<OnboardingState> {
  const reason = input.reason?.trim() || null;
  if (!input.complete && reason === null) throw new ValidationError('a reason is required to reopen Nana onboarding');
  if (reason !== null && reason.length > MAX_REASON) throw new ValidationError(`the reason is longer than ${MAX_REASON} characters`);
  if (reason !== null && /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(reason)) throw new ValidationError('the reason holds a control character');
  if (reason !== null && !reason.isWellFormed()) throw new ValidationError('the reason holds half of a UTF-16 surrogate pair, which is not a character (send it as UTF-8 text)');
  const [{ marks, revision }, running] = await Promise.all([readMarks(store), nanaInProgress(db)]);
  const current = marks[0]?.complete ?? false;
  if (current === input.complete) {
    throw new Conflict(`Nana onboarding is already ${current ? 'marked complete' : 'open (not marked complete)'}`);
  }
  if (input.complete && running.length) {
    throw new Conflict(`Nana onboarding cannot be marked complete while a Nana import is in progress (import ${running[0]!.importId}, ${running[0]!.fileName})`);
  }
  const data: OnboardingMarkedData = { source: 'nana', complete: input.complete, reason };
  const metadata: ActionMetadata = { by: input.by, at: (input.now ?? new Date()).toISOString(), v: 1 };
  checkActionEvent('OnboardingMarked', data, metadata);
  const next = revision === null ? 0 : Number(revision) + 1;
  try {
    await store.append({
      streamId: streams.onboarding('nana'),
      expectedRevision: revision ?? 'no_stream',
      events: [{ id: eventId('onboarding-nana', next + 1, 'marked'), type: 'OnboardingMarked', data, metadata }],
    });
  } catch (error) {
    if (error instanceof WrongExpectedRevision) throw new Conflict('Nana onboarding was marked by someone else a moment ago; look again');
    throw error;
  }
  return onboardingState(store, db);
}
