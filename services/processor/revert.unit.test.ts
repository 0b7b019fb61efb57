// The revert rules, pure: what the processor undoes for a RevertRequested, page by page, and what it leaves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkEvent } from '../events/schemas.ts';
import type { LinkNow } from '../../projections/relation.ts';
import type { ImportProgress } from './batch.ts';
import { decideRevertOutcome, decideRevertPage, emptyTally, revertPrecondition, type RevertLink, type RevertPage, type RevertTally } from './revert.ts';

const X = '01900000-0000-7000-8000-00000000000a';
const LATER = '01900000-0000-7000-8000-00000000000b';
const EARLIER = '01900000-0000-7000-8000-000000000009';
const request = { data: { importId: X, reason: 'wrong file' }, metadata: { by: 'admin@rabbitcare.com', at: '2026-11-30T10:00:00.000Z', importId: X, v: 1 as const } };
const done: ImportProgress = {
  importId: X, source: 'nana', startedBy: 'admin@rabbitcare.com', totalRows: 3, processedRows: 3, importedRows: 3, rejectedRows: 0, skippedRows: 0, completed: true,
};

/** A link row `row` of X made, still active unless `now` says otherwise. */
function link(originalId: string, careosId: string, row: number, now: Partial<LinkNow> = {}): RevertLink {
  return {
    source: 'nana', originalId, careosId, row,
    now: {
      source: 'nana', originalId, row, link: { active: true, endedBy: null, endedByRevert: false },
      active: { careosId, importId: X, row }, before: null, restored: false, confirmedBy: null, ...now,
    },
  };
}

function page(partial: Partial<RevertPage>): RevertPage {
  return { links: [], profiles: [], errorsResolved: 0, ...partial };
}

function decide(...pages: RevertPage[]): { types: string[]; events: ReturnType<typeof decideRevertPage>; tally: RevertTally; outcome: ReturnType<typeof decideRevertOutcome> } {
  const tally = emptyTally();
  const events = pages.flatMap((p) => decideRevertPage(request, p, tally));
  const outcome = decideRevertOutcome(request, tally, 'k');
  return { types: [...events, outcome].map((e) => e.event.type), events, tally, outcome };
}

test('revert › refused before anything is looked at: an import unknown, still running, or reverted already', () => {
  assert.match(revertPrecondition(undefined, false, X) ?? '', /not known/);
  assert.match(revertPrecondition({ ...done, completed: false }, false, X) ?? '', /has not finished/);
  assert.match(revertPrecondition(done, true, X) ?? '', /reverted already/);
  assert.is(revertPrecondition(done, false, X), null);
  const refused = decideRevertOutcome(request, emptyTally(), 'k', 'the import was reverted already');
  assert.equal([refused.event.type, (refused.event.data as { refusal: string }).refusal], ['RevertRefused', 'the import was reverted already']);
});

test('revert › a link the import made and still active ends; the link its remap ended is restored, naming who first made it', () => {
  const { types, events, tally } = decide(page({ links: [link('n1', 'P1', 1, { before: { careosId: 'P0', importId: EARLIER, row: 7 } })] }));
  assert.equal(types, ['RelationReverted', 'RelationRestored', 'ImportReverted']);
  assert.equal(events[1]!.event.data, { careosId: 'P0', source: 'nana', originalId: 'n1', importId: X, row: 1, restores: { importId: EARLIER, row: 7 } });
  assert.equal(tally, { relationsReverted: 1, relationsRestored: 1, profilesRetired: 0, errorsReopened: 0, blocked: [], blockedCount: 0 });
});

test('revert › a link a later import remapped stays, named with the later import and row; the rest is still undone', () => {
  const { types, tally } = decide(page({
    links: [
      link('n1', 'P1', 1, { link: { active: false, endedBy: { importId: LATER, row: 4 }, endedByRevert: false }, active: { careosId: 'P9', importId: LATER, row: 4 } }),
      link('n2', 'P2', 2),
    ],
  }));
  assert.equal(types, ['RelationReverted', 'ImportReverted']);
  assert.equal(tally.blocked, [{ kind: 'relation-changed', row: 1, careosId: 'P1', source: 'nana', originalId: 'n1', by: { importId: LATER, row: 4 } }]);
});

test('revert › a link a later row of the same import replaced is left to that row: neither undone twice nor a blocker', () => {
  const { types, tally } = decide(page({
    links: [
      link('n1', 'P1', 1, { link: { active: false, endedBy: { importId: X, row: 5 }, endedByRevert: false }, active: { careosId: 'P5', importId: X, row: 5 } }),
      link('n1', 'P5', 5),
    ],
  }));
  assert.equal(types, ['RelationReverted', 'ImportReverted']);
  assert.equal([tally.relationsReverted, tally.blockedCount], [1, 0]);
});

