// "A run never moves backwards": the order of a run's states, for states that come
// without a seq (a run in an ack, a snapshot, an API answer) or out of order. Pure.

/** The statuses of a run under way, and those it ends in (docs/protocol.md). */
export const ACTIVE = new Set(['queued', 'running', 'retrying']);
export const TERMINAL = new Set(['success', 'failed', 'stopped', 'canceled', 'skipped']);

/**
 * Where a run is in its life, as a number that only grows: queued, then per attempt
 * running < retrying, then (highest) any terminal status; -1 for no state.
 */
export function runOrder(run) {
  if (!run || !run.status) return -1;
  if (TERMINAL.has(run.status)) return Number.MAX_SAFE_INTEGER;
  if (run.status === 'queued') return 0;
  const attempt = Number(run.attempt) || 1;
  return attempt * 10 + (run.status === 'retrying' ? 2 : 1);
}

/**
 * True when showing ``next`` in place of ``shown`` would move backwards: an older run
 * than the one shown, or an earlier state of the same run (a late "running" after its
 * "success"). Runs are ``{id, status, attempt}``; a missing id or shown run never blocks.
 */
export function movesBackwards(shown, next) {
  if (!shown || shown.id === null || shown.id === undefined || shown.id === '') return false;
  const shownId = Number(shown.id);
  const nextId = Number(next.id);
  if (Number.isNaN(nextId) || Number.isNaN(shownId)) return false;
  if (nextId !== shownId) return nextId < shownId;
  return runOrder(next) < runOrder(shown);
}
