// Light and dark: the pages follow the system (prefers-color-scheme, in
// static/css/theme.css) until the header's toggle picks one; the pick is remembered in
// localStorage and applied before the first paint by static/js/theme_boot.js, which
// reads the same key. Picking what the system already uses forgets the pick, so the
// page follows the system again. The pure rules come first (tests/js/theme.test.mjs).

export const THEME_KEY = 'taskpulse-theme'; // static/js/theme_boot.js reads it too
export const THEMES = ['light', 'dark'];
export const THEME_EVENT = 'taskpulse:theme'; // on window, detail {theme}, after a change

/** A stored value as a choice: 'light', 'dark', or null (follow the system). */
export function parseChoice(value) {
  return THEMES.includes(value) ? value : null;
}

/** The theme shown: the choice, else the system's. */
export function effectiveTheme(choice, systemDark) {
  return parseChoice(choice) || (systemDark ? 'dark' : 'light');
}

/** What to remember when the user picks ``wanted``: null (forget: it is the system's)
 * or the theme. */
export function choiceToStore(wanted, systemDark) {
  const theme = parseChoice(wanted);
  if (!theme) return null;
  return theme === (systemDark ? 'dark' : 'light') ? null : theme;
}

// --- DOM --------------------------------------------------------------------------------

const darkQuery = () => (typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null);
const systemDark = () => Boolean(darkQuery()?.matches);

function readChoice() {
  try {
    return parseChoice(window.localStorage.getItem(THEME_KEY));
  } catch {
    return null;
  }
}

function writeChoice(choice) {
  try {
    if (choice) window.localStorage.setItem(THEME_KEY, choice);
    else window.localStorage.removeItem(THEME_KEY);
  } catch {
    // Storage blocked: the pick lasts until the page is left.
  }
}

/** The theme the page shows now. */
export function currentTheme() {
  return effectiveTheme(document.documentElement.dataset.theme, systemDark());
}

function apply(choice) {
  const root = document.documentElement;
  const before = currentTheme();
  if (choice) root.dataset.theme = choice;
  else delete root.dataset.theme;
  const after = currentTheme();
  if (after !== before) window.dispatchEvent(new CustomEvent(THEME_EVENT, { detail: { theme: after } }));
}

/** Show ``theme`` and remember the pick (or forget it: see choiceToStore). */
export function setTheme(theme) {
  const choice = choiceToStore(theme, systemDark());
  writeChoice(choice);
  apply(choice);
}

/** Call ``listener(theme)`` whenever the page's theme changes (toggle, system, another tab). */
export function onThemeChange(listener) {
  window.addEventListener(THEME_EVENT, (event) => listener(event.detail.theme));
}

/** Wire the header's toggle (a button with aria-pressed: pressed = dark). */
export function mountThemeToggle(button) {
  const render = () => {
    button.setAttribute('aria-pressed', currentTheme() === 'dark' ? 'true' : 'false');
  };
  button.addEventListener('click', () => setTheme(currentTheme() === 'dark' ? 'light' : 'dark'));
  onThemeChange(render);
  // The system switching (e.g. at night) while no pick is remembered.
  darkQuery()?.addEventListener('change', () => {
    if (!document.documentElement.dataset.theme) window.dispatchEvent(new CustomEvent(THEME_EVENT, { detail: { theme: currentTheme() } }));
  });
  // A pick made in another tab.
  window.addEventListener('storage', (event) => {
    if (event.key === THEME_KEY || event.key === null) apply(readChoice());
  });
  render();
  button.hidden = false;
}
