// The processor's pure core: a received row and the state before it → the row's decision.
import type { RowReason, SourceName } from '../events/types.ts';
import { careos } from './careos.ts';
import { nana } from './nana.ts';
import { bangkokDate, rejected, type Checked, type ReceivedRow, type RowDecision, type SourceRules } from './rules.ts';
import type { DecisionState } from './state.ts';

// Care Shop arrives with its own issue; until then its rows are refused at the door.
export const RULES: Partial<Record<SourceName, SourceRules<unknown>>> = {
  nana: nana as SourceRules<unknown>,
  careos: careos as SourceRules<unknown>,
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

/** Stateful half: decides a checked row against everything decided before it. */
export function decideRow(received: ReceivedRow, checked: Checked<unknown>, state: DecisionState): RowDecision {
  if (!checked.ok) return rejected(received, checked.reasons);
  return rulesFor(received.data.source).decide(checked.value, received, state);
}
