// Loaded by every page (templates/taskpulse/base.html), beside the page's own module:
// the header's light/dark toggle, the keyboard shortcuts (`?` lists them) and the
// column names the tables' rows show as cards on small screens. On a run
// page `s` asks through the shared confirmation dialog, then presses the page's own
// Stop/Cancel button (static/js/pages/run.js does the stopping).

import { createConfirmDialog } from '../ui/confirm_dialog.js';
import { mountShortcuts } from '../ui/shortcuts.js';
import { mountTableLabels } from '../ui/table_labels.js';
import { mountThemeToggle } from '../ui/theme.js';

const toggle = document.getElementById('theme-toggle');
if (toggle) mountThemeToggle(toggle);

let confirmDialog; // made on first use: other pages' modules own the dialog there

function confirmStop(button) {
  if (confirmDialog === undefined) confirmDialog = createConfirmDialog();
  if (!confirmDialog) return;
  const { runId, runStatus } = document.body.dataset; // run.js keeps runStatus current
  const cancel = runStatus !== 'running'; // queued or retrying: it has not started (again)
  const name = document.querySelector('[data-testid="run-task-name"]')?.textContent || 'this task';
  confirmDialog.open({
    title: `${cancel ? 'Cancel' : 'Stop'} run #${runId}?`,
    message: cancel
      ? `Run #${runId} of “${name}” is not running now; it is taken off the queue and will not run.`
      : `Run #${runId} of “${name}” is stopped now (its processes are ended); what it printed so far is kept.`,
    confirmLabel: cancel ? 'Cancel run' : 'Stop run',
    async action() {
      if (button.hidden || button.disabled) return null; // it ended meanwhile
      button.click(); // run.js stops it and reports a failure in a toast
      return null;
    },
  });
}

mountShortcuts({ confirmStop: document.body.dataset.runId ? confirmStop : null });
mountTableLabels();
