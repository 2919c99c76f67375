//! Dissemination: handling gossip and control messages, forwarding (gossipsub, flood, push),
//! publishing, and gossipsub heartbeats.

use super::{Ev, Msg, Role, World, timestamp};
use crate::gossipsub::{Control, MsgId, NodeId, Send, TopicId};
use crate::queue::millis;
use crate::scenario::Model;
use handbill_protocol::engine::Acceptance;
use rand::Rng;

impl World {
    pub(super) fn on_gossip(&mut self, from: NodeId, to: NodeId, msg: MsgId, hops: u16) {
        let ttl = millis(self.sc.dissemination.seen_ttl_ms);
        let now = self.now;
        let role = self.nodes[to as usize].role;
        let node = &mut self.nodes[to as usize];
        node.seen.expire(now);
        let post = self.messages[msg as usize].post;
        if !node.seen.insert(msg, now + ttl) {
            if post.is_some() {
                self.tally.duplicates[to as usize] += 1;
            }
            return;
        }
        let topic = self.messages[msg as usize].topic;
        let model = self.sc.dissemination.model;
        if model == Model::Gossipsub && self.sc.dissemination.idontwant {
            let mesh: Vec<NodeId> = node.router.mesh(topic).to_vec();
            for peer in mesh {
                if peer != from {
                    self.send(to, peer, Msg::Control(Control::IDontWant(msg)));
                }
            }
        }
        if matches!(role, Role::Sybil | Role::Spammer) {
            return;
        }
        if !self.nodes[to as usize].subscribed(topic) && model != Model::Push {
            return;
        }
        let data = self.messages[msg as usize].data.clone();
        self.current_hops = Some(hops);
        let acceptance = match self.nodes[to as usize].engine.as_mut() {
            Some(engine) => engine.handle_gossip(
                &from,
                &self.topic_authors[topic as usize],
                &data,
                timestamp(now),
            ),
            None => Acceptance::Ignore,
        };
        self.drain(to);
        self.current_hops = None;
        match acceptance {
            Acceptance::Accept => {
                if model == Model::Gossipsub {
                    let node = &mut self.nodes[to as usize];
                    node.router.first_delivery(from);
                    node.router.cache(topic, msg, hops);
                }
                self.forward(to, msg, topic, from, hops.saturating_add(1));
            }
            Acceptance::Reject => {
                self.tally.rejected += 1;
                if model == Model::Gossipsub {
                    self.nodes[to as usize].router.invalid_message(from);
                }
            }
            Acceptance::Ignore => {}
        }
    }

    /// Sends a message on: to mesh peers (gossipsub), to every connected subscriber (flood),
    /// or to `fanout` random subscribers of the topic (push).
    fn forward(&mut self, at: NodeId, msg: MsgId, topic: TopicId, except: NodeId, hops: u16) {
        let targets: Vec<NodeId> = match self.sc.dissemination.model {
            Model::Gossipsub => self.nodes[at as usize]
                .router
                .forward_targets(topic, msg, except),
            Model::Flood => self.connected_subscribers(at, topic, except),
            Model::Push => self.random_subscribers(at, topic, self.sc.dissemination.fanout),
        };
        for peer in targets {
            self.send(at, peer, Msg::Gossip { msg, hops });
        }
    }

    pub(super) fn connected_subscribers(
        &self,
        at: NodeId,
        topic: TopicId,
        except: NodeId,
    ) -> Vec<NodeId> {
        self.nodes[at as usize]
            .conns
            .iter()
            .copied()
            .filter(|p| *p != except && self.nodes[*p as usize].subscribed(topic))
            .collect()
    }

    fn random_subscribers(&mut self, at: NodeId, topic: TopicId, count: usize) -> Vec<NodeId> {
        let all = &self.topic_subscribers[topic as usize];
        if all.len() <= 1 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(count);
        // Uniform over the membership (which includes nodes that are down: infect-and-die
        // loses those messages, as the analysis assumes).
        while out.len() < count.min(all.len() - 1) {
            let pick = all[self.rng.gen_range(0..all.len())];
            if pick != at && !out.contains(&pick) {
                out.push(pick);
            }
        }
        out
    }

