// A task row's alert badge: "failing", "late" or "overrunning" while the task is in an
// incident its notify rules watch. Each web process's watchdog sends every badge at
// once (task_alerts) when one changes; the page's first paint and every snapshot carry
// them too, so a row added or re-rendered later gets its badge from here.

const LABELS = {
  failing: 'failing',
  late: 'late',
  overrunning: 'overrunning',
};
const TITLES = {
  failing: 'Failing: its last runs failed (an alert went out)',
  late: 'Late: a scheduled run has not started within its grace time',
  overrunning: 'Overrunning: a run is taking far longer than usual (it keeps running)',
};

let current = new Map(); // task id (string) -> badge

/** The badge a task shows now, or null. */
export function badgeOf(taskId) {
  return current.get(String(taskId)) ?? null;
}

/** Show ``badge`` (or none) on one row. */
export function showBadge(tr, badge) {
  const el = tr.querySelector('[data-testid="alert-badge"]');
  if (!el) return;
  const known = Object.hasOwn(LABELS, badge ?? '') ? badge : null;
  el.hidden = known === null;
  el.textContent = known ? LABELS[known] : '';
  el.title = known ? TITLES[known] : '';
  el.className = known ? `alert-badge alert-${known}` : 'alert-badge';
  tr.dataset.alert = known ?? '';
}

/**
 * Take the whole map of badges (``{"<task id>": "late", ...}``; a task not in it has
 * none) and show it on ``rows``.
 */
export function applyBadges(map, rows) {
  const next = new Map();
  if (map && typeof map === 'object') {
    for (const [id, badge] of Object.entries(map)) {
      if (/^\d+$/.test(id) && Object.hasOwn(LABELS, badge)) next.set(id, badge);
    }
  }
  current = next;
  refreshBadges(rows);
}

/** Show on ``rows`` (rendered or re-rendered) the badges known now. */
export function refreshBadges(rows) {
  for (const tr of rows) showBadge(tr, badgeOf(tr.dataset.taskId));
}
