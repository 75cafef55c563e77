// The runs a run's end started (its chain), on the run page: first as the server
// rendered them, then live from room "tasks" (a child's task_update carries
// parent_run_id). A child's state only moves forward (live/run_order.js).

import { movesBackwards } from '../live/run_order.js';
import { el } from './dom.js';
import { runUrl, setBadge } from './runs.js';

/** Pure: the children list after ``ev``, or null when ``ev`` is not about a child of
 * ``parentId`` or would move a child backwards. Children are
 * ``{run_id, task_id, task_name, status, attempt}``, oldest first. */
export function nextChildren(children, ev, parentId) {
  if (!ev || Number(ev.parent_run_id) !== Number(parentId) || ev.run_id == null) return null;
  const child = { run_id: ev.run_id, task_id: ev.task_id, task_name: ev.task_name, status: ev.status, attempt: ev.attempt };
  const at = children.findIndex((c) => Number(c.run_id) === Number(ev.run_id));
  if (at === -1) return [...children, child].sort((a, b) => Number(a.run_id) - Number(b.run_id));
  const shown = children[at];
  if (movesBackwards({ id: shown.run_id, status: shown.status, attempt: shown.attempt },
    { id: child.run_id, status: child.status, attempt: child.attempt })) return null;
  const next = [...children];
  next[at] = { ...shown, ...child, task_name: child.task_name ?? shown.task_name };
  return next;
}

/** Mount the list on its box; returns ``{ apply(ev) }`` for the page's tasks room. */
export function mountRunChildren(box, parentId) {
  const list = box?.querySelector('[data-testid="run-children"]');
  if (!list) return { apply() {} };
  const empty = box.querySelector('[data-testid="run-children-empty"]');
  let children = [];
  try {
    children = JSON.parse(list.dataset.children || '[]');
  } catch {
    children = [];
  }
  delete list.dataset.children;

  function render() {
    list.replaceChildren(...children.map((child) => {
      const item = el('li', 'run-child', 'run-child');
      item.dataset.runId = String(child.run_id);
      const link = el('a', '', 'run-child-link');
      link.href = runUrl(child.run_id);
      link.textContent = `${child.task_name ?? `task ${child.task_id}`} run #${child.run_id}`;
      const badge = el('span', '', 'run-child-status');
      setBadge(badge, child.status);
      item.append(link, ' ', badge);
      return item;
    }));
    if (empty) empty.hidden = children.length > 0;
    if (children.length) box.hidden = false;
  }

  render();
  return {
    apply(ev) {
      const next = nextChildren(children, ev, parentId);
      if (next === null) return;
      children = next;
      render();
    },
  };
}
