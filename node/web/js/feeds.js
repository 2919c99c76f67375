// Reading screens: the timeline, a thread, an author's page, notifications and search. Each
// returns the live handlers that keep it current from the node's event stream.

import { get, post, del, publish, query } from './api.js';
import { composer } from './compose.js';
import { renderItem, viewerId, whenViewer } from './items.js';
import { h, replace, heading, short, authorLabel, timeEl, busy, field, showError } from './ui.js';

const PAGE = 50;

/** A list of items with "Load older" paging; `fetchPage(before)` returns {items, next}. */
function pagedList(fetchPage, options) {
  const list = h('div', { class: 'items', role: 'feed', 'aria-busy': 'false' });
  const more = h('button', { type: 'button', class: 'more' }, 'Load older');
  let next = null;
  const seen = new Set();
  const load = async (before) => {
    list.setAttribute('aria-busy', 'true');
    const page = await fetchPage(before);
    await whenViewer();
    for (const item of page.items) {
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      list.append(renderItem(item, options));
    }
    next = page.next ?? null;
    more.hidden = !next;
    list.setAttribute('aria-busy', 'false');
    return page;
  };
  more.addEventListener('click', () => busy(more, 'Loading older items', () => load(next)));
  const prepend = (item) => {
    if (seen.has(item.id)) return;
    seen.add(item.id);
    const el = renderItem(item, options);
    el.classList.add('new');
    list.prepend(el);
  };
  return { list, more, load, prepend, seen };
}

/** A form to follow someone by author id, short id or @name; `id` names its input. */
export function followForm(onFollowed, id = 'follow-author') {
  const input = h('input', { type: 'text', name: 'author', placeholder: 'hbauthor1… or @name', autocomplete: 'off' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Follow');
  const form = h('form', { class: 'stack', 'aria-label': 'Follow someone' },
    field(id, 'Follow someone by their author id', input),
    h('div', { class: 'row' }, button));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(button, 'Following', async () => {
      const { id } = await get('/v1/resolve' + query({ kind: 'author', id: input.value.trim() }));
      await post('/v1/follows', { author: id });
      input.value = '';
      onFollowed?.(id);
    });
  });
  return form;
}

const timelinePage = (before) => get('/v1/timeline' + query({ limit: PAGE, before }));

/**
 * Asks for the timeline's first page at start-up, before the page is drawn; the first screen
 * takes it as `app.early`.
 */
export function prefetchTimeline() {
  const page = timelinePage();
  page.catch(() => {}); // The timeline reports a failure when it takes the page.
  return page;
}

/** The timeline: the viewer's posts and those of everyone they follow, newest first. */
export async function timeline(main, _arg, app) {
  const reload = () => app.refresh();
  const paged = pagedList((before) => {
    if (before !== undefined) return timelinePage(before);
    const first = app.early ?? timelinePage();
    app.early = null;
    return first.then((page) => {
      performance.mark('timeline-data');
      return page;
    });
  }, { onChange: reload });
  // Asked for before anything is drawn: the page's data is the longest wait of a first load.
  const loading = paged.load();
  const empty = h('div', { class: 'empty', hidden: true },
    h('p', {}, h('strong', {}, 'Your timeline is empty.'), ' It shows your posts and the posts of people you follow.'),
    h('p', {}, 'To follow someone, ask them for their author id (they find it with ', h('code', {}, 'handbill id'),
      ' or on their Node page) and paste it below. Your node fetches their posts from any peer that holds them; if it has no peers yet, connect to one on the ',
      h('a', { href: '#/node' }, 'Node page'), '.'),
    followForm(() => reload()));
  const followMore = h('details', { class: 'follow-more', hidden: true },
    h('summary', {}, 'Follow someone'), followForm(() => reload(), 'follow-more'));
  replace(main, heading('Timeline'),
    composer({ mode: 'post', onDone: () => {} }),
    followMore, empty, paged.list, paged.more);
  const page = await loading;
  empty.hidden = page.items.length > 0;
  followMore.hidden = !empty.hidden;
  performance.mark('timeline-ready');
  document.body.dataset.ready = 'timeline';
  return {
    stored(item) {
      if (!item.in_timeline || (item.kind !== 'post' && item.kind !== 'repost')) return;
      empty.hidden = true;
      followMore.hidden = false;
      paged.prepend(item);
    },
  };
}

