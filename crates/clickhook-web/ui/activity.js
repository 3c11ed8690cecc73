// The Activity view: clicks per day, and the latest clicks with filters and paging.

import * as api from './api.js';
import { h, replace, field, select, errorBox, empty, loading, busy } from './dom.js';
import { timeEl, place, isoDay, daysBetween, fmtNumber } from './format.js';
import { clicksChart } from './chart.js';

const PAGE = 50;
const RANGES = [['7', 'Last 7 days'], ['14', 'Last 14 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days']];

/** Days of the stats answer, every day of the range present (missing days have 0 clicks). */
export function fillDays(stats, from, to) {
  const byDay = new Map(((stats && stats.Days) || []).map((d) => [d.Date, d]));
  return daysBetween(from, to).map((date) => {
    const d = byDay.get(date);
    return { Date: date, Clicks: (d && d.Clicks) || 0, Unique: (d && d.Unique) || 0 };
  });
}

function unknown(v) {
  return !v || v === 'unknown' || v === 'Unknown';
}

function cell(label, ...content) {
  return h('td', { 'data-label': label }, ...content);
}

const VERDICTS = { human: ['Human', 'badge-ok'], suspected: ['Suspected', 'badge-warn'], scanner: ['Scanner', 'badge-bad'] };

/** The click's bot verdict as a badge; its reasons are the tooltip. */
export function verdictBadge(bot) {
  if (!bot || !VERDICTS[bot.Verdict]) return h('span', { class: 'muted' }, '—');
  const [text, cls] = VERDICTS[bot.Verdict];
  const reasons = Array.isArray(bot.Reasons) ? bot.Reasons : [];
  const title = reasons.length ? `Reasons: ${reasons.join(', ')}` : 'No sign of automation';
  return h('span', { class: `badge ${cls} verdict`, title, 'data-verdict': bot.Verdict }, text);
}

function row(c) {
  const link = c.OriginalLink || '';
  const client = c.Client || {};
  const os = c.OS || {};
  const where = place(c.Geo);
  return h('tr', {},
    cell('Time', timeEl(c.ReceivedAt, { short: true })),
    cell('Recipient', h('span', { class: 'break' }, c.Recipient || '—')),
    cell('Link', /^https?:\/\//i.test(link)
      ? h('a', { href: link, class: 'link-cell', title: link, rel: 'noopener noreferrer', target: '_blank' }, link)
      : h('span', { class: 'link-cell', title: link }, link || '—')),
    cell('Client', unknown(client.Name) ? h('span', { class: 'muted' }, 'Unknown') : client.Name),
    cell('OS', unknown(os.Name) ? h('span', { class: 'muted' }, 'Unknown') : os.Name),
    cell('Platform', unknown(c.Platform) ? h('span', { class: 'muted' }, 'Unknown') : c.Platform),
    cell('Verdict', verdictBadge(c.Bot)),
    cell('Place', where || h('span', { class: 'muted' }, 'Unknown'),
      c.Geo && c.Geo.IP ? h('span', { class: 'sub mono' }, c.Geo.IP) : null));
}

