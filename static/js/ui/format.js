// Small, pure formatting helpers shared by the table and the toasts.

/** Duration as "1.2 s", "3 min 4 s" or "1 h 5 min" (templates/scheduler.html mirrors this). */
export function formatDuration(ms) {
  const n = Number(ms);
  if (ms === null || ms === undefined || !Number.isFinite(n)) return '—';
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60000) return `${(Math.round(n / 100) / 10).toFixed(1)} s`;
  if (n < 3600000) return `${Math.floor(n / 60000)} min ${Math.floor((n % 60000) / 1000)} s`;
  return `${Math.floor(n / 3600000)} h ${Math.floor((n % 3600000) / 60000)} min`;
}

/** Milliseconds since the epoch for an ISO-8601 string; a zone-less value is taken as UTC. */
export function parseIso(iso) {
  if (!iso) return NaN;
  const text = /T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(iso) ? `${iso}Z` : iso;
  return Date.parse(text);
}

/** "just now", "12 s ago", "3 min ago", "in 2 h"; the input itself if it does not parse. */
export function relativeTime(iso, now = Date.now()) {
  const t = parseIso(iso);
  if (Number.isNaN(t)) return String(iso);
  const secs = Math.round((now - t) / 1000);
  const abs = Math.abs(secs);
  if (abs < 5) return secs >= 0 ? 'just now' : 'in a moment';
  let span;
  if (abs < 60) span = `${abs} s`;
  else if (abs < 3600) span = `${Math.floor(abs / 60)} min`;
  else if (abs < 86400) span = `${Math.floor(abs / 3600)} h`;
  else span = `${Math.floor(abs / 86400)} d`;
  return secs >= 0 ? `${span} ago` : `in ${span}`;
}

/** Local wall-clock time as hh:mm:ss. */
export function clockTime(date) {
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

/** "30 s", "5 min", "2 h", "1 d": an interval in the largest unit that divides it. */
export function intervalText(seconds) {
  const n = Number(seconds);
  if (!Number.isInteger(n) || n <= 0) return `${seconds} s`;
  if (n % 86400 === 0) return `${n / 86400} d`;
  if (n % 3600 === 0) return `${n / 3600} h`;
  if (n % 60 === 0) return `${n / 60} min`;
  return `${n} s`;
}

/**
 * A schedule as one line of text: "cron 0 2 * * * (Europe/London)", "every 30 s",
 * "once at 2026-12-01 02:00 UTC" or "manual" (templates/scheduler.html mirrors this).
 */
export function scheduleText(schedule, timezone) {
  if (!schedule) return 'manual';
  switch (schedule.type) {
    case 'cron':
      return `cron ${schedule.expr} (${timezone || 'UTC'})`;
    case 'interval':
      return `every ${intervalText(schedule.seconds)}`;
    case 'once':
      return `once at ${String(schedule.at).replace(/:00Z$/, 'Z').replace('T', ' ').replace('Z', ' UTC')}`;
    default:
      return String(schedule.type);
  }
}

/** True when ``zone`` is an IANA zone name this browser knows. */
export function isKnownZone(zone) {
  if (!zone) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The time-of-day part of the zone formats below: 24-hour, with the zone's name. */
function clockOptions(seconds) {
  return { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}), hourCycle: 'h23', timeZoneName: 'short' };
}

/**
 * An instant as a date and wall-clock time in ``zone`` with the zone's abbreviation,
 * e.g. "Sun, Mar 28, 2027, 02:30 GMT+1" (the browser's locale, 24-hour clock).
 */
export function formatInZone(iso, zone, { seconds = false } = {}) {
  const date = new Date(parseIso(iso));
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone,
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    ...clockOptions(seconds),
  }).format(date);
}

/** Milliseconds to add to UTC to get the wall clock of ``zone`` at ``utcMs``. */
function zoneOffsetMs(utcMs, zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(utcMs));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The UTC milliseconds of a wall-clock date and time in ``zone``, for the preview's
 * "from" date (not the scheduler's rule: a time skipped by a daylight-saving change
 * moves forward by the change, a repeated one is taken at its second occurrence).
 * Throws RangeError for an unknown zone.
 */
export function zonedTimeToUtc(year, month, day, hour, minute, zone) {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const first = wall - zoneOffsetMs(wall, zone);
  return wall - zoneOffsetMs(first, zone);
}

function calendarDate(date, zone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

/**
 * The UTC time of an instant, to show beside its time in ``zone``: "01:30 UTC", with
 * the date too ("Mar 27, 23:30 UTC") when the UTC date differs from the zone's.
 */
export function formatUtcBeside(iso, zone, { seconds = false } = {}) {
  const date = new Date(parseIso(iso));
  if (Number.isNaN(date.getTime())) return String(iso);
  const sameDay = calendarDate(date, zone) === calendarDate(date, 'UTC');
  return new Intl.DateTimeFormat(undefined, {
    timeZone: 'UTC',
    ...(sameDay ? {} : { month: 'short', day: 'numeric' }),
    ...clockOptions(seconds),
  }).format(date);
}

const instantFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** An instant in the browser's zone, e.g. "Nov 27, 02:01:03"; "—" for none. */
export function formatInstant(iso) {
  if (!iso) return '—';
  const t = parseIso(iso);
  return Number.isNaN(t) ? String(iso) : instantFormat.format(new Date(t));
}

/** A ticking elapsed time: "8 s", "3 min 04 s", "1 h 05 min". */
export function elapsedText(ms) {
  const secs = Math.max(0, Math.floor(ms / 1000));
  if (secs < 60) return `${secs} s`;
  const pad = (n) => String(n).padStart(2, '0');
  if (secs < 3600) return `${Math.floor(secs / 60)} min ${pad(secs % 60)} s`;
  return `${Math.floor(secs / 3600)} h ${pad(Math.floor((secs % 3600) / 60))} min`;
}
