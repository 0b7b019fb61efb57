import assert from 'node:assert/strict';
import { test } from 'uvu';
import { formatBytes, formatCount, formatDateTime } from './format.ts';

test('format › dates in Asia/Bangkok in the spec form 02/08/2020 (5:13:39 PM)', () => {
  assert.equal(formatDateTime('2020-08-02T10:13:39Z'), '02/08/2020 (5:13:39 PM)');
  assert.equal(formatDateTime('2020-08-01T17:00:00Z'), '02/08/2020 (12:00:00 AM)', 'Bangkok is UTC+7: past midnight there');
  assert.equal(formatDateTime('2026-11-30T05:05:05Z'), '30/11/2026 (12:05:05 PM)');
});

test('format › counts with thousands separators, sizes as people read them', () => {
  assert.equal(formatCount(334600), '334,600');
  assert.equal(formatCount(1000000), '1,000,000');
  assert.equal(formatCount(30), '30');
  assert.equal(formatBytes(1), '1 byte');
  assert.equal(formatBytes(2048), '2 KB');
  assert.equal(formatBytes(512 * 1024 * 1024), '512 MB');
});

test.run();
