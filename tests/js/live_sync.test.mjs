// The live stream's rules (static/js/live/sync_rules.js, rooms.js, run_order.js): gaps,
// replay merge, batches, truncated acks, head notices, rate limits, ordering.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { roomKind } from '../../static/js/live/rooms.js';
import { movesBackwards, runOrder } from '../../static/js/live/run_order.js';
import {
  batchEvents,
  classify,
  cursorAfter,
  cursorAtHead,
  drainHeld,
  headForRoom,
  inOrder,
  isBehind,
  mustAskAgain,
  replayEntries,
  retryAfterMs,
} from '../../static/js/live/sync_rules.js';

const bySeq = (ev) => ev.seq;
const ev = (seq, extra = {}) => ({ seq, ...extra });
const seqs = (entries) => entries.map(({ item }) => item.seq);

describe('classify: gap detection', () => {
  it('applies anything before the first cursor is known', () => {
    assert.equal(classify(null, 7, true), 'next');
  });
  it('drops duplicates and what a replay already covered', () => {
    assert.equal(classify(10, 10, true), 'old');
    assert.equal(classify(10, 3, false), 'old');
  });
  it('takes the next seq in a room without holes', () => {
    assert.equal(classify(10, 11, true), 'next');
  });
  it('calls a jump a gap only where the room numbers without holes', () => {
    assert.equal(classify(10, 12, true), 'gap');
    assert.equal(classify(10, 12, false), 'next'); // task:<id> rooms skip other tasks' seqs
  });
});

describe('replay merge', () => {
  it('applies the ack in seq order, once each, past the cursor', () => {
    const entries = replayEntries([ev(13), ev(11), ev(12), ev(12), ev(9)], [], 10, bySeq);
    assert.deepEqual(seqs(entries), [11, 12, 13]);
  });
  it('marks replayed events that also arrived live as live (they deserve a toast)', () => {
    const entries = replayEntries([ev(11), ev(12)], [ev(12)], 10, bySeq);
    assert.deepEqual(entries.map((e) => e.live), [false, true]);
  });
  it('replays everything on a first subscribe without a cursor', () => {
    assert.deepEqual(seqs(replayEntries([ev(2), ev(1)], [], null, bySeq)), [1, 2]);
  });
  it('drains held live events after an ack, past head, accepting what is gone', () => {
    const entries = drainHeld([ev(20), ev(15), ev(14), ev(15)], 14, bySeq, { gapless: true, acceptGaps: true });
    assert.deepEqual(seqs(entries), [15, 20]);
  });
  it('drains held live events only up to the first gap otherwise', () => {
    const entries = drainHeld([ev(11), ev(12), ev(14), ev(15)], 10, bySeq, { gapless: true, acceptGaps: false });
    assert.deepEqual(seqs(entries), [11, 12]);
  });
  it('moves the cursor to the last applied and to the ack head, never down', () => {
    assert.equal(cursorAfter(10, [{ item: ev(12) }, { item: ev(11) }], bySeq), 12);
    assert.equal(cursorAfter(null, [], bySeq), null);
    assert.equal(cursorAtHead(12, 57), 57);
    assert.equal(cursorAtHead(60, 57), 60);
    assert.equal(cursorAtHead(null, 57), 57);
    assert.equal(cursorAtHead(5, undefined), 5);
  });
  it('orders and dedupes by key', () => {
    assert.deepEqual(inOrder([ev(3), ev(1), ev(3), ev(2)], bySeq).map(bySeq), [1, 2, 3]);
  });
});

describe('truncated acks and head notices', () => {
  it('asks again after a truncated ack that brought items', () => {
    assert.equal(mustAskAgain(true, 1000, false), true);
  });
  it('does not ask again when nothing came, or a snapshot covers the rest', () => {
    assert.equal(mustAskAgain(true, 0, false), false);
    assert.equal(mustAskAgain(true, 1000, true), false);
    assert.equal(mustAskAgain(undefined, 3, false), false);
  });
  it('sees a missed tail when the head is past the cursor', () => {
    assert.equal(isBehind(10, 12), true);
    assert.equal(isBehind(12, 12), false);
    assert.equal(isBehind(null, 12), false);
  });
  it('routes head notices: plain ones to room tasks, {head, task_id} to that task room', () => {
    assert.equal(headForRoom('tasks', { head: 57 }), 57);
    assert.equal(headForRoom('tasks', { head: 57, task_id: 3 }), null);
    assert.equal(headForRoom('task:3', { head: 41, task_id: 3 }), 41);
    assert.equal(headForRoom('task:3', { head: 41, task_id: 4 }), null);
    assert.equal(headForRoom('task:3', { head: 57 }), null);
    assert.equal(headForRoom('run:9', { head: 57 }), null);
    assert.equal(headForRoom('tasks', { head: 'x' }), null);
  });
});

