// The keyboard shortcuts' dispatch rules (static/js/ui/shortcuts.js).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isTypingTarget, SHORTCUTS, shortcutFor } from '../../static/js/ui/shortcuts.js';

const ALL = SHORTCUTS.map((s) => s.action);
const key = (k, extra = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...extra });

describe('shortcutFor', () => {
  it('maps each key to its action when the page offers it', () => {
    assert.equal(shortcutFor(key('/'), { available: ALL }), 'search');
    assert.equal(shortcutFor(key('n'), { available: ALL }), 'new-task');
    assert.equal(shortcutFor(key('s'), { available: ALL }), 'stop-run');
    assert.equal(shortcutFor(key('?', { shiftKey: true }), { available: ALL }), 'help');
  });

  it('does nothing for an action the page does not offer (no New task for a viewer, no Stop on a finished run)', () => {
    assert.equal(shortcutFor(key('n'), { available: ['search', 'help'] }), null);
    assert.equal(shortcutFor(key('s'), { available: ['help'] }), null);
    assert.equal(shortcutFor(key('/'), {}), null);
  });

  it('never fires while typing in a field', () => {
    for (const k of ['/', 'n', 's', '?']) assert.equal(shortcutFor(key(k), { typing: true, available: ALL }), null);
  });

  it('never fires with Ctrl, Cmd or Alt (those are the browser\'s and the system\'s)', () => {
    for (const modifier of ['ctrlKey', 'metaKey', 'altKey']) {
      for (const k of ['/', 'n', 's', '?']) {
        assert.equal(shortcutFor(key(k, { [modifier]: true }), { available: ALL }), null, `${modifier}+${k}`);
      }
    }
  });

  it('reads Shift+N (and Caps Lock) as "N", which is no shortcut', () => {
    assert.equal(shortcutFor(key('N', { shiftKey: true }), { available: ALL }), null);
    assert.equal(shortcutFor(key('S'), { available: ALL }), null);
  });

  it('leaves the keyboard to an open dialog (Escape closes it there)', () => {
    assert.equal(shortcutFor(key('n'), { dialogOpen: true, available: ALL }), null);
    assert.equal(shortcutFor(key('?', { shiftKey: true }), { dialogOpen: true, available: ALL }), null);
    assert.equal(shortcutFor(key('Escape'), { available: ALL }), null);
  });

  it('ignores held keys, composition (IME input) and presses another handler took', () => {
    assert.equal(shortcutFor(key('n', { repeat: true }), { available: ALL }), null);
    assert.equal(shortcutFor(key('n', { isComposing: true }), { available: ALL }), null);
    assert.equal(shortcutFor(key('n', { defaultPrevented: true }), { available: ALL }), null);
    assert.equal(shortcutFor(null, { available: ALL }), null);
  });

  it('ignores every other key', () => {
    for (const k of ['a', 'Enter', ' ', 'Tab', 'ArrowDown', 'F5']) assert.equal(shortcutFor(key(k), { available: ALL }), null);
  });
});

describe('isTypingTarget', () => {
  it('is true for inputs, text areas, selects and editable text', () => {
    assert.equal(isTypingTarget({ tagName: 'INPUT' }), true);
    assert.equal(isTypingTarget({ tagName: 'TEXTAREA' }), true);
    assert.equal(isTypingTarget({ tagName: 'SELECT' }), true);
    assert.equal(isTypingTarget({ tagName: 'DIV', isContentEditable: true }), true);
  });
  it('is false for the page, buttons and links', () => {
    assert.equal(isTypingTarget({ tagName: 'BODY' }), false);
    assert.equal(isTypingTarget({ tagName: 'BUTTON' }), false);
    assert.equal(isTypingTarget({ tagName: 'A', isContentEditable: false }), false);
    assert.equal(isTypingTarget(null), false);
  });
});
