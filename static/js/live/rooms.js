// What each kind of room numbers and how its subscribe ack carries it (docs/protocol.md,
// "Rooms" and "subscribe"). Pure: a room name in, a description out.

const bySeq = (ev) => ev.seq;

const SEQ_ACK = {
  keyOf: bySeq,
  ackItems: (ack) => (Array.isArray(ack.events) ? ack.events : []),
  truncated: (ack) => ack.truncated,
  head: (ack) => ack.head,
  position: (cursor) => ({ since: cursor }),
};

/**
 * The description of ``room``: ``event`` (the live event name), ``itemsOf(payload)``
 * (the live items of one such event that belong to this room), ``keyOf``, ``gapless``
 * (a jump in the key is a gap), ``ackItems``, ``truncated``, ``head`` (of an ack) and
 * ``position(cursor)`` (the subscribe fields that say where the page is).
 */
export function roomKind(room) {
  if (room === 'tasks') {
    // Every task_update goes to room "tasks", so there a jump in seq is a gap.
    return { ...SEQ_ACK, event: 'task_update', gapless: true, itemsOf: seqItems(() => true) };
  }
  const [type, id] = String(room).split(':');
  if (type === 'task') {
    return { ...SEQ_ACK, event: 'task_update', gapless: false, itemsOf: seqItems((ev) => String(ev.task_id) === id) };
  }
  if (type === 'run') {
    return {
      event: 'run_output',
      gapless: true, // n goes up by one; a jump means lines were skipped live
      itemsOf: (msg) => (msg && String(msg.run_id) === id && Array.isArray(msg.lines)
        ? msg.lines.filter((line) => Number.isInteger(line.n)) : []),
      keyOf: (line) => line.n,
      ackItems: (ack) => (Array.isArray(ack.output?.lines) ? ack.output.lines : []),
      truncated: (ack) => ack.output?.truncated,
      head: () => null, // output.last may be ahead of the lines the ack holds
      position: (cursor) => ({ after: cursor || null }),
    };
  }
  if (room === 'audit') {
    return {
      ...SEQ_ACK,
      event: 'audit_entry',
      gapless: false, // entry ids of other kinds of row may be skipped
      itemsOf: (entry) => (entry && Number.isInteger(entry.id) ? [entry] : []),
      keyOf: (entry) => entry.id,
    };
  }
  if (room === 'notifications') {
    // Outbox rows by id; a row that changes comes again with the same id, so the
    // page applies changes as they come (live.on) and this stream only numbers new rows.
    return {
      ...SEQ_ACK,
      event: 'notification',
      gapless: false,
      itemsOf: (row) => (row && Number.isInteger(row.id) ? [row] : []),
      keyOf: (row) => row.id,
    };
  }
  throw new Error(`unknown room ${room}`);
}

function seqItems(belongs) {
  return (ev) => (ev && Number.isInteger(ev.seq) && belongs(ev) ? [ev] : []);
}
