// One room's sync loop (static/js/live/subscription.js) against a fake socket link:
// subscribe with since on every connect, hold live events while an ack is awaited,
// re-subscribe on gaps, missed tails and truncated acks, back off when rate limited.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createSubscription } from '../../static/js/live/subscription.js';

/** A link whose acks the test answers by hand, and whose timers the test fires. */
function fakeLink() {
  const sent = [];
  const timers = [];
  return {
    sent,
    timers,
    up: true,
    connected() {
      return this.up;
    },
    send(payload) {
      return new Promise((resolve) => sent.push({ payload, answer: resolve }));
    },
    later(fn, ms) {
      const timer = { fn, ms };
      timers.push(timer);
      return timer;
    },
    cancel(timer) {
      const i = timers.indexOf(timer);
      if (i >= 0) timers.splice(i, 1);
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function tasksRoom(link, cursor = 10, extra = {}) {
  const applied = [];
  const acks = [];
  const refusals = [];
  const sub = createSubscription(link, {
    room: 'tasks',
    cursor,
    extra: { batch: true },
    snapshotOnReconnect: true,
    apply: (entries) => applied.push(...entries.map(({ item, live }) => [item.seq, live])),
    ack: (ack, info) => acks.push(info),
    refused: (message) => refusals.push(message),
    ...extra,
  });
  return { sub, applied, acks, refusals };
}

async function answer(link, ack) {
  link.sent.at(-1).answer(ack);
  await tick();
}

describe('subscription', () => {
  it('subscribes with since = the last applied seq, batch on, no snapshot on the first connect', () => {
    const link = fakeLink();
    const { sub } = tasksRoom(link);
    sub.connected();
    assert.deepEqual(link.sent[0].payload, { room: 'tasks', since: 10, batch: true });
  });

  it('applies the replay, then live events held meanwhile, and moves to head', async () => {
    const link = fakeLink();
    const { sub, applied } = tasksRoom(link);
    sub.connected();
    sub.receive([{ seq: 13 }]);
    sub.receive([{ seq: 12 }]);
    await answer(link, { ok: true, head: 12, events: [{ seq: 11 }, { seq: 12 }] });
    assert.deepEqual(applied, [[11, false], [12, true], [13, true]]);
    assert.equal(sub.cursor, 13);
  });

  it('re-subscribes from the last applied seq on a gap, and applies the rest after', async () => {
    const link = fakeLink();
    const { sub, applied } = tasksRoom(link);
    sub.connected();
    await answer(link, { ok: true, head: 10, events: [] });
    sub.receive([{ seq: 11 }]);
    sub.receive([{ seq: 14 }]);
    assert.equal(link.sent.length, 2);
    assert.equal(link.sent[1].payload.since, 11);
    await answer(link, { ok: true, head: 14, events: [{ seq: 12 }, { seq: 13 }, { seq: 14 }] });
    assert.deepEqual(applied.map(([seq]) => seq), [11, 12, 13, 14]);
    assert.deepEqual(applied.at(-1), [14, true]);
  });

  it('drops duplicates of what was applied', async () => {
    const link = fakeLink();
    const { sub, applied } = tasksRoom(link);
    sub.connected();
    await answer(link, { ok: true, head: 12, events: [{ seq: 11 }, { seq: 12 }] });
    sub.receive([{ seq: 12 }]);
    sub.receive([{ seq: 11 }]);
    assert.deepEqual(applied.map(([seq]) => seq), [11, 12]);
    assert.equal(link.sent.length, 1);
  });

  it('asks again from the last seq got after a truncated ack', async () => {
    const link = fakeLink();
    const { sub, applied } = tasksRoom(link);
    sub.connected();
    await answer(link, { ok: true, head: 500, truncated: true, events: [{ seq: 11 }, { seq: 12 }] });
    assert.equal(link.sent.length, 2);
    assert.equal(link.sent[1].payload.since, 12);
    await answer(link, { ok: true, head: 500, events: [{ seq: 13 }] });
    assert.deepEqual(applied.map(([seq]) => seq), [11, 12, 13]);
    assert.equal(sub.cursor, 500);
  });

  it('re-subscribes on a head notice past the cursor', async () => {
    const link = fakeLink();
    const { sub } = tasksRoom(link);
    sub.connected();
    await answer(link, { ok: true, head: 10, events: [] });
    sub.head(10);
    assert.equal(link.sent.length, 1);
    sub.head(12);
    assert.equal(link.sent.length, 2);
    assert.equal(link.sent[1].payload.since, 10);
  });

  it('takes a snapshot when connecting again, and drops an ack from before a disconnect', async () => {
    const link = fakeLink();
    const { sub, applied, acks } = tasksRoom(link);
    sub.connected();
    sub.disconnected();
    await answer(link, { ok: true, head: 20, events: [{ seq: 11 }] });
    assert.deepEqual(applied, []);
    sub.connected();
    assert.equal(link.sent[1].payload.snapshot, true);
    await answer(link, { ok: true, head: 20, events: [{ seq: 11 }], tasks: [] });
    assert.equal(acks[0].snapshot, true);
    assert.equal(sub.cursor, 20);
  });

  it('backs off and retries when rate limited, without losing its place', async () => {
    const link = fakeLink();
    const { sub, refusals } = tasksRoom(link);
    sub.connected();
    await answer(link, { ok: false, error: 'rate limited: at most 20 subscribes per 10 s on one connection; try again in 3.0 s' });
    assert.equal(refusals.length, 1);
    assert.equal(link.timers.length, 1);
    assert.ok(link.timers[0].ms >= 3000);
    link.timers[0].fn();
    assert.equal(link.sent.length, 2);
    assert.equal(link.sent[1].payload.since, 10);
  });

  it('does not retry other refusals', async () => {
    const link = fakeLink();
    const { sub, refusals } = tasksRoom(link);
    sub.connected();
    await answer(link, { ok: false, error: 'no answer' });
    assert.deepEqual(refusals, ['no answer']);
    assert.equal(link.timers.length, 0);
  });

  it('sends one more subscribe, not two at once, when asked while one is in flight', async () => {
    const link = fakeLink();
    const { sub } = tasksRoom(link);
    sub.connected();
    assert.equal(sub.resubscribe({ snapshot: true }), true);
    assert.equal(link.sent.length, 1);
    await answer(link, { ok: true, head: 10, events: [] });
    assert.equal(link.sent.length, 2);
    assert.equal(link.sent[1].payload.snapshot, true);
  });

  it('is false when asked to resubscribe while offline', () => {
    const link = fakeLink();
    link.up = false;
    const { sub } = tasksRoom(link);
    assert.equal(sub.resubscribe(), false);
  });

  it('run output: after = the last line, a jump in n asks again, leftovers go in after the ack', async () => {
    const link = fakeLink();
    const lines = [];
    const sub = createSubscription(link, {
      room: 'run:7',
      cursor: 0,
      apply: (entries) => lines.push(...entries.map(({ item }) => item.n)),
    });
    sub.connected();
    assert.deepEqual(link.sent[0].payload, { room: 'run:7', after: null });
    await answer(link, { ok: true, head: 3, events: [], output: { lines: [{ n: 1 }, { n: 2 }], last: 2 } });
    sub.receive([{ n: 3 }, { n: 3 }, { n: 4 }]);
    sub.receive([{ n: 9 }]);
    assert.equal(link.sent[1].payload.after, 4);
    await answer(link, { ok: true, events: [], output: { lines: [{ n: 6 }, { n: 7 }], last: 9 } });
    assert.deepEqual(lines, [1, 2, 3, 4, 6, 7, 9]);
  });

  it('task room: holes in seq are not gaps', async () => {
    const link = fakeLink();
    const applied = [];
    const sub = createSubscription(link, { room: 'task:3', cursor: 10, apply: (e) => applied.push(...e) });
    sub.connected();
    await answer(link, { ok: true, head: 10, events: [] });
    sub.receive([{ seq: 15, task_id: 3 }]);
    assert.equal(link.sent.length, 1);
    assert.equal(sub.cursor, 15);
  });
});
