// The concurrency groups on the scheduler page: the limits (live from the
// "concurrency" event) and, for admins, setting and removing one
// (PUT /api/settings/concurrency with the whole map). Errors show under the form.

import { apiRequest } from '../api.js';
import { el } from './dom.js';

/** Pure: the map after setting ``tag`` to ``limit`` (null: removing it). */
export function withLimit(limits, tag, limit) {
  const next = { ...limits };
  if (limit === null) delete next[tag];
  else next[tag] = limit;
  return next;
}

/** Mount the panel on its <section>; returns ``{ apply(limits) }`` for live changes. */
export function mountGroupsPanel(section) {
  if (!section) return null;
  const list = section.querySelector('[data-testid="groups-list"]');
  const empty = section.querySelector('[data-testid="groups-empty"]');
  const form = section.querySelector('[data-testid="groups-form"]');
  const error = section.querySelector('[data-testid="group-error"]');
  const canEdit = section.dataset.canEdit === '1';
  let limits = {};
  try {
    limits = JSON.parse(section.dataset.concurrency || '{}') || {};
  } catch {
    limits = {};
  }

  function showError(message) {
    if (!error) return;
    error.textContent = message || '';
    error.hidden = !message;
  }

  async function save(next) {
    const result = await apiRequest('PUT', '/settings/concurrency', { body: next });
    if (!result.ok) {
      const field = result.error.field ? ` (${result.error.field})` : '';
      showError(`${result.error.message}${field}`);
      return false;
    }
    showError('');
    apply(result.data.concurrency);
    return true;
  }

  function render() {
    const tags = Object.keys(limits).sort();
    list.replaceChildren(...tags.map((tag) => {
      const item = el('li', 'group', 'group');
      item.dataset.tag = tag;
      const text = el('span', 'group-text', 'group-text');
      text.textContent = `#${tag}: at most ${limits[tag]} at once`;
      item.append(text);
      if (canEdit) {
        const remove = el('button', 'btn btn-small btn-quiet-danger', 'group-remove');
        remove.type = 'button';
        remove.textContent = 'Remove';
        remove.setAttribute('aria-label', `Remove the limit of ${tag}`);
        remove.addEventListener('click', () => save(withLimit(limits, tag, null)));
        item.append(' ', remove);
      }
      return item;
    }));
    empty.hidden = tags.length > 0;
  }

  function apply(next) {
    limits = next && typeof next === 'object' && !Array.isArray(next) ? next : {};
    render();
  }

  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const tag = form.elements.tag.value.trim();
    const limit = Number(form.elements.limit.value);
    if (!tag) return showError('a tag is required (tag)');
    if (await save(withLimit(limits, tag, Number.isInteger(limit) ? limit : form.elements.limit.value))) form.reset();
    return undefined;
  });
  render();
  return { apply };
}
