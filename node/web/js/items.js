// How one event looks: author, time, text, moderation (collapsed with its reasons, or behind a
// warning), counts, and what the viewer can do with it.

import { get, publish } from './api.js';
import { composer } from './compose.js';
import { h, replace, authorLabel, short, timeEl, busy } from './ui.js';

let viewer = null;
let viewerReady = Promise.resolve(null);

/**
 * Records whose node this is (a promise of the author id, so screens can fetch their data
 * meanwhile), so the viewer's own posts get edit and delete.
 */
export function setViewer(author) {
  viewerReady = author.then((a) => {
    viewer = a;
    return a;
  });
  viewerReady.catch(() => {}); // A refused session is handled where it is awaited.
  return viewerReady;
}

/** Resolves once the viewer is known (rejects if the session is refused). */
export function whenViewer() {
  return viewerReady;
}

/** The viewer's author id. */
export function viewerId() {
  return viewer;
}

/** One reason a moderation verdict gives, in words. */
export function reasonText(r) {
  const feed = r.feed_name ? `“${r.feed_name}”` : short(r.feed);
  switch (r.type) {
    case 'label':
      return `label “${r.value}” from feed ${feed} on this ${r.scope === 'author' ? 'author' : 'post'}` +
        (r.reason ? ` (${r.reason})` : '');
    case 'self_label':
      return `the author marked it “${r.value}”`;
    case 'muted_author':
      return 'you muted this author';
    case 'muted_word':
      return `you muted the word “${r.word}”`;
    case 'muted_tag':
      return `you muted #${r.tag}`;
    case 'list':
      return `the author is on the list “${r.name}”`;
    case 'followed_override':
      return 'softened because you follow the author';
    default:
      return r.type;
  }
}

function reasonList(verdict) {
  return h('ul', { class: 'reasons' }, verdict.reasons.map((r) => h('li', {}, `${reasonText(r)}: ${r.action}`)));
}

/**
 * Renders a feed item. `options.onChange()` runs after the viewer changed something (to
 * refresh), `options.focus` marks the thread's focus, `options.reply` indents a reply.
 */
export function renderItem(item, options = {}) {
  const article = h('article', {
    class: 'item' + (options.focus ? ' focus' : '') + (options.reply ? ' reply' : ''),
    dataset: { id: item.id, author: item.author, action: item.moderation.action },
    'aria-label': `${item.kind} by ${item.author_name ?? short(item.author)}`,
  });
  shown.set(article, [item, options, performance.now()]);
  const verdict = item.moderation;
  const cover = covers[verdict.action];
  if (!cover) {
    article.append(meta(item, true), h('div', { class: 'body' }, content(item, options)));
    return article;
  }
  // Hidden and warned items show why, and the item itself only when asked (and again hidden
  // when asked).
  const hideAgain = () => article.replaceWith(renderItem(item, options));
  const reveal = h('button', {
    type: 'button',
    onclick: () => replace(box, reasonList(verdict), content(item, options),
      h('button', { type: 'button', class: 'link', onclick: hideAgain }, cover.again)),
  }, cover.button);
  const box = h('div', { class: cover.class },
    h('strong', {}, cover.title), verdict.reasons.map(reasonText).join('; '), ' ', reveal);
  // Covered: the edit history (which holds the text) is not offered until asked.
  article.append(meta(item, false), box);
  return article;
}

/** What each item on screen was drawn from, so a new label can redraw it. */
const shown = new WeakMap();
/** Ids of shown items that stored events concern, re-read together in the next batch. */
const stale = new Set();
let recheck = null;
/** Most items re-read in one batch, and the pause between batches: a peer that keeps sending
 * reactions costs this node a bounded number of reads per second, whatever it sends. */
const RECHECK_MAX = 50;
const RECHECK_PAUSE_MS = 1000;

/**
 * An event was stored: the items on screen that it changes are read again, and those that
 * changed are redrawn in place. A label concerns the labelled post or every post of the
 * labelled author (a post collapses, warns, or shows again when a label is retracted); a
 * reply, quote, repost or reaction changes its target's counts.
 */
export function eventStored(event) {
  const selectors = [];
  if (event.kind === 'label') {
    if (event.target) selectors.push(`article.item[data-id="${CSS.escape(event.target)}"]`);
    else if (event.labelled_author) selectors.push(`article.item[data-author="${CSS.escape(event.labelled_author)}"]`);
  } else {
    for (const id of [event.reply_to, event.target]) {
      if (id) selectors.push(`article.item[data-id="${CSS.escape(id)}"]`);
    }
  }
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      if (stale.size < RECHECK_MAX) stale.add(el.dataset.id);
    }
  }
  if (stale.size && !recheck) recheck = setTimeout(redrawStale, 300);
}

