// Toasts at the bottom-right. Text only ever goes in through textContent.

const DISMISS_AFTER_MS = 6000;
const MAX_TOASTS = 5;
const dismissTimers = new WeakMap();

/**
 * Show a toast. kind: "success" (green), "failed" (red) or "neutral" (grey).
 * Returns the toast element.
 */
export function showToast(kind, text) {
  const box = document.getElementById('toasts');
  if (!box) return null;
  const toast = document.createElement('div');
  toast.className = `toast toast-${kind}`;
  toast.dataset.testid = 'toast';
  toast.setAttribute('role', kind === 'failed' ? 'alert' : 'status');

  const message = document.createElement('span');
  message.className = 'toast-text';
  message.textContent = text;

  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'toast-close';
  close.dataset.testid = 'toast-close';
  close.setAttribute('aria-label', 'Dismiss');
  close.textContent = '×';
  close.addEventListener('click', () => dismissToast(toast));

  toast.append(message, close);
  box.append(toast);
  // A burst of finished runs must not bury the page: keep the newest few.
  while (box.children.length > MAX_TOASTS) dismissToast(box.firstElementChild);
  scheduleDismissToast(toast);
  return toast;
}

/** Auto-dismiss timer: the only thing it does is remove the toast. */
function scheduleDismissToast(toast) {
  dismissTimers.set(toast, setTimeout(() => dismissToast(toast), DISMISS_AFTER_MS));
}

/** Remove a toast now and cancel its auto-dismiss timer. */
export function dismissToast(toast) {
  clearTimeout(dismissTimers.get(toast));
  dismissTimers.delete(toast);
  toast.remove();
}
