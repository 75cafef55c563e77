// Search through stored run output: the search box of the scheduler and history pages
// (templates/taskpulse/_output_search.html, GET /api/runs/search on typing or Enter),
// and the run page's highlight of the first line matching ?q=. The pure parts (query
// checks, links, splitting a line at its match) come first and are unit-tested in
// tests/js/output_search.test.mjs; the DOM parts below them.

export const MAX_QUERY_CHARS = 200; // as the API (webapp/runs/search.py)
export const RESULT_LIMIT = 50;
const TYPING_PAUSE_MS = 300; // search this long after the last key press

/** The text to search for, or an error message: 1 to 200 characters after trimming. */
export function checkQuery(raw) {
  const text = String(raw ?? '').trim();
  if (!text) return { ok: false, text, message: '' };
  if (text.length > MAX_QUERY_CHARS) return { ok: false, text, message: `At most ${MAX_QUERY_CHARS} characters.` };
  return { ok: true, text, message: '' };
}

/** The API path (below the API base) of a search, optionally within one task. */
export function searchPath(text, { taskId = null, limit = RESULT_LIMIT } = {}) {
  const params = new URLSearchParams({ q: text, limit: String(limit) });
  if (taskId !== null && taskId !== undefined && taskId !== '') params.set('task', String(taskId));
  return `/runs/search?${params}`;
}

/** The run page's address that highlights the first line matching ``text``. */
export function runLink(pageRoot, runId, text) {
  return `${String(pageRoot || '').replace(/\/+$/, '')}/runs/${runId}?${new URLSearchParams({ q: text })}`;
}

/** ``line`` split around the first case-insensitive occurrence of ``text``:
 * ``[before, match, after]``, or null when it does not occur. */
export function splitAtMatch(line, text) {
  const haystack = String(line ?? '');
  if (!text) return null;
  const at = haystack.toLowerCase().indexOf(String(text).toLowerCase());
  if (at < 0) return null;
  const end = at + String(text).length;
  return [haystack.slice(0, at), haystack.slice(at, end), haystack.slice(end)];
}

/** What the status line says about a search's answer. */
export function summaryText(count, limit, text) {
  if (count === 0) return `No stored output or error contains “${text}”.`;
  const runs = count === 1 ? '1 run' : `${count} runs`;
  return count >= limit ? `The newest ${runs} whose output or error contains “${text}”.` : `${runs} whose output or error contains “${text}”.`;
}

/** The ``q`` of a page address (the run page's ``?q=``), checked as a query, or null. */
export function queryFromLocation(search) {
  const checked = checkQuery(new URLSearchParams(search || '').get('q'));
  return checked.ok ? checked.text : null;
}

// --- DOM --------------------------------------------------------------------------------

/** Put ``text`` into ``node`` with its match inside a <mark> (plain text otherwise). */
export function markMatch(node, text, query) {
  const parts = splitAtMatch(text, query);
  if (!parts) {
    node.textContent = text;
    return false;
  }
  const mark = document.createElement('mark');
  mark.textContent = parts[1];
  node.replaceChildren(parts[0], mark, parts[2]);
  return true;
}

function resultItem(hit, text, pageRoot) {
  const li = document.createElement('li');
  li.className = 'output-search-hit';
  li.dataset.testid = 'output-search-hit';
  li.dataset.runId = String(hit.run_id);
  const head = document.createElement('div');
  head.className = 'output-search-hit-head';
  const link = document.createElement('a');
  link.href = runLink(pageRoot, hit.run_id, text);
  link.dataset.testid = 'output-search-link';
  link.textContent = `${hit.task_name} · run #${hit.run_id}`;
  const badge = document.createElement('span');
  badge.className = `badge badge-${hit.status}`;
  badge.textContent = hit.status;
  head.append(link, ' ', badge);
  if (hit.finished_at) {
    const time = document.createElement('time');
    time.dateTime = hit.finished_at;
    time.title = hit.finished_at;
    time.textContent = hit.finished_at.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
    head.append(' ', time);
  }
  const line = document.createElement('code');
  line.className = 'output-search-excerpt';
  line.dataset.testid = 'output-search-excerpt';
  markMatch(line, hit.excerpt || '', text);
  li.append(head, line);
  return li;
}

/**
 * Drive one search box: ``section`` is the partial's root. It searches when typing
 * pauses and on Enter; a newer search aborts an older one still under way.
 *
 * @param {HTMLElement} section
 * @param {(method: string, path: string, opts?: object) => Promise<object>} request  api.js's apiRequest
 */
export function mountOutputSearch(section, request) {
  if (!section) return null;
  const form = section.querySelector('[data-part="form"]');
  const input = form.querySelector('input[type="search"]');
  const status = section.querySelector('[data-part="status"]');
  const list = section.querySelector('[data-part="results"]');
  const taskId = section.dataset.taskId || null;
  const pageRoot = document.body.dataset.pageRoot || '';
  let timer = null;
  let running = null;
  let shown = null; // the text whose results are listed

  async function run() {
    clearTimeout(timer);
    const checked = checkQuery(input.value);
    if (!checked.ok) {
      running?.abort();
      shown = null;
      list.replaceChildren();
      list.hidden = true;
      status.textContent = checked.message;
      return;
    }
    if (checked.text === shown) return;
    running?.abort();
    const controller = new AbortController();
    running = controller;
    section.setAttribute('aria-busy', 'true');
    status.textContent = 'Searching…';
    let answer;
    try {
      answer = await request('GET', searchPath(checked.text, { taskId }), { signal: controller.signal });
    } catch {
      return; // aborted by a newer search
    } finally {
      if (running === controller) section.removeAttribute('aria-busy');
    }
    if (running !== controller) return;
    running = null;
    if (!answer.ok) {
      status.textContent = `Search failed: ${answer.error.message}`;
      return;
    }
    shown = checked.text;
    const hits = answer.data.runs || [];
    list.replaceChildren(...hits.map((hit) => resultItem(hit, checked.text, pageRoot)));
    list.hidden = hits.length === 0;
    status.textContent = summaryText(hits.length, RESULT_LIMIT, checked.text);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    shown = null; // Enter searches again, for runs that ended since
    run();
  });
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, TYPING_PAUSE_MS);
  });
  return { search: run };
}

/**
 * The run page's highlight: ``scan(logBox)`` looks at the log lines added since its last
 * call; the first that matches ``query`` gets a <mark> and ``log-match``, and is
 * scrolled into view. Returns true on the call that found it (the page then stops
 * following the end of the log).
 */
export function createLineHighlighter(query) {
  let found = !query;
  let last = null;
  return {
    get found() {
      return found && Boolean(query);
    },
    scan(logBox) {
      if (found) return false;
      let node = last && last.isConnected ? last.nextElementSibling : logBox.firstElementChild;
      for (; node; node = node.nextElementSibling) {
        last = node;
        if (node.dataset.testid !== 'log-line') continue;
        if (markMatch(node, node.textContent, query)) {
          found = true;
          node.classList.add('log-match');
          node.dataset.match = '1';
          node.scrollIntoView({ block: 'center' });
          return true;
        }
      }
      return false;
    },
  };
}
