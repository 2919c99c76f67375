//! The nodes' engines: construction, draining their outputs, timers, requests and responses,
//! and the DHT stand-in answering provider lookups.

use super::{EPOCH_MS, Ev, GossipMessage, Msg, World, timestamp};
use crate::gossipsub::{MsgId, NodeId, TopicId};
use crate::queue::{Micros, millis};
use crate::scenario::Model;
use handbill_protocol::engine::{Engine, EngineConfig, Origin, Output};
use handbill_protocol::store::MemoryStore;
use handbill_protocol::upkeep::UpkeepConfig;
use handbill_protocol::wire::{Request, Response};
use handbill_protocol::{AuthorId, AuthorKey, EventId};
use rand::Rng;
use std::rc::Rc;

impl World {
    pub(super) fn engine_for(&self, secret: &[u8; 32]) -> Engine<MemoryStore, NodeId> {
        let config = EngineConfig {
            signature_memo: self.memo.clone(),
            providers_dialled_max: self.sc.overlay.dial_providers,
            // The daemon's upkeep policy, with rounds at the scenario's maintenance interval
            // (a per-second round for every node would dominate large runs) and its degrees.
            upkeep: Some(UpkeepConfig {
                round_ms: self.sc.overlay.maintenance_ms as u64,
                walk_interval_ms: self.sc.overlay.maintenance_ms as u64,
                degree_min: self.sc.overlay.min_degree,
                ..UpkeepConfig::default()
            }),
            ..EngineConfig::default()
        };
        let key = AuthorKey::from_secret_bytes(secret);
        // Nobody searches a simulated node; its words would be most of each post's memory.
        let store = MemoryStore::pooled(self.pool.clone()).without_search_index();
        match Engine::new(key, store, config, timestamp(self.now)) {
            Ok(engine) => engine,
            // A fresh memory store cannot fail to load.
            Err(e) => unreachable!("memory store failed: {e}"),
        }
    }

    pub(super) fn on_request(&mut self, from: NodeId, to: NodeId, id: u64, request: Request) {
        let now = timestamp(self.now);
        let response = match self.nodes[to as usize].engine.as_mut() {
            Some(engine) => engine.handle_request(&from, request, now),
            // Sybils and spammers claim to hold nothing.
            None => match request {
                Request::Heads { .. } => Response::Heads { heads: Vec::new() },
                Request::Range { author, .. } => Response::Events {
                    author,
                    events: Vec::new(),
                    more: false,
                },
            },
        };
        self.drain(to);
        self.send(to, from, Msg::Response(Box::new((id, response))));
    }

    pub(super) fn request_timeout(&mut self, node: NodeId, req: u64) {
        if let Some((peer, request)) = self.nodes[node as usize].pending.remove(&req) {
            let now = timestamp(self.now);
            if let Some(engine) = self.nodes[node as usize].engine.as_mut() {
                engine.handle_request_failed(&peer, &request, now);
            }
            self.drain(node);
        }
    }

    pub(super) fn topic_of(&mut self, author: AuthorId) -> TopicId {
        let next = self.topic_subscribers.len() as TopicId;
        let topic = *self.topics.entry(author).or_insert(next);
        if topic == next {
            self.topic_authors.push(author);
            self.topic_subscribers.push(Vec::new());
        }
        topic
    }

    pub(super) fn intern(&mut self, id: EventId, topic: TopicId, data: &Rc<[u8]>) -> MsgId {
        let next = self.messages.len() as MsgId;
        let msg = *self.message_index.entry((id, topic)).or_insert(next);
        if msg == next {
            self.messages.push(GossipMessage {
                topic,
                data: data.clone(),
                post: self.post_by_id.get(&id).copied(),
            });
        }
        msg
    }

    /// Carries out everything node `n`'s engine asked for.
    pub(super) fn drain(&mut self, n: NodeId) {
        while let Some(output) = self.nodes[n as usize]
            .engine
            .as_mut()
            .and_then(Engine::poll_output)
        {
            self.on_output(n, output);
        }
        self.schedule_timer(n);
    }

