// DOM helpers. Every element is built with createElement and every piece of data goes in
// as a text node, never as markup, so nothing the API returns can become HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'checked' || key === 'value' || key === 'disabled' || key === 'selected') {
      el[key] = value;
      if (key === 'disabled' || key === 'selected') el.setAttribute(key, '');
    } else if (key === 'style') {
      throw new Error('inline styles are not allowed (Content-Security-Policy)');
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, strings and numbers as text, arrays flattened. */
export function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
  return el;
}

/** h('button', {class: 'btn', onclick: f}, 'Save') */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A page-unique id for label/input pairs. */
export function id(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled text input: returns {wrap, input}. */
export function field(label, attrs = {}, hint) {
  const inputId = attrs.id || id('f');
  const hintId = hint ? `${inputId}-hint` : undefined;
  const input = h('input', { type: 'text', ...attrs, id: inputId, 'aria-describedby': hintId });
  const wrap = h('div', { class: 'field' },
    h('label', { for: inputId }, label),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
  return { wrap, input };
}

/** A labelled checkbox: returns {wrap, input}. */
export function checkbox(label, checked, attrs = {}) {
  const inputId = attrs.id || id('c');
  const input = h('input', { type: 'checkbox', ...attrs, id: inputId, checked: !!checked });
  const wrap = h('div', { class: 'check' }, input, h('label', { for: inputId }, label));
  return { wrap, input };
}

/** A labelled select: options are [value, text] pairs. */
export function select(label, options, value, attrs = {}) {
  const selectId = attrs.id || id('s');
  const el = h('select', { ...attrs, id: selectId },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  const wrap = h('div', { class: 'field' }, h('label', { for: selectId }, label), el);
  return { wrap, select: el };
}

const toast = () => document.getElementById('toast');
let toastTimer;

/** Says something in the polite live region (and shows it briefly). */
export function announce(message, kind = 'info') {
  const el = toast();
  clearTimeout(toastTimer);
  el.className = `toast toast-${kind}`;
  el.textContent = '';
  // A fresh text node after a tick, so screen readers announce a repeated message too.
  requestAnimationFrame(() => {
    el.textContent = message;
    el.classList.add('toast-visible');
    toastTimer = setTimeout(() => el.classList.remove('toast-visible'), kind === 'error' ? 8000 : 4000);
  });
}

/** Hides the toast at once (the live region keeps no stale text). */
export function dismissToast() {
  clearTimeout(toastTimer);
  toast().classList.remove('toast-visible');
}

/**
 * Opens a modal <dialog>: focus goes to `focus` (or the first field) and comes back to
 * whatever had it before when the dialog closes. Escape closes it (the browser does that).
 */
export function openDialog(dialog, focus) {
  const opener = document.activeElement;
  document.body.appendChild(dialog);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  }, { once: true });
  dialog.showModal();
  const target = focus || dialog.querySelector('input:not([type=hidden]):not([disabled]), select, textarea, button');
  if (target) target.focus();
  return dialog;
}

/** Asks a yes/no question in a modal dialog; resolves true when confirmed. */
export function confirmDialog({ title, body, confirm, danger }) {
  return new Promise((resolve) => {
    const titleId = id('dlg');
    const cancelBtn = h('button', { type: 'button', class: 'btn', onclick: () => dialog.close('cancel') }, 'Cancel');
    const okBtn = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', onclick: () => dialog.close('ok') }, confirm);
    const dialog = h('dialog', { class: 'dialog dialog-small', 'aria-labelledby': titleId },
      h('div', { class: 'dialog-body' },
        h('h2', { id: titleId }, title),
        body),
      h('div', { class: 'dialog-actions' }, cancelBtn, okBtn));
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    openDialog(dialog, cancelBtn);
  });
}

/** A busy state for a button while `work` runs; the label is restored afterwards. */
export async function busy(button, label, work) {
  const old = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = old;
  }
}

/** A panel saying that something failed, with the API's message. */
export function errorBox(message, retry) {
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('p', {}, message),
    retry ? h('button', { type: 'button', class: 'btn btn-small', onclick: retry }, 'Try again') : null);
}

/** An empty state. */
export function empty(title, text, action) {
  return h('div', { class: 'empty' },
    h('p', { class: 'empty-title' }, title),
    text ? h('p', { class: 'muted' }, text) : null,
    action || null);
}

/** A placeholder while loading. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}
