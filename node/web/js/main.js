// The app's shell: signs in (or says how to), routes between screens by the URL's fragment, and
// feeds the node's live event stream to the screen on view.

import { get, startSession, openStream, adoptKey, forgetKey, ApiError } from './api.js';
import { timeline, thread, author, notifications, search, listFeed, prefetchTimeline } from './feeds.js';
import { moderation, hostPolicy } from './moderation.js';
import { node } from './node.js';
import { setViewer, whenViewer, eventStored } from './items.js';
import { h, replace, heading, showError, clearErrors, refreshTimes } from './ui.js';

// The script runs as soon as it arrives (`async`), while the page may still be parsing: the
// first requests go out at once, and drawing waits for the page.
let main = null;
const pageParsed = () => (document.readyState === 'loading'
  ? new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, { once: true }))
  : Promise.resolve());
const routes = {
  '': ['timeline', timeline],
  thread: ['timeline', thread],
  author: ['timeline', author],
  list: ['timeline', listFeed],
  notifications: ['notifications', notifications],
  search: ['search', search],
  moderation: ['moderation', moderation],
  'host-policy': ['moderation', hostPolicy],
  node: ['node', node],
};

let screen = {};
/** A control to focus once the next screen is drawn (the `/` key focuses the search box). */
let focusAfterRoute = null;
let navigation = 0;
// Stream events that arrive while a screen loads wait for it: an event stored between the
// screen's first request and its handlers being ready would otherwise be lost.
let pending = null;
let unread = 0;

const app = {
  setUnread(n) {
    unread = Math.max(0, n);
    const badge = document.getElementById('unread');
    badge.textContent = String(unread);
    badge.hidden = unread === 0;
    badge.setAttribute('aria-label', `${unread} unread`);
  },
  refresh: () => route(),
  /** The timeline's first page, asked for at start-up; only the first screen may take it. */
  early: null,
};

async function route() {
  const mine = ++navigation;
  if (mine > 1) app.early = null;
  const [path, search] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...rest] = path.split('/');
  const [nav, render] = Object.hasOwn(routes, name) ? routes[name] : routes[''];
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clearErrors();
  delete document.body.dataset.ready;
  screen = {};
  pending = [];
  try {
    // The timeline fetches its page while the session is read; other screens wait for it.
    if (render !== timeline) await whenViewer();
    const handlers = await render(main, decodeURIComponent(rest.join('/')), app, new URLSearchParams(search ?? ''));
    if (mine === navigation) {
      screen = handlers ?? {};
      const missed = pending;
      pending = null;
      for (const [name, data] of missed) screen[name]?.(data);
    }
  } catch (err) {
    if (mine !== navigation) return;
    pending = null;
    if (err instanceof ApiError && (err.code === 'unauthorized' || err.code === 'session_key')) return signedOut();
    replace(main, heading('Something went wrong'), h('p', {}, 'This page could not be shown.'),
      h('p', {}, h('a', { href: '#/' }, 'Back to the timeline')));
    showError(err);
  }
  if (mine === navigation) {
    const wanted = focusAfterRoute && main.querySelector(focusAfterRoute);
    focusAfterRoute = null;
    (wanted || main).focus({ preventScroll: true });
  }
}

function signedOut() {
  navigation++;
  screen = {};
  pending = null;
  forgetKey();
  document.body.dataset.ready = 'signed-out';
  for (const el of document.querySelectorAll('nav, .live')) el.hidden = true;
  replace(main, heading('Sign in'),
    h('p', {}, 'This is the web app of your Handbill node. To sign in, run this in a terminal on this computer:'),
    h('pre', {}, 'handbill open'),
    h('p', { class: 'hint' }, 'It opens a one-time link that signs this browser in (or prints it with ',
      h('code', {}, '--print'), '). The node must be running: start it with ', h('code', {}, 'handbilld'), '.'));
}

let wasLive = false;
let lost = false;

function live(open) {
  // Back after losing the node (a restart): the screen on view is read again, errors go.
  if (open && lost) {
    lost = false;
    clearErrors();
    // Unless something is being written: a redraw would throw it away.
    if (![...main.querySelectorAll('textarea')].some((t) => t.value.trim())) route();
  }
  if (!open && wasLive) lost = true;
  wasLive = open;
  const el = document.getElementById('live');
  el.className = 'live ' + (open ? 'on' : 'off');
  el.textContent = open ? 'Live' : 'Reconnecting…';
}

function keys(e) {
  if (e.target.closest('input, textarea, select') || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === '/') {
    e.preventDefault();
    if (location.hash.startsWith('#/search')) {
      document.querySelector('#search-q')?.focus();
      return;
    }
    focusAfterRoute = '#search-q';
    location.hash = '#/search';
  } else if (e.key === 'n') {
    const text = main.querySelector('form.compose textarea');
    if (text) {
      e.preventDefault();
      text.focus();
    }
  }
}

async function boot() {
  performance.mark('boot');
  const signedIn = adoptKey();
  const session = signedIn ? startSession() : null;
  session?.catch(() => {}); // Handled below, once the page is parsed.
  if (signedIn && location.hash.replace(/^#\/?/, '') === '') app.early = prefetchTimeline();
  await pageParsed();
  main = document.getElementById('main');
  if (!signedIn) return signedOut();
  setViewer(session.then((s) => s.author));
  window.addEventListener('hashchange', route);
  document.addEventListener('keydown', keys);
  setInterval(refreshTimes, 30_000);
  const first = route();
  try {
    await session;
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'unauthorized' || err.code === 'session_key')) return signedOut();
    await first;
    replace(main, heading('Cannot reach your node'));
    showError(err);
    return;
  }
  const deliver = (name, data) => {
    if (pending) pending.push([name, data]);
    else screen[name]?.(data);
  };
  openStream({
    stored: (item) => {
      eventStored(item);
      deliver('stored', item);
    },
    notification: (n) => {
      app.setUnread(unread + (n.unread ? 1 : 0));
      deliver('notification', n);
    },
  }, live, (err) => {
    if (err.code === 'unauthorized' || err.code === 'session_key') signedOut();
    else showError(err, 'Live updates stopped');
  });
  get('/v1/notifications?limit=1').then((n) => app.setUnread(n.unread)).catch(() => {});
  await first;
}

boot();
