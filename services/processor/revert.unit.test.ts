// The revert rules, pure: what the processor undoes for a RevertRequested and what it leaves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkEvent } from '../events/schemas.ts';
import type { ImportProgress } from './batch.ts';
import { decideRevert, type RevertFacts, type RevertLink } from './revert.ts';

const X = '01900000-0000-7000-8000-00000000000a';
const LATER = '01900000-0000-7000-8000-00000000000b';
const EARLIER = '01900000-0000-7000-8000-000000000009';
const request = { data: { importId: X, reason: 'wrong file' }, metadata: { by: 'admin@rabbitcare.com', at: '2026-11-30T10:00:00.000Z', importId: X, v: 1 as const } };
const done: ImportProgress = {
  importId: X, source: 'nana', startedBy: 'admin@rabbitcare.com', totalRows: 3, processedRows: 3, importedRows: 3, rejectedRows: 0, skippedRows: 0, completed: true,
};

function link(originalId: string, careosId: string, row: number, now: Partial<RevertLink['now']> = {}): RevertLink {
  return {
    source: 'nana', originalId, careosId, row,
    now: { source: 'nana', originalId, active: { careosId, importId: X, row }, endedBy: null, before: null, ...now },
  };
}

function facts(partial: Partial<RevertFacts>): RevertFacts {
  return { reverted: false, links: [], profiles: [], errorsResolved: 0, ...partial };
}

function types(decision: ReturnType<typeof decideRevert>): string[] {
  return decision.events.map((e) => e.event.type);
}

test('revert › an import still running is refused, and nothing else is decided', () => {
  const decision = decideRevert(request, { ...done, completed: false }, facts({ links: [link('n1', 'P1', 1)] }), 'k');
  assert.equal(types(decision), ['RevertRefused']);
  assert.match(decision.plan.refusal ?? '', /has not finished/);
});

test('revert › an import reverted already is refused', () => {
  const decision = decideRevert(request, done, facts({ reverted: true }), 'k');
  assert.equal(types(decision), ['RevertRefused']);
  assert.match(decision.plan.refusal ?? '', /reverted already/);
});

test('revert › a link the import made and still active ends; the link its remap ended is restored, naming who first made it', () => {
  const decision = decideRevert(request, done, facts({
    links: [link('n1', 'P1', 1, { before: { careosId: 'P0', importId: EARLIER, row: 7 } })],
  }), 'k');
  assert.equal(types(decision), ['RelationReverted', 'RelationRestored', 'ImportReverted']);
  assert.equal(decision.events[1]!.event.data, { careosId: 'P0', source: 'nana', originalId: 'n1', importId: X, row: 1, restores: { importId: EARLIER, row: 7 } });
  assert.equal(decision.plan, { relationsReverted: 1, relationsRestored: 1, profilesRetired: 0, errorsReopened: 0, blocked: [], blockedCount: 0, refusal: null });
});

test('revert › a link a later import remapped stays, named with the later import and row; the rest is still undone', () => {
  const decision = decideRevert(request, done, facts({
    links: [
      link('n1', 'P1', 1, { active: { careosId: 'P9', importId: LATER, row: 4 } }),
      link('n2', 'P2', 2),
    ],
  }), 'k');
  assert.equal(types(decision), ['RelationReverted', 'ImportReverted']);
  assert.equal(decision.plan.blocked, [{ kind: 'relation-changed', row: 1, careosId: 'P1', source: 'nana', originalId: 'n1', by: { importId: LATER, row: 4 } }]);
  assert.is(decision.plan.blockedCount, 1);
});

test('revert › a profile it created is retired unless a later import links to it; that one stays, named', () => {
  const decision = decideRevert(request, done, facts({
    profiles: [{ careosId: 'P1', row: 1, usedBy: null }, { careosId: 'P2', row: 2, usedBy: { importId: LATER, row: 5 } }],
  }), 'k');
  assert.equal(types(decision), ['ProfileRetired', 'ImportReverted']);
  assert.equal(decision.events[0]!.event.data, { careosId: 'P1', importId: X, row: 1 });
  assert.equal(decision.plan.blocked.map((b) => [b.kind, b.careosId, b.by.row]), [['profile-in-use', 'P2', 5]]);
});

test('revert › a link is never restored to a profile the same revert retires', () => {
  const decision = decideRevert(request, done, facts({
    links: [link('n1', 'P2', 2, { before: { careosId: 'P1', importId: X, row: 1 } })],
    profiles: [{ careosId: 'P1', row: 1, usedBy: null }],
  }), 'k');
  assert.equal(types(decision), ['RelationReverted', 'ProfileRetired', 'ImportReverted']);
});

test('revert › nothing undoable and something blocked: refused as a whole, listing every blocker', () => {
  const decision = decideRevert(request, done, facts({
    links: [link('n1', 'P1', 1, { active: null, endedBy: { importId: LATER, row: 2 } })],
    profiles: [{ careosId: 'P1', row: 1, usedBy: { importId: LATER, row: 3 } }],
  }), 'k');
  assert.equal(types(decision), ['RevertRefused']);
  assert.is(decision.plan.blockedCount, 2);
  assert.equal(decision.plan.blocked.map((b) => [b.row, b.kind]), [[1, 'profile-in-use'], [1, 'relation-changed']], 'by row, then kind');
});

test('revert › the outcome lists at most 100 blockers and counts them all; every event matches its schema', () => {
  const links = Array.from({ length: 150 }, (_, i) => link(`n${i}`, `P${i}`, i + 1, { active: { careosId: 'Q', importId: LATER, row: i + 1 } }));
  const decision = decideRevert(request, done, facts({ links: [...links, link('keep', 'P', 151)], errorsResolved: 2 }), 'k');
  const outcome = decision.events.at(-1)!.event;
  assert.is(outcome.type, 'ImportReverted');
  assert.equal([decision.plan.blocked.length, decision.plan.blockedCount, decision.plan.errorsReopened], [100, 150, 2]);
  for (const { event } of decision.events) checkEvent(event.type, event.data, event.metadata);
});

test('revert › deciding twice gives the same events (ids derived from the import, row and id)', () => {
  const given = facts({ links: [link('n1', 'P1', 1)], profiles: [{ careosId: 'P1', row: 1, usedBy: null }] });
  assert.equal(decideRevert(request, done, given, 'k').events, decideRevert(request, done, given, 'k').events);
});

test.run();
