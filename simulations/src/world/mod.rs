//! The simulated world: nodes running the protocol's real [`Engine`] over simulated links,
//! driven by one event queue in virtual time with one seeded RNG.
//!
//! Every honest node is a real `Engine<MemoryStore, NodeId>`: events are really signed (keys
//! derived from the seed and the node index), really validated and verified, stored, and
//! backfilled by the engine's own heads/range requests. The world supplies what the daemon's IO
//! shell supplies: links (latency, jitter, bandwidth, loss, partitions), gossip routing (the
//! model under study), connections, and a DHT stand-in answering provider lookups.

use crate::gossipsub::{Control, MsgId, NodeId, Router, TopicId};
use crate::metrics::{EventKind, Tally};
use crate::queue::{Micros, Queue, millis, seconds};
use crate::scenario::{Scenario, SignatureMode};
use handbill_protocol::engine::Engine;
use handbill_protocol::signature::SignatureMemo;
use handbill_protocol::store::{EventPool, MemoryStore, Store};
use handbill_protocol::validate::LogHead;
use handbill_protocol::wire::{Request, Response};
use handbill_protocol::{AuthorId, AuthorKey, EventId, Timestamp};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;
use std::rc::Rc;

mod build;
mod connections;
mod engines;
mod gossip;
mod links;
mod workload;

/// Wall-clock time of virtual time zero, as the engines see it (2026-01-01T00:00:00Z).
pub const EPOCH_MS: u64 = 1_767_225_600_000;

/// Gossip topic names are this long on the wire (`/handbill/author/1/hbauthor1…`).
const TOPIC_NAME_BYTES: u64 = 80;
/// Message ids on the wire (blake3).
const MESSAGE_ID_BYTES: u64 = 32;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Runs the protocol as written.
    Honest,
    /// Follows the censored author but refuses their events through host policy.
    Censor,
    /// Accepts grafts and connections, forwards nothing, serves nothing.
    Sybil,
    /// Publishes invalid and unwanted events; forwards nothing.
    Spammer,
}

impl Role {
    /// The role's name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Role::Honest => "honest",
            Role::Censor => "censor",
            Role::Sybil => "sybil",
            Role::Spammer => "spammer",
        }
    }
}

/// Whether a node is in the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Not joined yet.
    Absent,
    /// Up.
    Online,
    /// Down for now (churn); its store survives.
    Offline,
    /// Gone for good (deplatformed).
    Removed,
}

/// A message on a link.
#[derive(Debug)]
pub(crate) enum Msg {
    Gossip { msg: MsgId, hops: u16 },
    Control(Control),
    Request(Box<(u64, Request)>),
    Response(Box<(u64, Response)>),
}

enum Ev {
    Deliver { from: NodeId, to: NodeId, msg: Msg },
    UplinkFree(NodeId),
    Heartbeat(NodeId, u32),
    Maintain(NodeId, u32),
    Timer(NodeId),
    Post(u32),
    Label { labeler: NodeId, post: u32 },
    Spam(NodeId),
    Connect(NodeId, NodeId),
    Providers { node: NodeId, topic: TopicId },
    RequestTimeout { node: NodeId, req: u64 },
    Down(NodeId),
    Up(NodeId),
    PartitionStart(usize),
    PartitionHeal,
    Takedown,
    Rehome,
    Join(NodeId),
}

struct Outgoing {
    to: NodeId,
    msg: Msg,
    bytes: u64,
}

#[derive(Default)]
struct Uplink {
    busy_until: Micros,
    /// When the last control message queued leaves (the direct model's control lane).
    control_until: Micros,
    control: VecDeque<Outgoing>,
    data: VecDeque<Outgoing>,
    wake_scheduled: bool,
}

#[derive(Default)]
struct Seen {
    ids: FxHashSet<MsgId>,
    expiry: VecDeque<(Micros, MsgId)>,
}

impl Seen {
    fn insert(&mut self, msg: MsgId, expires: Micros) -> bool {
        let fresh = self.ids.insert(msg);
        if fresh {
            self.expiry.push_back((expires, msg));
        }
        fresh
    }

