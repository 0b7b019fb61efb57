// The processor's pure core: a received row and the state before it → the row's decision.
import type { SourceName } from '../events/types.ts';
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

/** Stateless half of a decision (field validation); may run anywhere, e.g. in a worker thread. */
export function checkRow(received: ReceivedRow): Checked<unknown> {
  return rulesFor(received.data.source).check(received.data.record, bangkokDate(received.metadata.at));
}

/** Stateful half: decides a checked row against everything decided before it. */
export function decideRow(received: ReceivedRow, checked: Checked<unknown>, state: DecisionState): RowDecision {
  if (!checked.ok) return rejected(received, checked.reasons);
  return rulesFor(received.data.source).decide(checked.value, received, state);
}
