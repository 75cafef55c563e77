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
  if (abs < 5) return 'just now';
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
