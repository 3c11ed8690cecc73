// The "Add webhook" / "Edit webhook" dialog.

import * as api from './api.js';
import { h, field, checkbox, id, openDialog, announce } from './dom.js';

/** Postmark's triggers, labelled as on Postmark's site. */
const TRIGGERS = [
  { key: 'Click', label: 'Link Click' },
  { key: 'Delivery', label: 'Delivery' },
  { key: 'Bounce', label: 'Bounce', sub: { key: 'IncludeContent', label: 'Include message content' } },
  { key: 'SpamComplaint', label: 'Spam complaint', sub: { key: 'IncludeContent', label: 'Include message content' } },
  { key: 'Open', label: 'Open', sub: { key: 'PostFirstOpenOnly', label: 'Post only on first open' } },
  { key: 'SubscriptionChange', label: 'Subscription change' },
];

const MAX_SECRETS = 5;

/** A new Standard Webhooks secret: whsec_ + base64 of 32 random bytes. */
export function newSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `whsec_${btoa(bin)}`;
}

/** Rows of inputs that can be added and removed (headers, secrets). */
function rowList({ legend, hint, addLabel, makeRow, rows, max }) {
  const list = h('div', { class: 'rows' });
  const add = h('button', { type: 'button', class: 'btn btn-small' }, addLabel);
  const counter = () => list.children.length;
  const refresh = () => {
    add.disabled = max !== undefined && counter() >= max;
    for (const [i, row] of [...list.children].entries()) {
      row.dataset.index = String(i + 1);
      // Labels read "Header 2 Name", "Secret 1": the number is for screen readers.
      for (const n of row.querySelectorAll('.row-n')) n.textContent = `${row.dataset.what} ${i + 1} `;
      const remove = row.querySelector('.row-remove');
      if (remove) remove.setAttribute('aria-label', `Remove ${row.dataset.what.toLowerCase()} ${i + 1}`);
      const copy = row.querySelector('.row-copy');
      if (copy) copy.setAttribute('aria-label', `Copy ${row.dataset.what.toLowerCase()} ${i + 1}`);
    }
  };
  const addRow = (value, { first = false, focus = false } = {}) => {
    const row = makeRow(value, counter() + 1);
    const remove = h('button', { type: 'button', class: 'btn btn-quiet btn-small row-remove' }, 'Remove');
    remove.addEventListener('click', () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      refresh();
      (next ? next.querySelector('input') : add).focus();
    });
    row.appendChild(remove);
    if (first) list.prepend(row);
    else list.appendChild(row);
    refresh();
    if (focus) row.querySelector('input').focus();
    return row;
  };
  add.addEventListener('click', () => addRow(undefined, { focus: true }));
  for (const r of rows) addRow(r);
  const hintId = id('hint');
  const fieldset = h('fieldset', { class: 'group', 'aria-describedby': hint ? hintId : undefined },
    h('legend', {}, legend),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    list,
    h('div', { class: 'row-actions' }, add));
  return { fieldset, list, add, addRow, refresh };
}

const rowLabel = (what, n, text) => [h('span', { class: 'visually-hidden row-n' }, `${what} ${n} `), text];

function headerRow(value, n) {
  const name = field(rowLabel('Header', n, 'Name'), { value: value ? value.Name : '', autocomplete: 'off', spellcheck: 'false', class: 'header-name', placeholder: 'X-Example' });
  const val = field(rowLabel('Header', n, 'Value'), { value: value ? value.Value : '', autocomplete: 'off', spellcheck: 'false', class: 'header-value' });
  return h('div', { class: 'row', dataset: { what: 'Header', index: String(n) } }, name.wrap, val.wrap);
}

