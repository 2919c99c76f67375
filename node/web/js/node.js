// The node: who it is, how others reach it, its peers and what it stores; connecting to a peer.

import { get, post, del, forgetKey } from './api.js';
import { h, replace, heading, short, busy, field, relTime, authorLabel } from './ui.js';
import { followForm } from './feeds.js';

const kinds = {
  public: 'reachable from the internet',
  relayed: 'through a relay (works behind NAT)',
  unconfirmed: 'not confirmed reachable',
  lan: 'local network only',
  loopback: 'this machine only',
};

const states = {
  public: 'Reachable from the internet',
  behind_nat: 'Behind NAT: others reach this node through relays',
  unknown: 'Not known yet (the node asks peers to dial it back)',
};

function copyButton(text, what) {
  return h('button', {
    type: 'button',
    'aria-label': `Copy ${what}`,
    onclick: async (e) => {
      const b = e.currentTarget;
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = 'Copied';
      } catch {
        b.textContent = 'Select and copy it';
      }
      setTimeout(() => { b.textContent = 'Copy'; }, 2000);
    },
  }, 'Copy');
}

/** The node status screen. */
export async function node(main) {
  const again = () => node(main);
  const [status, following] = await Promise.all([get('/v1/status'), get('/v1/following')]);
  const addr = h('input', { type: 'text', placeholder: '/ip4/…/tcp/4701/p2p/12D3…', autocomplete: 'off' });
  const connect = h('button', { type: 'submit', class: 'primary' }, 'Connect');
  const connectForm = h('form', { class: 'stack', 'aria-label': 'Connect to a peer' },
    field('connect-addr', 'Connect to a peer by its address', addr), h('div', {}, connect),
    h('p', { class: 'hint' }, 'Ask the other person for the first address on their Node page (or from ',
      h('code', {}, 'handbill id'), ').'));
  const dialling = h('p', { class: 'hint', role: 'status' });
  connectForm.append(dialling);
  connectForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const target = addr.value.trim();
    busy(connect, 'Connecting', async () => {
      await post('/v1/connect', { addr: target });
      // The node dials in the background: watch for the peer for a while and say what happened.
      dialling.textContent = `Dialling ${target}…`;
      // The peer is the last /p2p/ part (a relayed address names the relay first).
      const peer = target.match(/\/p2p\/([^/]+)$/)?.[1];
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        if (!dialling.isConnected) return;
        const now = await get('/v1/status');
        if (!dialling.isConnected) return; // The reader went to another screen meanwhile.
        if (peer ? now.peer_scores.some((p) => p.peer_id === peer) : now.peer_scores.length > status.peer_scores.length) {
          return again();
        }
      }
      dialling.textContent = peer
        ? 'No connection after 10 s. Check the address and that the other node is running and reachable from here; the node keeps trying in the background.'
        : 'No new peer after 10 s. An address should end in /p2p/12D3…: copy the whole first address from the other node’s Node page.';
    });
  });
  const r = status.reachability;
  const best = status.addresses[0];
  replace(main, heading('Your node'),
    h('section', { class: 'profile', 'aria-label': 'Identity' },
      h('h2', {}, 'Your author id'),
      h('p', { class: 'row' }, h('span', { class: 'mono', id: 'author-id' }, status.author), copyButton(status.author, 'author id')),
      h('p', { class: 'hint' }, 'Give this to people who want to follow you. ', h('a', { href: `#/author/${status.author}` }, 'Your profile and posts'), '.')),
    h('h2', {}, 'Addresses to share'),
    h('p', {}, states[r.state] ?? r.state,
      r.relays.length ? `, relayed through ${r.relays.length}` : '',
      r.relay_service ? '; this node relays for others behind NAT' : ''),
    status.addresses.length
      ? h('table', {}, h('tbody', {}, status.addresses.map((a) => h('tr', {},
        h('td', { class: 'mono' }, a.addr), h('td', {}, kinds[a.kind] ?? a.kind), h('td', {}, copyButton(a.addr, 'address'))))))
      : h('p', { class: 'hint' }, 'No address yet.'),
    best ? h('p', { class: 'hint' }, 'The first one is the best to share.') : null,
    connectForm,
    h('h2', {}, `Following (${following.length})`),
    following.length
      ? h('ul', { class: 'chips' }, following.map((f) => h('li', {},
        h('a', { href: `#/author/${f.author}` }, authorLabel(f.author, f.name)), ' ',
        h('button', {
          type: 'button', class: 'link', 'aria-label': `Unfollow ${f.name ?? short(f.author)}`,
          onclick: (e) => busy(e.currentTarget, 'Unfollowing', async () => {
            await del(`/v1/follows/${f.author}`);
            await again();
          }),
        }, 'Unfollow'))))
      : h('p', { class: 'hint' }, 'You follow nobody yet.'),
    followForm(() => again(), 'follow-node'),
    h('h2', {}, `Peers (${status.peer_scores.length})`),
    status.peer_scores.length
      ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Peer'), h('th', {}, 'Link'), h('th', {}, 'Score'))),
        h('tbody', {}, status.peer_scores.map((p) => h('tr', {},
          h('td', { class: 'mono', title: p.address ?? '' }, p.peer_id.slice(-12)),
          h('td', {}, p.connection),
          h('td', {}, p.gossip_score === null ? '–' : p.gossip_score.toFixed(1))))))
      : h('p', { class: 'notice' }, 'No peers. Connect to someone’s address above, or start handbilld with --bootstrap ADDR.'),
    h('h2', {}, 'Stored'),
    h('p', {}, `${status.counts.events} events from ${status.counts.authors} authors; keeping and serving the logs of ${status.hosted_authors} ${status.hosted_authors === 1 ? 'author' : 'authors'} (yours, those you follow, your feeds and lists).`),
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Hosted log'), h('th', {}, 'Held in order'), h('th', {}, 'Highest seen'))),
      h('tbody', {}, status.sync.map((s) => h('tr', {},
        h('td', {}, h('a', { href: `#/author/${s.author}`, class: 'mono' }, short(s.author))),
        h('td', {}, s.contiguous), h('td', {}, s.highest))))),
    status.forks.length ? [h('h2', {}, 'Forked logs'), h('p', { class: 'notice' },
      'These authors signed two different events at the same position (a stolen key or a bug): ',
      status.forks.map((f) => `${short(f.author)} at ${f.seq}`).join(', '))] : null,
    h('h2', {}, 'This browser'),
    h('p', { class: 'row' }, h('a', { href: '#/host-policy' }, 'Host policy'), ' · ',
      h('span', { class: 'hint' }, `handbilld ${status.version}; checked ${relTime(Date.now())}`),
      h('button', {
        type: 'button',
        onclick: (e) => busy(e.currentTarget, 'Signing out', async () => {
          await del('/v1/session');
          forgetKey();
          location.replace('/');
        }),
      }, 'Sign out')));
}
