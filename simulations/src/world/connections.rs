//! Connections and presence: dialling, connecting, disconnecting, remembered peers,
//! maintenance and random walks, churn, takedown, re-homing and newcomers.

use super::{Ev, Presence, Role, Uplink, World, secret_for, timestamp};
use crate::gossipsub::{Control, NodeId, Send, TopicId};
use crate::queue::{Micros, millis, seconds};
use crate::scenario::{Distribution, Model};
use handbill_protocol::AuthorId;
use handbill_protocol::engine::Engine;
use handbill_protocol::store::MemoryStore;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution as _, Exp, LogNormal};

impl World {
    pub(super) fn sample_churn(&mut self, mean_s: f64) -> Micros {
        let c = &self.sc.churn;
        let s = match c.distribution {
            Distribution::Exponential => Exp::new(1.0 / mean_s)
                .map(|d| d.sample(&mut self.rng))
                .unwrap_or(mean_s),
            Distribution::Lognormal => {
                // Choose mu so that the mean is mean_s: mean = exp(mu + sigma²/2).
                let mu = mean_s.ln() - c.sigma * c.sigma / 2.0;
                LogNormal::new(mu, c.sigma)
                    .map(|d| d.sample(&mut self.rng))
                    .unwrap_or(mean_s)
            }
        };
        self.now + seconds(s)
    }

    pub(super) fn dial(&mut self, a: NodeId, b: NodeId) {
        if a == b {
            return;
        }
        if !self.nodes[b as usize].online() || !self.reachable(a, b) {
            // The dial times out: upkeep backs off before trying this peer again.
            if let Some(engine) = self.nodes[a as usize].engine.as_mut() {
                engine.handle_dial_failed(&b, timestamp(self.now));
            }
            return;
        }
        // A connection takes about two round trips (TCP or QUIC handshake, then noise).
        let rtt = self.latency(a, b) + self.latency(b, a);
        self.queue.push(self.now + 2 * rtt, Ev::Connect(a, b));
    }

    /// `a` keeps `b` as a peer worth reconnecting to (the overlay's initial links, a newcomer's
    /// bootstrap and contacts): the engine's upkeep book, as `handbilld`'s configured peers.
    pub(super) fn remember(&mut self, a: NodeId, b: NodeId) {
        let now = timestamp(self.now);
        let node = &mut self.nodes[a as usize];
        node.known.push(b);
        if let Some(engine) = node.engine.as_mut() {
            engine.add_known_peer(b, now);
        }
    }

    pub(super) fn connect(&mut self, a: NodeId, b: NodeId) {
        if a == b
            || !self.nodes[a as usize].online()
            || !self.nodes[b as usize].online()
            || !self.reachable(a, b)
            || self.nodes[a as usize].conns.contains(&b)
        {
            return;
        }
        self.nodes[a as usize].conns.push(b);
        self.nodes[b as usize].conns.push(a);
        let now = timestamp(self.now);
        for (x, y) in [(a, b), (b, a)] {
            if let Some(engine) = self.nodes[x as usize].engine.as_mut() {
                engine.handle_connected(y, now);
            }
        }
        if self.sc.dissemination.model == Model::Gossipsub {
            let p = self.sc.dissemination.clone();
            for (x, y) in [(a, b), (b, a)] {
                let theirs: Vec<TopicId> = if self.nodes[y as usize].role == Role::Sybil {
                    self.nodes[x as usize].subs.clone()
                } else {
                    self.nodes[y as usize].subs.clone()
                };
                let sends = if self.nodes[x as usize].role == Role::Sybil {
                    // Sybils graft their target on everything it follows.
                    theirs
                        .iter()
                        .map(|t| Send::Control(y, Control::Graft(*t)))
                        .collect()
                } else {
                    self.nodes[x as usize].router.connected(y, &theirs, &p)
                };
                self.send_all(x, sends);
            }
        }
        self.drain(a);
        self.drain(b);
    }