export function activityView(root) {
  let offset = 0;
  let filters = { recipient: '', tag: '', messagestream: '' };
  let range = '30';
  let seq = 0;

  const rangeSel = select('Period', RANGES, range, { id: 'stats-range' });
  rangeSel.wrap.classList.add('field-inline');
  rangeSel.select.addEventListener('change', () => {
    range = rangeSel.select.value;
    loadStats();
  });
  const chartBody = h('div', { class: 'chart-body' });

  const recipient = field('Recipient', { id: 'filter-recipient', type: 'search', autocomplete: 'off', spellcheck: 'false' });
  const tag = field('Tag', { id: 'filter-tag', type: 'search', autocomplete: 'off', spellcheck: 'false' });
  const stream = field('Message stream', { id: 'filter-stream', type: 'search', autocomplete: 'off', spellcheck: 'false' });
  const clear = h('button', { type: 'button', class: 'btn' }, 'Clear');
  const filterForm = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter clicks' },
    recipient.wrap, tag.wrap, stream.wrap,
    h('div', { class: 'filter-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply'), clear));
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    filters = { recipient: recipient.input.value.trim(), tag: tag.input.value.trim(), messagestream: stream.input.value.trim() };
    offset = 0;
    loadAll();
  });
  clear.addEventListener('click', () => {
    recipient.input.value = '';
    tag.input.value = '';
    stream.input.value = '';
    filters = { recipient: '', tag: '', messagestream: '' };
    offset = 0;
    loadAll();
    recipient.input.focus();
  });

  const refresh = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
  refresh.addEventListener('click', () => busy(refresh, 'Refreshing…', loadAll));
  const clicksBody = h('div', { class: 'clicks-body' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Clicks pages' });
  const countText = h('p', { class: 'muted count-text', role: 'status' });

  replace(root,
    h('div', { class: 'page-head' },
      h('div', {},
        h('h1', { id: 'activity-title', tabindex: '-1' }, 'Activity'),
        h('p', { class: 'lead' }, 'Link clicks on your tracked messages, newest first.')),
      refresh),
    h('section', { class: 'card', 'aria-labelledby': 'chart-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'chart-title', class: 'section-title' }, 'Clicks per day'),
        rangeSel.wrap),
      chartBody),
    h('section', { class: 'card', 'aria-labelledby': 'clicks-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'clicks-title', class: 'section-title' }, 'Recent clicks'),
        countText),
      filterForm,
      clicksBody,
      pager));

  async function loadStats() {
    const days = Number(range);
    const to = isoDay(new Date());
    const fromDate = new Date();
    fromDate.setUTCDate(fromDate.getUTCDate() - (days - 1));
    const from = isoDay(fromDate);
    if (!chartBody.children.length) replace(chartBody, loading('Loading click stats…'));
    try {
      const stats = await api.get(`/stats/outbound/clicks${api.query({ fromdate: from, todate: to, tag: filters.tag, messagestream: filters.messagestream })}`);
      replace(chartBody, clicksChart(fillDays(stats, from, to)));
    } catch (e) {
      replace(chartBody, errorBox(e.status === 404
        ? 'This clickhook server does not offer click stats yet (GET /stats/outbound/clicks answered 404).'
        : `Could not load click stats: ${e.message}`, loadStats));
    }
  }

  async function loadClicks() {
    const mine = ++seq;
    if (!clicksBody.children.length) replace(clicksBody, loading('Loading clicks…'));
    try {
      const r = await api.get(`/messages/outbound/clicks${api.query({ count: PAGE, offset, ...filters })}`);
      if (mine !== seq) return;
      render(r);
    } catch (e) {
      if (mine !== seq) return;
      countText.textContent = '';
      pager.replaceChildren();
      replace(clicksBody, errorBox(e.status === 404
        ? 'This clickhook server does not list clicks yet (GET /messages/outbound/clicks answered 404).'
        : `Could not load clicks: ${e.message}`, loadClicks));
    }
  }

  function render(r) {
    const clicks = (r && r.Clicks) || [];
    const total = (r && r.TotalCount) || 0;
    const filtered = Object.values(filters).some(Boolean);
    if (!clicks.length) {
      countText.textContent = '';
      pager.replaceChildren();
      replace(clicksBody, filtered
        ? empty('No clicks match these filters', 'Clear the filters to see every click.')
        : empty('No clicks yet', 'When someone clicks a tracked link, the click shows up here within seconds.'));
      return;
    }
    countText.textContent = `${fmtNumber(offset + 1)}–${fmtNumber(offset + clicks.length)} of ${fmtNumber(total)}`;
    const head = ['Time', 'Recipient', 'Link', 'Client', 'OS', 'Platform', 'Verdict', 'Place'];
    replace(clicksBody, h('div', { class: 'table-scroll' },
      h('table', { class: 'table table-stack', id: 'clicks-table' },
        h('caption', { class: 'visually-hidden' }, 'Recent clicks, newest first'),
        h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, clicks.map(row)))));
    const prev = h('button', { type: 'button', class: 'btn btn-small', disabled: offset === 0 }, '← Newer');
    const next = h('button', { type: 'button', class: 'btn btn-small', disabled: offset + clicks.length >= total }, 'Older →');
    prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); loadClicks(); });
    next.addEventListener('click', () => { offset += PAGE; loadClicks(); });
    if (offset === 0 && clicks.length >= total) pager.replaceChildren();
    else replace(pager, prev, next);
  }

  function loadAll() {
    return Promise.all([loadStats(), loadClicks()]);
  }

  return { show: () => loadAll() };
}
