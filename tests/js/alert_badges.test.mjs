import assert from 'node:assert/strict';
import { test } from 'node:test';

import { applyBadges, badgeOf, showBadge } from '../../static/js/ui/table/alert_badges.js';

function fakeRow(taskId) {
  const badge = { hidden: true, textContent: '', title: '', className: 'alert-badge' };
  return {
    badge,
    dataset: { taskId: String(taskId) },
    querySelector: (sel) => (sel === '[data-testid="alert-badge"]' ? badge : null),
  };
}

test('a row shows its badge and loses it when the map no longer names it', () => {
  const late = fakeRow(3);
  const calm = fakeRow(4);
  applyBadges({ 3: 'late' }, [late, calm]);
  assert.equal(late.badge.hidden, false);
  assert.equal(late.badge.textContent, 'late');
  assert.equal(late.dataset.alert, 'late');
  assert.equal(calm.badge.hidden, true);
  applyBadges({}, [late, calm]);
  assert.equal(late.badge.hidden, true);
  assert.equal(badgeOf(3), null);
});

test('unknown badges and ids are ignored, not shown', () => {
  const row = fakeRow(5);
  applyBadges({ 5: '<img src=x>', '5x': 'late', 6: 'failing' }, [row]);
  assert.equal(row.badge.hidden, true);
  assert.equal(badgeOf(6), 'failing');
  assert.equal(badgeOf('5x'), null);
});

test('a row rendered later gets the badge it is known to have', () => {
  applyBadges({ 7: 'overrunning' }, []);
  const row = fakeRow(7);
  showBadge(row, badgeOf(7));
  assert.equal(row.badge.textContent, 'overrunning');
  assert.match(row.badge.className, /alert-overrunning/);
});