    fn expire(&mut self, now: Micros) {
        while let Some(&(at, msg)) = self.expiry.front() {
            if at > now {
                break;
            }
            self.expiry.pop_front();
            self.ids.remove(&msg);
        }
    }
}

pub(crate) struct Node {
    pub(crate) role: Role,
    pub(crate) region: u8,
    pub(crate) presence: Presence,
    pub(crate) engine: Option<Engine<MemoryStore, NodeId>>,
    /// The author this node publishes as (workload authors only), by author index.
    pub(crate) author_of: Option<usize>,
    pub(crate) follows: Vec<usize>,
    conns: Vec<NodeId>,
    /// Addresses this node redials when connections are lost.
    known: Vec<NodeId>,
    /// Topics it is subscribed to (sorted).
    subs: Vec<TopicId>,
    pub(crate) router: Router,
    seen: Seen,
    uplink: Uplink,
    pending: FxHashMap<u64, (NodeId, Request)>,
    timer_at: Micros,
    epoch: u32,
    side: u16,
    spam: Option<(AuthorKey, Option<LogHead>)>,
    pub(crate) joined_at: Micros,
    next_walk: Micros,
}

impl Node {
    fn new(role: Role, region: u8) -> Node {
        Node {
            role,
            region,
            presence: Presence::Absent,
            engine: None,
            author_of: None,
            follows: Vec::new(),
            conns: Vec::new(),
            known: Vec::new(),
            subs: Vec::new(),
            router: Router::new(),
            seen: Seen::default(),
            uplink: Uplink::default(),
            pending: FxHashMap::default(),
            timer_at: Micros::MAX,
            epoch: 0,
            side: 0,
            spam: None,
            joined_at: 0,
            next_walk: 0,
        }
    }

    pub(crate) fn online(&self) -> bool {
        self.presence == Presence::Online
    }

    fn subscribed(&self, topic: TopicId) -> bool {
        // Sybils claim every topic, to get into every mesh.
        self.role == Role::Sybil || self.subs.binary_search(&topic).is_ok()
    }
}

pub(crate) struct GossipMessage {
    pub(crate) topic: TopicId,
    pub(crate) data: Rc<[u8]>,
    pub(crate) post: Option<u32>,
}

/// A workload author.
pub(crate) struct Author {
    pub(crate) id: AuthorId,
    secret: [u8; 32],
    pub(crate) home: NodeId,
    /// Highest seq published, so a re-homed author waits for its own log before posting.
    pub(crate) highest: u64,
}

/// A workload post.
pub(crate) struct PostRecord {
    pub(crate) author: usize,
    pub(crate) id: Option<EventId>,
    pub(crate) published: Micros,
    pub(crate) labelled: bool,
    /// Per node: when it stored the post (`Micros::MAX`: never), and whether by backfill.
    pub(crate) stored_at: Vec<Micros>,
    pub(crate) by_backfill: Vec<bool>,
    /// Nodes that were not online when it was published.
    pub(crate) missed_live: Vec<bool>,
}

/// A label a labeller published.
pub(crate) struct LabelRecord {
    pub(crate) published: Micros,
    pub(crate) stored_at: Vec<(NodeId, Micros)>,
}