/** What a redraw would change: the verdict, the counts, what the viewer did, the text. */
const visible = (item) => JSON.stringify([item.moderation, item.counts, item.mine, item.text, item.edited]);

/** The reader is working in the item: writing in its box, reading it uncovered or its
 * history, or on one of its controls. */
const inUse = (el) => el.contains(document.activeElement)
  || el.querySelector('.slot[data-mode]:not([data-mode=""]), .reasons, ol.history') !== null;
/** Text typed into the item's box, which a redraw would throw away. */
const typing = (el) => [...el.querySelectorAll('textarea')].some((t) => t.value.trim());

async function redrawStale() {
  const ids = [...stale];
  stale.clear();
  try {
    await Promise.all(ids.map(redrawOne));
  } finally {
    // One batch at a time, then a pause: events that arrived meanwhile wait for the next.
    recheck = setTimeout(() => {
      recheck = null;
      if (stale.size) recheck = setTimeout(redrawStale, 0);
    }, RECHECK_PAUSE_MS);
  }
}

async function redrawOne(id) {
  const asked = performance.now();
  let fresh;
  try {
    fresh = await get(`/v1/events/${encodeURIComponent(id)}`);
  } catch {
    return; // Deleted or gone meanwhile: leave what is shown.
  }
  for (const el of document.querySelectorAll(`article.item[data-id="${CSS.escape(id)}"]`)) {
    const [old, options, drawn] = shown.get(el) ?? [];
    // Drawn after this read was asked for: what is shown is newer than the answer.
    if (!old || drawn > asked || visible(old) === visible(fresh) || typing(el)) continue;
    // A new verdict is drawn even while the reader uses the item; new counts wait for them.
    if (inUse(el) && old.moderation.action === fresh.moderation.action) continue;
    const item = options.nested ? { ...fresh, quoted: null } : fresh;
    const redrawn = renderItem(item, options);
    redrawn.style.cssText = el.style.cssText;
    el.replaceWith(redrawn);
  }
}

const covers = {
  hide: { class: 'collapsed', title: 'Hidden by your moderation: ', button: 'Show anyway', again: 'Hide again' },
  warn: { class: 'warning', title: 'Warning: ', button: 'Show', again: 'Cover again' },
};

function meta(item, uncovered) {
  const verb = item.kind === 'repost' ? h('span', {}, 'reposted')
    : item.reply_to ? h('span', {}, 'replied to ', h('a', { href: `#/thread/${item.reply_to}` }, `post ${short(item.reply_to)}`))
      : item.kind === 'reaction' && item.target ? h('span', {}, 'reacted to ', h('a', { href: `#/thread/${item.target}` }, `post ${short(item.target)}`))
        : null;
  return h('div', { class: 'meta' },
    h('a', { href: `#/author/${item.author}`, class: 'name-link' }, authorLabel(item.author, item.author_name)),
    verb,
    h('a', { href: `#/thread/${item.id}`, title: 'Open the thread' }, timeEl(item.created_at)),
    item.edited && uncovered ? editedButton(item) : null);
}

