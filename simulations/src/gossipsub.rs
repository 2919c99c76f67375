//! One node's gossipsub router: per-topic mesh, message cache, IHAVE/IWANT, IDONTWANT and peer
//! scores, after the libp2p gossipsub v1.1/v1.2 specification.
//!
//! The router only decides; it returns the messages to send and the world carries them. What is
//! modelled and what is left out (documented in the crate README): meshes kept between `d_lo`
//! and `d_hi` at each heartbeat, flood publishing, lazy gossip from the last `history_gossip`
//! heartbeats to `d_lazy` non-mesh peers, IWANT answered from the last `history_length`
//! heartbeats, IDONTWANT honoured at send time, and a score made of first-message deliveries
//! (P2) and invalid messages (P4) with decay, a gossip threshold and a graylist. Not modelled:
//! time-in-mesh (P1), mesh delivery deficits (P3), IP colocation (P6), behaviour penalties and
//! prune backoff (P7), opportunistic grafting, and peer exchange on prune.

use crate::scenario::Dissemination;
use rand::Rng;
use rand::seq::SliceRandom;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;

/// A simulated node, by index.
pub type NodeId = u32;
/// A gossip message (one event on one topic), by index into the run's message table.
pub type MsgId = u32;
/// A topic (one author's), by index.
pub type TopicId = u32;

/// A gossipsub control message.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    /// "I have these messages" (lazy gossip).
    IHave(Box<[MsgId]>),
    /// "Send me these."
    IWant(Box<[MsgId]>),
    /// "Do not send me this one; I have it" (v1.2).
    IDontWant(MsgId),
    /// "Add me to your mesh for this topic."
    Graft(TopicId),
    /// "I removed you from my mesh for this topic."
    Prune(TopicId),
}

/// What the router wants sent: control to a peer, or a message forwarded to a peer.
#[derive(Clone, Debug, PartialEq)]
pub enum Send {
    /// A control message.
    Control(NodeId, Control),
    /// A full message (from the cache, answering IWANT), with the hops it will have travelled.
    Message(NodeId, MsgId, u16),
}

#[derive(Clone, Debug, Default)]
struct Topic {
    id: TopicId,
    mesh: Vec<NodeId>,
    /// Message ids first seen in each of the last heartbeats, newest first.
    history: VecDeque<Vec<MsgId>>,
}

#[derive(Clone, Copy, Debug, Default)]
struct PeerScore {
    first_deliveries: f64,
    invalid: f64,
}

/// One node's router state.
#[derive(Clone, Debug, Default)]
pub struct Router {
    topics: Vec<Topic>,
    scores: FxHashMap<NodeId, PeerScore>,
    /// Messages still answerable by IWANT, with the hops our copy travelled.
    cached: FxHashMap<MsgId, u16>,
    dont_want: FxHashSet<(NodeId, MsgId)>,
    dont_want_expiry: VecDeque<(u64, NodeId, MsgId)>,
}

impl Router {
    /// A router with no topics.
    pub fn new() -> Router {
        Router::default()
    }