    fn on_output(&mut self, n: NodeId, output: Output<NodeId>) {
        match output {
            Output::Publish { id, topics, data } => {
                let data: Rc<[u8]> = data.into();
                for author in topics {
                    let topic = self.topic_of(author);
                    let msg = self.intern(id, topic, &data);
                    self.publish_gossip(n, msg, topic);
                }
            }
            // Backfill off: the request is never sent, answered or failed. Failing it would make
            // the engine look the author up and dial hosts, which is also not the model's doing.
            Output::SendRequest { .. } if !self.sc.dissemination.engine_backfill => {}
            Output::SendRequest { peer, request } => {
                let id = self.next_request;
                self.next_request += 1;
                let timeout = self.now + millis(self.sc.network.request_timeout_ms);
                if self.nodes[n as usize].conns.contains(&peer) {
                    self.nodes[n as usize]
                        .pending
                        .insert(id, (peer, request.clone()));
                    self.send(n, peer, Msg::Request(Box::new((id, request))));
                    self.queue
                        .push(timeout, Ev::RequestTimeout { node: n, req: id });
                } else {
                    // Not connected: fail it right away (after this drain).
                    self.nodes[n as usize].pending.insert(id, (peer, request));
                    self.queue
                        .push(self.now, Ev::RequestTimeout { node: n, req: id });
                }
            }
            Output::Subscribe(author) => {
                let topic = self.topic_of(author);
                let node = &mut self.nodes[n as usize];
                if let Err(pos) = node.subs.binary_search(&topic) {
                    node.subs.insert(pos, topic);
                    self.topic_subscribers[topic as usize].push(n);
                }
                if self.sc.dissemination.model == Model::Gossipsub {
                    let candidates = self.connected_subscribers(n, topic, NodeId::MAX);
                    let p = self.sc.dissemination.clone();
                    let sends =
                        self.nodes[n as usize]
                            .router
                            .join(topic, &candidates, &p, &mut self.rng);
                    self.send_all(n, sends);
                }
            }
            Output::Unsubscribe(author) => {
                let topic = self.topic_of(author);
                let node = &mut self.nodes[n as usize];
                if let Ok(pos) = node.subs.binary_search(&topic) {
                    node.subs.remove(pos);
                    self.topic_subscribers[topic as usize].retain(|s| *s != n);
                }
                let sends = self.nodes[n as usize].router.leave(topic);
                self.send_all(n, sends);
            }
            // Providers are whoever subscribes; see `providers_found`.
            Output::StartProviding(_) | Output::StopProviding(_) => {}
            Output::FindProviders(author) => {
                let topic = self.topic_of(author);
                let at = self.now + millis(self.sc.network.dht_lookup_ms);
                self.queue.push(at, Ev::Providers { node: n, topic });
            }
            Output::Dial(peer) => self.dial(n, peer),
            Output::RandomWalk => {
                let wanted = self.sc.overlay.degree;
                let have = self.nodes[n as usize].conns.len();
                self.random_walk(n, wanted.saturating_sub(have));
            }
            Output::Disconnect(peer) => self.disconnect(n, peer),
            Output::Misbehaved { .. } => self.tally.misbehaved += 1,
            Output::LogInconsistent { .. } => self.tally.log_inconsistencies += 1,
            // Simulated peers are never disconnected for misbehaviour: the scenarios measure
            // what gossipsub scoring alone does.
            Output::Ban { .. } | Output::Unban(_) => {}
            // Notifications are for a node's person; the scenarios measure delivery.
            Output::Notified { .. } => {}
            Output::Stored { id, origin, .. } => self.stored(n, id, origin),
        }
    }

    fn stored(&mut self, n: NodeId, id: EventId, origin: Origin) {
        if let Some(&k) = self.post_by_id.get(&id) {
            let record = &mut self.posts[k as usize];
            if record.stored_at[n as usize] == Micros::MAX {
                record.stored_at[n as usize] = self.now;
                record.by_backfill[n as usize] = origin == Origin::Backfill;
                if origin == Origin::Gossip
                    && let Some(h) = self.current_hops
                {
                    self.tally.hops.0 += u64::from(h);
                    self.tally.hops.1 += 1;
                }
                if record.labelled && self.labelers.contains(&n) {
                    let at = self.now
                        + millis(
                            self.sc
                                .moderation
                                .as_ref()
                                .map_or(0.0, |m| m.label_delay_ms),
                        );
                    self.queue.push(
                        at,
                        Ev::Label {
                            labeler: n,
                            post: k,
                        },
                    );
                }
            }
        } else if let Some(&l) = self.label_by_id.get(&id) {
            self.labels[l as usize].stored_at.push((n, self.now));
        }
    }

    pub(super) fn schedule_timer(&mut self, n: NodeId) {
        let node = &self.nodes[n as usize];
        if !node.online() {
            return;
        }
        let Some(due) = node.engine.as_ref().and_then(Engine::poll_timeout) else {
            return;
        };
        // Never in the past, and at least a millisecond ahead so a due timer cannot spin.
        let at = (due.0.saturating_sub(EPOCH_MS) * 1000).max(self.now + 1000);
        if at < node.timer_at {
            self.nodes[n as usize].timer_at = at;
            self.queue.push(at, Ev::Timer(n));
        }
    }

    pub(super) fn timer(&mut self, n: NodeId) {
        let node = &mut self.nodes[n as usize];
        if node.timer_at != self.now || !node.online() {
            return;
        }
        node.timer_at = Micros::MAX;
        let now = timestamp(self.now);
        if let Some(engine) = node.engine.as_mut() {
            engine.handle_timeout(now);
        }
        self.drain(n);
    }

    pub(super) fn providers_found(&mut self, node: NodeId, topic: TopicId) {
        if !self.nodes[node as usize].online() || self.nodes[node as usize].conns.is_empty() {
            // A node with no connection cannot reach the DHT.
            return;
        }
        let wanted = self.sc.network.dht_results;
        let mut found: Vec<NodeId> = Vec::new();
        if self.eclipse_target == Some(node)
            && self.sc.eclipse.as_ref().is_some_and(|e| e.poison_dht)
        {
            found.extend(self.sybils.iter().take(wanted));
        }
        let subscribers = &self.topic_subscribers[topic as usize];
        let mut tries = 0;
        while found.len() < wanted && tries < wanted * 4 && !subscribers.is_empty() {
            tries += 1;
            let pick = subscribers[self.rng.gen_range(0..subscribers.len())];
            if pick != node
                && self.nodes[pick as usize].online()
                && self.reachable(node, pick)
                && !found.contains(&pick)
            {
                found.push(pick);
            }
        }
        let author = self.topic_authors[topic as usize];
        if let Some(engine) = self.nodes[node as usize].engine.as_mut() {
            engine.handle_providers(author, found);
        }
        self.drain(node);
    }
}