/** A curated list's timeline: the posts of its members only (`arg` is "OWNER/NAME"). */
export async function listFeed(main, arg) {
  const at = arg.indexOf('/');
  const path = `/v1/authors/${encodeURIComponent(arg.slice(0, at))}/lists/${encodeURIComponent(arg.slice(at + 1))}`;
  const list = await get(path);
  const paged = pagedList((before) => get(path + '/timeline' + query({ limit: PAGE, before })), {});
  replace(main, heading(`List: ${list.name}`),
    h('p', { class: 'hint' }, list.description ? `${list.description} · ` : '', `${list.members.length} members, by `,
      h('a', { href: `#/author/${list.owner}` }, short(list.owner)), '.'),
    paged.list, paged.more);
  const page = await paged.load();
  if (!page.items.length) main.append(h('p', { class: 'empty' }, 'No post of its members is held on this node yet.'));
  return {
    stored(item) {
      if (list.members.some((m) => m.author === item.author) && (item.kind === 'post' || item.kind === 'repost')) paged.prepend(item);
    },
  };
}

/** A thread: ancestors, the post, and every reply held, indented. */
export async function thread(main, id) {
  const render = async () => {
    const t = await get(`/v1/events/${encodeURIComponent(id)}/thread`);
    const depth = new Map([[t.event.id, 0]]);
    const onChange = () => render().catch((e) => showError(e, 'Reloading the thread'));
    const items = [
      ...t.ancestors.map((i) => renderItem(i, { onChange })),
      renderItem(t.event, { focus: true, onChange }),
      ...t.replies.map((i) => {
        const d = (depth.get(i.reply_to) ?? 0) + 1;
        depth.set(i.id, d);
        const el = renderItem(i, { reply: true, onChange });
        el.style.marginLeft = `${Math.min(d, 6) * 16}px`;
        if (known.size && !known.has(i.id)) el.classList.add('new');
        return el;
      }),
    ];
    known = new Set([t.event.id, ...t.ancestors.map((i) => i.id), ...t.replies.map((i) => i.id)]);
    root = t.event.root ?? t.event.id;
    replace(main, heading('Thread'), items,
      t.replies.length ? null : h('p', { class: 'muted' }, 'No replies held yet.'));
  };
  let known = new Set();
  let root = id;
  await render();
  let waiting = null;
  return {
    stored(item) {
      if (!(known.has(item.reply_to) || item.root === root || known.has(item.target) || known.has(item.id))) return;
      // Redrawing would throw away a reply being written: offer the update instead.
      const writing = [...main.querySelectorAll('form.compose textarea')].some((t) => t.value.trim());
      if (!writing) {
        render().catch((e) => showError(e, 'Updating the thread'));
      } else if (!waiting?.isConnected) {
        waiting = h('button', { type: 'button', class: 'more', onclick: () => render().catch((e) => showError(e, 'Updating the thread')) },
          'New activity in this thread: show it');
        main.querySelector('h1').after(waiting);
      }
    },
  };
}

/** An author's page: profile, follow and mute, their posts; the viewer edits their own profile. */
export async function author(main, id, app) {
  const [view, moderation] = await Promise.all([
    get(`/v1/authors/${encodeURIComponent(id)}` + query({ limit: PAGE })),
    get('/v1/moderation'),
  ]);
  const again = () => app.refresh();
  const own = view.author === viewerId();
  const muted = moderation.muted_authors.includes(view.author);
  const follow = h('button', {
    type: 'button', class: view.followed ? '' : 'primary',
    onclick: (e) => busy(e.currentTarget, view.followed ? 'Unfollowing' : 'Following', async () => {
      if (view.followed) await del(`/v1/follows/${view.author}`);
      else await post('/v1/follows', { author: view.author });
      await again();
    }),
  }, view.followed ? 'Unfollow' : 'Follow');
  const mute = h('button', {
    type: 'button',
    onclick: (e) => busy(e.currentTarget, muted ? 'Unmuting' : 'Muting', async () => {
      if (muted) await del('/v1/mutes', { author: view.author });
      else await post('/v1/mutes', { author: view.author });
      await again();
    }),
  }, muted ? 'Unmute' : 'Mute');
  const profile = h('section', { class: 'profile', 'aria-label': 'Profile' },
    h('h2', {}, authorLabel(view.author, view.name ?? (own ? 'you' : null))),
    view.bio ? h('p', {}, view.bio) : null,
    h('p', { class: 'mono' }, view.author),
    h('p', { class: 'hint' }, view.contiguous === view.highest
      ? `This node holds all ${view.highest} events of this author's log.`
      : `This node holds ${view.contiguous} of this author's ${view.highest} events in order${view.followed || own ? '; it fetches the rest from peers.' : ' (following them fetches all of it).'}`),
    own ? profileForm(view, again) : h('div', { class: 'row' }, follow, mute,
      muted ? h('span', { class: 'hint' }, 'Muted: their posts are hidden from you (nobody else is affected).') : null));
  const list = h('div', { class: 'items' }, view.posts.map((i) => renderItem(i, { onChange: again })));
  replace(main, heading(view.name ?? short(view.author)), profile, h('h2', {}, 'Posts'), list,
    view.posts.length ? null : h('p', { class: 'muted' }, own ? 'You have not posted yet.'
      : 'No posts held yet. Following fetches them from peers that hold them.'));
  return {
    stored(item) {
      if (item.author === view.author && (item.kind === 'post' || item.kind === 'repost')) {
        const el = renderItem(item, { onChange: again });
        el.classList.add('new');
        list.prepend(el);
      }
    },
  };
}

