// One room's sync loop: subscribe with the cursor on every connect, apply the ack's
// replay, hold live items while an ack is awaited, re-subscribe on a gap, a missed
// tail (seq_head), a truncated ack, and (after the wait it names) a rate-limited
// refusal. The socket is behind ``link`` (live/connection.js), so this runs in tests
// with a fake one; the rules themselves are in sync_rules.js.

import {
  classify,
  cursorAfter,
  cursorAtHead,
  drainHeld,
  inOrder,
  isBehind,
  mustAskAgain,
  replayEntries,
  retryAfterMs,
} from './sync_rules.js';
import { roomKind } from './rooms.js';

/**
 * @param {object} link  {connected(): bool, send(payload): Promise<ack>, later(fn, ms), cancel(timer)}
 * @param {object} opts
 * @param {string} opts.room  "tasks", "task:<id>", "run:<id>" or "audit"
 * @param {number|null} opts.cursor  the last item the page already shows (head when rendered)
 * @param {object} [opts.extra]  more subscribe fields, e.g. {batch: true}
 * @param {boolean} [opts.snapshotOnReconnect]  ask for a snapshot when connecting again
 * @param {Function} opts.apply  (entries) => void; entries are [{item, live}] in order
 * @param {Function} [opts.ack]  (ack, {snapshot, sentAt}) => void, after the replay is applied
 * @param {Function} [opts.synced]  () => void: the room is known to be up to date
 * @param {Function} [opts.refused]  (message) => void: a subscribe was refused or timed out
 */
export function createSubscription(link, opts) {
  const kind = roomKind(opts.room);
  const { keyOf, gapless } = kind;
  let cursor = Number.isInteger(opts.cursor) ? opts.cursor : null;
  let held = []; // live items that came while an ack was awaited, or past a gap
  let inFlight = false;
  let again = null; // {snapshot} of a subscribe asked for while one was in flight
  let generation = 0; // bumps per subscribe and on disconnect, so a stale ack is dropped
  let retryTimer = null;
  let awayBefore = false; // connected (or failed to) before: a reconnect wants a snapshot
  let needSnapshot = false;

  const applyEntries = (entries) => {
    if (!entries.length) return;
    opts.apply(entries);
    cursor = cursorAfter(cursor, entries, keyOf);
  };

  function subscribe(askSnapshot = false) {
    if (!link.connected()) return false;
    if (inFlight) {
      again = { snapshot: Boolean(again?.snapshot || askSnapshot) };
      return true;
    }
    const snapshot = askSnapshot || needSnapshot;
    inFlight = true;
    const mine = ++generation;
    const sentAt = performance.now();
    link.send({ room: opts.room, ...kind.position(cursor), ...(snapshot ? { snapshot: true } : {}), ...opts.extra })
      .then((ack) => {
        if (mine === generation) settle(ack, snapshot, sentAt);
      });
    return true;
  }

  function settle(ack, snapshot, sentAt) {
    inFlight = false;
    if (!ack || ack.ok !== true) {
      refused((ack && ack.error) || 'subscribe refused');
      return;
    }
    const items = kind.ackItems(ack);
    applyEntries(replayEntries(items, held, cursor, keyOf));
    if (snapshot) needSnapshot = false;
    opts.ack?.(ack, { snapshot, sentAt });
    if (mustAskAgain(kind.truncated(ack), items.length, snapshot)) {
      subscribe(); // held live items wait for the rest of the replay
      return;
    }
    cursor = cursorAtHead(cursor, kind.head(ack));
    opts.synced?.();
    const waiting = held;
    held = [];
    applyEntries(drainHeld(waiting, cursor, keyOf, { gapless, acceptGaps: true }));
    if (again) {
      const { snapshot: wanted } = again;
      again = null;
      subscribe(wanted);
    }
  }

  function refused(message) {
    opts.refused?.(message);
    const wait = retryAfterMs(message);
    // The live items held in a room without holes come back with the next replay; in
    // one with holes nothing else would bring them, so they go in now.
    const waiting = held;
    held = [];
    if (!gapless) applyEntries(drainHeld(waiting, cursor, keyOf, { gapless, acceptGaps: true }));
    if (wait !== null) {
      link.cancel(retryTimer);
      retryTimer = link.later(() => {
        retryTimer = null;
        subscribe(Boolean(again?.snapshot));
      }, wait);
    }
    again = null;
  }

  return {
    get cursor() {
      return cursor;
    },
    /** The socket connected (again): subscribe from the cursor. */
    connected() {
      if (awayBefore && opts.snapshotOnReconnect) needSnapshot = true;
      awayBefore = true;
      subscribe();
    },
    /** The socket went away: a pending ack will never be applied. */
    disconnected({ failed = false } = {}) {
      generation += 1;
      inFlight = false;
      again = null;
      link.cancel(retryTimer);
      retryTimer = null;
      // Whatever connects next has been away a while: bring the room as it is now.
      if (failed) awayBefore = true;
      if (failed && opts.snapshotOnReconnect) needSnapshot = true;
    },
    /** Live items of this room (a task_update, a run_output's lines, an audit entry). */
    receive(items) {
      if (inFlight) {
        held.push(...items);
        return;
      }
      const ordered = inOrder(items, keyOf);
      const fresh = [];
      let last = cursor;
      for (const [i, item] of ordered.entries()) {
        const verdict = classify(last, keyOf(item), gapless);
        if (verdict === 'old') continue;
        if (verdict === 'gap') {
          held.push(...ordered.slice(i));
          break;
        }
        fresh.push({ item, live: true });
        last = keyOf(item);
      }
      applyEntries(fresh);
      if (held.length) subscribe(); // a gap: the replay covers the held items too
      else if (fresh.length) opts.synced?.();
    },
    /** A head notice for this room: a head past the cursor means the tail was missed. */
    head(head) {
      if (!inFlight && isBehind(cursor, head)) subscribe();
    },
    /** Subscribe again now (with a snapshot if asked); false when not connected. */
    resubscribe({ snapshot = false } = {}) {
      return subscribe(snapshot);
    },
  };
}
