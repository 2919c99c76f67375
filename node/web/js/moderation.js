// Choosing moderation: feeds with per-label actions, mutes, lists, the followed-authors
// option; and the operator's host policy, which decides what this node stores and relays.

import { get, post, put, del, query, publish } from './api.js';
import { h, replace, heading, short, busy, field } from './ui.js';

const actions = ['show', 'warn', 'hide'];

async function resolveAuthor(text) {
  return (await get('/v1/resolve' + query({ kind: 'author', id: text.trim() }))).id;
}

function feedCard(feedId, subscription, again) {
  const declaration = subscription.declaration;
  const overrides = { ...subscription.overrides };
  const save = (select, value) => busy(select, 'Changing the label action', async () => {
    if (select.value === '') delete overrides[value];
    else overrides[value] = select.value;
    await post('/v1/moderation/feeds', { feed: feedId, overrides });
  });
  const labels = declaration
    ? h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Label'), h('th', {}, 'Severity'), h('th', {}, 'What you see'))),
      h('tbody', {}, declaration.labels.map((l) => {
        const id = `act-${short(feedId)}-${l.value}`;
        const select = h('select', { id, 'aria-label': `Action for label ${l.value}` },
          h('option', { value: '' }, `feed default (${l.default_action})`),
          actions.map((a) => h('option', { value: a, selected: overrides[l.value] === a }, a)));
        select.addEventListener('change', () => save(select, l.value));
        return h('tr', { dataset: { label: l.value } },
          h('td', {}, h('label', { for: id }, l.value), l.description ? h('div', { class: 'hint' }, l.description) : null),
          h('td', {}, l.severity), h('td', {}, select));
      })))
    : h('p', { class: 'notice' }, 'Your node has not fetched this feed’s declaration yet. It asks peers that hold the feed; ',
      'the labels appear here when one answers (connect to the feed’s node on the Node page if none does).');
  const card = h('section', { class: 'profile', dataset: { feed: feedId } },
    h('h2', {}, declaration?.name ?? 'Moderation feed', ' ', h('span', { class: 'mono muted' }, short(feedId))),
    declaration?.description ? h('p', {}, declaration.description) : null,
    labels,
    declaration ? issuedLabels(feedId) : null,
    h('div', { class: 'row' },
      h('a', { href: `#/author/${feedId}` }, 'The feed’s author page'),
      h('button', {
        type: 'button',
        onclick: (e) => busy(e.currentTarget, 'Unsubscribing', async () => {
          await del(`/v1/moderation/feeds/${feedId}`);
          await again();
        }),
      }, 'Unsubscribe')));
  if (!declaration) {
    // The declaration arrives from a peer within seconds: ask for it while the card is shown,
    // and swap in the full card (nothing else on the screen is redrawn).
    const poll = setInterval(async () => {
      if (!card.isConnected) return clearInterval(poll);
      try {
        const found = await get(`/v1/feeds/${feedId}`);
        clearInterval(poll);
        card.replaceWith(feedCard(feedId, { ...subscription, declaration: found }, again));
      } catch {
        // Not held yet.
      }
    }, 2000);
  }
  return card;
}

/** What the feed has labelled (newest first), read when opened: judge a feed by its labels. */
function issuedLabels(feedId) {
  const list = h('ul', { class: 'issued' });
  const box = h('details', {}, h('summary', {}, 'What this feed has labelled'), list);
  box.addEventListener('toggle', () => {
    if (!box.open || list.dataset.read) return;
    list.dataset.read = 'yes';
    busy(null, 'Reading the feed’s labels', async () => {
      let issued;
      try {
        issued = await get(`/v1/feeds/${feedId}/labels` + query({ limit: 50 }));
      } catch (err) {
        delete list.dataset.read; // Read again when opened again.
        throw err;
      }
      replace(list, issued.length ? issued.map((l) => h('li', {},
        h('strong', {}, l.value), ' on ',
        l.target.startsWith('hbauthor') ? h('a', { href: `#/author/${l.target}` }, `author ${short(l.target)}`)
          : h('a', { href: `#/thread/${l.target}` }, `post ${short(l.target)}`),
        l.reason ? ` (${l.reason})` : '', l.expires_at ? ' until ' + new Date(l.expires_at).toLocaleString() : ''))
        : h('li', { class: 'hint' }, 'No label of this feed is held here yet.'));
    });
  });
  return box;
}

