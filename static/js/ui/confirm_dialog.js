// A confirmation <dialog> (never window.confirm): a title, a message, Cancel and a
// confirm button that runs an async action. The dialog stays open with the action's
// error message when it fails, and closes when it succeeds.

export function createConfirmDialog(id = 'confirm-dialog') {
  const dialog = document.getElementById(id);
  if (!dialog) return null;
  const title = dialog.querySelector('[data-part="title"]');
  const message = dialog.querySelector('[data-part="message"]');
  const error = dialog.querySelector('[data-part="error"]');
  const ok = dialog.querySelector('[data-part="ok"]');
  const cancel = dialog.querySelector('[data-part="cancel"]');
  let action = null;
  let busy = false;

  function showError(text) {
    error.textContent = text || '';
    error.hidden = !text;
  }

  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy || !action) return;
    busy = true;
    ok.disabled = true;
    showError('');
    try {
      const failure = await action();
      if (failure) showError(failure);
      else dialog.close('done');
    } finally {
      busy = false;
      ok.disabled = false;
    }
  });
  cancel.addEventListener('click', () => dialog.close('cancel'));
  dialog.addEventListener('close', () => {
    action = null;
  });

  return {
    /**
     * @param {object} opts
     * @param {string} opts.title
     * @param {string} opts.message
     * @param {string} opts.confirmLabel  the confirm button's text
     * @param {Function} opts.action  async () => null on success, or an error message
     */
    open({ title: heading, message: text, confirmLabel, action: run }) {
      title.textContent = heading;
      message.textContent = text;
      ok.textContent = confirmLabel;
      action = run;
      showError('');
      if (!dialog.open) dialog.showModal();
      cancel.focus(); // the safe choice has the focus
    },
    close() {
      if (dialog.open) dialog.close('cancel');
    },
    get isOpen() {
      return dialog.open;
    },
  };
}
