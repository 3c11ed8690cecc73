// Formatting of times, numbers and places for display.

import { h } from './dom.js';

/** Parses Postmark's timestamps (seven fractional digits) into a Date, or null. */
export function parseTime(text) {
  if (!text) return null;
  const trimmed = String(text).replace(/(\.\d{3})\d+/, '$1');
  const d = new Date(trimmed);
  return Number.isNaN(d.getTime()) ? null : d;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const shortDateTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const number = new Intl.NumberFormat();
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export const fmtNumber = (n) => number.format(n);

/** "3 min ago" / "in 5 min". */
export function fmtRelative(d, now = Date.now()) {
  const secs = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(secs);
  if (abs < 45) return relative.format(secs, 'second');
  if (abs < 45 * 60) return relative.format(Math.round(secs / 60), 'minute');
  if (abs < 22 * 3600) return relative.format(Math.round(secs / 3600), 'hour');
  return relative.format(Math.round(secs / 86400), 'day');
}

/**
 * A <time> element: the local date and time, with the exact UTC timestamp as its
 * machine-readable value and tooltip.
 */
export function timeEl(text, { short = false, withRelative = false } = {}) {
  const d = parseTime(text);
  if (!d) return h('span', { class: 'muted' }, '—');
  const shown = (short ? shortDateTime : dateTime).format(d);
  return h('time', { datetime: d.toISOString(), title: String(text) },
    shown,
    withRelative ? h('span', { class: 'muted' }, ` (${fmtRelative(d)})`) : null);
}

/** "12 ms", "1.4 s". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

/** A badge for an HTTP status code (null = no response). */
export function statusCodeBadge(code) {
  if (code === null || code === undefined) return h('span', { class: 'badge badge-neutral' }, 'No response');
  const kind = code >= 200 && code < 300 ? 'ok' : code >= 500 || code === 429 ? 'warn' : 'bad';
  return h('span', { class: `badge badge-${kind}` }, String(code));
}

const STATUS_TEXT = {
  pending: ['Pending', 'info'],
  delivered: ['Delivered', 'ok'],
  stopped: ['Stopped', 'bad'],
  dead: ['Dead letter', 'bad'],
  dropped: ['Dropped', 'neutral'],
};

/** A badge for a delivery's state. */
export function deliveryBadge(status) {
  const [text, kind] = STATUS_TEXT[status] || [status, 'neutral'];
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** "Novi Sad, Autonomna Pokrajina Vojvodina, Serbia" from a Geo object. */
export function place(geo) {
  if (!geo) return '';
  return [geo.City, geo.Region, geo.Country].filter((p) => p && p !== 'unknown').join(', ');
}

/** YYYY-MM-DD of a Date in UTC. */
export function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

/** Days from `from` to `to` (YYYY-MM-DD, inclusive). */
export function daysBetween(from, to) {
  const out = [];
  const d = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  while (d <= end && out.length < 1000) {
    out.push(isoDay(d));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}
