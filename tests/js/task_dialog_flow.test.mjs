import assert from 'node:assert/strict';
import { test } from 'node:test';

import { flowSlot, parseTags, parseThenLine, readFlow, thenText } from '../../static/js/ui/task_dialog_flow.js';

test('a then line names when and the task; a bare name means success', () => {
  assert.deepEqual(parseThenLine('failure: notify ops'), { task: 'notify ops', when: 'failure' });
  assert.deepEqual(parseThenLine('  vuln scan  '), { task: 'vuln scan', when: 'success' });
  assert.deepEqual(parseThenLine('Always:cleanup'), { task: 'cleanup', when: 'always' });
  assert.deepEqual(parseThenLine('later: x'), { task: 'later: x', when: 'success' }, 'an unknown prefix is part of the name');
});

test('then round-trips through the textarea text', () => {
  const then = [{ task: 'scan', when: 'success' }, { task: 'page me', when: 'failure' }];
  assert.deepEqual(thenText(then).split('\n').map(parseThenLine), then);
});

test('tags split on commas and spaces; the form reads null for empty parts', () => {
  assert.deepEqual(parseTags('scan, heavy  db,'), ['scan', 'heavy', 'db']);
  const fields = { queue: { value: ' ' }, tags_text: { value: '' }, then_text: { value: '\n \n' } };
  assert.deepEqual(readFlow(fields).body, { queue: null, tags: null, then: null });
});

test("the server's errors land in the part's slots", () => {
  assert.equal(flowSlot('then.task'), 'then');
  assert.equal(flowSlot('queue'), 'queue');
  assert.equal(flowSlot('timeout'), null);
});
