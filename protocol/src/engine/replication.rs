//! Replication with connected peers: heads exchange, range requests and answers, backfill
//! scheduling within the concurrency bounds.

use super::{Engine, Misbehaviour, Output, PeerState};
use crate::id::AuthorId;
use crate::store::Store;
use crate::time::Timestamp;
use crate::wire::{
    BACKFILL_BATCH_BYTES_MAX, BACKFILL_BATCH_EVENTS_MAX, Envelope, HEADS_AUTHORS_MAX, Head,
    Request, Response,
};
use std::collections::BTreeSet;

/// Events asked for at a time from a peer reached only through a relay: with typical events of
/// a few hundred bytes, a batch stays far below the relay's per-circuit byte limit (1 MiB by
/// default), and the circuit keeps room for gossip.
pub const RELAYED_RANGE_EVENTS_MAX: u32 = 16;

/// Range requests in flight at once to a peer reached only through a relay.
pub const RELAYED_RANGES_PER_PEER_MAX: usize = 1;

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// A connection to `peer` was established.
    pub fn handle_connected(&mut self, peer: P, now: Timestamp) {
        if self.peers.contains_key(&peer) {
            return;
        }
        if let Some(upkeep) = self.upkeep.as_mut() {
            upkeep.connected(&peer, now);
        }
        self.peers.insert(peer.clone(), PeerState::default());
        let authors: Vec<AuthorId> = self.hosted.iter().copied().collect();
        for chunk in authors.chunks(HEADS_AUTHORS_MAX) {
            self.push(Output::SendRequest {
                peer: peer.clone(),
                request: Request::Heads {
                    authors: chunk.to_vec(),
                },
            });
        }
    }

    /// Whether `peer` is now reached only through relays (`limited`) or has a direct
    /// connection. A relay caps each circuit's bytes and duration, so bulk backfill waits for
    /// a direct connection and a relayed peer is asked for [`RELAYED_RANGE_EVENTS_MAX`] events
    /// at a time.
    pub fn handle_link_limited(&mut self, peer: &P, limited: bool, now: Timestamp) {
        if let Some(state) = self.peers.get_mut(peer)
            && state.limited != limited
        {
            state.limited = limited;
            self.schedule_ranges(now);
        }
    }

    /// The hosts' announcements should carry this node's new addresses (a relay reservation
    /// or a confirmed public address): announce every hosted author again.
    pub fn handle_addresses_changed(&mut self) {
        let hosted: Vec<AuthorId> = self.hosted.iter().copied().collect();
        for author in hosted {
            self.push(Output::StartProviding(author));
        }
    }

    /// The last connection to `peer` closed.
    pub fn handle_disconnected(&mut self, peer: &P, now: Timestamp) {
        if let Some(upkeep) = self.upkeep.as_mut() {
            upkeep.disconnected(peer, now);
        }
        if let Some(state) = self.peers.remove(peer) {
            self.recompute_best_heads(state.heads.keys().copied());
        }
        self.schedule_ranges(now);
    }

    /// Recomputes [`Engine::best_heads`] for `authors` after a peer's claim went away.
    pub(super) fn recompute_best_heads(&mut self, authors: impl IntoIterator<Item = AuthorId>) {
        for author in authors {
            let best = self
                .peers
                .values()
                .filter_map(|p| p.heads.get(&author))
                .map(|h| h.highest)
                .max();
            match best {
                Some(best) => self.best_heads.insert(author, best),
                None => self.best_heads.remove(&author),
            };
        }
    }

    /// A replication request from `peer`; the answer is returned directly.
    pub fn handle_request(&mut self, peer: &P, request: Request, _now: Timestamp) -> Response {
        let _ = peer;
        match request {
            Request::Heads { authors } => {
                let mut heads = Vec::new();
                for author in authors.into_iter().take(HEADS_AUTHORS_MAX) {
                    if let Ok(state) = self.store.log_state(&author)
                        && state.highest > 0
                    {
                        heads.push(Head {
                            author,
                            contiguous: state.contiguous,
                            highest: state.highest,
                        });
                    }
                }
                Response::Heads { heads }
            }
            Request::Range {
                author,
                from_seq,
                limit,
            } => {
                let limit = limit.clamp(1, BACKFILL_BATCH_EVENTS_MAX) as usize;
                let events = self
                    .store
                    .log(&author, from_seq.max(1), limit)
                    .unwrap_or_default();
                let highest = self.store.log_state(&author).map_or(0, |s| s.highest);
                let mut out = Vec::new();
                let mut bytes = 0usize;
                let mut last_seq = from_seq.saturating_sub(1);
                for event in events {
                    let data = event.encode();
                    if !out.is_empty() && bytes + data.len() > BACKFILL_BATCH_BYTES_MAX {
                        break;
                    }
                    bytes += data.len();
                    last_seq = event.seq();
                    out.push(Envelope(data));
                }
                Response::Events {
                    author,
                    more: last_seq < highest && !out.is_empty(),
                    events: out,
                }
            }
        }
    }

    /// A replication response from `peer` to `request`.
    pub fn handle_response(
        &mut self,
        peer: &P,
        request: &Request,
        response: Response,
        now: Timestamp,
    ) {
        match (request, response) {
            (Request::Heads { authors }, Response::Heads { heads }) => {
                let asked: BTreeSet<&AuthorId> = authors.iter().collect();
                let mut ahead = false;
                if let Some(state) = self.peers.get_mut(peer) {
                    state.answered.extend(authors.iter().copied());
                    for head in heads {
                        // Ignore heads we did not ask about: a peer cannot make us host anything.
                        if asked.contains(&head.author) {
                            let ours = self.store.log_state(&head.author).unwrap_or_default();
                            ahead |= head.highest > ours.contiguous;
                            let best = self.best_heads.entry(head.author).or_insert(0);
                            *best = (*best).max(head.highest);
                            state.heads.insert(head.author, head);
                        }
                    }
                }
                self.look_up_unserved(now);
                // In steady state every peer reports what we hold already; only a peer that is
                // ahead can give us work (ranges blocked by the concurrency bounds are scheduled
                // when a range in flight completes).
                if ahead {
                    self.schedule_ranges(now);
                }
            }
            (
                Request::Range { author, .. },
                Response::Events {
                    author: got,
                    events,
                    more,
                },
            ) => {
                if let Some(state) = self.peers.get_mut(peer) {
                    state.ranges.remove(author);
                }
                if got != *author {
                    self.misbehaved(peer, Misbehaviour::WrongAuthor, now);
                    return;
                }
                let before = self.store.log_state(author).unwrap_or_default();
                let received = events.len();
                self.ingest_batch(peer, author, events, now);
                let after = self.store.log_state(author).unwrap_or_default();
                if !more || received == 0 || after.contiguous == before.contiguous {
                    // Nothing more to get from this peer for now: narrow its claim to what we
                    // hold until the next heads round, so a peer with a gap cannot keep us asking
                    // in a loop. The claim stays, though: the peer still serves the author, and
                    // forgetting that would send us to the DHT for an author we are served.
                    if let Some(head) = self
                        .peers
                        .get_mut(peer)
                        .and_then(|state| state.heads.get_mut(author))
                    {
                        head.highest = head.highest.min(after.contiguous);
                        head.contiguous = head.contiguous.min(after.contiguous);
                    }
                    self.recompute_best_heads([*author]);
                }
                self.schedule_ranges(now);
            }
            _ => self.misbehaved(peer, Misbehaviour::MismatchedResponse, now),
        }
    }

    /// A replication request to `peer` failed (timeout, disconnect, protocol error).
    pub fn handle_request_failed(&mut self, peer: &P, request: &Request, now: Timestamp) {
        match request {
            Request::Range { author, .. } => {
                if let Some(state) = self.peers.get_mut(peer) {
                    state.ranges.remove(author);
                    state.heads.remove(author);
                    self.recompute_best_heads([*author]);
                }
            }
            // A peer that cannot answer about these authors does not serve them.
            Request::Heads { authors } => {
                if let Some(state) = self.peers.get_mut(peer) {
                    state.answered.extend(authors.iter().copied());
                }
                self.look_up_unserved(now);
            }
        }
        self.schedule_ranges(now);
    }

    pub(super) fn ask_heads_for(&mut self, authors: &[AuthorId]) {
        let peers: Vec<P> = self.peers.keys().cloned().collect();
        for peer in peers {
            for chunk in authors.chunks(HEADS_AUTHORS_MAX) {
                self.push(Output::SendRequest {
                    peer: peer.clone(),
                    request: Request::Heads {
                        authors: chunk.to_vec(),
                    },
                });
            }
        }
    }

    /// `peer` sent replication bytes that do not decode (a request or a response).
    pub fn handle_malformed(&mut self, peer: &P, now: Timestamp) {
        self.misbehaved(peer, Misbehaviour::MalformedReplication, now);
    }

    /// Records an offence by `peer`: its score drops, and repeated offences ban it.
    pub(super) fn misbehaved(&mut self, peer: &P, reason: Misbehaviour, now: Timestamp) {
        let penalty = self.reputation.offend(peer, now);
        self.push(Output::Misbehaved {
            peer: peer.clone(),
            reason,
            score: penalty.score,
        });
        if let Some(until) = penalty.banned_until {
            // A banned peer is not one to redial.
            if let Some(upkeep) = self.upkeep.as_mut() {
                upkeep.forget(peer);
            }
            self.push(Output::Ban {
                peer: peer.clone(),
                until,
            });
        }
    }

    /// Sends range requests for hosted authors that connected peers hold more of, within the
    /// concurrency bounds, preferring one peer per author at a time.
    pub(super) fn schedule_ranges(&mut self, _now: Timestamp) {
        // Authors with work: a connected peer claims more than our contiguous log.
        let mut work: Vec<(AuthorId, u64)> = Vec::new();
        for (author, best) in &self.best_heads {
            if !self.hosted.contains(author) {
                continue;
            }
            let ours = self.store.log_state(author).unwrap_or_default().contiguous;
            if *best > ours {
                work.push((*author, ours));
            }
        }
        if work.is_empty() {
            return;
        }
        let mut in_flight: BTreeSet<AuthorId> = BTreeSet::new();
        let mut total = 0usize;
        for state in self.peers.values() {
            total += state.ranges.len();
            in_flight.extend(state.ranges.iter().copied());
        }
        let mut requests = Vec::new();
        // Directly connected peers first: an author one of them holds is not asked of a relayed
        // peer in the same round.
        let direct = self.peers.iter().filter(|(_, s)| !s.limited);
        let relayed = self.peers.iter().filter(|(_, s)| s.limited);
        for (peer, state) in direct.chain(relayed) {
            let mut mine = state.ranges.len();
            let per_peer_max = if state.limited {
                RELAYED_RANGES_PER_PEER_MAX
            } else {
                self.config.ranges_per_peer_max
            };
            for (author, ours) in &work {
                if total >= self.config.ranges_total_max || mine >= per_peer_max {
                    break;
                }
                if in_flight.contains(author) {
                    continue;
                }
                if state.heads.get(author).is_some_and(|h| h.highest > *ours) {
                    let limit = if state.limited {
                        RELAYED_RANGE_EVENTS_MAX
                    } else {
                        BACKFILL_BATCH_EVENTS_MAX
                    };
                    requests.push((peer.clone(), *author, ours + 1, limit));
                    in_flight.insert(*author);
                    mine += 1;
                    total += 1;
                }
            }
        }
        for (peer, author, from_seq, limit) in requests {
            if let Some(state) = self.peers.get_mut(&peer) {
                state.ranges.insert(author);
            }
            self.push(Output::SendRequest {
                peer,
                request: Request::Range {
                    author,
                    from_seq,
                    limit,
                },
            });
        }
    }
}
