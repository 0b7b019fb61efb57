// The processor's pure core: a received row and the state before it → the row's decision.
import type { RowReason, SourceName } from '../events/types.ts';
import { careos } from './careos.ts';
import { careshop } from './careshop.ts';
import { nana } from './nana.ts';
import { bangkokDate, rejected, type Checked, type ReceivedRow, type RowDecision, type SourceRules } from './rules.ts';
import type { DecisionState } from './state.ts';

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

/** A record whose shape does not fit the header: unparsable, too few or too many values. */
function shapeReasons(record: Record<string, string>, rules: SourceRules<unknown>): RowReason[] {
  if (record._unparsable !== undefined) {
    const raw = (record._raw ?? '').replace(/\r?\n$/, '');
    const shown = raw.length > 300 ? `${raw.slice(0, 300)}…` : raw;
    return [{
      field: 'row', code: 'unparsable',
      message: `row is not valid CSV (${record._unparsable}); as written: ${JSON.stringify(shown)} (quote values that hold commas, quotes or line breaks, doubling the quotes inside)`,
    }];
  }
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

/** Stateless half of a decision (field validation); may run anywhere, e.g. in a worker thread. */
export function checkRow(received: ReceivedRow): Checked<unknown> {
  const rules = rulesFor(received.data.source);
  const shape = shapeReasons(received.data.record, rules);
  if (shape.length) return { ok: false, reasons: shape };
  return rules.check(received.data.record, bangkokDate(received.metadata.at));
}

/**
 * Stateful half: decides a checked row against everything decided before it. For a source with a
 * history log, a record already in it is skipped before anything else (valid or not), and a
 * rejected record enters the history too.
 */
export function decideRow(received: ReceivedRow, checked: Checked<unknown>, state: DecisionState): RowDecision {
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