function chips(values, label, remove) {
  if (!values.length) return h('p', { class: 'hint' }, 'None.');
  return h('ul', { class: 'chips' }, values.map((v) => h('li', {}, label(v), ' ',
    h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${typeof v === 'string' ? v : ''}`, onclick: (e) => remove(v, e.currentTarget) }, '×'))));
}

function muteForm(kind, placeholder, again) {
  const input = h('input', { type: 'text', placeholder });
  const button = h('button', { type: 'submit' }, `Mute ${kind}`);
  const form = h('form', { class: 'row', 'aria-label': `Mute a ${kind}` },
    h('label', { for: `mute-${kind}` }, `Mute a ${kind}`), input, button);
  input.id = `mute-${kind}`;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!input.value.trim()) return;
    busy(button, `Muting the ${kind}`, async () => {
      await post('/v1/mutes', { [kind]: input.value.trim() });
      await again();
    });
  });
  return form;
}

/** The moderation screen. */
export async function moderation(main) {
  const again = () => moderation(main);
  const [prefs, ownLists] = await Promise.all([get('/v1/moderation'), get('/v1/lists')]);
  const feedInput = h('input', { type: 'text', placeholder: 'hbauthor1… of a moderation feed', autocomplete: 'off' });
  const subscribe = h('button', { type: 'submit', class: 'primary' }, 'Subscribe');
  const feedForm = h('form', { class: 'stack', 'aria-label': 'Subscribe to a moderation feed' },
    field('feed-author', 'Subscribe to a moderation feed (its author id)', feedInput), h('div', {}, subscribe),
    h('p', { class: 'hint' }, 'A feed labels posts and authors; you choose per label whether to show, warn or hide. It changes only what you see.'));
  feedForm.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(subscribe, 'Subscribing', async () => {
      await post('/v1/moderation/feeds', { feed: await resolveAuthor(feedInput.value), overrides: {} });
      await again();
    });
  });
  const followed = h('input', { type: 'checkbox', id: 'always-followed', checked: prefs.always_show_followed });
  followed.addEventListener('change', () => busy(followed, 'Changing the option', () =>
    put('/v1/moderation/options', { always_show_followed: followed.checked })));
  const removeMute = (field) => (v, button) => busy(button, 'Unmuting', async () => {
    await del('/v1/mutes', { [field]: v });
    await again();
  });
  const feeds = Object.entries(prefs.feeds);
  const lists = Object.values(prefs.lists);
  replace(main, heading('Moderation'),
    h('p', { class: 'hint' }, 'Moderation here acts on what you see, never on what the network carries. ',
      'What this node refuses to store is the ', h('a', { href: '#/host-policy' }, 'host policy'), '.'),
    h('h2', {}, 'Moderation feeds'),
    feeds.length ? feeds.map(([id, sub]) => feedCard(id, sub, again)) : h('p', { class: 'hint' }, 'You use no moderation feed yet.'),
    feedForm,
    h('h2', {}, 'People you follow'),
    h('div', { class: 'row' }, followed,
      h('label', { for: 'always-followed' }, 'Always show people I follow (feed and list hides become warnings for them)')),
    h('h2', {}, 'Mutes'),
    h('p', { class: 'hint' }, 'Muted authors, words and tags are hidden from you; your mutes are never softened.'),
    h('h3', {}, 'Authors'),
    chips([...prefs.muted_authors], (a) => h('a', { href: `#/author/${a}`, class: 'mono' }, short(a)), removeMute('author')),
    h('h3', {}, 'Words'),
    chips([...prefs.muted_words], (w) => w, removeMute('word')),
    muteForm('word', 'a word or phrase', again),
    h('h3', {}, 'Tags'),
    chips([...prefs.muted_tags], (t) => '#' + t, removeMute('tag')),
    muteForm('tag', 'tag', again),
    h('h2', {}, 'Lists'),
    lists.length
      ? h('ul', {}, lists.map((l) => h('li', {}, `${l.name} (${l.purpose}) by `, h('a', { href: `#/author/${l.owner}`, class: 'mono' }, short(l.owner)),
        `, ${l.members.length} members `,
        h('button', {
          type: 'button',
          onclick: (e) => busy(e.currentTarget, 'Unsubscribing from the list', async () => {
            await del('/v1/lists/subscriptions', { owner: l.owner, list: l.id });
            await again();
          }),
        }, 'Unsubscribe'))))
      : h('p', { class: 'hint' }, 'You use nobody’s list.'),
    listForm(again),
    h('h3', {}, 'Your lists'),
    ownLists.length ? ownLists.map((l) => ownListCard(l, lists, again)) : h('p', { class: 'hint' }, 'You have no lists.'),
    newListForm(again));
}

const purposes = {
  mute: 'mute: whoever uses it hides the members’ posts',
  block: 'block: whoever uses it hides the members’ posts and interactions',
  curate: 'curate: a reading list, a timeline of its members only',
};

/** Publishes one of the viewer's lists (a new list event replaces the earlier membership). */
async function publishList(list, members) {
  await publish({ kind: 'list', name: list.name, description: list.description ?? '', purpose: list.purpose, members });
}

/** The list's members as last published (not as drawn: two quick changes must not undo each other). */
async function currentMembers(list) {
  return (await get('/v1/lists')).find((l) => l.id === list.id)?.members ?? list.members;
}

/** One of the viewer's own lists: its members, adding and removing them, using it or reading it. */
function ownListCard(list, subscribed, again) {
  const used = subscribed.some((s) => s.id === list.id);
  const member = h('input', { type: 'text', placeholder: 'hbauthor1… or @name', autocomplete: 'off' });
  const add = h('button', { type: 'submit' }, 'Add');
  const id = `list-add-${short(list.id)}`;
  const addForm = h('form', { class: 'row', 'aria-label': `Add someone to ${list.name}` },
    h('label', { for: id }, 'Add someone'), member, add);
  member.id = id;
  addForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!member.value.trim()) return;
    busy(add, 'Adding to the list', async () => {
      const author = await resolveAuthor(member.value);
      const members = await currentMembers(list);
      if (!members.includes(author)) await publishList(list, [...members, author]);
      await again();
    });
  });
  return h('section', { class: 'profile', dataset: { list: list.name } },
    h('h4', {}, list.name, ' ', h('span', { class: 'muted' }, `(${list.purpose})`)),
    list.description ? h('p', {}, list.description) : null,
    chips(list.members, (a) => h('a', { href: `#/author/${a}`, class: 'mono' }, short(a)),
      (a, button) => busy(button, 'Removing from the list', async () => {
        await publishList(list, (await currentMembers(list)).filter((m) => m !== a));
        await again();
      })),
    addForm,
    h('div', { class: 'row' },
      list.purpose === 'curate'
        ? h('a', { href: `#/list/${list.owner}/${encodeURIComponent(list.name)}` }, 'Read this list')
        : used ? h('span', { class: 'hint' }, 'You use this list: its members are hidden from you.')
          : h('button', {
            type: 'button',
            onclick: (e) => busy(e.currentTarget, 'Using the list', async () => {
              await post('/v1/lists/subscriptions', { owner: list.owner, list: list.id });
              await again();
            }),
          }, 'Use it myself')));
}

