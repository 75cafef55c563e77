// Status and trigger names handed to the page (static/js/ui/vocabulary.js).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseVocabulary, triggerPhrase, triggerTag } from '../../static/js/ui/vocabulary.js';

describe('vocabulary', () => {
  it('reads the page attribute the server writes', () => {
    const text = JSON.stringify({ statuses: { queued: 'Queued' }, triggers: { manual: 'Manual', chain: 'Chain' },
      task_defaults: { timeout: 300, overlap: 'skip' } });
    assert.deepEqual(parseVocabulary(text), { statuses: { queued: 'Queued' }, triggers: { manual: 'Manual', chain: 'Chain' },
      taskDefaults: { timeout: 300, overlap: 'skip' } });
  });
  it('reads a missing or broken attribute as empty maps', () => {
    assert.deepEqual(parseVocabulary(undefined), { statuses: {}, triggers: {}, taskDefaults: {} });
    assert.deepEqual(parseVocabulary('{nope'), { statuses: {}, triggers: {}, taskDefaults: {} });
    assert.deepEqual(parseVocabulary('{"statuses": ["queued"]}'), { statuses: {}, triggers: {}, taskDefaults: {} });
  });
  it('tags runs no person started, and phrases who started a run', () => {
    assert.equal(triggerTag('manual'), '');
    assert.equal(triggerTag('schedule'), 'scheduled');
    assert.equal(triggerTag('chain'), 'chained');
    assert.equal(triggerTag(null), '');
    assert.equal(triggerPhrase('manual'), 'started by hand');
    assert.equal(triggerPhrase('schedule'), 'started by the schedule');
    assert.equal(triggerPhrase(''), '');
  });
});