describe('rate-limited refusals', () => {
  it('waits as long as the server says, and a little more', () => {
    const wait = retryAfterMs('rate limited: at most 20 subscribes per 10 s on one connection; try again in 2.5 s');
    assert.ok(wait >= 2500 && wait <= 3000, wait);
  });
  it('waits a second when the refusal names no time', () => {
    assert.ok(retryAfterMs('rate limited') >= 1000);
  });
  it('asks again while the database is away, after the wait named', () => {
    const wait = retryAfterMs('database unavailable: cannot sync now; try again in 2 s');
    assert.ok(wait >= 2000 && wait <= 2500, wait);
  });
  it('does not retry other refusals', () => {
    assert.equal(retryAfterMs("unknown room 'admin'"), null);
    assert.equal(retryAfterMs(undefined), null);
  });
});

describe('batches', () => {
  it('keeps the batch order and drops what is not an event', () => {
    assert.deepEqual(batchEvents({ events: [ev(4), null, { seq: 'x' }, ev(5)] }).map(bySeq), [4, 5]);
  });
  it('reads junk as an empty batch', () => {
    assert.deepEqual(batchEvents(null), []);
    assert.deepEqual(batchEvents({ events: 'no' }), []);
  });
});

describe('rooms', () => {
  it('room tasks: every task_update, by seq, without holes, since=cursor', () => {
    const kind = roomKind('tasks');
    assert.equal(kind.event, 'task_update');
    assert.equal(kind.gapless, true);
    assert.deepEqual(kind.position(41), { since: 41 });
    assert.deepEqual(kind.itemsOf({ seq: 3, task_id: 9 }), [{ seq: 3, task_id: 9 }]);
    assert.deepEqual(kind.itemsOf({ task_id: 9 }), []);
  });
  it('room task:<id>: only that task, holes allowed', () => {
    const kind = roomKind('task:3');
    assert.equal(kind.gapless, false);
    assert.equal(kind.itemsOf({ seq: 5, task_id: 4 }).length, 0);
    assert.equal(kind.itemsOf({ seq: 5, task_id: 3 }).length, 1);
  });
  it('room run:<id>: its output lines by n, after=last line (null for none)', () => {
    const kind = roomKind('run:17');
    const lines = [{ n: 1, text: 'a' }, { n: 'x' }];
    assert.deepEqual(kind.itemsOf({ run_id: 17, lines }), [{ n: 1, text: 'a' }]);
    assert.deepEqual(kind.itemsOf({ run_id: 18, lines }), []);
    assert.deepEqual(kind.position(0), { after: null });
    assert.deepEqual(kind.position(412), { after: 412 });
    assert.equal(kind.truncated({ output: { truncated: true } }), true);
    assert.deepEqual(kind.ackItems({ output: { lines } }), lines);
    assert.equal(kind.head({ head: 99 }), null);
  });
  it('room audit: entries by id', () => {
    const kind = roomKind('audit');
    assert.equal(kind.event, 'audit_entry');
    assert.equal(kind.keyOf({ id: 8 }), 8);
    assert.deepEqual(kind.position(8), { since: 8 });
  });
  it('room notifications: outbox rows by id', () => {
    const kind = roomKind('notifications');
    assert.equal(kind.event, 'notification');
    assert.equal(kind.gapless, false);
    assert.deepEqual(kind.itemsOf({ id: 3, status: 'sent' }), [{ id: 3, status: 'sent' }]);
    assert.deepEqual(kind.itemsOf({ id: '3' }), []);
    assert.deepEqual(kind.position(3), { since: 3 });
  });
  it('refuses a room it does not know', () => {
    assert.throws(() => roomKind('admin'));
  });
});

describe('ordering: a run never moves backwards', () => {
  it('orders a run\'s states: queued < running < retrying < next attempt < terminal', () => {
    const order = [
      { status: 'queued' },
      { status: 'running', attempt: 1 },
      { status: 'retrying', attempt: 1 },
      { status: 'running', attempt: 2 },
      { status: 'success', attempt: 2 },
    ].map(runOrder);
    assert.deepEqual([...order].sort((a, b) => a - b), order);
    assert.equal(runOrder(null), -1);
    assert.equal(runOrder({ status: '' }), -1);
  });
  it('ignores a late running after success of the same run', () => {
    assert.equal(movesBackwards({ id: 5, status: 'success' }, { id: 5, status: 'running', attempt: 1 }), true);
  });
  it('ignores an older run, takes a newer one whatever its state', () => {
    assert.equal(movesBackwards({ id: 5, status: 'queued' }, { id: 4, status: 'success' }), true);
    assert.equal(movesBackwards({ id: 5, status: 'success' }, { id: 6, status: 'queued' }), false);
  });
  it('takes a retry going back to running with the next attempt', () => {
    assert.equal(movesBackwards({ id: 5, status: 'retrying', attempt: 1 }, { id: 5, status: 'running', attempt: 2 }), false);
  });
  it('never blocks when nothing is shown', () => {
    assert.equal(movesBackwards({ id: '' }, { id: 1, status: 'queued' }), false);
    assert.equal(movesBackwards(null, { id: 1, status: 'queued' }), false);
  });
});
