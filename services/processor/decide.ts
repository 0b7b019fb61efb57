// The processor's pure core: a received row and the state before it → the row's decision.
import type { RowReason, RowRef, SourceName } from '../events/types.ts';
import { eventId } from '../events/ids.ts';
import { REPLAY_COLUMN, parseReplayRef } from '../../schemas/api.ts';
import { careos } from './careos.ts';
import { careshop } from './careshop.ts';
import { nana } from './nana.ts';
import { bangkokDate, outcomeMetadata, rejected, type Checked, type ReceivedRow, type RowDecision, type SourceRules } from './rules.ts';
import type { DecisionState } from './state.ts';
import { head, shownValue, unstorableReasons } from './storable.ts';

export const RULES: Record<SourceName, SourceRules<unknown>> = {
  nana: nana as SourceRules<unknown>,
  careos: careos as SourceRules<unknown>,
  careshop: careshop as SourceRules<unknown>,
};

export function rulesFor(source: string): SourceRules<unknown> {
  const rules = RULES[source as SourceName];
  if (!rules) throw new Error(`no rules for source "${source}"`);
  return rules;
}

/** A record that could not be parsed at all (`_unparsable`, `_raw`: row-source.ts). */
function unparsableReasons(record: Record<string, string>): RowReason[] {
  const raw = (record._raw ?? '').replace(/\r?\n$/, '');
  const shown = raw.length > 300 ? `${head(raw, 300)}…` : raw; // not cut inside a surrogate pair
  return [{
    field: 'row', code: 'unparsable',
    message: `row is not valid CSV (${record._unparsable}); as written: ${JSON.stringify(shown)} (quote values that hold commas, quotes or line breaks, doubling the quotes inside)`,
  }];
}

/** A stored row the intake could not read (`_unreadable`, `_raw`: intake.ts readInput). */
function unreadableReasons(record: Record<string, string>): RowReason[] {
  return [{
    field: 'row', code: 'unreadable',
    message: `row as stored cannot be read (${head(record._unreadable ?? '', 300)}); as stored: ${shownValue(record._raw ?? '', 0, 200)}`,
  }];
}

/** A record whose shape does not fit the header: too few or too many values. */
function shapeReasons(record: Record<string, string>, rules: SourceRules<unknown>): RowReason[] {
  const reasons: RowReason[] = [];
  const extra = Object.keys(record).filter((key) => key.startsWith('_extra'));
  if (extra.length) {
    reasons.push({ field: 'row', code: 'extra-values', message: `row has ${extra.length} value(s) more than the header has columns (quote values that contain commas)` });
  }
  for (const column of rules.columns) {
    if (column.requiredInHeader && record[column.name] === undefined) {
      reasons.push({ field: column.name, code: 'missing-value', message: `row ends before column ${column.name}: it has fewer values than the header` });
    }
  }
  return reasons;
}

/**
 * Stateless half of a decision (field validation); may run anywhere, e.g. in a worker thread. A
 * value PostgreSQL cannot store (storable.ts) rejects the row whatever the source, before its
 * rules read it: they would carry it into the read models. The row still gets every other reason.
 */
export function checkRow(received: ReceivedRow): Checked<unknown> {
  const rules = rulesFor(received.data.source);
  const { record } = received.data;
  if (record._unparsable !== undefined) return { ok: false, reasons: unparsableReasons(record) };
  if (record._unreadable !== undefined) return { ok: false, reasons: unreadableReasons(record) };
  const unstorable = unstorableReasons(record);
  const shape = shapeReasons(record, rules);
  if (unstorable === null && shape.length === 0) return rules.check(record, bangkokDate(received.metadata.at));
  if (unstorable === null) return { ok: false, reasons: shape };
  // The other fields' reasons too, the unstorable values read as empty (their rules would only
  // repeat the problem, or scan a value of megabytes).
  const reasons = [...unstorable, ...shape];
  if (shape.length === 0) {
    const flagged = new Set(unstorable.map((reason) => reason.field));
    const rest: Record<string, string> = {};
    for (const key in record) rest[key] = flagged.has(key) ? '' : record[key]!;
    const checked = rules.check(rest, bangkokDate(received.metadata.at));
    if (!checked.ok) for (const reason of checked.reasons) if (!flagged.has(reason.field)) reasons.push(reason);
  }
  return { ok: false, reasons };
}

