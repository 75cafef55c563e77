import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createRollingCounts, WINDOW_MS } from '../../static/js/ui/rolling_counts.js';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

test('the snapshot minutes and live ends add up', () => {
  const counts = createRollingCounts([[T0 / 1000, 2, 1, 0], [T0 / 1000 + 60, 0, 0, 1]]);
  counts.add('failed', T0 + 90_000);
  counts.add('canceled', T0 + 90_000); // not a counted end
  assert.deepEqual({ ...counts.totals(T0 + 120_000), since: 0 }, { success: 2, failed: 2, stopped: 1, finished: 5, since: 0 });
});

test('a minute leaves the counts a day later, with no request', () => {
  const counts = createRollingCounts([[T0 / 1000, 3, 0, 0]]);
  assert.equal(counts.totals(T0 + WINDOW_MS).finished, 3, 'still inside while part of the minute is');
  assert.equal(counts.totals(T0 + WINDOW_MS + 60_000).finished, 0);
  counts.add('success', T0 + WINDOW_MS + 61_000);
  assert.equal(counts.totals(T0 + WINDOW_MS + 62_000).success, 1);
});

test('junk in the snapshot is ignored', () => {
  const counts = createRollingCounts([['x', 1, 1, 1], [T0 / 1000, -4, 'two', 2], null]);
  assert.deepEqual({ ...counts.totals(T0), since: 0 }, { success: 0, failed: 0, stopped: 2, finished: 2, since: 0 });
  assert.equal(createRollingCounts('nope').totals(T0).finished, 0);
});
