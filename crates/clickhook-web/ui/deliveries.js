// The Deliveries view: a webhook's delivery log, each delivery's attempts, resend.

import * as api from './api.js';
import { h, replace, id, announce, errorBox, empty, loading, busy } from './dom.js';
import { timeEl, fmtDuration, statusCodeBadge, deliveryBadge, fmtNumber, parseTime, fmtRelative } from './format.js';

const PAGE = 50;
const STATUSES = [
  ['', 'All'],
  ['pending', 'Pending'],
  ['delivered', 'Delivered'],
  ['stopped', 'Stopped'],
  ['dead', 'Dead letters'],
  ['dropped', 'Dropped'],
];

export function deliveriesView(root) {
  let webhookId = '';
  let status = '';
  let offset = 0;
  let selected = null;
  let seq = 0;

  const hookSelect = h('select', { id: 'delivery-webhook' });
  hookSelect.addEventListener('change', () => {
    webhookId = hookSelect.value;
    offset = 0;
    selected = null;
    history.replaceState(null, '', `#/deliveries?webhook=${encodeURIComponent(webhookId)}`);
    loadList();
    clearDetail();
  });

  const statusName = id('status');
  const statusSet = h('fieldset', { class: 'segmented' },
    h('legend', {}, 'Status'),
    h('div', { class: 'segments' }, STATUSES.map(([value, label]) => {
      const inputId = id('st');
      const input = h('input', { type: 'radio', name: statusName, id: inputId, value, checked: value === status });
      input.addEventListener('change', () => {
        status = value;
        offset = 0;
        loadList();
      });
      return h('span', { class: 'segment' }, input, h('label', { for: inputId }, label));
    })));

  const refresh = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
  refresh.addEventListener('click', () => busy(refresh, 'Refreshing…', async () => {
    await loadList();
    if (selected) await loadDetail(selected, false);
  }));

  const listBody = h('div', { class: 'deliveries-list' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Deliveries pages' });
  const countText = h('p', { class: 'muted count-text', role: 'status' });
  const detail = h('section', { class: 'card detail', 'aria-label': 'Delivery details' });
  const controls = h('div', { class: 'toolbar card' },
    h('div', { class: 'field' }, h('label', { for: 'delivery-webhook' }, 'Webhook'), hookSelect),
    statusSet);
  const layout = h('div', { class: 'split' },
    h('section', { class: 'card', 'aria-labelledby': 'deliveries-list-title' },
      h('div', { class: 'card-head' },
        h('h2', { class: 'section-title', id: 'deliveries-list-title' }, 'Log'),
        countText),
      listBody,
      pager),
    detail);
  const content = h('div', { class: 'stack' });

  replace(root,
    h('div', { class: 'page-head' },
      h('div', {},
        h('h1', { id: 'deliveries-title', tabindex: '-1' }, 'Deliveries'),
        h('p', { class: 'lead' }, 'Every Click event on its way to a webhook, and each attempt to deliver it.')),
      refresh),
    content);

  function clearDetail() {
    replace(detail, h('div', { class: 'detail-empty' },
      h('p', { class: 'empty-title' }, 'No delivery selected'),
      h('p', { class: 'muted' }, 'Choose a delivery in the log to see its attempts, their status codes and latency, and to resend it.')));
  }

  async function loadHooks(wanted) {
    replace(content, loading('Loading webhooks…'));
    let hooks;
    try {
      hooks = await api.listWebhooks();
    } catch (e) {
      replace(content, errorBox(`Could not load webhooks: ${e.message}`, () => loadHooks(wanted)));
      return false;
    }
    if (!hooks.length) {
      replace(content, empty('No webhooks yet', 'Deliveries appear here once a webhook with Link Click on receives events.',
        h('a', { class: 'btn', href: '#/webhooks' }, 'Go to Webhooks')));
      return false;
    }
    hookSelect.replaceChildren(...hooks.map((w) =>
      h('option', { value: String(w.ID) }, `#${w.ID} · ${w.MessageStream} · ${w.Url}`)));
    const ids = hooks.map((w) => String(w.ID));
    const before = webhookId;
    webhookId = ids.includes(wanted) ? wanted : ids.includes(webhookId) ? webhookId : ids[0];
    if (webhookId !== before) {
      selected = null;
      offset = 0;
    }
    hookSelect.value = webhookId;
    replace(content, controls, layout);
    return true;
  }

  async function loadList() {
    const mine = ++seq;
    if (!listBody.children.length) replace(listBody, loading('Loading deliveries…'));
    try {
      const r = await api.get(`/webhooks/${webhookId}/deliveries${api.query({ count: PAGE, offset, status })}`);
      if (mine !== seq) return;
      renderList(r);
    } catch (e) {
      if (mine !== seq) return;
      countText.textContent = '';
      pager.replaceChildren();
      replace(listBody, errorBox(`Could not load deliveries: ${e.message}`, loadList));
    }
  }

  function renderList(r) {
    const list = (r && r.Deliveries) || [];
    const total = (r && r.TotalCount) || 0;
    if (!list.length) {
      countText.textContent = '';
      pager.replaceChildren();
      const label = (STATUSES.find(([v]) => v === status) || ['', ''])[1].toLowerCase();
      replace(listBody, status
        ? empty(`No ${label} for this webhook`, status === 'dead' ? 'Nothing ran out of retries. Good.' : 'Try another status.')
        : empty('No deliveries yet', 'Each unique link click makes one delivery to every matching webhook.'));
      return;
    }
    countText.textContent = `${fmtNumber(offset + 1)}–${fmtNumber(offset + list.length)} of ${fmtNumber(total)}`;
    replace(listBody, h('div', { class: 'table-scroll' },
      h('table', { class: 'table table-stack', id: 'deliveries-table' },
        h('caption', { class: 'visually-hidden' }, 'Deliveries, newest first'),
        h('thead', {}, h('tr', {},
          ['Delivery', 'Status', 'Attempts', 'Created', 'Next retry'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, list.map((d) => {
          const open = h('button', { type: 'button', class: 'linklike', 'aria-current': String(d.ID) === String(selected) ? 'true' : undefined }, `#${d.ID}`);
          open.addEventListener('click', () => loadDetail(d.ID, true));
          return h('tr', { class: String(d.ID) === String(selected) ? 'row-selected' : undefined },
            h('td', { 'data-label': 'Delivery' }, open),
            h('td', { 'data-label': 'Status' }, deliveryBadge(d.Status)),
            h('td', { 'data-label': 'Attempts', class: 'num' }, String(d.Attempts)),
            h('td', { 'data-label': 'Created' }, timeEl(d.CreatedAt, { short: true })),
            h('td', { 'data-label': 'Next retry' }, d.NextAttemptAt ? timeEl(d.NextAttemptAt, { short: true }) : h('span', { class: 'muted' }, '—')));
        })))));
    const prev = h('button', { type: 'button', class: 'btn btn-small', disabled: offset === 0 }, '← Newer');
    const next = h('button', { type: 'button', class: 'btn btn-small', disabled: offset + list.length >= total }, 'Older →');
    prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); loadList(); });
    next.addEventListener('click', () => { offset += PAGE; loadList(); });
    if (offset === 0 && list.length >= total) pager.replaceChildren();
    else replace(pager, prev, next);
  }

  async function loadDetail(deliveryId, focus) {
    selected = deliveryId;
    for (const b of listBody.querySelectorAll('button.linklike')) {
      const on = b.textContent === `#${deliveryId}`;
      if (on) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
      b.closest('tr').classList.toggle('row-selected', on);
    }
    replace(detail, loading('Loading the attempt log…'));
    let d;
    try {
      d = await api.get(`/webhooks/${webhookId}/deliveries/${deliveryId}`);
    } catch (e) {
      replace(detail, errorBox(`Could not load delivery #${deliveryId}: ${e.message}`, () => loadDetail(deliveryId, focus)));
      return;
    }
    renderDetail(d);
    if (focus) {
      detail.querySelector('h2').focus();
      if (window.matchMedia('(max-width: 999px)').matches) detail.scrollIntoView({ block: 'start' });
    }
  }

  function renderDetail(d) {
    const headingId = id('detail');
    const next = parseTime(d.NextAttemptAt);
    const resend = h('button', { type: 'button', class: 'btn btn-primary btn-small', disabled: d.Status === 'pending' }, 'Resend');
    resend.addEventListener('click', () => busy(resend, 'Queuing…', async () => {
      try {
        const r = await api.post(`/webhooks/${webhookId}/deliveries/${d.ID}/resend`);
        announce(r.Message || `Delivery #${d.ID} queued.`, 'ok');
        await loadList();
        await loadDetail(d.ID, false);
      } catch (e) {
        announce(e.message, 'error');
      }
    }));
    const attempts = d.AttemptLog || [];
    replace(detail,
      h('div', { class: 'detail-head' },
        h('h2', { id: headingId, class: 'section-title', tabindex: '-1' }, `Delivery #${d.ID}`),
        deliveryBadge(d.Status)),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', {}, 'Event ID'), h('dd', { class: 'mono break' }, d.EventID)),
        h('div', {}, h('dt', {}, 'Created'), h('dd', {}, timeEl(d.CreatedAt, { withRelative: true }))),
        h('div', {}, h('dt', {}, 'Attempts'), h('dd', {}, `${d.Attempts}${attempts.length !== d.Attempts ? ` (${attempts.length} in the log)` : ''}`)),
        h('div', {}, h('dt', {}, 'Next retry'), h('dd', {}, next
          ? [timeEl(d.NextAttemptAt), h('span', { class: 'muted' }, ` (${fmtRelative(next)})`)]
          : h('span', { class: 'muted' }, d.Status === 'pending' ? 'Due now' : 'None: this delivery is finished')))),
      h('div', { class: 'detail-actions' },
        resend,
        h('p', { class: 'hint' }, d.Status === 'pending'
          ? 'Resend is available once this delivery has finished.'
          : 'Queues the same event again, due now, with a fresh retry schedule.')),
      h('h3', { class: 'subsection-title' }, 'Attempt log'),
      attempts.length
        ? h('ol', { class: 'attempts', 'aria-label': `Attempts of delivery #${d.ID}, oldest first` }, attempts.map((a, i) => {
          const ok = a.StatusCode !== null && a.StatusCode >= 200 && a.StatusCode < 300;
          return h('li', { class: ok ? 'attempt attempt-ok' : 'attempt attempt-bad' },
            h('div', { class: 'attempt-head' },
              h('span', { class: 'attempt-n' }, `Attempt ${i + 1}`),
              statusCodeBadge(a.StatusCode),
              h('span', { class: 'attempt-latency' }, fmtDuration(a.DurationMs)),
              h('span', { class: 'attempt-time muted' }, timeEl(a.At, { short: true }))),
            a.Error ? h('p', { class: 'attempt-error' }, a.Error) : null,
            a.Response ? h('details', { class: 'response' }, h('summary', {}, 'Response body'), h('pre', {}, a.Response)) : null);
        }))
        : h('p', { class: 'muted' }, 'No attempt yet.'));
  }

  return {
    async show(params) {
      const wanted = params.get('webhook') || webhookId;
      if (await loadHooks(wanted)) {
        if (!selected) clearDetail();
        await loadList();
        if (selected) await loadDetail(selected, false);
      }
    },
  };
}