    pub(super) fn disconnect(&mut self, a: NodeId, b: NodeId) {
        for (x, y) in [(a, b), (b, a)] {
            let node = &mut self.nodes[x as usize];
            node.conns.retain(|c| *c != y);
            node.router.disconnected(y);
            let failed: Vec<u64> = node
                .pending
                .iter()
                .filter(|(_, (peer, _))| *peer == y)
                .map(|(id, _)| *id)
                .collect();
            let now = timestamp(self.now);
            if let Some(engine) = node.engine.as_mut() {
                engine.handle_disconnected(&y, now);
            }
            for id in failed {
                if let Some((peer, request)) = node.pending.remove(&id)
                    && let Some(engine) = node.engine.as_mut()
                {
                    engine.handle_request_failed(&peer, &request, now);
                }
            }
        }
        self.drain(a);
        self.drain(b);
    }

    pub(super) fn maintain(&mut self, n: NodeId, epoch: u32) {
        let node = &self.nodes[n as usize];
        if !node.online() || node.epoch != epoch {
            return;
        }
        let degree = self.sc.overlay.degree;
        // Honest nodes run the engine's upkeep (redials, walks when short); what is left here
        // is theirs only as DHT members (periodic random walks, as Kademlia does) and the
        // whole of it for adversaries, which have no engine.
        let engine_upkeep = node.engine.is_some();
        // Redial known peers that were lost, even when well connected otherwise: without this a
        // healed partition stays split, since each side serves every author to itself.
        let cap = 2 * degree;
        if !engine_upkeep && node.conns.len() < cap {
            let lost: Vec<NodeId> = node
                .known
                .iter()
                .copied()
                .filter(|k| !node.conns.contains(k))
                .collect();
            for k in lost.into_iter().take(cap - node.conns.len()) {
                self.dial(n, k);
            }
        }
        // A node in the DHT can find random peers (Kademlia random walks); one with no
        // connection at all cannot. It walks when short of connections, and periodically.
        let node = &self.nodes[n as usize];
        let walk_every = seconds(self.sc.overlay.random_walk_s);
        let periodic = walk_every > 0 && self.now >= node.next_walk;
        let short = !engine_upkeep && node.conns.len() < self.sc.overlay.min_degree;
        if short || periodic {
            if periodic {
                self.nodes[n as usize].next_walk = self.now + walk_every;
            }
            let dials = if short {
                degree.saturating_sub(self.nodes[n as usize].conns.len())
            } else {
                self.sc.overlay.random_walk_dials
            };
            self.random_walk(n, dials);
        }
        let next = self.now + millis(self.sc.overlay.maintenance_ms);
        self.queue.push(next, Ev::Maintain(n, epoch));
    }

    /// A random walk in the DHT: up to `dials` random online nodes, dialled and remembered. A
    /// node with no connection at all cannot walk (it reaches no DHT member).
    pub(super) fn random_walk(&mut self, n: NodeId, dials: usize) {
        if self.nodes[n as usize].conns.is_empty() {
            return;
        }
        let degree = self.sc.overlay.degree;
        let mut dialled = 0;
        for _ in 0..dials * 3 {
            if dialled >= dials {
                break;
            }
            let pick = self.rng.gen_range(0..self.nodes.len()) as NodeId;
            let peer = &self.nodes[pick as usize];
            if pick != n && peer.online() && peer.role != Role::Sybil && self.reachable(n, pick) {
                let known = &mut self.nodes[n as usize].known;
                if known.len() >= 4 * degree {
                    known.remove(0);
                }
                known.push(pick);
                self.dial(n, pick);
                dialled += 1;
            }
        }
    }

