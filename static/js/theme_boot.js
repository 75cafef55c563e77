// The theme the toggle remembered, applied before the first paint. A classic script
// (not a module: modules run after parsing, so the page would flash in the other
// theme), loaded from <head> by base.html; served from 'self' like every script, so the
// page CSP (no inline script) holds. static/js/ui/theme.js owns the toggle; without a
// remembered choice the stylesheet follows prefers-color-scheme by itself.
(function () {
  try {
    var theme = window.localStorage.getItem('taskpulse-theme');
    if (theme === 'light' || theme === 'dark') document.documentElement.setAttribute('data-theme', theme);
  } catch (e) {
    // Storage blocked (a privacy setting): follow the system.
  }
}());
