// Clicks per day as a hand-drawn SVG bar chart, with a text summary for screen readers and
// the same numbers as a table.

import { h, s, id } from './dom.js';
import { fmtNumber } from './format.js';

const dayLabel = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const longDay = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
const asDate = (day) => new Date(`${day}T00:00:00Z`);

/** A round upper bound for the axis: 1, 2, 5 × 10^k. */
function niceMax(n) {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * p >= n) return m * p;
  }
  return 10 * p;
}

const clicks = (n) => `${fmtNumber(n)} ${n === 1 ? 'click' : 'clicks'}`;

/** One sentence that says what the chart shows. */
export function summary(days) {
  const total = days.reduce((a, d) => a + d.Clicks, 0);
  const unique = days.reduce((a, d) => a + d.Unique, 0);
  const first = days[0];
  const last = days[days.length - 1];
  if (!first) return 'No days to show.';
  const range = `${longDay.format(asDate(first.Date))} to ${longDay.format(asDate(last.Date))}`;
  if (!total) return `No clicks from ${range}.`;
  const busiest = days.reduce((a, d) => (d.Clicks > a.Clicks ? d : a), first);
  return `${clicks(total)} (${fmtNumber(unique)} unique) from ${range}. ` +
    `Busiest day: ${longDay.format(asDate(busiest.Date))} with ${clicks(busiest.Clicks)}.`;
}

function draw(svg, days, width) {
  const height = width < 480 ? 180 : 220;
  const pad = { top: 12, right: 8, bottom: 26, left: 36 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(0, ...days.map((d) => d.Clicks)));
  const y = (v) => pad.top + plotH - (v / max) * plotH;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(28, slot * 0.7));

  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  const title = svg.querySelector('title');
  const desc = svg.querySelector('desc');
  svg.replaceChildren(title, desc);

  const grid = s('g', { class: 'chart-grid', 'aria-hidden': 'true' });
  for (let i = 0; i <= 4; i += 1) {
    const v = (max / 4) * i;
    const yy = Math.round(y(v)) + 0.5;
    grid.appendChild(s('line', { x1: pad.left, x2: width - pad.right, y1: yy, y2: yy }));
    grid.appendChild(s('text', { x: pad.left - 6, y: yy + 4, 'text-anchor': 'end', class: 'chart-axis' }, fmtNumber(Math.round(v * 10) / 10)));
  }
  svg.appendChild(grid);

  const bars = s('g', { 'aria-hidden': 'true' });
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(2, Math.floor(plotW / 64))));
  days.forEach((d, i) => {
    const x = pad.left + slot * i + (slot - barW) / 2;
    const tip = s('title', {}, `${longDay.format(asDate(d.Date))}: ${clicks(d.Clicks)}, ${fmtNumber(d.Unique)} unique`);
    if (d.Clicks > 0) {
      bars.appendChild(s('rect', { class: 'bar-total', x, y: y(d.Clicks), width: barW, height: Math.max(1, y(0) - y(d.Clicks)), rx: 2 }, tip));
      if (d.Unique > 0) {
        bars.appendChild(s('rect', { class: 'bar-unique', x, y: y(d.Unique), width: barW, height: Math.max(1, y(0) - y(d.Unique)), rx: 2 }, tip.cloneNode(true)));
      }
    } else {
      bars.appendChild(s('rect', { class: 'bar-zero', x, y: y(0) - 1, width: barW, height: 1 }, tip));
    }
    if (i % labelEvery === 0 || i === days.length - 1 && days.length <= 14) {
      bars.appendChild(s('text', { x: x + barW / 2, y: height - 8, 'text-anchor': 'middle', class: 'chart-axis' }, dayLabel.format(asDate(d.Date))));
    }
  });
  svg.appendChild(bars);
}

/** The chart, a legend and a table of the same numbers. `days` covers every day, gaps filled. */
export function clicksChart(days) {
  const titleId = id('chart-title');
  const descId = id('chart-desc');
  const text = summary(days);
  const svg = s('svg', { class: 'chart', role: 'img', 'aria-labelledby': `${titleId} ${descId}`, focusable: 'false' },
    s('title', { id: titleId }, 'Clicks per day'),
    s('desc', { id: descId }, text));
  const frame = h('div', { class: 'chart-frame' }, svg);
  let lastWidth = 0;
  const redraw = () => {
    const width = Math.max(280, Math.floor(frame.clientWidth || 640));
    if (width === lastWidth) return;
    lastWidth = width;
    draw(svg, days, width);
  };
  new ResizeObserver(redraw).observe(frame);
  requestAnimationFrame(redraw);

  const table = h('table', { class: 'table table-compact' },
    h('caption', { class: 'visually-hidden' }, 'Clicks per day'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col', class: 'num' }, 'Clicks'), h('th', { scope: 'col', class: 'num' }, 'Unique'))),
    h('tbody', {}, days.slice().reverse().map((d) => h('tr', {},
      h('th', { scope: 'row' }, longDay.format(asDate(d.Date))),
      h('td', { class: 'num' }, fmtNumber(d.Clicks)),
      h('td', { class: 'num' }, fmtNumber(d.Unique))))));

  return h('div', { class: 'chart-wrap' },
    h('p', { class: 'chart-summary' }, text),
    frame,
    h('div', { class: 'legend', 'aria-hidden': 'true' },
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-total' }), 'All clicks'),
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-unique' }), 'Unique clicks')),
    h('details', { class: 'chart-table' }, h('summary', {}, 'Show as a table'), h('div', { class: 'table-scroll' }, table)));
}