    pub(super) fn down(&mut self, n: NodeId, forever: bool) {
        if forever && self.nodes[n as usize].presence == Presence::Offline {
            // Down for churn when the provider pulls it: it must not come back.
            self.nodes[n as usize].presence = Presence::Removed;
            return;
        }
        if !matches!(self.nodes[n as usize].presence, Presence::Online) {
            return;
        }
        for peer in self.nodes[n as usize].conns.clone() {
            self.disconnect(n, peer);
        }
        let node = &mut self.nodes[n as usize];
        node.presence = if forever {
            Presence::Removed
        } else {
            Presence::Offline
        };
        node.epoch += 1;
        node.uplink = Uplink::default();
        node.pending.clear();
        node.timer_at = Micros::MAX;
        self.online_count -= 1;
        if !forever {
            let back = self.sample_churn(self.sc.churn.downtime_mean_s);
            self.queue.push(back, Ev::Up(n));
        }
    }

    pub(super) fn up(&mut self, n: NodeId) {
        if self.nodes[n as usize].presence != Presence::Offline {
            return;
        }
        self.bring_online(n);
        let session = self.sample_churn(self.sc.churn.session_mean_s);
        self.queue.push(session, Ev::Down(n));
    }

    fn bring_online(&mut self, n: NodeId) {
        let node = &mut self.nodes[n as usize];
        node.presence = Presence::Online;
        node.epoch += 1;
        self.online_count += 1;
        let heartbeat = millis(self.sc.dissemination.heartbeat_ms);
        let maintenance = millis(self.sc.overlay.maintenance_ms);
        self.start_periodic(n, heartbeat, maintenance);
        let known = self.nodes[n as usize].known.clone();
        for k in known.into_iter().take(self.sc.overlay.degree) {
            self.dial(n, k);
        }
    }

    pub(super) fn takedown(&mut self) {
        for p in self.providers.clone() {
            self.down(p, true);
        }
    }

    /// A random sample of `count` nodes of the original network (alive or not).
    fn contacts(&mut self, count: usize) -> Vec<NodeId> {
        let mut all: Vec<NodeId> = (0..self.sc.nodes as NodeId).collect();
        all.shuffle(&mut self.rng);
        all.truncate(count);
        all
    }

    pub(super) fn rehome(&mut self) {
        let Some(r) = self.rehomed else { return };
        let secret = self.authors[0].secret;
        let mut engine = self.engine_for(&secret);
        // The user restores their follows from a backup; no new events until the log is back.
        let follows: Vec<AuthorId> = self.authors.iter().skip(1).map(|a| a.id).collect();
        let _ = engine.update_settings(
            |s| s.follows.extend(follows.iter().copied()),
            timestamp(self.now),
        );
        let node = &mut self.nodes[r as usize];
        node.author_of = Some(0);
        node.follows = (1..self.authors.len()).collect();
        self.authors[0].home = r;
        self.arrive(r, engine);
    }

    pub(super) fn join(&mut self, j: NodeId) {
        let secret = secret_for(self.sc.seed, u64::from(j));
        let engine = self.engine_for(&secret);
        self.arrive(j, engine);
        let authors: Vec<AuthorId> = self.authors.iter().map(|a| a.id).collect();
        for (a, author) in authors.into_iter().enumerate() {
            self.follow(j, a, author);
        }
    }

    /// A node new to the network comes up with `engine`, knowing the (possibly dead) bootstrap
    /// nodes and a few addresses of the original network, and dials them.
    fn arrive(&mut self, n: NodeId, engine: Engine<MemoryStore, NodeId>) {
        let count = self.sc.deplatform.as_ref().map_or(0, |d| d.contacts);
        let mut known: Vec<NodeId> = (0..self.sc.overlay.bootstrap as NodeId).collect();
        known.extend(self.contacts(count));
        let node = &mut self.nodes[n as usize];
        node.engine = Some(engine);
        node.joined_at = self.now;
        node.known = Vec::new();
        for k in known {
            self.remember(n, k);
        }
        let node = &mut self.nodes[n as usize];
        node.presence = Presence::Offline;
        self.bring_online(n);
        self.drain(n);
    }
}
