// Which of two versions of one outbox row is newer. A row only moves forward: pending
// (attempt after attempt, perhaps held then folded into a summary), then sent or failed.
// Live events and snapshots may bring an older version after a newer one.

/** A number that grows as the row moves forward. */
export function rankOf(row) {
  if (!row || typeof row !== 'object') return -1;
  const done = row.status === 'sent' || row.status === 'failed' ? 1 : 0;
  const attempts = Number.isInteger(row.attempts) && row.attempts >= 0 ? Math.min(row.attempts, 9999) : 0;
  const folded = row.folded_into ? 1 : 0;
  return done * 100000 + attempts * 10 + folded;
}

/** True when ``incoming`` should replace ``shown`` (the same row id). */
export function isNewer(incoming, shown) {
  return rankOf(incoming) >= rankOf(shown);
}

/** The badge class that a delivery status is shown with. */
export function statusBadge(status) {
  if (status === 'sent') return 'badge-success';
  if (status === 'failed') return 'badge-failed';
  return 'badge-queued';
}
