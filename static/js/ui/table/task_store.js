// The page's copy of every task it shows (the API's task fields; its newest run lives in
// the row). Filled from the rendered rows, then kept current by task_changed,
// task_update and snapshots. The dialog edits from here, so editing needs no request.

const tasks = new Map(); // id (string) -> task
const deleted = new Set(); // ids deleted while this page was open (ids are never reused)
const changedAt = new Map(); // id -> performance.now() of its last task_changed

const key = (id) => String(id);

/** The task with this id, or undefined. */
export function getTask(id) {
  return tasks.get(key(id));
}

export function allTasks() {
  return [...tasks.values()];
}

/** Store a task as the API or a task_changed event gave it (last_run is not kept). */
export function putTask(task) {
  const { last_run: _lastRun, ...fields } = task;
  tasks.set(key(task.id), fields);
  return fields;
}

/** Merge the task fields a task_update carries (they are the task's after that change). */
export function patchTask(id, fields) {
  const task = tasks.get(key(id));
  if (task) Object.assign(task, fields);
  return task;
}

export function forgetTask(id) {
  tasks.delete(key(id));
  deleted.add(key(id));
}

export function wasDeleted(id) {
  return deleted.has(key(id));
}

/** Remember that a task_changed for this task arrived now. */
export function markChanged(id) {
  changedAt.set(key(id), performance.now());
}

/** True if a task_changed for this task arrived after ``time`` (performance.now()). */
export function changedSince(id, time) {
  return (changedAt.get(key(id)) ?? -Infinity) > time;
}
