// The benchmark's data: every row does what its intent says, so an import's outcome is known.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'csv-parse/sync';
import { checkPhones } from '../services/processor/fields.ts';
import { nana } from '../services/processor/nana.ts';
import { careos } from '../services/processor/careos.ts';
import { CAREOS_HEADER, NANA_HEADER, careosBaselineLines, nanaLines, type NanaLine } from './generate.ts';

const TODAY = '2025-06-15';
const ROWS = 12_000; // crosses the 5,000 and 10,000 batch boundaries
const BASELINE = 1_200;

function record(header: string, line: string): Record<string, string> {
  const [values] = parse(line) as string[][];
  const columns = header.split(',');
  assert.is(values!.length, columns.length, `${line} has one value per column`);
  return Object.fromEntries(columns.map((c, i) => [c, values![i]!]));
}

function e164(raw: string): string[] {
  return checkPhones(raw, { required: true }).value;
}

const baseline = [...careosBaselineLines(BASELINE)];
const rows: NanaLine[] = [...nanaLines({ rows: ROWS, baselineRows: BASELINE })];

test('generate › the same seed writes the same rows', () => {
  assert.equal([...nanaLines({ rows: 50, baselineRows: BASELINE })].map((r) => r.line), rows.slice(0, 50).map((r) => r.line));
});

test('generate › every baseline row is valid and its phone unique', () => {
  assert.is(baseline[0], `${CAREOS_HEADER}\n`);
  const phones = new Set<string>();
  for (const line of baseline.slice(1)) {
    const checked = careos.check(record(CAREOS_HEADER, line), TODAY);
    assert.ok(checked.ok, line);
    for (const phone of e164(record(CAREOS_HEADER, line).phone!)) {
      assert.not.ok(phones.has(phone), `${phone} repeats`);
      phones.add(phone);
    }
  }
});

test('generate › valid rows pass the Nana checks and invalid rows fail with their planted reason', () => {
  for (const row of rows) {
    const checked = nana.check(record(NANA_HEADER, row.line), TODAY);
    if (row.kind !== 'invalid' || row.fault === 'unknown-profile') {
      assert.ok(checked.ok, `row ${row.row} (${row.kind}): ${row.line}`);
    } else {
      assert.not.ok(checked.ok, `row ${row.row} should fail: ${row.line}`);
      if (!checked.ok) assert.ok(checked.reasons.some((r) => r.code === row.fault), `row ${row.row}: ${row.fault}`);
    }
  }
});

test('generate › phones are unique except where a row repeats an owned one on purpose, in another format', () => {
  const owned = new Map<string, string>(); // E.164 → how the profile that owns it first wrote it
  for (const line of baseline.slice(1)) {
    const raw = record(CAREOS_HEADER, line).phone!;
    owned.set(e164(raw)[0]!, raw);
  }
  const seen = new Set(owned.keys());
  for (const row of rows) {
    const fields = record(NANA_HEADER, row.line);
    if (row.kind === 'invalid' && row.fault === 'invalid-phone') continue;
    const items = fields.phone!.split(',');
    items.forEach((item, i) => {
      const [phone] = e164(item);
      assert.ok(phone, `row ${row.row}: ${item} is a valid number`);
      const repeat = (row.kind === 'duplicate' || row.kind === 'forced') && i === 0;
      if (!repeat || !seen.has(phone!)) {
        assert.not.ok(seen.has(phone!), `row ${row.row} (${row.kind}) repeats ${item}`);
      } else {
        assert.ok(owned.has(phone!), `row ${row.row} repeats ${item}, which no profile owns`);
        assert.is.not(item, owned.get(phone!), `row ${row.row} writes ${item} in another format`);
      }
      seen.add(phone!);
      if ((row.kind === 'new' || row.kind === 'forced') && !owned.has(phone!)) owned.set(phone!, item);
    });
    if (row.kind === 'duplicate') assert.ok(owned.has(e164(items[0]!)[0]!), `row ${row.row}: its first phone is owned`);
  }
});

test('generate › rows just after a batch boundary repeat the phones of the rows just before it', () => {
  const phoneOf = (n: number) => e164(record(NANA_HEADER, rows[n - 1]!.line).phone!.split(',')[0]!)[0];
  for (const boundary of [5000, 10000]) {
    assert.is(rows[boundary]!.kind, 'duplicate');
    assert.is(phoneOf(boundary + 1), phoneOf(boundary - 1));
    assert.is(phoneOf(boundary + 2), phoneOf(boundary));
  }
});

test('generate › the mix is about 5% invalid, 5% duplicate, 5% forced, 20% mapped, ~120 bytes a row', () => {
  const share = (kind: string) => rows.filter((r) => r.kind === kind).length / ROWS;
  assert.ok(Math.abs(share('invalid') - 0.05) < 0.01, `invalid ${share('invalid')}`);
  assert.ok(Math.abs(share('duplicate') - 0.05) < 0.01, `duplicate ${share('duplicate')}`);
  assert.ok(Math.abs(share('forced') - 0.05) < 0.01, `forced ${share('forced')}`);
  assert.ok(Math.abs(share('mapped') - 0.2) < 0.02, `mapped ${share('mapped')}`);
  const bytes = rows.reduce((sum, r) => sum + Buffer.byteLength(r.line), 0) / ROWS;
  assert.ok(bytes > 100 && bytes < 140, `${bytes} bytes a row`);
});

test.run();