test('revert › a profile it created is retired unless a later import links to it; that one stays, named', () => {
  const { types, events, tally } = decide(page({
    profiles: [{ careosId: 'P1', row: 1, retired: false, usedBy: null }, { careosId: 'P2', row: 2, retired: false, usedBy: { importId: LATER, row: 5 } }],
  }));
  assert.equal(types, ['ProfileRetired', 'ImportReverted']);
  assert.equal(events[0]!.event.data, { careosId: 'P1', importId: X, row: 1 });
  assert.equal(tally.blocked.map((b) => [b.kind, b.careosId, b.by.row]), [['profile-in-use', 'P2', 5]]);
});

test('revert › a link is never restored to a profile the same page retires', () => {
  const { types } = decide(page({
    links: [link('n1', 'P2', 2, { before: { careosId: 'P1', importId: LATER, row: 1 } })],
    profiles: [{ careosId: 'P1', row: 1, retired: false, usedBy: null }],
  }));
  assert.equal(types, ['RelationReverted', 'ProfileRetired', 'ImportReverted']);
});

test('revert › decided again after a cut: what this revert undid already counts and is not undone twice; the pages left give the same events', () => {
  const first = page({ links: [link('n1', 'P1', 1, { before: { careosId: 'P0', importId: EARLIER, row: 7 } })], profiles: [{ careosId: 'P1', row: 1, retired: false, usedBy: null }] });
  const second = page({ links: [link('n2', 'P2', 2)], errorsResolved: 1 });
  const whole = decide(first, second);
  // The first page committed, then a crash: the read models show its effects, the second page's not.
  const firstDone = page({
    links: [link('n1', 'P1', 1, { link: { active: false, endedBy: { importId: X, row: 1 }, endedByRevert: true }, active: { careosId: 'P0', importId: EARLIER, row: 7 }, restored: true })],
    profiles: [{ careosId: 'P1', row: 1, retired: true, usedBy: null }],
  });
  const again = decide(firstDone, second);
  assert.equal(again.events, whole.events.slice(-1), 'only the second page\'s event');
  assert.equal(again.outcome, whole.outcome, 'the same totals, the same ImportReverted');
  assert.equal([again.tally.relationsReverted, again.tally.relationsRestored, again.tally.profilesRetired, again.tally.errorsReopened], [2, 1, 1, 1]);
});

test('revert › nothing undoable and something blocked: refused as a whole, listing every blocker by row', () => {
  const { types, outcome } = decide(page({
    links: [link('n1', 'P1', 1, { link: { active: false, endedBy: { importId: LATER, row: 2 }, endedByRevert: false }, active: null })],
    profiles: [{ careosId: 'P1', row: 1, retired: false, usedBy: { importId: LATER, row: 3 } }],
  }));
  assert.equal(types, ['RevertRefused']);
  const data = outcome.event.data as { blockedCount: number; blocked: { row: number; kind: string }[]; refusal: string };
  assert.is(data.blockedCount, 2);
  assert.equal(data.blocked.map((b) => [b.row, b.kind]), [[1, 'profile-in-use'], [1, 'relation-changed']]);
  assert.match(data.refusal, /every effect of this import was built on since \(2\)/);
});

test('revert › the outcome lists at most 100 blockers and counts them all; every event matches its schema', () => {
  const blocked = Array.from({ length: 150 }, (_, i) => link(`n${i}`, `P${i}`, i + 1, {
    link: { active: false, endedBy: { importId: LATER, row: i + 1 }, endedByRevert: false }, active: { careosId: 'Q', importId: LATER, row: i + 1 },
  }));
  const { events, outcome, tally } = decide(page({ links: blocked.slice(0, 80) }), page({ links: [...blocked.slice(80), link('keep', 'P', 151)], errorsResolved: 2 }));
  assert.is(outcome.event.type, 'ImportReverted');
  assert.equal([tally.blocked.length, tally.blockedCount, tally.errorsReopened], [100, 150, 2]);
  for (const { event } of [...events, outcome]) checkEvent(event.type, event.data, event.metadata);
});

test('revert › a link a later import named again as it is (RelationConfirmed) stays, and its profile is in use; the rest is undone', () => {
  const { types, tally } = decide(page({
    links: [link('n1', 'P1', 1, { confirmedBy: { importId: LATER, row: 6 } }), link('n2', 'P2', 2)],
    profiles: [{ careosId: 'P1', row: 1, retired: false, usedBy: { importId: LATER, row: 6 } }, { careosId: 'P2', row: 2, retired: false, usedBy: null }],
  }));
  assert.equal(types, ['RelationReverted', 'ProfileRetired', 'ImportReverted']);
  assert.equal(tally.blocked, [
    { kind: 'profile-in-use', row: 1, careosId: 'P1', source: null, originalId: null, by: { importId: LATER, row: 6 } },
    { kind: 'relation-confirmed', row: 1, careosId: 'P1', source: 'nana', originalId: 'n1', by: { importId: LATER, row: 6 } },
  ]);
  assert.is(tally.relationsReverted, 1);
});

test.run();