    pub(super) fn on_control(&mut self, from: NodeId, to: NodeId, c: Control) {
        let p = self.sc.dissemination.clone();
        if self.nodes[to as usize].role == Role::Sybil {
            // Sybils accept every graft and ignore the rest.
            return;
        }
        match c {
            Control::Graft(topic) => {
                if let Some(Send::Control(peer, prune)) =
                    self.nodes[to as usize].router.on_graft(from, topic, &p)
                {
                    self.send(to, peer, Msg::Control(prune));
                }
            }
            Control::Prune(topic) => self.nodes[to as usize].router.on_prune(from, topic),
            Control::IDontWant(msg) => {
                let expires = self.now + millis(p.seen_ttl_ms);
                self.nodes[to as usize]
                    .router
                    .on_dont_want(from, msg, expires);
            }
            Control::IHave(ids) => {
                let node = &self.nodes[to as usize];
                if node.role == Role::Spammer {
                    return;
                }
                let answer = node
                    .router
                    .on_ihave(from, &ids, |m| node.seen.ids.contains(&m), &p);
                if let Some(Send::Control(peer, want)) = answer {
                    self.send(to, peer, Msg::Control(want));
                }
            }
            Control::IWant(ids) => {
                let sends = self.nodes[to as usize].router.on_iwant(from, &ids, &p);
                self.send_all(to, sends);
            }
        }
    }

    pub(super) fn send_all(&mut self, from: NodeId, sends: Vec<Send>) {
        for s in sends {
            match s {
                Send::Control(peer, c) => self.send(from, peer, Msg::Control(c)),
                Send::Message(peer, msg, hops) => self.send(from, peer, Msg::Gossip { msg, hops }),
            }
        }
    }

    pub(super) fn publish_gossip(&mut self, n: NodeId, msg: MsgId, topic: TopicId) {
        let ttl = millis(self.sc.dissemination.seen_ttl_ms);
        let now = self.now;
        self.nodes[n as usize].seen.insert(msg, now + ttl);
        if self.writing_history {
            // Every follower's follow event is published on the author's topic while the world
            // is built. Sent, they made a start-up storm of one message per node (push sends
            // without connections; gossipsub advertised them from its cache in the first
            // heartbeats): far more traffic than the workload, at a time no running network
            // sees.
            return;
        }
        match self.sc.dissemination.model {
            // Flood publishing (the libp2p default): to every connected peer on the topic.
            Model::Gossipsub => {
                self.nodes[n as usize].router.cache(topic, msg, 0);
                let p = &self.sc.dissemination;
                let targets: Vec<NodeId> = self
                    .connected_subscribers(n, topic, NodeId::MAX)
                    .into_iter()
                    .filter(|peer| self.nodes[n as usize].router.score(*peer, p) >= 0.0)
                    .collect();
                for peer in targets {
                    self.send(n, peer, Msg::Gossip { msg, hops: 1 });
                }
            }
            Model::Flood | Model::Push => self.forward(n, msg, topic, NodeId::MAX, 1),
        }
    }

    pub(super) fn heartbeat(&mut self, n: NodeId, epoch: u32) {
        let node = &self.nodes[n as usize];
        if !node.online() || node.epoch != epoch {
            return;
        }
        let p = self.sc.dissemination.clone();
        let next = self.now + millis(p.heartbeat_ms);
        self.queue.push(next, Ev::Heartbeat(n, epoch));
        if node.role == Role::Sybil {
            // Sybils keep grafting the target so they stay in its mesh.
            let sends: Vec<Send> = node
                .conns
                .iter()
                .flat_map(|peer| {
                    self.nodes[*peer as usize]
                        .subs
                        .iter()
                        .map(|t| Send::Control(*peer, Control::Graft(*t)))
                })
                .collect();
            self.send_all(n, sends);
            return;
        }
        if node.role == Role::Spammer {
            return;
        }
        let now = self.now;
        let mut router = std::mem::take(&mut self.nodes[n as usize].router);
        let nodes = &self.nodes;
        let conns = &nodes[n as usize].conns;
        let candidates = |topic: TopicId| -> Vec<NodeId> {
            conns
                .iter()
                .copied()
                .filter(|c| nodes[*c as usize].subscribed(topic))
                .collect()
        };
        let sends = router.heartbeat(now, &p, candidates, &mut self.rng);
        self.nodes[n as usize].router = router;
        self.send_all(n, sends);
    }
}
