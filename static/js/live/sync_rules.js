// The rules of the live stream, as pure functions (no socket, no DOM), so that
// tests/js/ can prove them: which live item to apply, hold or drop; what a subscribe
// ack brings; when to ask again. docs/protocol.md, "The replay rule", is the contract.
//
// An "item" is whatever a room numbers: a task_update (by seq), an audit entry (by id),
// an output line (by n). The "cursor" is the number of the last item applied, or null
// before anything is known.

/** What to do with a live item numbered ``key``: "old" (already applied or covered),
 * "gap" (items are missing before it, in a room that numbers without holes) or "next". */
export function classify(cursor, key, gapless) {
  if (cursor === null) return 'next';
  if (key <= cursor) return 'old';
  if (gapless && key > cursor + 1) return 'gap';
  return 'next';
}

/** Items by their key, oldest first, each key once (the first copy wins). */
export function inOrder(items, keyOf) {
  const seen = new Set();
  const out = [];
  for (const item of [...items].sort((a, b) => keyOf(a) - keyOf(b))) {
    const key = keyOf(item);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(item);
  }
  return out;
}

/**
 * The items of a subscribe ack to apply, in order, past ``cursor``. Each is
 * ``{item, live}``: ``live`` is true when the same item also arrived live while the
 * ack was awaited (a page toasts live events only, and such an event is live).
 */
export function replayEntries(ackItems, held, cursor, keyOf) {
  const heldKeys = new Set(held.map(keyOf));
  return inOrder(ackItems, keyOf)
    .filter((item) => cursor === null || keyOf(item) > cursor)
    .map((item) => ({ item, live: heldKeys.has(keyOf(item)) }));
}

/**
 * Live items that waited, to apply now. ``acceptGaps``: right after an ack, whatever is
 * still missing is gone for good (or the room has holes by design), so every held item
 * past the cursor goes in; otherwise they go in up to the first gap and the rest is
 * dropped, to come back through the next replay.
 */
export function drainHeld(held, cursor, keyOf, { gapless, acceptGaps }) {
  const out = [];
  let last = cursor;
  for (const item of inOrder(held, keyOf)) {
    const verdict = classify(last, keyOf(item), gapless && !acceptGaps);
    if (verdict === 'old') continue;
    if (verdict === 'gap') break;
    out.push({ item, live: true });
    last = keyOf(item);
  }
  return out;
}

/** The cursor after applying ``entries`` (from replayEntries or drainHeld). */
export function cursorAfter(cursor, entries, keyOf) {
  return entries.reduce((last, { item }) => {
    const key = keyOf(item);
    return last === null || key > last ? key : last;
  }, cursor);
}

/** The cursor once an ack's ``head`` is known: the stream is complete up to it. */
export function cursorAtHead(cursor, head) {
  if (!Number.isInteger(head)) return cursor;
  return cursor === null ? head : Math.max(cursor, head);
}

/** A truncated ack that brought items: more were missed than one ack carries, so ask
 * again from the last item got (jumping to head would skip the rest). A snapshot covers
 * what a truncated replay left out, so it needs no second ask. */
export function mustAskAgain(truncated, itemCount, snapshot) {
  return Boolean(truncated) && itemCount > 0 && !snapshot;
}

/** A head notice (seq_head) says the stream's tail was missed when it is past the cursor. */
export function isBehind(cursor, head) {
  return cursor !== null && Number.isInteger(head) && head > cursor;
}

/** The head a ``seq_head`` notice gives for ``room``, or null when it is about another
 * room: plain ``{head}`` is room "tasks", ``{head, task_id}`` is room "task:<id>". */
export function headForRoom(room, notice) {
  if (!notice || !Number.isInteger(notice.head)) return null;
  const hasTask = notice.task_id !== undefined && notice.task_id !== null;
  if (room === 'tasks') return hasTask ? null : notice.head;
  if (room.startsWith('task:') && hasTask) return room === `task:${notice.task_id}` ? notice.head : null;
  return null;
}

/** Milliseconds to wait before asking again after a refusal that passes ("rate limited:
 * ... try again in 2.5 s", "database unavailable: ... try again in 2 s"), or null when
 * the refusal is of another kind. */
export function retryAfterMs(error) {
  const text = String(error ?? '');
  if (!text.startsWith('rate limited') && !text.startsWith('database unavailable')) return null;
  const match = /try again in ([\d.]+) ?s/.exec(text);
  const seconds = match ? Number(match[1]) : 1;
  // A little past the window's end, so the retry does not land just inside it.
  return Math.ceil((Number.isFinite(seconds) ? seconds : 1) * 1000) + 250;
}

/** The task_update events of a ``task_updates`` batch, in seq order ([] for junk). */
export function batchEvents(batch) {
  if (!batch || !Array.isArray(batch.events)) return [];
  return batch.events.filter((ev) => ev && Number.isInteger(ev.seq));
}
