// The API client: the page is an ordinary API client with the operator's server token.

const KEY = 'clickhook.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

let onUnauthorized = () => {};
/** Called when a request with the stored token answers 401 (revoked or wrong token). */
export function whenUnauthorized(f) {
  onUnauthorized = f;
}

/** Builds a query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

/**
 * Calls the API. Resolves with the JSON body on 2xx; rejects with an ApiError carrying the
 * API's own `Message` otherwise, or a readable message when the server cannot be reached.
 */
export async function call(method, path, body, tokenOverride) {
  const headers = { Accept: 'application/json', 'X-Postmark-Server-Token': tokenOverride ?? token() ?? '' };
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, 0, 'Cannot reach the clickhook API. Is the server running?');
  }
  const text = await resp.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (resp.ok) return json;
  const message = json && typeof json.Message === 'string' ? json.Message : `The API answered ${resp.status} ${resp.statusText}`.trim();
  const error = new ApiError(resp.status, json && json.ErrorCode, message);
  if (resp.status === 401 && tokenOverride === undefined) onUnauthorized(error);
  throw error;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});
export const put = (path, body) => call('PUT', path, body);
export const del = (path) => call('DELETE', path);

/** Webhooks of the caller's server, of one stream or all. */
export async function listWebhooks(stream) {
  const r = await get(`/webhooks${query({ MessageStream: stream })}`);
  return (r && r.Webhooks) || [];
}
