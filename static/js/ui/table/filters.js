// Client-side filters over the task rows: kind, last status, enabled, and a search box
// matching name and description. No request: rows are hidden or shown in place, and
// rows that arrive or change live are checked against the active filters.

import { taskRows } from './rows.js';

function words(text) {
  return text.toLowerCase().split(/\s+/).filter(Boolean);
}

export function createFilters() {
  const form = document.getElementById('filters');
  const search = document.getElementById('filter-search');
  const kind = document.getElementById('filter-kind');
  const status = document.getElementById('filter-status');
  const enabled = document.getElementById('filter-enabled');
  const count = document.getElementById('task-count');
  const clear = document.getElementById('filter-clear');
  const tbody = document.querySelector('#tasks tbody');

  let terms = [];

  function read() {
    terms = words(search.value);
  }

  function active() {
    return terms.length > 0 || kind.value !== '' || status.value !== '' || enabled.value !== '';
  }

  /** Does this row pass every active filter? */
  function matches(tr) {
    if (kind.value && tr.dataset.kind !== kind.value) return false;
    if (status.value) {
      const shown = tr.dataset.runStatus || 'none';
      if (shown !== status.value) return false;
    }
    if (enabled.value) {
      const on = tr.dataset.enabled !== '0';
      if (on !== (enabled.value === 'enabled')) return false;
    }
    if (terms.length) {
      const name = tr.querySelector('.col-name');
      const haystack = `${name?.textContent || ''}\n${name?.title || ''}`.toLowerCase();
      if (!terms.every((term) => haystack.includes(term))) return false;
    }
    return true;
  }

  function syncNoMatches(shown, total) {
    let row = tbody.querySelector('tr.no-matches');
    if (total > 0 && shown === 0) {
      if (!row) {
        row = document.createElement('tr');
        row.className = 'no-matches';
        row.dataset.testid = 'no-matches';
        const td = document.createElement('td');
        td.colSpan = document.querySelectorAll('#tasks thead th').length || 1;
        td.textContent = 'No task matches the filters.';
        row.append(td);
      }
      tbody.append(row); // keep it last
    } else if (row) {
      row.remove();
    }
  }

  function updateCount() {
    const rows = taskRows();
    const shown = rows.filter((tr) => !tr.hidden).length;
    count.textContent = `${shown} of ${rows.length} ${rows.length === 1 ? 'task' : 'tasks'}`;
    count.dataset.shown = String(shown);
    count.dataset.total = String(rows.length);
    clear.hidden = !active();
    syncNoMatches(shown, rows.length);
  }

  /** Re-check one row (or every row when ``tr`` is null) and update the count. */
  function apply(tr = null) {
    for (const row of tr ? [tr] : taskRows()) row.hidden = !matches(row);
    updateCount();
  }

  function onInput() {
    read();
    apply();
  }

  form.addEventListener('input', onInput);
  form.addEventListener('change', onInput);
  form.addEventListener('submit', (event) => event.preventDefault());
  clear.addEventListener('click', () => {
    form.reset();
    onInput();
    search.focus();
  });
  read();

  return { apply, matches };
}
