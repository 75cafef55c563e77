import assert from 'node:assert/strict';
import { test } from 'node:test';

import { notifyFromValues, valuesFromNotify } from '../../static/js/ui/task_dialog_notify.js';

test('no channel ticked means no alerts', () => {
  assert.deepEqual(notifyFromValues({ channels: [], on: ['failure'] }), { notify: null });
});

test('ticked channels and kinds become the API notify, kinds in a fixed order', () => {
  const { notify } = notifyFromValues({
    channels: ['ops', 'ops', 'mail'], on: ['recovery', 'failure', 'bogus'], afterFailures: '2', lateAfter: '', maxRuntime: '',
  });
  assert.deepEqual(notify, { channels: ['ops', 'mail'], on: ['failure', 'recovery'], after_failures: 2, late_after: 60, max_runtime: null });
});

test('numbers that are not whole name their field; negative ones go to the server to refuse', () => {
  assert.equal(notifyFromValues({ channels: ['a'], afterFailures: 'two' }).error.field, 'notify.after_failures');
  assert.equal(notifyFromValues({ channels: ['a'], lateAfter: '1.5' }).error.field, 'notify.late_after');
  assert.equal(notifyFromValues({ channels: ['a'], maxRuntime: 'x' }).error.field, 'notify.max_runtime');
  assert.equal(notifyFromValues({ channels: ['a'], lateAfter: '-5' }).notify.late_after, -5);
});

test('a task without notify fills the defaults; with one, its values', () => {
  assert.deepEqual(valuesFromNotify(null), { channels: [], on: ['failure', 'recovery'], afterFailures: '1', lateAfter: '60', maxRuntime: '' });
  const values = valuesFromNotify({ channels: ['ops'], on: ['late'], after_failures: 3, late_after: 5, max_runtime: 90 });
  assert.deepEqual(values, { channels: ['ops'], on: ['late'], afterFailures: '3', lateAfter: '5', maxRuntime: '90' });
});
