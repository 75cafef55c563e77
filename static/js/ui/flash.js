// The brief highlight of something that changed elsewhere (a row, a list item).

/** Flash ``node`` once (restarting the animation if it is already running); null is ignored. */
export function flash(node) {
  if (!node) return;
  node.classList.remove('row-flash');
  void node.offsetWidth; // a reflow, so that adding the class again restarts the animation
  node.classList.add('row-flash');
  node.addEventListener('animationend', () => node.classList.remove('row-flash'), { once: true });
}
