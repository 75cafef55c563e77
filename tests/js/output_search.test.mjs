// The output search's pure parts (static/js/ui/output_search.js): what is searched,
// where a result links to, and where the match of a line is.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  checkQuery,
  queryFromLocation,
  runLink,
  searchPath,
  splitAtMatch,
  summaryText,
} from '../../static/js/ui/output_search.js';

describe('output search', () => {
  it('searches for 1 to 200 characters, trimmed', () => {
    assert.deepEqual(checkQuery('  timeout '), { ok: true, text: 'timeout', message: '' });
    assert.equal(checkQuery('   ').ok, false);
    assert.equal(checkQuery('').message, '');
    assert.equal(checkQuery(null).ok, false);
    assert.equal(checkQuery('x'.repeat(200)).ok, true);
    assert.deepEqual(checkQuery('x'.repeat(201)), { ok: false, text: 'x'.repeat(201), message: 'At most 200 characters.' });
  });
  it('asks the API with the text encoded, within a task when given', () => {
    assert.equal(searchPath('100% done & more'), '/runs/search?q=100%25+done+%26+more&limit=50');
    assert.equal(searchPath('err', { taskId: '7' }), '/runs/search?q=err&limit=50&task=7');
    assert.equal(searchPath('err', { taskId: '', limit: 5 }), '/runs/search?q=err&limit=5');
  });
  it('links a result to its run page with the text as ?q=', () => {
    assert.equal(runLink('', 5, 'timeout'), '/runs/5?q=timeout');
    assert.equal(runLink('/ops/taskpulse/', 12, 'a b#c'), '/ops/taskpulse/runs/12?q=a+b%23c');
  });
  it('reads ?q= back from the run page address', () => {
    assert.equal(queryFromLocation('?q=a+b%23c'), 'a b#c');
    assert.equal(queryFromLocation('?q=%20'), null);
    assert.equal(queryFromLocation(''), null);
  });
  it('splits a line at its first match, whatever the case', () => {
    assert.deepEqual(splitAtMatch('ERROR: Timeout after 30 s; timeout again', 'TIMEOUT'),
      ['ERROR: ', 'Timeout', ' after 30 s; timeout again']);
    assert.deepEqual(splitAtMatch('100% done', '100%'), ['', '100%', ' done']);
    assert.equal(splitAtMatch('nothing here', 'timeout'), null);
    assert.equal(splitAtMatch('anything', ''), null);
  });
  it('says how many runs matched, and when only the newest are listed', () => {
    assert.equal(summaryText(0, 50, 'x'), 'No stored output or error contains “x”.');
    assert.equal(summaryText(1, 50, 'x'), '1 run whose output or error contains “x”.');
    assert.equal(summaryText(50, 50, 'x'), 'The newest 50 runs whose output or error contains “x”.');
  });
});
