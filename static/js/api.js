// Calls to the JSON API, made only when the user does something (a click, a save, a
// typed schedule). Changes carry the CSRF token from <meta name="csrf-token">.

const { dataset } = document.body;
export const apiBase = (dataset.apiBase || '/api').replace(/\/+$/, '');

export function csrfHeaders() {
  const token = document.querySelector('meta[name="csrf-token"]')?.content;
  return token ? { 'X-CSRFToken': token } : {};
}

/**
 * Call the API. Resolves (never rejects, except on abort) to
 * ``{ ok, status, data, error }`` where ``error`` is ``{ code, message, field? }``
 * for any failure: an API error, a lost session, a network error.
 *
 * @param {string} method  GET, POST, PATCH, DELETE
 * @param {string} path  below the API base, e.g. "/tasks/3"
 * @param {object} [opts]
 * @param {*} [opts.body]  sent as JSON
 * @param {AbortSignal} [opts.signal]
 */
export async function apiRequest(method, path, { body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') Object.assign(headers, csrfHeaders());
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(`${apiBase}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    return { ok: false, status: 0, data: null, error: { code: 'network', message: `network error (${err.message})` } };
  }
  // A redirect here means the session ended and we were sent to the sign-in page.
  if (response.redirected) {
    return { ok: false, status: 401, data: null, error: { code: 'unauthorized', message: 'not signed in: reload the page' } };
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null; // not JSON (a proxy error page, say)
    }
  }
  if (response.ok) return { ok: true, status: response.status, data, error: null };
  const error = data?.error?.message
    ? { code: data.error.code || 'error', message: data.error.message, field: data.error.field }
    : { code: 'http', message: `HTTP ${response.status} ${response.statusText}`.trim() };
  return { ok: false, status: response.status, data, error };
}