    fn topic(&self, topic: TopicId) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == topic)
    }

    fn topic_mut(&mut self, topic: TopicId) -> Option<&mut Topic> {
        self.topics.iter_mut().find(|t| t.id == topic)
    }

    /// Whether the node is subscribed to `topic`.
    pub fn subscribed(&self, topic: TopicId) -> bool {
        self.topic(topic).is_some()
    }

    /// The mesh for `topic` (empty when not subscribed).
    pub fn mesh(&self, topic: TopicId) -> &[NodeId] {
        self.topic(topic).map_or(&[], |t| &t.mesh)
    }

    /// Mesh sizes of every subscribed topic.
    pub fn mesh_sizes(&self) -> impl Iterator<Item = (TopicId, usize)> + '_ {
        self.topics.iter().map(|t| (t.id, t.mesh.len()))
    }

    /// Subscribes, grafting up to `d` of `candidates` (connected peers on the topic).
    pub fn join<R: Rng>(
        &mut self,
        topic: TopicId,
        candidates: &[NodeId],
        p: &Dissemination,
        rng: &mut R,
    ) -> Vec<Send> {
        if self.subscribed(topic) {
            return Vec::new();
        }
        let mut eligible: Vec<NodeId> = candidates
            .iter()
            .copied()
            .filter(|c| self.score(*c, p) >= 0.0)
            .collect();
        eligible.shuffle(rng);
        eligible.truncate(p.d);
        let sends = eligible
            .iter()
            .map(|peer| Send::Control(*peer, Control::Graft(topic)))
            .collect();
        self.topics.push(Topic {
            id: topic,
            mesh: eligible,
            history: VecDeque::new(),
        });
        sends
    }

    /// Unsubscribes, pruning the mesh.
    pub fn leave(&mut self, topic: TopicId) -> Vec<Send> {
        let Some(pos) = self.topics.iter().position(|t| t.id == topic) else {
            return Vec::new();
        };
        let gone = self.topics.swap_remove(pos);
        gone.mesh
            .into_iter()
            .map(|peer| Send::Control(peer, Control::Prune(topic)))
            .collect()
    }

    /// A new connection to `peer`, which is subscribed to `topics`: graft it where a mesh is
    /// below `d`.
    pub fn connected(&mut self, peer: NodeId, topics: &[TopicId], p: &Dissemination) -> Vec<Send> {
        if self.score(peer, p) < 0.0 {
            return Vec::new();
        }
        let mut sends = Vec::new();
        for t in self.topics.iter_mut() {
            if t.mesh.len() < p.d && topics.contains(&t.id) && !t.mesh.contains(&peer) {
                t.mesh.push(peer);
                sends.push(Send::Control(peer, Control::Graft(t.id)));
            }
        }
        sends
    }

    /// The connection to `peer` closed.
    pub fn disconnected(&mut self, peer: NodeId) {
        for t in self.topics.iter_mut() {
            t.mesh.retain(|m| *m != peer);
        }
    }

    /// `peer` asks to join our mesh. Returns a prune when we refuse.
    pub fn on_graft(&mut self, peer: NodeId, topic: TopicId, p: &Dissemination) -> Option<Send> {
        let score = self.score(peer, p);
        match self.topic_mut(topic) {
            Some(t) if score >= 0.0 => {
                if !t.mesh.contains(&peer) {
                    t.mesh.push(peer);
                }
                None
            }
            _ => Some(Send::Control(peer, Control::Prune(topic))),
        }
    }

    /// `peer` left our mesh.
    pub fn on_prune(&mut self, peer: NodeId, topic: TopicId) {
        if let Some(t) = self.topic_mut(topic) {
            t.mesh.retain(|m| *m != peer);
        }
    }

    /// The peer's score.
    pub fn score(&self, peer: NodeId, p: &Dissemination) -> f64 {
        self.scores.get(&peer).map_or(0.0, |s| {
            p.first_delivery_weight * s.first_deliveries.min(p.first_delivery_cap)
                + p.invalid_message_weight * s.invalid * s.invalid
        })
    }

    /// Whether everything from `peer` is ignored.
    pub fn graylisted(&self, peer: NodeId, p: &Dissemination) -> bool {
        self.score(peer, p) < p.graylist_threshold
    }

    /// `peer` delivered a valid message first (P2).
    pub fn first_delivery(&mut self, peer: NodeId) {
        self.scores.entry(peer).or_default().first_deliveries += 1.0;
    }

    /// `peer` sent an invalid message (P4).
    pub fn invalid_message(&mut self, peer: NodeId) {
        self.scores.entry(peer).or_default().invalid += 1.0;
    }

    /// Keeps a new message, which travelled `hops` to reach us, for IHAVE and IWANT.
    pub fn cache(&mut self, topic: TopicId, msg: MsgId, hops: u16) {
        if let Some(t) = self.topic_mut(topic) {
            if t.history.is_empty() {
                t.history.push_front(Vec::new());
            }
            if let Some(window) = t.history.front_mut() {
                window.push(msg);
                self.cached.insert(msg, hops);
            }
        }
    }

    /// Whether IWANT for `msg` can be answered.
    pub fn has_cached(&self, msg: MsgId) -> bool {
        self.cached.contains_key(&msg)
    }

    /// Mesh peers to forward `msg` on `topic` to: all but `except` and those who said they do
    /// not want it.
    pub fn forward_targets(&self, topic: TopicId, msg: MsgId, except: NodeId) -> Vec<NodeId> {
        self.mesh(topic)
            .iter()
            .copied()
            .filter(|peer| *peer != except && !self.dont_want.contains(&(*peer, msg)))
            .collect()
    }

    /// Whether `peer` told us it does not want `msg`.
    pub fn does_not_want(&self, peer: NodeId, msg: MsgId) -> bool {
        self.dont_want.contains(&(peer, msg))
    }

    /// `peer` does not want `msg` until `expires` (virtual µs).
    pub fn on_dont_want(&mut self, peer: NodeId, msg: MsgId, expires: u64) {
        if self.dont_want.insert((peer, msg)) {
            self.dont_want_expiry.push_back((expires, peer, msg));
        }
    }

    /// Answers an IHAVE from `peer`: the ids not yet seen, to request with IWANT.
    pub fn on_ihave(
        &self,
        peer: NodeId,
        ids: &[MsgId],
        seen: impl Fn(MsgId) -> bool,
        p: &Dissemination,
    ) -> Option<Send> {
        if self.score(peer, p) < p.gossip_threshold {
            return None;
        }
        let wanted: Box<[MsgId]> = ids.iter().copied().filter(|m| !seen(*m)).collect();
        (!wanted.is_empty()).then_some(Send::Control(peer, Control::IWant(wanted)))
    }

    /// Answers an IWANT from `peer` with the cached messages.
    pub fn on_iwant(&self, peer: NodeId, ids: &[MsgId], p: &Dissemination) -> Vec<Send> {
        if self.score(peer, p) < p.gossip_threshold {
            return Vec::new();
        }
        ids.iter()
            .copied()
            .filter_map(|m| {
                let hops = self.cached.get(&m)?;
                Some(Send::Message(peer, m, hops.saturating_add(1)))
            })
            .collect()
    }

    /// The heartbeat: decay scores, keep meshes between `d_lo` and `d_hi`, emit lazy gossip,
    /// and shift the message cache. `candidates(topic)` lists connected peers on the topic.
    pub fn heartbeat<R: Rng>(
        &mut self,
        now: u64,
        p: &Dissemination,
        candidates: impl Fn(TopicId) -> Vec<NodeId>,
        rng: &mut R,
    ) -> Vec<Send> {
        for s in self.scores.values_mut() {
            s.first_deliveries *= p.score_decay;
            s.invalid *= p.score_decay;
            // libp2p's decay_to_zero: counters this small count as nothing.
            if s.invalid < 0.01 {
                s.invalid = 0.0;
            }
            if s.first_deliveries < 0.01 {
                s.first_deliveries = 0.0;
            }
        }
        while let Some(&(expires, peer, msg)) = self.dont_want_expiry.front() {
            if expires > now {
                break;
            }
            self.dont_want_expiry.pop_front();
            self.dont_want.remove(&(peer, msg));
        }
        let scores: FxHashMap<NodeId, f64> = self
            .scores
            .keys()
            .map(|peer| (*peer, self.score(*peer, p)))
            .collect();
        let score_of = |peer: &NodeId| scores.get(peer).copied().unwrap_or(0.0);
        let mut sends = Vec::new();
        // IHAVEs for all topics go to a peer in one control message, as libp2p batches them.
        let mut ihave: std::collections::BTreeMap<NodeId, Vec<MsgId>> = Default::default();
        for t in self.topics.iter_mut() {
            let mut pruned: Vec<NodeId> = Vec::new();
            t.mesh.retain(|peer| {
                let keep = score_of(peer) >= 0.0;
                if !keep {
                    pruned.push(*peer);
                }
                keep
            });
            let all = candidates(t.id);
            if t.mesh.len() < p.d_lo {
                let mut fresh: Vec<NodeId> = all
                    .iter()
                    .copied()
                    .filter(|c| !t.mesh.contains(c) && score_of(c) >= 0.0)
                    .collect();
                fresh.shuffle(rng);
                for peer in fresh.into_iter().take(p.d - t.mesh.len()) {
                    t.mesh.push(peer);
                    sends.push(Send::Control(peer, Control::Graft(t.id)));
                }
            } else if t.mesh.len() > p.d_hi {
                t.mesh.shuffle(rng);
                pruned.extend(t.mesh.drain(p.d..));
            }
            sends.extend(
                pruned
                    .into_iter()
                    .map(|peer| Send::Control(peer, Control::Prune(t.id))),
            );
            // Lazy gossip: ids from the last history_gossip heartbeats to d_lazy non-mesh peers.
            let ids: Vec<MsgId> = t
                .history
                .iter()
                .take(p.history_gossip)
                .flatten()
                .copied()
                .collect();
            if !ids.is_empty() {
                let mut lazy: Vec<NodeId> = all
                    .iter()
                    .copied()
                    .filter(|c| !t.mesh.contains(c) && score_of(c) >= p.gossip_threshold)
                    .collect();
                lazy.shuffle(rng);
                for peer in lazy.into_iter().take(p.d_lazy) {
                    ihave.entry(peer).or_default().extend_from_slice(&ids);
                }
            }
            t.history.push_front(Vec::new());
            while t.history.len() > p.history_length {
                if let Some(old) = t.history.pop_back() {
                    for m in old {
                        self.cached.remove(&m);
                    }
                }
            }
        }
        sends.extend(
            ihave
                .into_iter()
                .map(|(peer, ids)| Send::Control(peer, Control::IHave(ids.into()))),
        );
        sends
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn params() -> Dissemination {
        Dissemination::default()
    }

    #[test]
    fn heartbeat_keeps_the_mesh_between_d_lo_and_d_hi() {
        let p = params();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut r = Router::new();
        let peers: Vec<NodeId> = (1..=20).collect();
        let sends = r.join(7, &peers[..2], &p, &mut rng);
        assert_eq!(sends.len(), 2, "grafts the two candidates there are");
        r.heartbeat(0, &p, |_| peers.clone(), &mut rng);
        assert_eq!(r.mesh(7).len(), p.d, "grafted up to d from below d_lo");
        for peer in &peers {
            assert_eq!(r.on_graft(*peer, 7, &p), None);
        }
        assert_eq!(r.mesh(7).len(), 20);
        let sends = r.heartbeat(1, &p, |_| peers.clone(), &mut rng);
        assert_eq!(r.mesh(7).len(), p.d, "pruned down to d from above d_hi");
        let prunes = sends
            .iter()
            .filter(|s| matches!(s, Send::Control(_, Control::Prune(7))))
            .count();
        assert_eq!(prunes, 20 - p.d);
    }

    #[test]
    fn invalid_messages_graylist_a_peer_and_scores_decay() {
        let p = params();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut r = Router::new();
        r.join(1, &[5, 6], &p, &mut rng);
        for _ in 0..50 {
            r.first_delivery(5);
        }
        r.invalid_message(5);
        assert!(
            r.score(5, &p) < p.gossip_threshold,
            "capped credit cannot hide it"
        );
        assert!(!r.graylisted(5, &p));
        r.invalid_message(5);
        assert!(r.graylisted(5, &p));
        assert!(r.on_ihave(5, &[1, 2], |_| false, &p).is_none());
        r.heartbeat(0, &p, |_| vec![5, 6], &mut rng);
        assert!(!r.mesh(1).contains(&5), "negative score leaves the mesh");
        for i in 0..200 {
            r.heartbeat(i, &p, |_| vec![6], &mut rng);
        }
        assert_eq!(r.score(5, &p), 0.0, "the penalty decays away");
    }

    #[test]
    fn ihave_iwant_and_idontwant() {
        let p = Dissemination {
            d_lo: 1,
            ..params()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut r = Router::new();
        r.join(1, &[2, 3], &p, &mut rng);
        r.cache(1, 40, 2);
        let sends = r.heartbeat(0, &p, |_| vec![2, 3, 4], &mut rng);
        assert!(sends.contains(&Send::Control(4, Control::IHave(vec![40].into()))));
        assert_eq!(
            r.on_ihave(4, &[40, 41], |m| m == 40, &p),
            Some(Send::Control(4, Control::IWant(vec![41].into())))
        );
        assert_eq!(r.on_iwant(4, &[40, 99], &p), vec![Send::Message(4, 40, 3)]);
        r.on_dont_want(2, 40, 10);
        assert_eq!(r.forward_targets(1, 40, 3), Vec::<NodeId>::new());
        r.heartbeat(11, &p, |_| vec![2, 3], &mut rng);
        assert_eq!(r.forward_targets(1, 40, 3), vec![2], "IDONTWANT expires");
        for i in 0..p.history_length as u64 {
            r.heartbeat(20 + i, &p, |_| vec![2, 3], &mut rng);
        }
        assert!(
            !r.has_cached(40),
            "the cache forgets after history_length heartbeats"
        );
    }
}