/// One run in progress.
pub struct World {
    pub(crate) sc: Scenario,
    pub(crate) now: Micros,
    queue: Queue<Ev>,
    rng: ChaCha8Rng,
    pub(crate) nodes: Vec<Node>,
    pub(crate) messages: Vec<GossipMessage>,
    message_index: FxHashMap<(EventId, TopicId), MsgId>,
    topics: FxHashMap<AuthorId, TopicId>,
    /// Per topic: whose it is.
    topic_authors: Vec<AuthorId>,
    topic_subscribers: Vec<Vec<NodeId>>,
    pub(crate) authors: Vec<Author>,
    pub(crate) posts: Vec<PostRecord>,
    post_by_id: FxHashMap<EventId, u32>,
    pub(crate) labels: Vec<LabelRecord>,
    label_by_id: FxHashMap<EventId, u32>,
    pub(crate) labelers: Vec<NodeId>,
    pub(crate) subscribers: FxHashSet<NodeId>,
    /// The post the first author deleted before spam starts, and its original bytes, when
    /// spammers replay it.
    pub(crate) deleted: Option<(EventId, Rc<[u8]>)>,
    /// Valid spam events published off-topic (on a topic their routing leaves out).
    pub(crate) off_topic: FxHashSet<EventId>,
    pub(crate) providers: Vec<NodeId>,
    pub(crate) rehomed: Option<NodeId>,
    pub(crate) joiners: Vec<NodeId>,
    pub(crate) eclipse_target: Option<NodeId>,
    pub(crate) sybils: Vec<NodeId>,
    pub(crate) heal_at: Option<Micros>,
    pub(crate) tally: Tally,
    online_count: u64,
    memo: Option<SignatureMemo>,
    /// One copy of each event, shared by every node's store.
    pool: EventPool,
    next_request: u64,
    /// Hops of the gossip message being handed to an engine, for the delivery record.
    current_hops: Option<u16>,
    /// While the world is built, what nodes publish (profiles, follows, a labeller's
    /// declaration) is history from before time zero: presync hands it to those who host it,
    /// and gossip does not carry it.
    writing_history: bool,
    end: Micros,
}

/// Derives node `index`'s secret key from the run's seed.
fn secret_for(seed: u64, index: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("handbill-sim 1 node key");
    h.update(&seed.to_le_bytes());
    h.update(&index.to_le_bytes());
    *h.finalize().as_bytes()
}

pub(crate) fn timestamp(t: Micros) -> Timestamp {
    Timestamp(EPOCH_MS + t / 1000)
}

impl World {
    /// Builds the world at time zero: nodes, keys, follows, overlay, adversaries, schedule.
    pub fn new(sc: Scenario) -> World {
        let rng = ChaCha8Rng::seed_from_u64(sc.seed);
        let base = sc.nodes;
        let extra_sybils = sc.eclipse.as_ref().map_or(0, |e| e.sybils);
        let extra_spammers = sc.spam.as_ref().map_or(0, |s| s.spammers);
        let extra_joiners = sc.deplatform.as_ref().map_or(0, |d| d.joiners);
        let rehome = sc
            .deplatform
            .as_ref()
            .is_some_and(|d| d.rehome_after_s >= 0.0);
        let total = base + extra_sybils + extra_spammers + extra_joiners + usize::from(rehome);
        let memo = (sc.signatures == SignatureMode::Memo).then(SignatureMemo::new);
        let mut w = World {
            now: 0,
            queue: Queue::default(),
            rng,
            nodes: Vec::with_capacity(total),
            messages: Vec::new(),
            message_index: FxHashMap::default(),
            topics: FxHashMap::default(),
            topic_authors: Vec::new(),
            topic_subscribers: Vec::new(),
            authors: Vec::new(),
            posts: Vec::new(),
            post_by_id: FxHashMap::default(),
            labels: Vec::new(),
            label_by_id: FxHashMap::default(),
            labelers: Vec::new(),
            subscribers: FxHashSet::default(),
            deleted: None,
            off_topic: FxHashSet::default(),
            providers: Vec::new(),
            rehomed: None,
            joiners: Vec::new(),
            eclipse_target: None,
            sybils: Vec::new(),
            heal_at: None,
            tally: Tally::new(total),
            online_count: 0,
            memo,
            pool: EventPool::new(),
            next_request: 0,
            current_hops: None,
            writing_history: true,
            end: seconds(sc.duration_s),
            sc,
        };
        w.build(total);
        w
    }

    /// Runs to the end, calling `progress` with the share of virtual time done now and then.
    pub fn run(&mut self, progress: &mut dyn FnMut(f64)) {
        let mut since_report = 0u32;
        while let Some((at, ev)) = self.queue.pop() {
            if at > self.end {
                break;
            }
            self.advance(at);
            self.tally.events += 1;
            self.handle(ev);
            since_report += 1;
            if since_report >= 65_536 {
                since_report = 0;
                progress(self.now as f64 / self.end.max(1) as f64);
            }
        }
        self.advance(self.end);
        progress(1.0);
    }

