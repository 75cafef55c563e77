// "No worker for queue scanners": a task row whose queue no live worker serves says
// so. Each web process's watchdog sends the live workers per queue (worker_queues) when
// they change; the page's first paint and every snapshot carry them too. Until the
// first report (Redis away) nothing is claimed.

let served = null; // queue name -> live workers, or null: not known

/** The note for a queue ("" when a worker serves it or nothing is known). Pure. */
export function queueNote(queue, report) {
  if (!queue || !report || typeof report !== 'object') return '';
  const workers = Number(report[queue] ?? 0);
  return workers > 0 ? '' : `no worker for queue ${queue}`;
}

/** Show the note on one row (from its data-queue). */
export function refreshQueueNote(tr) {
  const note = tr.querySelector('[data-testid="no-worker"]');
  if (!note) return;
  const text = queueNote(tr.dataset.queue, served);
  note.hidden = !text;
  note.textContent = text;
  note.title = text ? 'Start a worker that serves this queue: rq worker ... ' + tr.dataset.queue : '';
}

/** Take a whole report (``{"taskpulse": 2, "scanners": 0}``; null: unknown) and show it on ``rows``. */
export function applyQueues(report, rows) {
  served = report && typeof report === 'object' && !Array.isArray(report) ? report : null;
  for (const tr of rows) refreshQueueNote(tr);
}
