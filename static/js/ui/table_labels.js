// Phone-sized screens show each table row as a card (static/css/narrow.css), every
// cell under its column's name. This gives each cell its column's name as data-label,
// from the table's own header, for the rows the server rendered and for every row
// added later; so rows built by any module (and columns added to a table's header)
// are labelled without their markup knowing. labelFor is unit-tested
// (tests/js/table_labels.test.mjs).

/** The column names of a header row, one per column a cell may start at (colspan
 * counted). */
export function columnNames(headerCells) {
  const names = [];
  for (const th of headerCells) {
    const span = Math.max(1, Number(th.colSpan) || 1);
    const name = String(th.textContent || '').replace(/\s+/g, ' ').trim();
    for (let i = 0; i < span; i += 1) names.push(name);
  }
  return names;
}

/** The label of each cell of a row: [cell, name] pairs (cells spanning the whole row,
 * like "No tasks yet", get none). */
export function labelFor(cells, names) {
  const pairs = [];
  let column = 0;
  for (const cell of cells) {
    const span = Math.max(1, Number(cell.colSpan) || 1);
    if (span < names.length && names[column]) pairs.push([cell, names[column]]);
    column += span;
  }
  return pairs;
}

function labelRows(table, rows) {
  const header = table.tHead?.rows[0];
  if (!header) return;
  const names = columnNames(header.cells);
  for (const row of rows) {
    for (const [cell, name] of labelFor(row.cells, names)) {
      if (cell.dataset.label !== name) cell.dataset.label = name;
    }
  }
}

/** Label ``selector``'s tables now and keep labelling the rows added to them. */
export function mountTableLabels(selector = 'table.tasks') {
  for (const table of document.querySelectorAll(selector)) {
    const body = table.tBodies[0];
    if (!body) continue;
    labelRows(table, body.rows);
    new MutationObserver((changes) => {
      const added = changes.flatMap((change) => [...change.addedNodes]).filter((node) => node.nodeName === 'TR');
      if (added.length) labelRows(table, added);
    }).observe(body, { childList: true });
  }
}
