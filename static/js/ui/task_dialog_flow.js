// The task dialog's "Queue and chain" part: the RQ queue its runs go to, its tags
// (concurrency groups) and ``then``: the tasks its runs' ends start, one a line as
// "<when>: <task name>" (when: success, failure or always; a bare name means success).
// Read, filled and matched to the server's errors ("queue", "tags", "then.task"...).

const WHEN = ['success', 'failure', 'always'];

/** Pure: "failure: notify ops" -> {task: "notify ops", when: "failure"}; a line
 * without a known "<when>:" prefix is a task name started on success. */
export function parseThenLine(line) {
  const text = line.trim();
  const match = /^(success|failure|always)\s*:\s*(.+)$/i.exec(text);
  if (match) return { task: match[2].trim(), when: match[1].toLowerCase() };
  return { task: text, when: 'success' };
}

/** Pure: the textarea's text from a task's ``then`` list. */
export function thenText(then) {
  return (then || []).map((entry) => `${WHEN.includes(entry.when) ? entry.when : 'success'}: ${entry.task}`).join('\n');
}

/** Pure: "scan, heavy  db" -> ["scan", "heavy", "db"]. */
export function parseTags(text) {
  return String(text || '').split(/[\s,]+/).filter(Boolean);
}

/** ``{body: {queue, tags, then}}`` from the form (a page without the part: ``{body: {}}``). */
export function readFlow(fields) {
  if (!fields.queue) return { body: {} };
  const then = fields.then_text.value.split('\n').filter((line) => line.trim()).map(parseThenLine);
  const tags = parseTags(fields.tags_text.value);
  return { body: { queue: fields.queue.value.trim() || null, tags: tags.length ? tags : null, then: then.length ? then : null } };
}

/** Fill the part from a task (defaults for a new one). */
export function fillFlow(fields, task, defaultQueue) {
  if (!fields.queue) return;
  fields.queue.value = task.queue || defaultQueue || '';
  fields.tags_text.value = (task.tags || []).join(', ');
  fields.then_text.value = thenText(task.then);
}

/** The error slot of a server field of this part, or null. */
export function flowSlot(field) {
  const root = String(field || '').split('.')[0];
  return ['queue', 'tags', 'then'].includes(root) ? root : null;
}