function secretRow(value, n) {
  const f = field(h('span', { class: 'row-n' }, `Secret ${n}`), { value: value || '', autocomplete: 'off', spellcheck: 'false', class: 'secret mono', placeholder: 'whsec_…' });
  const copy = h('button', { type: 'button', class: 'btn btn-quiet btn-small row-copy' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(f.input.value);
      copy.textContent = 'Copied';
      announce('Secret copied to the clipboard.');
    } catch {
      f.input.select();
      copy.textContent = 'Press Ctrl+C';
    }
    setTimeout(() => { copy.textContent = 'Copy'; }, 2000);
  });
  return h('div', { class: 'row row-secret', dataset: { what: 'Secret', index: String(n) } }, f.wrap, copy);
}

/**
 * Opens the form. `webhook` is the webhook to edit, or undefined to add one on `stream`.
 * `onSaved(webhook)` runs after the API accepted it.
 */
export function openWebhookForm({ webhook, stream, onSaved }) {
  const editing = !!webhook;
  const w = webhook || { Url: '', MessageStream: stream, Triggers: { Click: { Enabled: true } }, HttpHeaders: [], SigningSecrets: [] };
  const titleId = id('dlg');
  const errorEl = h('div', { class: 'form-error', role: 'alert' });

  const url = field('Webhook URL', { type: 'url', value: w.Url, required: true, autocomplete: 'url', spellcheck: 'false', placeholder: 'https://hooks.example.com/clicks', inputmode: 'url' },
    'clickhook POSTs each event as JSON to this address.');
  const streamField = field('Message stream', { value: w.MessageStream || 'outbound', required: true, spellcheck: 'false', autocomplete: 'off', disabled: editing },
    editing ? 'A webhook stays on the stream it was created on.' : 'Events of messages sent on this stream go to this webhook.');

  // Triggers
  const triggers = {};
  const triggerHint = id('hint');
  const triggerList = h('div', { class: 'triggers' });
  for (const t of TRIGGERS) {
    const current = (w.Triggers && w.Triggers[t.key]) || {};
    const main = checkbox(t.label, current.Enabled, { name: `trigger-${t.key}` });
    const item = h('div', { class: t.key === 'Click' ? 'trigger trigger-primary' : 'trigger' }, main.wrap);
    triggers[t.key] = { main: main.input };
    if (t.sub) {
      const sub = checkbox(t.sub.label, current[t.sub.key], { name: `trigger-${t.key}-${t.sub.key}`, disabled: !current.Enabled });
      sub.wrap.classList.add('check-sub');
      main.input.addEventListener('change', () => { sub.input.disabled = !main.input.checked; });
      triggers[t.key].sub = { key: t.sub.key, input: sub.input };
      item.appendChild(sub.wrap);
    }
    triggerList.appendChild(item);
  }
  const triggerSet = h('fieldset', { class: 'group', 'aria-describedby': triggerHint },
    h('legend', {}, 'Events to send'),
    h('p', { class: 'hint', id: triggerHint }, 'clickhook sends Link Click events. The other triggers are kept so that Postmark clients see the same webhook.'),
    triggerList);

  // Basic auth
  const auth = w.HttpAuth || {};
  const user = field('Username', { value: auth.Username || '', autocomplete: 'off', spellcheck: 'false' });
  const pass = field('Password', { type: 'password', value: auth.Password || '', autocomplete: 'new-password' });
  const authSet = h('fieldset', { class: 'group' },
    h('legend', {}, 'HTTP Basic authentication'),
    h('p', { class: 'hint' }, 'Optional. Sent as an Authorization header with every request.'),
    h('div', { class: 'grid-2' }, user.wrap, pass.wrap));

  const headers = rowList({
    legend: 'Custom headers',
    hint: 'Optional. Added to every request, for example a shared secret your receiver checks.',
    addLabel: 'Add header',
    makeRow: headerRow,
    rows: w.HttpHeaders || [],
    max: 50,
  });

  const secrets = rowList({
    legend: 'Signing secrets',
    hint: 'Optional. Each request is signed the Standard Webhooks way (webhook-signature) with every secret here, newest first, up to 5. To rotate, generate a new one and remove the old one once your receiver has switched.',
    addLabel: 'Add existing secret',
    makeRow: secretRow,
    rows: w.SigningSecrets || [],
    max: MAX_SECRETS,
  });
  const generate = h('button', { type: 'button', class: 'btn btn-small' }, 'Generate new secret');
  generate.addEventListener('click', () => {
    if (secrets.list.children.length >= MAX_SECRETS) return;
    secrets.addRow(newSecret(), { first: true, focus: true });
    generate.disabled = secrets.list.children.length >= MAX_SECRETS;
  });
  secrets.fieldset.querySelector('.row-actions').prepend(generate);
  secrets.list.addEventListener('click', () => { generate.disabled = secrets.list.children.length >= MAX_SECRETS; });

  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, editing ? 'Save changes' : 'Add webhook');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const close = h('button', { type: 'button', class: 'btn btn-quiet btn-icon', 'aria-label': 'Close' }, '×');

  const form = h('form', { class: 'dialog-form', novalidate: true },
    h('div', { class: 'dialog-head' },
      h('h2', { id: titleId }, editing ? `Edit webhook #${w.ID}` : 'Add webhook'),
      close),
    h('div', { class: 'dialog-body' },
      errorEl,
      url.wrap,
      streamField.wrap,
      triggerSet,
      authSet,
      headers.fieldset,
      secrets.fieldset),
    h('div', { class: 'dialog-actions' }, cancel, save));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
  cancel.addEventListener('click', () => dialog.close());
  close.addEventListener('click', () => dialog.close());

  const invalid = (input, message) => {
    input.setAttribute('aria-invalid', 'true');
    errorEl.replaceChildren(h('p', {}, message));
    input.focus();
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errorEl.replaceChildren();
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const urlValue = url.input.value.trim();
    if (!/^https?:\/\/\S+$/i.test(urlValue)) {
      invalid(url.input, 'Enter the webhook URL, starting with https:// or http://.');
      return;
    }
    const streamValue = streamField.input.value.trim();
    if (!editing && !streamValue) {
      invalid(streamField.input, 'Enter a message stream, such as outbound.');
      return;
    }
    const body = { Url: urlValue, Triggers: {} };
    for (const t of TRIGGERS) {
      const trig = triggers[t.key];
      body.Triggers[t.key] = { Enabled: trig.main.checked };
      if (trig.sub) body.Triggers[t.key][trig.sub.key] = trig.main.checked && trig.sub.input.checked;
    }
    const username = user.input.value;
    const password = pass.input.value;
    if (username || password) body.HttpAuth = { Username: username, Password: password };
    else if (editing && w.HttpAuth) body.HttpAuth = null;
    body.HttpHeaders = [];
    for (const row of headers.list.children) {
      const name = row.querySelector('.header-name');
      const value = row.querySelector('.header-value');
      if (!name.value.trim() && !value.value) continue;
      if (!name.value.trim()) {
        invalid(name, `Header ${row.dataset.index} has a value but no name.`);
        return;
      }
      body.HttpHeaders.push({ Name: name.value.trim(), Value: value.value });
    }
    const secretValues = [...secrets.list.querySelectorAll('.secret')].map((i) => i.value.trim()).filter(Boolean);
    if (secretValues.length || (editing && (w.SigningSecrets || []).length)) body.SigningSecrets = secretValues;
    if (!editing) body.MessageStream = streamValue;

    save.disabled = true;
    save.setAttribute('aria-busy', 'true');
    try {
      const saved = editing ? await api.put(`/webhooks/${w.ID}`, body) : await api.post('/webhooks', body);
      dialog.close('saved');
      onSaved(saved);
    } catch (e) {
      errorEl.replaceChildren(h('p', {}, h('strong', {}, 'The webhook was not saved. '), e.message));
      errorEl.scrollIntoView({ block: 'nearest' });
      save.focus();
    } finally {
      save.disabled = false;
      save.removeAttribute('aria-busy');
    }
  });

  openDialog(dialog, url.input);
  return dialog;
}
