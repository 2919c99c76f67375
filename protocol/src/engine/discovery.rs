//! Host discovery: when too few connected peers serve a hosted author, look it up in the DHT
//! and dial what the lookup finds, and now and then dial one new host even when enough serve
//! it (they may all be stale); connection upkeep (see [`crate::upkeep`]); periodic work on
//! timeouts.

use super::{Engine, Output};
use crate::id::AuthorId;
use crate::store::Store;
use crate::time::Timestamp;
use crate::upkeep::UpkeepAction;

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// DHT lookup results: nodes that host `author`.
    pub fn handle_providers(&mut self, author: AuthorId, providers: Vec<P>) {
        let for_new_host = self.new_host_lookups.remove(&author);
        // A lookup takes seconds; if enough connected peers serve the author by now, more
        // connections would add nothing, except the one new host a periodic lookup is for.
        if self.serving(&author) >= self.config.serving_peers_min {
            if for_new_host
                && let Some(peer) = providers.into_iter().find(|p| !self.peers.contains_key(p))
            {
                self.push(Output::Dial(peer));
            }
            return;
        }
        let mut dialled = 0;
        for peer in providers {
            if dialled >= self.config.providers_dialled_max {
                break;
            }
            if !self.peers.contains_key(&peer) {
                self.push(Output::Dial(peer));
                dialled += 1;
            }
        }
    }

    /// A peer worth keeping a connection to (configured, remembered from an earlier run,
    /// connected to on purpose): connection upkeep redials it whenever it is not connected.
    pub fn add_known_peer(&mut self, peer: P, now: Timestamp) {
        let connected = self.peers.contains_key(&peer);
        if let Some(upkeep) = self.upkeep.as_mut() {
            upkeep.add_known(peer, connected, now);
        }
    }

    /// A dial to `peer` failed: its next redial waits longer.
    pub fn handle_dial_failed(&mut self, peer: &P, now: Timestamp) {
        if let Some(upkeep) = self.upkeep.as_mut() {
            upkeep.dial_failed(peer, now);
        }
    }

    /// Time passed: run periodic work that is due.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        for peer in self.reputation.expire(now) {
            self.push(Output::Unban(peer));
        }
        self.keep_connections(now);
        if now < self.next_heads_round {
            self.look_up_unserved(now);
            return;
        }
        self.next_heads_round = now.saturating_add_millis(self.config.heads_interval_ms);
        let authors: Vec<AuthorId> = self.hosted.iter().copied().collect();
        self.ask_heads_for(&authors);
        // Follows that no peer has answered about yet wait for the answers (see
        // `look_up_unserved`), so this does not look everything up at start-up.
        self.look_up_unserved(now);
    }

    /// Looks up in the DHT the hosted authors (follows, feeds, list owners) that fewer than
    /// `serving_peers_min` connected peers hold anything of. Each author is checked when due: a lookup interval after a
    /// check that found nobody serving it, a refresh interval after one that found some.
    /// While a peer has yet to answer about the author, the check waits (it may serve it).
    pub(super) fn look_up_unserved(&mut self, now: Timestamp) {
        // Every hosted author but ourselves: follows, and also the moderation feeds and list
        // owners we subscribe to, which need hosts just as much.
        let me = self.me;
        let hosted = &self.hosted;
        self.lookups.retain(|a, _| hosted.contains(a) && *a != me);
        self.new_host_due.retain(|a, _| hosted.contains(a));
        self.new_host_lookups.retain(|a| hosted.contains(a));
        let mut checks = Vec::new();
        for author in hosted.iter().filter(|a| **a != me) {
            if self.peers.values().any(|p| !p.answered.contains(author)) {
                checks.push((*author, None));
                continue;
            }
            if self.lookups.get(author).is_none_or(|next| now >= *next) {
                checks.push((*author, Some(self.serving(author))));
            }
        }
        for (author, serving) in checks {
            let Some(serving) = serving else {
                // Checked as soon as the answers are in (answers call this again).
                self.lookups.remove(&author);
                continue;
            };
            let interval = if serving == 0 {
                self.config.provider_lookup_interval_ms
            } else {
                self.config.provider_refresh_interval_ms
            };
            self.lookups
                .insert(author, now.saturating_add_millis(interval));
            if serving < self.config.serving_peers_min {
                self.push(Output::FindProviders(author));
                continue;
            }
            // Well served: still, now and then, one new host (see `new_host_interval_ms`).
            let interval = self.config.new_host_interval_ms;
            let due = *self
                .new_host_due
                .entry(author)
                .or_insert_with(|| now.saturating_add_millis(interval));
            if now >= due {
                self.new_host_due
                    .insert(author, now.saturating_add_millis(interval));
                self.new_host_lookups.insert(author);
                self.push(Output::FindProviders(author));
            }
        }
    }

    /// Connected peers that hold something of `author`.
    pub(super) fn serving(&self, author: &AuthorId) -> usize {
        self.peers
            .values()
            .filter(|p| p.heads.contains_key(author))
            .count()
    }

    /// Runs a connection-upkeep round if one is due.
    fn keep_connections(&mut self, now: Timestamp) {
        let Some(upkeep) = self.upkeep.as_mut() else {
            return;
        };
        // Peers that answered about what the node hosts and hold none of it are the ones it
        // can let go; a peer yet to answer may be the host it just dialled.
        let idle = self
            .peers
            .iter()
            .filter(|(_, state)| !state.answered.is_empty() && state.heads.is_empty())
            .map(|(peer, _)| peer.clone());
        let actions = upkeep.round(now, idle, self.peers.len());
        for action in actions {
            self.push(match action {
                UpkeepAction::Redial(peer) => Output::Dial(peer),
                UpkeepAction::RandomWalk => Output::RandomWalk,
                UpkeepAction::Disconnect(peer) => Output::Disconnect(peer),
            });
        }
    }
}
