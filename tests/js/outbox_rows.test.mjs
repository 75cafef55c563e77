import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isNewer, rankOf, statusBadge } from '../../static/js/ui/alerts/outbox_rows.js';

test('a row moves forward: pending, more attempts, then sent or failed', () => {
  const first = { id: 1, status: 'pending', attempts: 0 };
  const retried = { id: 1, status: 'pending', attempts: 1 };
  const failed = { id: 1, status: 'failed', attempts: 3 };
  assert.ok(isNewer(retried, first));
  assert.ok(isNewer(failed, retried));
  assert.ok(!isNewer(first, failed), 'a late pending version must not undo the failure');
  assert.ok(!isNewer(retried, { id: 1, status: 'sent', attempts: 1 }));
});

test('a held row folded into a summary is newer than the held row', () => {
  assert.ok(rankOf({ status: 'pending', attempts: 0, folded_into: 9 }) > rankOf({ status: 'pending', attempts: 0 }));
});

test('the same version again is applied (idempotent) and junk ranks lowest', () => {
  const row = { id: 2, status: 'sent', attempts: 1 };
  assert.ok(isNewer(row, { ...row }));
  assert.equal(rankOf(null), -1);
  assert.equal(rankOf({ status: 'pending', attempts: -5 }), 0);
});

test('status badges', () => {
  assert.equal(statusBadge('sent'), 'badge-success');
  assert.equal(statusBadge('failed'), 'badge-failed');
  assert.equal(statusBadge('pending'), 'badge-queued');
});
