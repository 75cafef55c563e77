// The dialog's "next fires" preview: the next five fire times of the schedule being
// edited, in the task's zone and in UTC. Cron and interval schedules ask the server
// (GET /api/schedule/preview), which applies the same rules as the scheduler; the
// request is made only when the dialog opens or after the user stops typing.

import { apiRequest } from '../api.js';
import { formatInZone, formatUtcBeside, isKnownZone, parseIso, zonedTimeToUtc } from './format.js';

const PREVIEW_COUNT = 5;
const TYPING_PAUSE_MS = 300;
const UTC_NAMES = new Set(['UTC', 'Etc/UTC']);
const ERROR_PREFIX = { timezone: 'Time zone', interval: 'Interval', after: 'From date' };

function offsetName(iso, zone) {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'shortOffset' })
    .formatToParts(new Date(parseIso(iso)));
  return parts.find((p) => p.type === 'timeZoneName')?.value || '';
}

/**
 * @param {HTMLElement} root  the preview box (its parts carry data-part)
 * @param {Function} readSchedule  () => {type, expr, seconds, at, timezone}, the form's values
 */
export function createSchedulePreview(root, readSchedule) {
  const list = root.querySelector('[data-part="list"]');
  const error = root.querySelector('[data-part="error"]');
  const note = root.querySelector('[data-part="note"]');
  const from = root.querySelector('[data-part="from"]');
  const heading = root.querySelector('[data-part="heading"]');
  let typingTimer = null;
  let controller = null;
  let generation = 0;

  function show({ message = '', problem = '', fires = [], zone = 'UTC', seconds = false, title = 'Next fires' }) {
    heading.textContent = title;
    note.textContent = message;
    note.hidden = !message;
    error.textContent = problem;
    error.hidden = !problem;
    root.classList.toggle('preview-invalid', Boolean(problem));
    const shownZone = isKnownZone(zone) ? zone : 'UTC';
    let previousOffset = null;
    list.replaceChildren(
      ...fires.map((iso) => {
        const li = document.createElement('li');
        li.dataset.testid = 'preview-fire';
        li.dataset.utc = iso;
        const local = document.createElement('span');
        local.className = 'fire-local';
        local.dataset.testid = 'fire-local';
        local.textContent = formatInZone(iso, shownZone, { seconds });
        const utc = document.createElement('span');
        utc.className = 'fire-utc';
        utc.dataset.testid = 'fire-utc';
        utc.textContent = formatUtcBeside(iso, shownZone, { seconds });
        li.append(local);
        if (!UTC_NAMES.has(shownZone)) li.append(utc); // the same text twice otherwise
        const offset = offsetName(iso, shownZone);
        if (previousOffset !== null && offset !== previousOffset) {
          const mark = document.createElement('span');
          mark.className = 'fire-offset-change';
          mark.textContent = 'clock change';
          mark.title = `UTC offset ${previousOffset} -> ${offset}`;
          li.append(mark);
        }
        previousOffset = offset;
        return li;
      }),
    );
  }

  /** The instant the preview starts after: midnight of the "from" date in the task's zone. */
  function afterParam(zone) {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(from?.value || '');
    if (!match) return null;
    const [, y, m, d] = match.map(Number);
    let start;
    try {
      start = zonedTimeToUtc(y, m, d, 0, 0, zone);
    } catch {
      start = Date.UTC(y, m - 1, d); // a zone this browser does not know: the server says so
    }
    return new Date(start - 1000).toISOString(); // "after" is exclusive: keep a fire at 00:00
  }

  /** Fetch and show the preview for the form's current values now. */
  async function refreshPreview() {
    clearTimeout(typingTimer);
    typingTimer = null;
    controller?.abort();
    controller = null;
    const mine = ++generation;
    const schedule = readSchedule();
    const zone = schedule.timezone.trim() || 'UTC';
    root.removeAttribute('aria-busy');

    if (schedule.type === 'manual') {
      show({ title: 'Manual only', message: 'No schedule: the task runs when someone presses Run Now.' });
      return;
    }
    if (schedule.type === 'once') {
      const at = schedule.at.trim();
      const t = parseIso(at);
      if (!at) show({ title: 'Fires once', message: 'Enter the instant, e.g. 2026-12-01T02:00:00Z.' });
      else if (Number.isNaN(t)) show({ title: 'Fires once', problem: `not an ISO-8601 instant: ${at}` });
      else {
        show({
          title: 'Fires once',
          fires: [new Date(t).toISOString().replace('.000Z', 'Z')],
          zone,
          seconds: new Date(t).getUTCSeconds() !== 0,
          message: t <= Date.now() ? 'This instant is in the past: the task will not fire.' : '',
        });
      }
      return;
    }

    const params = new URLSearchParams({ timezone: zone, count: String(PREVIEW_COUNT) });
    if (schedule.type === 'cron') {
      if (!schedule.expr.trim()) {
        show({ message: 'Type a cron expression (minute hour day month weekday) to see its next fires.' });
        return;
      }
      params.set('cron', schedule.expr.trim());
    } else {
      if (!schedule.seconds.trim()) {
        show({ message: 'Type a number of seconds to see the next fires.' });
        return;
      }
      params.set('interval', schedule.seconds.trim());
    }
    const after = afterParam(zone);
    if (after) params.set('after', after);

    controller = new AbortController();
    root.setAttribute('aria-busy', 'true');
    let result;
    try {
      result = await apiRequest('GET', `/schedule/preview?${params}`, { signal: controller.signal });
    } catch {
      return; // aborted: a newer preview is on its way
    }
    if (mine !== generation) return;
    root.removeAttribute('aria-busy');
    controller = null;
    const title = `Next ${PREVIEW_COUNT} fires`;
    if (!result.ok) {
      const prefix = ERROR_PREFIX[result.error.field];
      show({ title, problem: prefix ? `${prefix}: ${result.error.message}` : result.error.message });
    } else if (!result.data.fires.length) {
      show({ title, message: 'This schedule does not fire again.' });
    } else {
      show({ title, fires: result.data.fires, zone, seconds: schedule.type === 'interval' });
    }
  }

  /** Called on every keystroke: preview once the user pauses typing. */
  function schedulePreviewAfterTyping() {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(refreshPreview, TYPING_PAUSE_MS);
  }

  return {
    refreshPreview,
    schedulePreviewAfterTyping,
    /** Cancel any pending preview (the dialog closed). */
    stop() {
      clearTimeout(typingTimer);
      typingTimer = null;
      controller?.abort();
      controller = null;
      generation++;
    },
    reset() {
      if (from) from.value = '';
    },
  };
}
