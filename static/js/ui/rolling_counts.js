// The statistics panel's 24-hour counts, aged out by the page itself: the snapshot
// carries the runs that ended per minute, live events add to the current minute, and a
// local clock drops minutes older than a day. No timer asks the server for anything.

export const WINDOW_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;
const STATUSES = ['success', 'failed', 'stopped']; // the order of a minute's counts

/**
 * @param {Array<[number, number, number, number]>} minutes  [minute start (Unix s), success, failed, stopped]
 */
export function createRollingCounts(minutes = []) {
  const buckets = new Map(); // minute start (ms) -> [success, failed, stopped]
  for (const entry of Array.isArray(minutes) ? minutes : []) {
    if (!Array.isArray(entry) || !Number.isFinite(entry[0])) continue;
    const counts = entry.slice(1, 4).map((n) => (Number.isInteger(n) && n > 0 ? n : 0));
    buckets.set(entry[0] * 1000, counts);
  }

  return {
    /** Count one run that ended ``status`` at ``atMs`` (a terminal live event). */
    add(status, atMs) {
      const index = STATUSES.indexOf(status);
      if (index < 0 || !Number.isFinite(atMs)) return;
      const minute = Math.floor(atMs / MINUTE_MS) * MINUTE_MS;
      const counts = buckets.get(minute) || [0, 0, 0];
      counts[index] += 1;
      buckets.set(minute, counts);
    },
    /** ``{success, failed, stopped, finished, since}`` over the day before ``nowMs``. */
    totals(nowMs) {
      const since = nowMs - WINDOW_MS;
      const sums = [0, 0, 0];
      for (const [minute, counts] of buckets) {
        // A minute counts while any of it is inside the window, as on the server.
        if (minute + MINUTE_MS <= since) buckets.delete(minute);
        else counts.forEach((n, i) => { sums[i] += n; });
      }
      return { success: sums[0], failed: sums[1], stopped: sums[2], finished: sums[0] + sums[1] + sums[2], since };
    },
  };
}
