// Status and trigger names and their labels, as the server defines them: the pages put
// them on <body data-vocabulary> (the Jinja global taskpulse_vocabulary), so the front
// end keeps no list of its own. The short phrases pages show beside a trigger are
// derived here, in one place.

/** ``{statuses: {name: label}, triggers: {name: label}, taskDefaults: {field: value}}``
 * from the attribute's JSON; empty maps for a missing or unreadable one. */
export function parseVocabulary(text) {
  let data = null;
  try {
    data = JSON.parse(text || 'null');
  } catch {
    data = null;
  }
  const map = (value) => (value && typeof value === 'object' && !Array.isArray(value) ? value : {});
  return { statuses: map(data?.statuses), triggers: map(data?.triggers), taskDefaults: map(data?.task_defaults) };
}

const vocabulary = parseVocabulary(typeof document === 'undefined' ? null : document.body.dataset.vocabulary);

/** What a task is when a field is left out (the server's own defaults). */
export const TASK_DEFAULTS = vocabulary.taskDefaults;

/** Every run status the server knows, in its order. */
export const STATUS_NAMES = Object.keys(vocabulary.statuses);

/** A status's label ("Queued"), or the name itself when the server gave none. */
export const statusLabel = (status) => vocabulary.statuses[status] ?? status;

/** A trigger's label ("Schedule"), or the name itself. */
export const triggerLabel = (trigger) => vocabulary.triggers[trigger] ?? trigger ?? '';

/** Who started a run, as a phrase: "started by hand", "started by the schedule". */
export function triggerPhrase(trigger) {
  if (!trigger) return '';
  if (trigger === 'manual') return 'started by hand';
  return `started by the ${triggerLabel(trigger).toLowerCase()}`;
}

/** The tag a task row shows beside the status of a run no person started, as a
 * participle of the trigger's label ("scheduled", "chained"); "" for a manual run. */
export function triggerTag(trigger) {
  if (!trigger || trigger === 'manual') return '';
  const word = triggerLabel(trigger).toLowerCase();
  return word.endsWith('e') ? `${word}d` : `${word}ed`;
}