/** Creates a list; the viewer's own mute and block lists act on their view at once. */
function newListForm(again) {
  const name = h('input', { type: 'text', maxlength: 64, required: true, placeholder: 'e.g. friends' });
  const purpose = h('select', {}, Object.entries(purposes).map(([value, text]) => h('option', { value }, text)));
  const description = h('input', { type: 'text', placeholder: 'what it is for (optional)' });
  const create = h('button', { type: 'submit' }, 'Create the list');
  const form = h('form', { class: 'stack', 'aria-label': 'Create a list' },
    field('list-name', 'New list: its name', name), field('list-purpose', 'What it does', purpose),
    field('list-description', 'Description', description), h('div', {}, create),
    h('p', { class: 'hint' }, 'Lists are public: others can use your mute and block lists, or read your curated ones.'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(create, 'Creating the list', async () => {
      const list = { name: name.value.trim(), description: description.value.trim(), purpose: purpose.value };
      // A new list event of the same name would replace the old list (its purpose too).
      if ((await get('/v1/lists')).some((l) => l.name === list.name)) {
        throw new Error(`You already have a list named “${list.name}”: change it above, or pick another name.`);
      }
      await publishList(list, []);
      if (list.purpose !== 'curate') {
        const mine = (await get('/v1/lists')).find((l) => l.name === list.name);
        if (mine) await post('/v1/lists/subscriptions', { owner: mine.owner, list: mine.id });
      }
      await again();
    });
  });
  return form;
}

