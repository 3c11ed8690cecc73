// The Webhooks view: the webhooks of one message stream, add, edit, delete, send a test.

import * as api from './api.js';
import { h, replace, field, announce, confirmDialog, busy, errorBox, empty, loading } from './dom.js';
import { fmtDuration, statusCodeBadge } from './format.js';
import { openWebhookForm } from './webhook-form.js';

const KNOWN_STREAMS = ['outbound', 'broadcast'];
const OTHER = '\u0000other';
const TRIGGER_LABELS = {
  Click: 'Link Click',
  Delivery: 'Delivery',
  Bounce: 'Bounce',
  SpamComplaint: 'Spam complaint',
  Open: 'Open',
  SubscriptionChange: 'Subscription change',
};

export function webhooksView(root) {
  let stream = sessionStorage.getItem('clickhook.stream') || 'outbound';
  let seen = new Set(KNOWN_STREAMS);
  let loadSeq = 0;

  const addButton = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => openWebhookForm({ stream, onSaved: saved }) }, 'Add webhook');

  const streamSelect = h('select', { id: 'stream-select' });
  const otherInput = h('input', { id: 'stream-other', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: 'e.g. my-stream' });
  const otherForm = h('form', { class: 'inline-form', hidden: true },
    h('div', { class: 'field field-inline' }, h('label', { for: 'stream-other' }, 'Stream ID'), otherInput),
    h('button', { type: 'submit', class: 'btn' }, 'Show'));
  const list = h('div', { class: 'hook-list', id: 'webhook-list' });
  const listHeading = h('h2', { class: 'visually-hidden', id: 'webhook-list-title' });
  const countText = h('p', { class: 'muted count-text', role: 'status' });

  replace(root,
    h('div', { class: 'page-head' },
      h('div', {},
        h('h1', { id: 'webhooks-title', tabindex: '-1' }, 'Webhooks'),
        h('p', { class: 'lead' }, 'Where clickhook POSTs Click events, per message stream.')),
      addButton),
    h('section', { class: 'stack-tight', 'aria-labelledby': 'webhook-list-title' },
      listHeading,
      h('div', { class: 'list-bar' },
        h('div', { class: 'field field-inline' }, h('label', { for: 'stream-select' }, 'Message stream'), streamSelect),
        otherForm,
        countText),
      list));

  function fillStreams() {
    const names = [...new Set([...KNOWN_STREAMS, ...[...seen].sort(), stream])];
    streamSelect.replaceChildren(
      ...names.map((n) => h('option', { value: n, selected: n === stream }, n)),
      h('option', { value: OTHER }, 'Other…'));
  }

  streamSelect.addEventListener('change', () => {
    if (streamSelect.value === OTHER) {
      otherForm.hidden = false;
      otherInput.focus();
      return;
    }
    otherForm.hidden = true;
    setStream(streamSelect.value);
  });
  otherForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = otherInput.value.trim();
    if (!v) {
      otherInput.setAttribute('aria-invalid', 'true');
      otherInput.focus();
      return;
    }
    otherInput.removeAttribute('aria-invalid');
    otherForm.hidden = true;
    setStream(v);
    streamSelect.focus();
  });

  function setStream(v) {
    stream = v;
    sessionStorage.setItem('clickhook.stream', v);
    fillStreams();
    load();
  }

  function saved(w) {
    announce(`Webhook #${w.ID} saved.`, 'ok');
    if (w.MessageStream && w.MessageStream !== stream) setStream(w.MessageStream);
    else load();
  }

  async function load() {
    const seq = ++loadSeq;
    listHeading.textContent = `Webhooks on “${stream}”`;
    if (!list.children.length) replace(list, loading());
    try {
      // All of the server's webhooks name the streams in use; then this stream's.
      const [all, mine] = await Promise.all([api.listWebhooks(), api.listWebhooks(stream)]);
      if (seq !== loadSeq) return;
      seen = new Set([...KNOWN_STREAMS, ...all.map((w) => w.MessageStream)]);
      fillStreams();
      render(mine);
    } catch (e) {
      if (seq !== loadSeq) return;
      replace(list, errorBox(`Could not load webhooks: ${e.message}`, load));
    }
  }

  function render(hooks) {
    countText.textContent = `${hooks.length} webhook${hooks.length === 1 ? '' : 's'} on “${stream}”`;
    if (!hooks.length) {
      replace(list, empty(`No webhooks on “${stream}” yet`,
        'Add one to receive a POST for every unique link click on this stream.',
        h('button', { type: 'button', class: 'btn', onclick: () => openWebhookForm({ stream, onSaved: saved }) }, 'Add webhook')));
      return;
    }
    replace(list, h('ul', { class: 'cards', role: 'list' }, hooks.map((w) => h('li', {}, card(w)))));
  }

  function card(w) {
    const enabled = Object.keys(TRIGGER_LABELS).filter((k) => w.Triggers && w.Triggers[k] && w.Triggers[k].Enabled);
    const meta = [`#${w.ID}`, w.MessageStream];
    if (w.HttpAuth && (w.HttpAuth.Username || w.HttpAuth.Password)) meta.push(`Basic auth (${w.HttpAuth.Username || 'no user'})`);
    const nHeaders = (w.HttpHeaders || []).length;
    if (nHeaders) meta.push(`${nHeaders} custom header${nHeaders === 1 ? '' : 's'}`);
    const nSecrets = (w.SigningSecrets || []).length;
    meta.push(nSecrets ? `Signed (${nSecrets} secret${nSecrets === 1 ? '' : 's'})` : 'Unsigned');

    const result = h('div', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
    const testBtn = h('button', { type: 'button', class: 'btn btn-small' }, 'Send test');
    testBtn.addEventListener('click', () => sendTest(w, testBtn, result));
    const editBtn = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Edit webhook #${w.ID}` }, 'Edit');
    editBtn.addEventListener('click', async () => {
      // Edit what the server has now, not what this list showed.
      try {
        const fresh = await api.get(`/webhooks/${w.ID}`);
        openWebhookForm({ webhook: fresh, stream, onSaved: saved });
      } catch (e) {
        announce(e.message, 'error');
      }
    });
    const delBtn = h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', 'aria-label': `Delete webhook #${w.ID}` }, 'Delete');
    delBtn.addEventListener('click', () => remove(w));
    const clickOn = enabled.includes('Click');

    return h('article', { class: 'card hook', 'aria-label': `Webhook #${w.ID}` },
      h('div', { class: 'hook-main' },
        h('p', { class: 'hook-url mono' }, w.Url),
        h('p', { class: 'hook-meta muted' }, meta.join(' · ')),
        h('ul', { class: 'chips', 'aria-label': 'Events sent' },
          enabled.length
            ? enabled.map((k) => h('li', { class: k === 'Click' ? 'chip chip-primary' : 'chip' }, TRIGGER_LABELS[k] || k))
            : h('li', { class: 'chip chip-off' }, 'No events')),
        clickOn ? null : h('p', { class: 'hint warn-text' }, 'Link Click is off: this webhook gets no click events.')),
      h('div', { class: 'hook-actions' },
        testBtn,
        h('a', { class: 'btn btn-small', href: `#/deliveries?webhook=${w.ID}` }, 'Deliveries'),
        editBtn,
        delBtn),
      result);
  }

  async function sendTest(w, button, result) {
    replace(result, h('span', { class: 'muted' }, 'Sending the example Click payload…'));
    await busy(button, 'Sending…', async () => {
      try {
        const r = await api.post(`/webhooks/${w.ID}/test`);
        const ok = r.StatusCode !== null && r.StatusCode >= 200 && r.StatusCode < 300;
        replace(result, h('div', { class: ok ? 'test-box test-ok' : 'test-box test-bad' },
          h('div', { class: 'test-line' },
            h('span', { class: 'test-label' }, ok ? 'Test delivered' : 'Test failed'),
            statusCodeBadge(r.StatusCode),
            h('span', { class: 'attempt-latency' }, fmtDuration(r.DurationMs)),
            r.Error ? h('span', { class: 'test-error' }, r.Error) : null),
          r.Response ? h('details', { class: 'response' },
            h('summary', {}, 'Response body'),
            h('pre', {}, r.Response)) : null));
      } catch (e) {
        replace(result, h('div', { class: 'test-box test-bad' }, h('p', { class: 'test-error' }, e.message)));
      }
    });
  }

  async function remove(w) {
    const yes = await confirmDialog({
      title: `Delete webhook #${w.ID}?`,
      body: [
        h('p', {}, 'clickhook stops sending events to'),
        h('p', { class: 'mono break' }, w.Url),
        h('p', { class: 'muted' }, 'Deliveries not yet made to it are dropped. This cannot be undone.'),
      ],
      confirm: 'Delete webhook',
      danger: true,
    });
    if (!yes) return;
    try {
      await api.del(`/webhooks/${w.ID}`);
      announce(`Webhook #${w.ID} deleted.`, 'ok');
      await load();
      root.querySelector('#webhooks-title').focus();
    } catch (e) {
      announce(e.message, 'error');
    }
  }

  fillStreams();
  return { show: () => load() };
}
