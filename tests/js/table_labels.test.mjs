// The column names a table's cells show as cards on small screens (static/js/ui/table_labels.js).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { columnNames, labelFor } from '../../static/js/ui/table_labels.js';

const th = (text, colSpan = 1) => ({ textContent: text, colSpan });
const td = (colSpan = 1) => ({ colSpan });

describe('table labels', () => {
  it('names each column from the header, whitespace folded, spans counted', () => {
    assert.deepEqual(columnNames([th(' Name '), th('Next\n  run'), th('Actions', 2)]), ['Name', 'Next run', 'Actions', 'Actions']);
  });
  it('labels each cell with the column it starts at', () => {
    const names = ['Run', 'Status', 'Error'];
    const cells = [td(), td(), td()];
    assert.deepEqual(labelFor(cells, names).map(([cell, name]) => [cells.indexOf(cell), name]),
      [[0, 'Run'], [1, 'Status'], [2, 'Error']]);
    const spanning = [td(2), td()];
    assert.deepEqual(labelFor(spanning, names).map(([, name]) => name), ['Run', 'Error']);
  });
  it('gives no label to a cell across the whole row ("No tasks yet") or to a column without a name', () => {
    assert.deepEqual(labelFor([td(9)], new Array(9).fill('x')), []);
    assert.deepEqual(labelFor([td(), td()], ['', 'Status']).map(([, name]) => name), ['Status']);
  });
});