function listForm(again) {
  const owner = h('input', { type: 'text', placeholder: 'hbauthor1… or @name' });
  const find = h('button', { type: 'submit' }, 'Show their lists');
  const found = h('div', {});
  const form = h('form', { class: 'stack', 'aria-label': 'Use someone’s list' },
    field('list-owner', 'Use someone’s list: mute, block or curate by it', owner), h('div', {}, find), found);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(find, 'Finding lists', async () => {
      const id = await resolveAuthor(owner.value);
      const lists = await get(`/v1/authors/${id}/lists`);
      replace(found, lists.length ? h('ul', {}, lists.map((l) => h('li', {}, `${l.name} (${l.purpose}), ${l.members.length} members `,
        h('button', {
          type: 'button',
          onclick: (ev) => busy(ev.currentTarget, 'Subscribing to the list', async () => {
            await post('/v1/lists/subscriptions', { owner: id, list: l.id });
            await again();
          }),
        }, 'Use this list'))))
        : h('p', { class: 'hint' }, 'Your node holds no list of this author.'));
    });
  });
  return form;
}

/** The operator's host policy: labels this node refuses to store and relay, blocked authors. */
export async function hostPolicy(main) {
  const again = () => hostPolicy(main);
  const policy = await get('/v1/host-policy');
  const feed = h('input', { type: 'text', placeholder: 'hbauthor1… of the feed' });
  const label = h('input', { type: 'text', placeholder: 'label, e.g. spam' });
  const refuse = h('button', { type: 'submit' }, 'Refuse');
  const refuseForm = h('form', { class: 'stack', 'aria-label': 'Refuse a label' },
    field('refuse-feed', 'Feed', feed), field('refuse-label', 'Label', label), h('div', {}, refuse));
  refuseForm.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(refuse, 'Refusing the label', async () => {
      await post('/v1/host-policy/refuse', { feed: await resolveAuthor(feed.value), label: label.value.trim() });
      await again();
    });
  });
  const author = h('input', { type: 'text', placeholder: 'hbauthor1… or @name' });
  const block = h('button', { type: 'submit' }, 'Block');
  const blockForm = h('form', { class: 'row', 'aria-label': 'Block an author' },
    h('label', { for: 'block-author' }, 'Block an author'), author, block);
  author.id = 'block-author';
  blockForm.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(block, 'Blocking', async () => {
      await post('/v1/host-policy/block', { author: await resolveAuthor(author.value) });
      await again();
    });
  });
  replace(main, heading('Host policy'),
    h('p', { class: 'notice' }, 'This is the operator’s choice of what this node stores and relays for the network. ',
      'It does not change what others see elsewhere; your own reading is set under ', h('a', { href: '#/moderation' }, 'Moderation'), '.'),
    h('h2', {}, 'Refused labels'),
    chips(policy.refused_labels, ([f, l]) => [`“${l}” from `, h('span', { class: 'mono' }, short(f))],
      ([f, l], button) => busy(button, 'Removing', async () => {
        await del('/v1/host-policy/refuse', { feed: f, label: l });
        await again();
      })),
    refuseForm,
    h('h2', {}, 'Blocked authors'),
    chips(policy.blocked_authors, (a) => h('a', { href: `#/author/${a}`, class: 'mono' }, short(a)),
      (a, button) => busy(button, 'Unblocking', async () => {
        await del('/v1/host-policy/block', { author: a });
        await again();
      })),
    blockForm);
}
