// Element helpers the views share.

import { formatInstant } from './format.js';

/** A new element with a class and a data-testid (either may be empty). */
export function el(tag, className, testid) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  return node;
}

/** Show an instant in a <time> in the browser's zone ("—" for none), ISO as its title. */
export function showInstant(time, iso) {
  if (!time) return;
  if (iso) {
    time.dateTime = iso;
    time.title = iso;
  } else {
    time.removeAttribute('datetime');
    time.removeAttribute('title');
  }
  time.textContent = formatInstant(iso);
}
