// Entry point: sign-in, sign-out and the three views (Webhooks, Activity, Deliveries),
// chosen by the URL's fragment (#/webhooks, #/activity, #/deliveries?webhook=ID).

import * as api from './api.js';
import { announce, dismissToast } from './dom.js';
import { webhooksView } from './webhooks.js';
import { activityView } from './activity.js';
import { deliveriesView } from './deliveries.js';

const VIEWS = {
  webhooks: { title: 'Webhooks', make: webhooksView },
  activity: { title: 'Activity', make: activityView },
  deliveries: { title: 'Deliveries', make: deliveriesView },
};

const $ = (id) => document.getElementById(id);
const mounted = new Map();

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, q] = hash.split('?');
  return { name: VIEWS[name] ? name : 'webhooks', params: new URLSearchParams(q || '') };
}

/** Shows the view the fragment names; builds it on first use, refreshes it after that. */
function show() {
  if (!api.token()) return;
  const { name, params } = route();
  for (const key of Object.keys(VIEWS)) {
    $(`view-${key}`).hidden = key !== name;
  }
  for (const a of document.querySelectorAll('.tabs a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${VIEWS[name].title} · clickhook`;
  let view = mounted.get(name);
  if (!view) {
    view = VIEWS[name].make($(`view-${name}`));
    mounted.set(name, view);
  }
  view.show(params);
}

function showSignIn(message) {
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  document.title = 'Sign in · clickhook';
  $('signin-token').focus();
}

function showApp() {
  $('signin').hidden = true;
  $('app').hidden = false;
  const t = api.token() || '';
  $('token-hint').textContent = `Token …${t.slice(-4)}`;
  $('token-hint').title = 'The last characters of the server token you signed in with';
  show();
}

function signOut(message) {
  api.setToken(null);
  for (const key of Object.keys(VIEWS)) {
    $(`view-${key}`).replaceChildren();
  }
  mounted.clear();
  $('signin-token').value = '';
  showSignIn(message);
}

async function signIn(event) {
  event.preventDefault();
  const input = $('signin-token');
  const value = input.value.trim();
  const error = $('signin-error');
  if (!value) {
    error.textContent = 'Enter a server token.';
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  const button = $('signin-submit');
  button.disabled = true;
  button.textContent = 'Signing in…';
  error.textContent = '';
  try {
    // Any call with the token proves it; the webhook list is the cheapest useful one.
    await api.call('GET', '/webhooks', undefined, value);
    input.removeAttribute('aria-invalid');
    api.setToken(value);
    if (!location.hash) history.replaceState(null, '', '#/webhooks');
    showApp();
    announce('Signed in.');
  } catch (e) {
    input.setAttribute('aria-invalid', 'true');
    error.textContent = e.status === 401
      ? 'This token is not valid for this clickhook server. Check the X-Postmark-Server-Token and try again.'
      : e.message;
    input.focus();
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
}

function start() {
  $('signin-form').addEventListener('submit', signIn);
  $('signin-show').addEventListener('change', (e) => {
    $('signin-token').type = e.target.checked ? 'text' : 'password';
  });
  $('signout').addEventListener('click', () => {
    signOut('');
    announce('Signed out.');
  });
  api.whenUnauthorized(() => signOut('Your token is no longer accepted. Sign in again.'));
  window.addEventListener('hashchange', () => {
    dismissToast();
    if (api.token() && $('app').hidden) showApp();
    else show();
    $('main').focus({ preventScroll: true });
  });
  if (api.token()) showApp();
  else showSignIn();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
