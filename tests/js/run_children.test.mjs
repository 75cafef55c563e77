import assert from 'node:assert/strict';
import { test } from 'node:test';

// api.js reads the page's <body data-*> when it loads: a bare stand-in is enough here.
globalThis.document ??= { body: { dataset: {} } };
const { nextChildren } = await import('../../static/js/ui/run_children.js');

const ev = (fields) => ({ parent_run_id: 7, run_id: 9, task_id: 2, task_name: 'scan', status: 'queued', attempt: 1, ...fields });

test('a child of this run is added, in run order', () => {
  const one = nextChildren([], ev({ run_id: 11 }), 7);
  const two = nextChildren(one, ev({ run_id: 9 }), 7);
  assert.deepEqual(two.map((c) => c.run_id), [9, 11]);
});

test('events about other runs change nothing', () => {
  assert.equal(nextChildren([], ev({ parent_run_id: 8 }), 7), null);
  assert.equal(nextChildren([], ev({ parent_run_id: null }), 7), null);
  assert.equal(nextChildren([], { status: 'queued' }, 7), null);
});

test("a child's state moves forward and never back", () => {
  const queued = nextChildren([], ev({}), 7);
  const running = nextChildren(queued, ev({ status: 'running' }), 7);
  const done = nextChildren(running, ev({ status: 'success' }), 7);
  assert.equal(done[0].status, 'success');
  assert.equal(nextChildren(done, ev({ status: 'running' }), 7), null, 'a late running must not undo success');
});
