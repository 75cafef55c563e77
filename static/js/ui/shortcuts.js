// Keyboard shortcuts of every page: `/` search run output, `n` new task, `s` stop the
// run (run page; asks first), `?` this list (a <dialog>; Escape closes it, as it closes
// every dialog: they are modal <dialog>s). The key-dispatch rules come first, pure and
// unit-tested (tests/js/shortcuts.test.mjs); the DOM wiring below them.

/** Every shortcut: its key (KeyboardEvent.key) and action. The overlay's rows
 * (templates/taskpulse/_shortcuts_dialog.html) name the same actions. */
export const SHORTCUTS = [
  { key: '/', action: 'search' },
  { key: 'n', action: 'new-task' },
  { key: 's', action: 'stop-run' },
  { key: '?', action: 'help' },
];

const TYPING_TAGS = new Set(['INPUT', 'TEXTAREA', 'SELECT']);

/** True when keys pressed on ``target`` are typing: a form field or editable text. */
export function isTypingTarget(target) {
  if (!target) return false;
  if (TYPING_TAGS.has(String(target.tagName || '').toUpperCase())) return true;
  return Boolean(target.isContentEditable);
}

/**
 * The action a key press asks for, or null.
 *
 * @param {object} event  a KeyboardEvent's fields: key, ctrlKey, metaKey, altKey,
 *   repeat, isComposing, defaultPrevented
 * @param {object} state
 * @param {boolean} state.typing  the focus is in a field (see isTypingTarget)
 * @param {boolean} state.dialogOpen  a modal dialog is open (it owns the keyboard)
 * @param {Iterable<string>} state.available  the actions this page offers now
 */
export function shortcutFor(event, { typing = false, dialogOpen = false, available = [] } = {}) {
  if (!event || event.defaultPrevented || event.isComposing || event.repeat) return null;
  // Ctrl/Cmd/Alt combinations belong to the browser and the system. Shift is allowed:
  // `?` needs it on most layouts, and Shift+N gives "N", which is no shortcut.
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (typing || dialogOpen) return null;
  const shortcut = SHORTCUTS.find((s) => s.key === event.key);
  if (!shortcut) return null;
  return new Set(available).has(shortcut.action) ? shortcut.action : null;
}

// --- DOM --------------------------------------------------------------------------------

const visible = (node) => Boolean(node) && !node.hidden && !node.disabled && node.getClientRects().length > 0;

/**
 * Listen for the shortcuts on ``doc``. ``actions`` maps an action name to
 * ``{available: () => boolean, run: () => void}``; an action missing or not available
 * at the moment of the key press does nothing (and the key keeps its usual meaning).
 */
export function installShortcuts(actions, doc = document) {
  const offered = () => Object.keys(actions).filter((name) => actions[name].available());
  doc.addEventListener('keydown', (event) => {
    const action = shortcutFor(event, {
      typing: isTypingTarget(event.target),
      dialogOpen: doc.querySelector('dialog[open]') !== null,
      available: offered(),
    });
    if (!action) return;
    event.preventDefault(); // `/` must not be typed into the box it focuses
    actions[action].run();
  });
  return { offered };
}

/** The page's actions: what each shortcut does here, found through the page's markup. */
export function pageActions({ confirmStop } = {}) {
  const searchBox = () => document.getElementById('output-search-q');
  const newTask = () => document.getElementById('new-task');
  const stopButton = () => document.getElementById('stop-run');
  const help = document.getElementById('shortcuts-dialog');
  return {
    search: {
      available: () => visible(searchBox()),
      run: () => {
        const box = searchBox();
        box.focus();
        box.select();
      },
    },
    'new-task': { available: () => visible(newTask()), run: () => newTask().click() },
    'stop-run': {
      available: () => Boolean(confirmStop) && visible(stopButton()),
      run: () => confirmStop(stopButton()),
    },
    help: { available: () => Boolean(help), run: () => showHelp(help) },
  };
}

let helpActions = null;

/** Open the shortcuts overlay, listing only what this page offers now. */
function showHelp(dialog) {
  const offered = new Set(helpActions ? helpActions() : []);
  for (const row of dialog.querySelectorAll('[data-shortcut-action]')) {
    row.hidden = !offered.has(row.dataset.shortcutAction);
  }
  if (!dialog.open) dialog.showModal();
  dialog.querySelector('[data-part="close"]')?.focus();
}

/** Wire the overlay's close button and the header's "?" button, and the key presses. */
export function mountShortcuts(options = {}) {
  const actions = pageActions(options);
  const { offered } = installShortcuts(actions);
  helpActions = offered;
  const dialog = document.getElementById('shortcuts-dialog');
  if (dialog) {
    for (const button of dialog.querySelectorAll('[data-part="close"]')) {
      button.addEventListener('click', () => dialog.close());
    }
    // A click on the backdrop (outside the box) closes it too.
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close();
    });
  }
  const opener = document.getElementById('shortcuts-open');
  if (opener && dialog) {
    opener.hidden = false;
    opener.addEventListener('click', () => showHelp(dialog));
  }
  return actions;
}