/** "(edited)", which opens the post's earlier versions below its header. */
function editedButton(item) {
  const button = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', title: 'Show earlier versions' }, '(edited)');
  let box = null;
  button.addEventListener('click', () => busy(button, 'Reading the edit history', async () => {
    if (box) {
      box.remove();
      box = null;
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    const history = await get(`/v1/events/${encodeURIComponent(item.id)}/history`);
    box = h('ol', { class: 'history', 'aria-label': 'Versions, oldest first' }, history.versions.map((v) =>
      h('li', { class: v.current ? 'current' : '' }, timeEl(v.created_at), ': ',
        v.text === null ? h('span', { class: 'muted' }, 'erased by a delete') : h('span', { class: 'text' }, v.text),
        v.current ? h('span', { class: 'muted' }, ' (shown)') : null)));
    button.closest('.meta').after(box);
    button.setAttribute('aria-expanded', 'true');
  }));
  return button;
}

function content(item, options) {
  const parts = [];
  if (item.deleted) {
    parts.push(h('p', { class: 'muted' }, item.author === viewer ? 'You deleted this.' : 'Deleted by its author (or not fetched yet).'));
    return parts;
  }
  if (item.kind === 'post' || item.kind === 'reaction') {
    if (item.text) parts.push(h('div', { class: 'text' }, item.text));
  } else if (item.kind !== 'repost') {
    parts.push(h('p', { class: 'muted' }, `A ${item.kind} event.`));
  }
  if (item.tags?.length) {
    parts.push(h('div', { class: 'tags' }, item.tags.map((t) => [h('a', { href: `#/search?q=${encodeURIComponent('#' + t)}` }, '#' + t), ' '])));
  }
  if (item.quoted) {
    parts.push(h('div', { class: 'quoted' }, renderItem(item.quoted, { nested: true })));
  } else if (item.target && item.kind !== 'reaction' && options.nested) {
    // Quotes show one level deep: a quote inside a quote is a link.
    parts.push(h('p', { class: 'muted' }, 'Quoting ', h('a', { href: `#/thread/${item.target}` }, `post ${short(item.target)}`), '.'));
  } else if (item.target && item.kind !== 'reaction') {
    parts.push(h('p', { class: 'muted' }, 'The ', h('a', { href: `#/thread/${item.target}` }, `quoted post ${short(item.target)}`),
      ' is not stored on this node.'));
  }
  if (!options.nested && item.kind === 'post') parts.push(actions(item, options));
  if (!options.nested && item.kind === 'repost' && item.author === viewer) {
    parts.push(h('div', { class: 'actions' }, undoButton('Undo repost', 'Undoing the repost', [item.id], () => options.onChange?.())));
  }
  return parts;
}

/** A button that deletes the viewer's own `events` (a reaction, a repost). */
function undoButton(label, context, events, done, attrs = {}) {
  return h('button', {
    type: 'button',
    ...attrs,
    onclick: (e) => busy(e.currentTarget, context, async () => {
      await publish({ kind: 'delete', targets: events });
      done();
    }),
  }, label);
}

function actions(item, options) {
  const own = item.author === viewer;
  const changed = () => options.onChange?.();
  const slot = h('div', { class: 'slot' });
  const c = item.counts ?? {};
  const open = (mode) => {
    if (slot.dataset.mode === mode) {
      slot.dataset.mode = '';
      slot.replaceChildren();
      return;
    }
    slot.dataset.mode = mode;
    replace(slot, composer({ mode, target: item, onDone: () => { slot.replaceChildren(); slot.dataset.mode = ''; changed(); } }));
    slot.querySelector('textarea')?.focus();
  };
  const react = (emoji) => (e) => busy(e.currentTarget, 'Reacting', async () => {
    await publish({ kind: 'reaction', target: item.id, reaction: emoji });
    changed();
  });
  // What the viewer already did shows as done, and pressing it again undoes it.
  const mine = item.mine ?? { reactions: [], reposts: [] };
  const count = (n) => (n ? ' · ' + n : '');
  return [
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => open('reply') }, `Reply${c.replies ? ' · ' + c.replies : ''}`),
      h('button', { type: 'button', onclick: () => open('quote') }, `Quote${c.quotes ? ' · ' + c.quotes : ''}`),
      mine.reposts.length
        ? undoButton(`Repost${count(c.reposts)}`, 'Undoing the repost', mine.reposts, changed,
          { 'aria-pressed': 'true', title: 'You reposted this: press to undo' })
        : h('button', {
          type: 'button', 'aria-pressed': 'false', onclick: (e) => busy(e.currentTarget, 'Reposting', async () => {
            await publish({ kind: 'repost', target: item.id });
            changed();
          }),
        }, `Repost${count(c.reposts)}`),
      mine.reactions.length
        ? undoButton(`♥ Like${count(c.reactions)}`, 'Taking back your reaction', mine.reactions, changed,
          { 'aria-pressed': 'true', title: 'You reacted to this: press to take your reactions back' })
        : h('button', { type: 'button', 'aria-pressed': 'false', title: 'React with a heart', onclick: react('❤️') }, `♥ Like${count(c.reactions)}`),
      own ? h('button', { type: 'button', onclick: () => open('edit') }, 'Edit') : null,
      own ? h('button', {
        type: 'button', onclick: (e) => {
          if (!confirm('Delete this post? Nodes that hold it erase its text.')) return;
          busy(e.currentTarget, 'Deleting', async () => {
            await publish({ kind: 'delete', targets: [item.id] });
            changed();
          });
        },
      }, 'Delete') : null),
    slot,
  ];
}