function profileForm(view, done) {
  const name = h('input', { type: 'text', value: view.name ?? '', maxlength: 64 });
  const bio = h('textarea', {}, view.bio ?? '');
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save profile');
  const form = h('form', { class: 'stack', 'aria-label': 'Your profile' },
    field('profile-name', 'Display name', name), field('profile-bio', 'Bio', bio), h('div', {}, save),
    h('p', { class: 'hint' }, 'Others see your name next to your short id; a name alone proves nothing.'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, 'Saving the profile', async () => {
      await publish({ kind: 'profile', name: name.value.trim(), bio: bio.value });
      await done();
    });
  });
  return form;
}

const verbs = {
  reply: 'replied to you',
  mention: 'mentioned you',
  quote: 'quoted you',
  repost: 'reposted your post',
  reaction: 'reacted to your post',
  follow: 'followed you',
  unfollow: 'unfollowed you',
  label: 'labelled your post',
};

function notificationEl(n) {
  const i = n.item;
  return h('div', { class: 'notification' + (n.unread ? ' unread' : ''), dataset: { reason: n.reason, id: i.id } },
    h('p', { class: 'meta' },
      h('a', { href: `#/author/${i.author}` }, authorLabel(i.author, i.author_name)),
      ' ', verbs[n.reason] ?? n.reason, i.kind === 'reaction' && i.text ? ` ${i.text}` : '', ' · ', timeEl(i.created_at),
      n.unread ? h('span', { class: 'badge' }, 'new') : null),
    i.kind === 'post' || i.kind === 'repost' || i.kind === 'reaction' ? renderItem(i, {}) : null);
}

/** Notifications: replies, mentions, quotes, reposts, reactions, follows, labels. */
export async function notifications(main, _arg, app) {
  const list = h('div', { class: 'items', role: 'feed' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'Load older');
  const seen = new Set();
  const fresh = (n) => !seen.has(n.position) && seen.add(n.position);
  let next = null;
  const load = async (before) => {
    const page = await get('/v1/notifications' + query({ all: true, limit: PAGE, before }));
    list.append(...page.items.filter(fresh).map(notificationEl));
    next = page.next ?? null;
    more.hidden = next === null;
    return page;
  };
  more.addEventListener('click', () => busy(more, 'Loading older notifications', () => load(next)));
  const markRead = h('button', {
    type: 'button',
    onclick: (e) => busy(e.currentTarget, 'Marking read', async () => {
      await post('/v1/notifications/read', {});
      for (const el of list.querySelectorAll('.unread')) el.classList.remove('unread');
      for (const el of list.querySelectorAll('.badge')) el.remove();
      app.setUnread(0);
    }),
  }, 'Mark all read');
  const empty = h('p', { class: 'empty', hidden: true },
    'Nothing yet. When someone replies to you, mentions, quotes, reposts or follows you, it shows here.');
  replace(main, heading('Notifications'), h('div', { class: 'row' }, markRead), empty, list, more);
  const page = await load();
  empty.hidden = page.items.length > 0;
  app.setUnread(page.unread);
  return {
    notification(n) {
      if (!fresh(n)) return;
      empty.hidden = true;
      const el = notificationEl(n);
      el.classList.add('new');
      list.prepend(el);
    },
  };
}

/** Search over what this node holds: words, #tags, from:AUTHOR. */
export async function search(main, _arg, _app, params) {
  const q = params.get('q') ?? '';
  const input = h('input', { type: 'search', name: 'q', value: q, placeholder: 'words, #tag, from:@name' });
  const form = h('form', { class: 'stack', role: 'search' },
    field('search-q', 'Search the posts your node holds', input),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Search'),
      h('span', { class: 'hint' }, 'Words match whole words; #tag finds tags; from:@name or from:hbauthor1… limits to one author.')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = '#/search?q=' + encodeURIComponent(input.value.trim());
  });
  replace(main, heading('Search'), form);
  if (!q) return {};
  const paged = pagedList((before) => get('/v1/search' + query({ q, limit: PAGE, before })), {});
  main.append(paged.list, paged.more);
  const page = await paged.load();
  if (!page.items.length) main.append(h('p', { class: 'empty' }, `No post held on this node matches “${q}”.`));
  return {};
}