    fn advance(&mut self, at: Micros) {
        self.now = at;
        let bucket = (at / millis(self.sc.metrics.interval_ms).max(1)) as usize;
        let online = self.online_count;
        self.tally.bucket(bucket, online).online = online;
    }

    fn handle(&mut self, ev: Ev) {
        let kind = match &ev {
            Ev::Deliver { msg, .. } => match msg {
                Msg::Gossip { msg, .. } if self.messages[*msg as usize].post.is_some() => {
                    EventKind::GossipPost
                }
                Msg::Gossip { .. } => EventKind::GossipOther,
                Msg::Control(Control::IHave(_)) => EventKind::IHave,
                Msg::Control(Control::IWant(_)) => EventKind::IWant,
                Msg::Control(Control::IDontWant(_)) => EventKind::IDontWant,
                Msg::Control(_) => EventKind::GraftPrune,
                Msg::Request(r) => match r.1 {
                    Request::Heads { .. } => EventKind::RequestHeads,
                    Request::Range { .. } => EventKind::RequestRange,
                },
                Msg::Response(_) => EventKind::Response,
            },
            Ev::UplinkFree(_) => EventKind::Uplink,
            Ev::Heartbeat(..) => EventKind::Heartbeat,
            Ev::Maintain(..) => EventKind::Maintain,
            Ev::Timer(_) => EventKind::EngineTimer,
            Ev::RequestTimeout { .. } => EventKind::RequestTimeout,
            Ev::Connect(..) => EventKind::Connect,
            Ev::Providers { .. } => EventKind::DhtLookup,
            Ev::Post(_) | Ev::Label { .. } | Ev::Spam(_) => EventKind::Publish,
            _ => EventKind::Other,
        };
        self.tally.by_kind[kind as usize] += 1;
        match ev {
            Ev::Deliver { from, to, msg } => self.deliver(from, to, msg),
            Ev::UplinkFree(n) => self.uplink_free(n),
            Ev::Heartbeat(n, epoch) => self.heartbeat(n, epoch),
            Ev::Maintain(n, epoch) => self.maintain(n, epoch),
            Ev::Timer(n) => self.timer(n),
            Ev::Post(k) => self.publish_post(k),
            Ev::Label { labeler, post } => self.publish_label(labeler, post),
            Ev::Spam(n) => self.spam(n),
            Ev::Connect(a, b) => self.connect(a, b),
            Ev::Providers { node, topic } => self.providers_found(node, topic),
            Ev::RequestTimeout { node, req } => self.request_timeout(node, req),
            Ev::Down(n) => self.down(n, false),
            Ev::Up(n) => self.up(n),
            Ev::PartitionStart(i) => self.partition(i),
            Ev::PartitionHeal => self.heal(),
            Ev::Takedown => self.takedown(),
            Ev::Rehome => self.rehome(),
            Ev::Join(n) => self.join(n),
        }
    }

    /// Virtual time now.
    pub fn now(&self) -> Micros {
        self.now
    }

    /// Connections node `n` holds.
    pub(crate) fn connections(&self, n: NodeId) -> usize {
        self.nodes[n as usize].conns.len()
    }

    /// Topics of the workload authors.
    pub(crate) fn author_topics(&self) -> Vec<TopicId> {
        self.authors
            .iter()
            .filter_map(|a| self.topics.get(&a.id).copied())
            .collect()
    }

    /// Links from honest nodes to spammers, and how many of them graylist the spammer.
    pub(crate) fn spammer_graylisting(&self) -> (u64, u64) {
        let p = &self.sc.dissemination;
        let mut graylisted = 0;
        let mut links = 0;
        for (s, spammer) in self.nodes.iter().enumerate() {
            if spammer.role != Role::Spammer {
                continue;
            }
            for peer in &spammer.conns {
                let node = &self.nodes[*peer as usize];
                if node.role == Role::Honest {
                    links += 1;
                    graylisted += u64::from(node.router.graylisted(s as NodeId, p));
                }
            }
        }
        (graylisted, links)
    }

