// The scheduler's global pause: the "Scheduler paused by X since T" banner and the
// Pause/Resume button (operators and admins). The state arrives with the page
// (data-* on the banner), then over Socket.IO (scheduler_state, snapshots).

import { apiRequest } from '../api.js';
import { showToast } from './toast.js';

const sinceFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

function formatSince(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : sinceFormat.format(date);
}

export function createSchedulerPause() {
  const banner = document.getElementById('scheduler-banner');
  const button = document.getElementById('scheduler-toggle');
  let paused = banner?.dataset.paused === '1';
  let liveAt = -Infinity; // performance.now() of the last scheduler_state event

  function render(state) {
    paused = Boolean(state.paused);
    if (banner) {
      banner.dataset.paused = paused ? '1' : '0';
      banner.hidden = !paused;
      const text = banner.querySelector('.banner-text');
      text.replaceChildren('Scheduler paused');
      if (state.by) {
        const by = document.createElement('strong');
        by.textContent = state.by;
        text.append(' by ', by);
      }
      if (state.since) {
        const time = document.createElement('time');
        time.dateTime = state.since;
        time.title = state.since;
        time.textContent = formatSince(state.since);
        text.append(' since ', time);
      }
      text.append('.');
    }
    if (button) {
      button.textContent = paused ? 'Resume scheduler' : 'Pause scheduler';
      button.dataset.paused = paused ? '1' : '0';
      button.classList.toggle('btn-resume', paused);
      button.title = paused
        ? 'Let the scheduler fire scheduled tasks again (no catch-up burst)'
        : 'Hold every scheduled fire; Run Now keeps working';
    }
  }

  async function toggle() {
    button.disabled = true;
    const action = paused ? 'resume' : 'pause';
    try {
      const result = await apiRequest('POST', `/scheduler/${action}`, { body: {} });
      if (result.ok) {
        liveAt = performance.now();
        render(result.data);
      } else {
        showToast('failed', `Cannot ${action} the scheduler: ${result.error.message}`);
      }
    } finally {
      button.disabled = false;
    }
  }

  button?.addEventListener('click', toggle);
  if (banner) {
    render({ paused, since: banner.dataset.since || null, by: banner.dataset.by || null });
  }

  return {
    /** Apply a scheduler_state (sentAt: from a snapshot asked for at that time). */
    apply(state, sentAt) {
      if (sentAt !== undefined && liveAt > sentAt) return; // a newer live event already came
      if (sentAt === undefined) liveAt = performance.now();
      render(state);
    },
  };
}
