// The light/dark rules (static/js/ui/theme.js).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { choiceToStore, effectiveTheme, parseChoice, THEME_KEY } from '../../static/js/ui/theme.js';

describe('theme', () => {
  it('follows the system until a theme is picked', () => {
    assert.equal(effectiveTheme(null, true), 'dark');
    assert.equal(effectiveTheme(null, false), 'light');
    assert.equal(effectiveTheme('light', true), 'light');
    assert.equal(effectiveTheme('dark', false), 'dark');
  });
  it('reads only "light" and "dark" from storage', () => {
    assert.equal(parseChoice('dark'), 'dark');
    assert.equal(parseChoice('light'), 'light');
    for (const junk of [null, undefined, '', 'DARK', 'blue', '{}']) assert.equal(parseChoice(junk), null);
    assert.equal(effectiveTheme('blue', true), 'dark');
  });
  it('remembers a pick unlike the system, and forgets one that is the system\'s', () => {
    assert.equal(choiceToStore('dark', false), 'dark');
    assert.equal(choiceToStore('light', true), 'light');
    assert.equal(choiceToStore('dark', true), null);
    assert.equal(choiceToStore('light', false), null);
    assert.equal(choiceToStore('sepia', false), null);
  });
  it('uses the key the boot script reads', async () => {
    const { readFile } = await import('node:fs/promises');
    const boot = await readFile(new URL('../../static/js/theme_boot.js', import.meta.url), 'utf8');
    assert.ok(boot.includes(`'${THEME_KEY}'`), 'static/js/theme_boot.js reads another key');
  });
});

describe('theme.css', () => {
  it('gives the dark theme the same colours whether the system or the toggle asks for it', async () => {
    const { readFile } = await import('node:fs/promises');
    const css = await readFile(new URL('../../static/css/theme.css', import.meta.url), 'utf8');
    const block = (selector) => {
      const start = css.indexOf(`${selector} {`);
      assert.ok(start >= 0, `no ${selector} block`);
      const body = css.slice(start + selector.length + 2, css.indexOf('}', start));
      return body.split(';').map((d) => d.trim()).filter(Boolean).sort();
    };
    const system = block(':root:not([data-theme="light"])');
    const toggle = block(':root[data-theme="dark"]');
    assert.ok(system.length > 20);
    assert.deepEqual(toggle, system);
  });
});