    /// Valid spam events stored, per honest online node.
    pub(crate) fn spam_stored_per_honest_node(&self) -> f64 {
        let spammers: Vec<AuthorId> = self
            .nodes
            .iter()
            .filter_map(|n| n.spam.as_ref().map(|(k, _)| k.author()))
            .collect();
        let mut stored = 0u64;
        let mut honest = 0u64;
        for node in &self.nodes {
            if node.role != Role::Honest || !node.online() {
                continue;
            }
            honest += 1;
            if let Some(engine) = node.engine.as_ref() {
                for s in &spammers {
                    stored += engine.store().log(s, 1, usize::MAX).map_or(0, |l| l.len()) as u64;
                }
            }
        }
        if honest == 0 {
            0.0
        } else {
            stored as f64 / honest as f64
        }
    }

    /// Whether node `n` is one whose deliveries count: honest, present at the end, and a
    /// follower of `author` that is not the author's own node.
    pub(crate) fn eligible(&self, n: usize, author: usize) -> bool {
        let node = &self.nodes[n];
        node.role == Role::Honest
            && node.online()
            && node.author_of != Some(author)
            && node.follows.contains(&author)
    }
}

/// A random `degree`-regular graph on `n` nodes (pairing model with restarts; for odd
/// `n·degree` one node gets one edge fewer). Edges are returned in a deterministic order.
pub fn random_regular<R: Rng>(n: usize, degree: usize, rng: &mut R) -> Vec<(NodeId, NodeId)> {
    for _attempt in 0..100 {
        let mut stubs: Vec<NodeId> = (0..n as NodeId)
            .flat_map(|v| std::iter::repeat_n(v, degree))
            .collect();
        stubs.shuffle(rng);
        let mut edges: FxHashSet<(NodeId, NodeId)> = FxHashSet::default();
        let mut ordered = Vec::with_capacity(stubs.len() / 2);
        let mut leftovers = Vec::new();
        for pair in stubs.chunks(2) {
            if let [a, b] = *pair {
                let e = (a.min(b), a.max(b));
                if a != b && edges.insert(e) {
                    ordered.push(e);
                } else {
                    leftovers.push(a);
                    leftovers.push(b);
                }
            }
        }
        // Repair: rewire leftover stubs by swapping with random existing edges.
        let mut stuck = 0;
        while leftovers.len() >= 2 && stuck < 1000 {
            let a = leftovers[leftovers.len() - 1];
            let b = leftovers[leftovers.len() - 2];
            let i = rng.gen_range(0..ordered.len().max(1));
            let Some(&(c, d)) = ordered.get(i) else { break };
            let e1 = (a.min(c), a.max(c));
            let e2 = (b.min(d), b.max(d));
            if a != c && b != d && e1 != e2 && !edges.contains(&e1) && !edges.contains(&e2) {
                edges.remove(&(c, d));
                ordered.swap_remove(i);
                edges.insert(e1);
                edges.insert(e2);
                ordered.push(e1);
                ordered.push(e2);
                leftovers.truncate(leftovers.len() - 2);
                stuck = 0;
            } else {
                stuck += 1;
            }
        }
        if leftovers.len() < 2 {
            return ordered;
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_regular_graphs_are_regular_and_simple() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for (n, d) in [(10, 3), (100, 8), (1001, 6)] {
            let edges = random_regular(n, d, &mut rng);
            let mut degree = vec![0usize; n];
            let mut set = FxHashSet::default();
            for (a, b) in &edges {
                assert_ne!(a, b);
                assert!(set.insert((*a, *b)), "no multi-edges");
                degree[*a as usize] += 1;
                degree[*b as usize] += 1;
            }
            assert!(degree.iter().all(|x| *x == d || *x == d - 1));
            assert!(degree.iter().filter(|x| **x != d).count() <= 1);
        }
    }
}