/** The rejected row a replayed row names in `_replay_of`: absent, malformed, or a reference. */
export function replayOf(record: Record<string, string>): RowRef | 'malformed' | null {
  const text = record[REPLAY_COLUMN];
  if (text === undefined || text.trim() === '') return null;
  return parseReplayRef(text) ?? 'malformed';
}

function replayReason(message: string): RowReason[] {
  return [{ field: REPLAY_COLUMN, code: 'invalid-replay', message }];
}

/**
 * Stateful half: decides a checked row against everything decided before it. A replayed row (one
 * naming a rejected row in `_replay_of`, as the error file writes it) must name an open rejected
 * row of the same source; accepted, it resolves that row (ErrorResolved), rejected again, it links
 * to it. Then the source's rules.
 */
export function decideRow(received: ReceivedRow, checked: Checked<unknown>, state: DecisionState): RowDecision {
  const ref = replayOf(received.data.record);
  if (ref === null) return decideFresh(received, checked, state);
  const shown = JSON.stringify(received.data.record[REPLAY_COLUMN]);
  if (ref === 'malformed') {
    return rejected(received, replayReason(`${REPLAY_COLUMN} ${shown} is not a rejected row as the error file names it (import id:row, e.g. 0190a1b2-…:17); leave it as downloaded, or empty for a new row`));
  }
  const hit = state.rejection(ref.importId, ref.row);
  if (!hit) return rejected(received, replayReason(`${REPLAY_COLUMN} ${shown}: row ${ref.row} of import ${ref.importId} was not rejected, so there is nothing to replay`));
  if (hit.source !== received.data.source) {
    return rejected(received, replayReason(`${REPLAY_COLUMN} ${shown} is a rejected row of a ${RULES[hit.source as SourceName]?.label ?? hit.source} import; replay it with that source`));
  }
  if (hit.reverted) {
    return rejected(received, replayReason(`${REPLAY_COLUMN} ${shown}: the import of that row was reverted, so its rows are not replayed; leave ${REPLAY_COLUMN} empty to import the row as a new one`));
  }
  const root = hit.root;
  const fixed = (state.rejection(root.importId, root.row) ?? hit).resolvedBy;
  if (fixed) {
    return rejected(received, replayReason(`${REPLAY_COLUMN} ${shown} was already fixed by row ${fixed.row} of import ${fixed.importId}`));
  }
  const decision = decideFresh(received, checked, state);
  if (decision.outcome === 'rejected') {
    for (const { event } of decision.events) if (event.type === 'RowRejected') event.data.replayOf = root;
    return decision;
  }
  const { importId, source, row } = received.data;
  decision.events.push({
    id: eventId(importId, row, 'resolves'),
    event: { type: 'ErrorResolved', data: { importId, source, row, resolves: root }, metadata: outcomeMetadata(received) },
  });
  return decision;
}

/**
 * A row's own decision. For a source with a history log, a record already in it is skipped
 * before anything else (valid or not), and a rejected record enters the history too.
 */
function decideFresh(received: ReceivedRow, checked: Checked<unknown>, state: DecisionState): RowDecision {
  const rules = rulesFor(received.data.source);
  const history = rules.history;
  const key = history ? history.key(received.data.record) : null;
  if (history && key !== null) {
    const entry = state.synced(received.data.source, key);
    if (entry) return history.skip(received, key, entry);
  }
  if (!checked.ok) {
    const decision = rejected(received, checked.reasons);
    if (history && key !== null) decision.events.push(...history.rejected(received, key));
    return decision;
  }
  return rules.decide(checked.value, received, state);
}
