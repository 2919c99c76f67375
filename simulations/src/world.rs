//! The simulated world: nodes running the protocol's real [`Engine`] over simulated links,
//! driven by one event queue in virtual time with one seeded RNG.
//!
//! Every honest node is a real `Engine<MemoryStore, NodeId>`: events are really signed (keys
//! derived from the seed and the node index), really validated and verified, stored, and
//! backfilled by the engine's own heads/range requests. The world supplies what the daemon's IO
//! shell supplies: links (latency, jitter, bandwidth, loss, partitions), gossip routing (the
//! model under study), connections, and a DHT stand-in answering provider lookups.

use crate::gossipsub::{Control, MsgId, NodeId, Router, Send, TopicId};
use crate::metrics::{EventKind, Tally};
use crate::queue::{Micros, Queue, millis, seconds};
use crate::scenario::{Distribution, Model, Scenario, SignatureMode, Split};
use handbill_protocol::engine::{Acceptance, Engine, EngineConfig, Origin, Output};
use handbill_protocol::payload::{
    Action, EventRef, Label, LabelDefinition, LabelTarget, LabelerDeclaration, Post, Severity,
};
use handbill_protocol::signature::SignatureMemo;
use handbill_protocol::store::{EventPool, MemoryStore, Store};
use handbill_protocol::upkeep::UpkeepConfig;
use handbill_protocol::validate::LogHead;
use handbill_protocol::wire::{Request, Response};
use handbill_protocol::{AuthorId, AuthorKey, EventId, Payload, Timestamp, sign_next};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, Exp, LogNormal};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

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
            end: seconds(sc.duration_s),
            sc,
        };
        w.build(total);
        w
    }

    fn region_for(&mut self) -> u8 {
        let shares = &self.sc.network.region_shares;
        let sum: f64 = shares.iter().sum();
        let mut x = self.rng.r#gen::<f64>() * sum;
        for (i, s) in shares.iter().enumerate() {
            if x < *s {
                return i as u8;
            }
            x -= s;
        }
        (shares.len() - 1) as u8
    }

    fn engine_for(&self, secret: &[u8; 32]) -> Engine<MemoryStore, NodeId> {
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
        let store = MemoryStore::pooled(self.pool.clone());
        match Engine::new(key, store, config, timestamp(self.now)) {
            Ok(engine) => engine,
            // A fresh memory store cannot fail to load.
            Err(e) => unreachable!("memory store failed: {e}"),
        }
    }

    fn build(&mut self, total: usize) {
        let sc = self.sc.clone();
        let base = sc.nodes;
        for _ in 0..total {
            let region = self.region_for();
            self.nodes.push(Node::new(Role::Honest, region));
        }
        // Authors are drawn from the ordinary (non-bootstrap) nodes.
        let mut ordinary: Vec<NodeId> = (sc.overlay.bootstrap as NodeId..base as NodeId).collect();
        ordinary.shuffle(&mut self.rng);
        for (a, node) in ordinary.iter().take(sc.workload.authors).enumerate() {
            let secret = secret_for(sc.seed, u64::from(*node));
            let id = AuthorKey::from_secret_bytes(&secret).author();
            self.authors.push(Author {
                id,
                secret,
                home: *node,
                highest: 0,
            });
            self.nodes[*node as usize].author_of = Some(a);
        }
        let others: Vec<NodeId> = ordinary[sc.workload.authors..].to_vec();
        // Roles among the ordinary non-author nodes.
        let mut next_extra = base as NodeId;
        let mut take_extra = |count: usize| -> Vec<NodeId> {
            let ids = (next_extra..next_extra + count as NodeId).collect();
            next_extra += count as NodeId;
            ids
        };
        if let Some(c) = &sc.censor {
            let count = (c.share * others.len() as f64).round() as usize;
            for n in others.iter().take(count) {
                self.nodes[*n as usize].role = Role::Censor;
            }
        }
        if let Some(e) = &sc.eclipse {
            self.sybils = take_extra(e.sybils);
            for s in &self.sybils {
                self.nodes[*s as usize].role = Role::Sybil;
            }
            self.eclipse_target = others.last().copied();
        }
        let spammers = sc
            .spam
            .as_ref()
            .map_or(Vec::new(), |s| take_extra(s.spammers));
        for s in &spammers {
            self.nodes[*s as usize].role = Role::Spammer;
        }
        if let Some(d) = &sc.deplatform {
            self.joiners = take_extra(d.joiners);
            if d.rehome_after_s >= 0.0 {
                self.rehomed = take_extra(1).first().copied();
            }
        }
        if let Some(m) = &sc.moderation {
            let honest: Vec<NodeId> = others
                .iter()
                .copied()
                .filter(|n| self.nodes[*n as usize].role == Role::Honest)
                .collect();
            self.labelers = honest.iter().take(m.labelers).copied().collect();
            for n in honest.iter().skip(m.labelers) {
                if self.rng.r#gen::<f64>() < m.subscriber_share {
                    self.subscribers.insert(*n);
                }
            }
        }

        // Engines for every honest or censoring node present at the start.
        for n in 0..base {
            let secret = secret_for(sc.seed, n as u64);
            self.nodes[n].engine = Some(self.engine_for(&secret));
            self.nodes[n].presence = Presence::Online;
            self.online_count += 1;
        }
        for s in self
            .sybils
            .clone()
            .into_iter()
            .chain(spammers.iter().copied())
        {
            let node = &mut self.nodes[s as usize];
            node.presence = Presence::Online;
            self.online_count += 1;
            if node.role == Role::Spammer {
                let key = AuthorKey::from_secret_bytes(&secret_for(sc.seed, u64::from(s)));
                node.spam = Some((key, None));
            }
        }
        for n in 0..base as NodeId {
            self.drain(n);
        }

        // Every author has a profile, so anyone following them has something to be served.
        for a in 0..self.authors.len() {
            let home = self.authors[a].home;
            if let Some(engine) = self.nodes[home as usize].engine.as_mut() {
                let profile = Payload::Profile(handbill_protocol::payload::Profile {
                    name: format!("author {a}"),
                    bio: "a simulated author".into(),
                });
                if let Ok(event) = engine.publish(&profile, timestamp(0)) {
                    self.authors[a].highest = event.seq();
                }
            }
            self.drain(home);
        }
        // Follows: each node follows each author with probability follow_fraction.
        let author_ids: Vec<AuthorId> = self.authors.iter().map(|a| a.id).collect();
        for n in 0..base as NodeId {
            for (a, author) in author_ids.iter().enumerate() {
                let is_author = self.nodes[n as usize].author_of.is_some();
                if is_author && !sc.workload.authors_follow {
                    continue;
                }
                let own = self.nodes[n as usize].author_of == Some(a);
                let censor = self.nodes[n as usize].role == Role::Censor && a == 0;
                if !own && (censor || self.rng.r#gen::<f64>() < sc.workload.follow_fraction) {
                    self.follow(n, a, *author);
                }
            }
        }
        if let Some(m) = sc.moderation.clone() {
            self.set_up_moderation(&m);
        }
        self.presync(base);
        for n in 0..base as NodeId {
            if self.nodes[n as usize].role == Role::Censor
                && let Some(engine) = self.nodes[n as usize].engine.as_mut()
            {
                let censored = author_ids[0];
                let _ = engine.update_settings(
                    |s| {
                        s.host_policy.blocked_authors.insert(censored);
                    },
                    timestamp(0),
                );
            }
            self.drain(n);
        }

        if sc.spam.as_ref().is_some_and(|x| x.replay_share > 0.0) {
            self.prepare_deleted_post();
        }

        // The overlay: a random regular graph over the initial nodes.
        let edges = random_regular(base, sc.overlay.degree, &mut self.rng);
        let target = self.eclipse_target;
        let mut kept_honest = 0usize;
        let honest_links = sc.eclipse.as_ref().map_or(usize::MAX, |e| e.honest_links);
        for (a, b) in edges {
            if target.is_some_and(|t| t == a || t == b) {
                if kept_honest >= honest_links {
                    continue;
                }
                kept_honest += 1;
            }
            self.remember(a, b);
            self.remember(b, a);
            self.connect(a, b);
        }
        if let Some(t) = target {
            for s in self.sybils.clone() {
                self.nodes[t as usize].known.push(s);
                self.nodes[s as usize].known.push(t);
                self.connect(t, s);
            }
        }
        for s in spammers.iter().copied() {
            for _ in 0..sc.overlay.degree {
                let peer = self.rng.gen_range(0..base) as NodeId;
                self.nodes[s as usize].known.push(peer);
                self.connect(s, peer);
            }
            let start = seconds(sc.spam.as_ref().map_or(0.0, |x| x.start_s));
            self.queue.push(start, Ev::Spam(s));
        }

        // Periodic work, with random phases so nodes do not tick in lockstep.
        let heartbeat = millis(sc.dissemination.heartbeat_ms);
        let maintenance = millis(sc.overlay.maintenance_ms);
        for n in 0..self.nodes.len() as NodeId {
            if self.nodes[n as usize].online() {
                self.start_periodic(n, heartbeat, maintenance);
            }
        }

        // The workload.
        for k in 0..sc.workload.posts {
            let at = seconds(sc.workload.start_s) + millis(sc.workload.interval_ms * k as f64);
            self.posts.push(PostRecord {
                author: k % self.authors.len(),
                id: None,
                published: 0,
                labelled: false,
                stored_at: Vec::new(),
                by_backfill: Vec::new(),
                missed_live: Vec::new(),
            });
            self.queue.push(at, Ev::Post(k as u32));
        }

        // Adversities.
        if sc.churn.share > 0.0 {
            let churners: Vec<NodeId> = others
                .iter()
                .copied()
                .filter(|n| self.nodes[*n as usize].role == Role::Honest)
                .collect();
            for n in churners {
                if self.rng.r#gen::<f64>() < sc.churn.share {
                    let session = self.sample_churn(sc.churn.session_mean_s);
                    self.queue.push(session, Ev::Down(n));
                }
            }
        }
        for (i, p) in sc.partitions.iter().enumerate() {
            self.queue.push(seconds(p.at_s), Ev::PartitionStart(i));
            self.queue.push(seconds(p.heal_s), Ev::PartitionHeal);
        }
        if let Some(d) = &sc.deplatform {
            let share = (d.share * base as f64).round() as usize;
            let mut providers: Vec<NodeId> = vec![self.authors[0].home];
            providers.extend(0..sc.overlay.bootstrap as NodeId);
            let mut rest: Vec<NodeId> = (0..base as NodeId)
                .filter(|n| !providers.contains(n))
                .collect();
            rest.shuffle(&mut self.rng);
            let room = share.saturating_sub(providers.len());
            providers.extend(rest.into_iter().take(room));
            providers.sort_unstable();
            self.providers = providers;
            self.queue.push(seconds(d.at_s), Ev::Takedown);
            if d.rehome_after_s >= 0.0 {
                self.queue
                    .push(seconds(d.at_s + d.rehome_after_s), Ev::Rehome);
            }
            for j in self.joiners.clone() {
                let at = seconds(d.at_s + self.rng.r#gen::<f64>() * d.join_spread_s);
                self.queue.push(at, Ev::Join(j));
            }
        }
    }

    /// The network exists before time zero: every follower already holds the logs it follows
    /// up to now (the authors' follow events, a labeller's declaration), handed to its engine
    /// as a range response, so through the real ingest path. Without this every node would
    /// start empty, find no peer serving anyone, and dial providers for every follow at once:
    /// a cold-start stampede no running network sees.
    fn presync(&mut self, base: usize) {
        use handbill_protocol::wire::Envelope;
        let now = timestamp(self.now);
        let mut logs: BTreeMap<AuthorId, (NodeId, Vec<Envelope>)> = BTreeMap::new();
        let publishers = self
            .authors
            .iter()
            .map(|a| a.home)
            .chain(self.labelers.iter().copied());
        for n in publishers {
            let Some(engine) = self.nodes[n as usize].engine.as_ref() else {
                continue;
            };
            let me = engine.author();
            let events = engine
                .store()
                .log(&me, 1, usize::MAX)
                .unwrap_or_default()
                .into_iter()
                .map(|e| Envelope(e.encode()))
                .collect();
            logs.insert(me, (n, events));
        }
        for n in 0..base as NodeId {
            let Some(engine) = self.nodes[n as usize].engine.as_mut() else {
                continue;
            };
            let hosted: Vec<AuthorId> = engine.hosted().iter().copied().collect();
            for author in hosted {
                let Some((home, events)) = logs.get(&author) else {
                    continue;
                };
                if *home == n || events.is_empty() {
                    continue;
                }
                let request = Request::Range {
                    author,
                    from_seq: 1,
                    limit: events.len() as u32,
                };
                let response = Response::Events {
                    author,
                    events: events.clone(),
                    more: false,
                };
                engine.handle_response(home, &request, response, now);
            }
            self.drain(n);
        }
    }

    fn set_up_moderation(&mut self, m: &crate::scenario::Moderation) {
        let declaration = Payload::LabelerDeclaration(LabelerDeclaration {
            name: "sim feed".into(),
            description: "labels posts in a simulation".into(),
            labels: vec![LabelDefinition {
                value: m.label.clone(),
                severity: Severity::Medium,
                default_action: Action::Hide,
                description: "simulated label".into(),
            }],
        });
        let mut feeds = Vec::new();
        for l in self.labelers.clone() {
            if let Some(engine) = self.nodes[l as usize].engine.as_mut() {
                feeds.push(engine.author());
                let _ = engine.publish(&declaration, timestamp(0));
            }
            self.drain(l);
        }
        let mut subscribers: Vec<NodeId> = self.subscribers.iter().copied().collect();
        subscribers.sort_unstable();
        for s in subscribers {
            for feed in &feeds {
                if let Some(engine) = self.nodes[s as usize].engine.as_mut() {
                    let overrides = BTreeMap::from([(m.label.clone(), Action::Hide)]);
                    let _ = engine.subscribe_feed(*feed, overrides, timestamp(0));
                }
            }
            self.drain(s);
        }
    }

    fn follow(&mut self, n: NodeId, a: usize, author: AuthorId) {
        if let Some(engine) = self.nodes[n as usize].engine.as_mut() {
            let _ = engine.follow(author, timestamp(self.now));
            self.nodes[n as usize].follows.push(a);
        }
        self.drain(n);
    }

    fn sample_churn(&mut self, mean_s: f64) -> Micros {
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

    fn start_periodic(&mut self, n: NodeId, heartbeat: Micros, maintenance: Micros) {
        let epoch = self.nodes[n as usize].epoch;
        if self.sc.dissemination.model == Model::Gossipsub {
            let phase = self.rng.gen_range(0..heartbeat.max(1));
            self.queue.push(self.now + phase, Ev::Heartbeat(n, epoch));
        }
        let phase = self.rng.gen_range(0..maintenance.max(1));
        self.queue.push(self.now + phase, Ev::Maintain(n, epoch));
        let walk = seconds(self.sc.overlay.random_walk_s).max(1);
        self.nodes[n as usize].next_walk = self.now + self.rng.gen_range(0..walk);
        self.schedule_timer(n);
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

    // ----- links -----

    fn reachable(&self, a: NodeId, b: NodeId) -> bool {
        self.nodes[a as usize].side == self.nodes[b as usize].side
    }

    fn latency(&mut self, a: NodeId, b: NodeId) -> Micros {
        let net = &self.sc.network;
        let ra = self.nodes[a as usize].region as usize;
        let rb = self.nodes[b as usize].region as usize;
        let base = net.latency_ms[ra][rb];
        let jitter = if net.jitter_ms > 0.0 {
            self.rng.r#gen::<f64>() * net.jitter_ms
        } else {
            0.0
        };
        millis(base + jitter)
    }

    fn size_of(&self, msg: &Msg) -> (u64, bool) {
        let overhead = self.sc.network.overhead_bytes;
        match msg {
            Msg::Gossip { msg, .. } => (
                overhead
                    + TOPIC_NAME_BYTES
                    + MESSAGE_ID_BYTES
                    + self.messages[*msg as usize].data.len() as u64,
                true,
            ),
            Msg::Control(c) => {
                let body = match c {
                    Control::IHave(ids) | Control::IWant(ids) => {
                        TOPIC_NAME_BYTES + MESSAGE_ID_BYTES * ids.len() as u64
                    }
                    Control::IDontWant(_) => MESSAGE_ID_BYTES,
                    Control::Graft(_) | Control::Prune(_) => TOPIC_NAME_BYTES,
                };
                (overhead + body, false)
            }
            Msg::Request(r) => (overhead + 8 + r.1.encode().len() as u64, false),
            Msg::Response(r) => match &r.1 {
                Response::Events { events, .. } => (
                    overhead + 48 + events.iter().map(|e| e.0.len() as u64 + 4).sum::<u64>(),
                    true,
                ),
                other => (overhead + 8 + other.encode().len() as u64, false),
            },
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        let (bytes, _) = self.size_of(&msg);
        let rate = self.sc.network.upload_bytes_per_s;
        let control = !matches!(msg, Msg::Gossip { .. } | Msg::Response(_));
        let now = self.now;
        let up = &mut self.nodes[from as usize].uplink;
        if rate <= 0.0 {
            self.transmit(from, to, msg, bytes, now);
            return;
        }
        if !self.sc.dissemination.idontwant {
            // Without IDONTWANT nothing is decided at the head of the queue, so the departure
            // time is known now, at one event per message. Control preempts data (it leaves
            // after earlier control, delaying data by its own size); data leaves in FIFO order.
            // The queue below differs in one way: there control waits for the message already
            // on the wire.
            let tx = tx_time(bytes, rate);
            let depart = if control {
                up.control_until = up.control_until.max(now) + tx;
                up.busy_until = up.busy_until.max(now) + tx;
                up.control_until
            } else {
                up.busy_until = up.busy_until.max(now) + tx;
                up.busy_until
            };
            self.transmit(from, to, msg, bytes, depart);
            return;
        }
        if up.busy_until <= now && up.control.is_empty() && up.data.is_empty() {
            let done = now + tx_time(bytes, rate);
            up.busy_until = done;
            self.transmit(from, to, msg, bytes, done);
            return;
        }
        let out = Outgoing { to, msg, bytes };
        if control {
            up.control.push_back(out);
        } else {
            up.data.push_back(out);
        }
        if !up.wake_scheduled {
            up.wake_scheduled = true;
            let at = up.busy_until.max(now);
            self.queue.push(at, Ev::UplinkFree(from));
        }
    }

    fn uplink_free(&mut self, n: NodeId) {
        let rate = self.sc.network.upload_bytes_per_s;
        let now = self.now;
        loop {
            let node = &mut self.nodes[n as usize];
            node.uplink.wake_scheduled = false;
            let next = node
                .uplink
                .control
                .pop_front()
                .or_else(|| node.uplink.data.pop_front());
            let Some(out) = next else { return };
            // IDONTWANT is honoured when the message reaches the head of the queue.
            if let Msg::Gossip { msg, .. } = &out.msg
                && node.router.does_not_want(out.to, *msg)
            {
                self.tally.dont_want_saved += 1;
                continue;
            }
            let done = now.max(node.uplink.busy_until) + tx_time(out.bytes, rate);
            node.uplink.busy_until = done;
            let more = !node.uplink.control.is_empty() || !node.uplink.data.is_empty();
            if more {
                node.uplink.wake_scheduled = true;
                self.queue.push(done, Ev::UplinkFree(n));
            }
            self.transmit(n, out.to, out.msg, out.bytes, done);
            return;
        }
    }

    fn transmit(&mut self, from: NodeId, to: NodeId, msg: Msg, bytes: u64, depart: Micros) {
        let payload = matches!(msg, Msg::Gossip { .. })
            || matches!(&msg, Msg::Response(r) if matches!(r.1, Response::Events { .. }));
        let bucket_width = millis(self.sc.metrics.interval_ms).max(1);
        let online = self.online_count;
        let bucket = self.tally.bucket((depart / bucket_width) as usize, online);
        if payload {
            bucket.payload += bytes;
            self.tally.payload_bytes[from as usize] += bytes;
        } else {
            bucket.control += bytes;
            self.tally.control_bytes[from as usize] += bytes;
        }
        if self.sc.network.loss > 0.0 && self.rng.r#gen::<f64>() < self.sc.network.loss {
            return;
        }
        let at = depart + self.latency(from, to);
        self.queue.push(at, Ev::Deliver { from, to, msg });
    }

    // ----- arrivals -----

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        let connectionless =
            self.sc.dissemination.model == Model::Push && matches!(msg, Msg::Gossip { .. });
        {
            let node = &self.nodes[to as usize];
            if !node.online() || !self.reachable(from, to) {
                return;
            }
            if !connectionless && !node.conns.contains(&from) {
                return;
            }
            if self.sc.dissemination.model == Model::Gossipsub
                && node.router.graylisted(from, &self.sc.dissemination)
            {
                self.tally.graylisted_drops += 1;
                return;
            }
        }
        match msg {
            Msg::Gossip { msg, hops } => self.on_gossip(from, to, msg, hops),
            Msg::Control(c) => self.on_control(from, to, c),
            Msg::Request(r) => {
                let (id, request) = *r;
                self.on_request(from, to, id, request);
            }
            Msg::Response(r) => {
                let (id, response) = *r;
                if let Some((peer, request)) = self.nodes[to as usize].pending.remove(&id)
                    && peer == from
                {
                    let now = timestamp(self.now);
                    if let Some(engine) = self.nodes[to as usize].engine.as_mut() {
                        engine.handle_response(&from, &request, response, now);
                    }
                    self.drain(to);
                }
            }
        }
    }

    fn on_gossip(&mut self, from: NodeId, to: NodeId, msg: MsgId, hops: u16) {
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

    fn connected_subscribers(&self, at: NodeId, topic: TopicId, except: NodeId) -> Vec<NodeId> {
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

    fn on_control(&mut self, from: NodeId, to: NodeId, c: Control) {
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

    fn on_request(&mut self, from: NodeId, to: NodeId, id: u64, request: Request) {
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

    fn request_timeout(&mut self, node: NodeId, req: u64) {
        if let Some((peer, request)) = self.nodes[node as usize].pending.remove(&req) {
            let now = timestamp(self.now);
            if let Some(engine) = self.nodes[node as usize].engine.as_mut() {
                engine.handle_request_failed(&peer, &request, now);
            }
            self.drain(node);
        }
    }

    // ----- engine outputs -----

    fn topic_of(&mut self, author: AuthorId) -> TopicId {
        let next = self.topic_subscribers.len() as TopicId;
        let topic = *self.topics.entry(author).or_insert(next);
        if topic == next {
            self.topic_authors.push(author);
            self.topic_subscribers.push(Vec::new());
        }
        topic
    }

    fn intern(&mut self, id: EventId, topic: TopicId, data: &Rc<[u8]>) -> MsgId {
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
    fn drain(&mut self, n: NodeId) {
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
            Output::Stored { id, origin, .. } => self.stored(n, id, origin),
        }
    }

    fn send_all(&mut self, from: NodeId, sends: Vec<Send>) {
        for s in sends {
            match s {
                Send::Control(peer, c) => self.send(from, peer, Msg::Control(c)),
                Send::Message(peer, msg, hops) => self.send(from, peer, Msg::Gossip { msg, hops }),
            }
        }
    }

    fn publish_gossip(&mut self, n: NodeId, msg: MsgId, topic: TopicId) {
        let ttl = millis(self.sc.dissemination.seen_ttl_ms);
        let now = self.now;
        self.nodes[n as usize].seen.insert(msg, now + ttl);
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

    fn schedule_timer(&mut self, n: NodeId) {
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

    fn timer(&mut self, n: NodeId) {
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

    // ----- connections -----

    fn dial(&mut self, a: NodeId, b: NodeId) {
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
    fn remember(&mut self, a: NodeId, b: NodeId) {
        let now = timestamp(self.now);
        let node = &mut self.nodes[a as usize];
        node.known.push(b);
        if let Some(engine) = node.engine.as_mut() {
            engine.add_known_peer(b, now);
        }
    }

    fn connect(&mut self, a: NodeId, b: NodeId) {
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

    fn disconnect(&mut self, a: NodeId, b: NodeId) {
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

    fn providers_found(&mut self, node: NodeId, topic: TopicId) {
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

    fn maintain(&mut self, n: NodeId, epoch: u32) {
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
    fn random_walk(&mut self, n: NodeId, dials: usize) {
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

    fn heartbeat(&mut self, n: NodeId, epoch: u32) {
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

    // ----- workload -----

    fn publish_post(&mut self, k: u32) {
        let a = self.posts[k as usize].author;
        let home = self.authors[a].home;
        let ready = self.nodes[home as usize].online()
            && self.nodes[home as usize].engine.as_ref().is_some_and(|e| {
                e.store()
                    .log_state(&self.authors[a].id)
                    .is_ok_and(|s| s.contiguous >= self.authors[a].highest)
            });
        if !ready {
            // The author is offline, or re-homed and still restoring their log: try again soon.
            self.queue.push(self.now + seconds(1.0), Ev::Post(k));
            return;
        }
        let text = post_text(k, self.sc.workload.text_bytes);
        let labelled = self
            .sc
            .moderation
            .as_ref()
            .is_some_and(|m| self.rng.r#gen::<f64>() < m.label_share);
        let now = timestamp(self.now);
        let Some(engine) = self.nodes[home as usize].engine.as_mut() else {
            return;
        };
        let Ok(event) = engine.publish(
            &Payload::Post(Post {
                text,
                ..Post::default()
            }),
            now,
        ) else {
            return;
        };
        self.authors[a].highest = event.seq();
        let total = self.nodes.len();
        let record = &mut self.posts[k as usize];
        record.id = Some(event.id());
        record.published = self.now;
        record.labelled = labelled;
        record.stored_at = vec![Micros::MAX; total];
        record.by_backfill = vec![false; total];
        record.missed_live = self.nodes.iter().map(|n| !n.online()).collect();
        self.post_by_id.insert(event.id(), k);
        self.drain(home);
    }

    fn publish_label(&mut self, labeler: NodeId, post: u32) {
        let (Some(id), a) = (
            self.posts[post as usize].id,
            self.posts[post as usize].author,
        ) else {
            return;
        };
        let Some(m) = self.sc.moderation.clone() else {
            return;
        };
        let author = self.authors[a].id;
        let now = timestamp(self.now);
        let Some(engine) = self.nodes[labeler as usize].engine.as_mut() else {
            return;
        };
        let label = Payload::Label(Label {
            target: LabelTarget::Event(EventRef { author, id }),
            value: m.label,
            reason: None,
            expires_at: None,
            negate: false,
        });
        if let Ok(event) = engine.publish(&label, now) {
            self.label_by_id
                .insert(event.id(), self.labels.len() as u32);
            self.labels.push(LabelRecord {
                published: self.now,
                stored_at: Vec::new(),
            });
        }
        self.drain(labeler);
    }

    fn spam(&mut self, n: NodeId) {
        let Some(cfg) = self.sc.spam.clone() else {
            return;
        };
        if !self.nodes[n as usize].online() {
            return;
        }
        self.queue.push(
            self.now + seconds(1.0 / cfg.rate_per_s.max(0.001)),
            Ev::Spam(n),
        );
        let target = self.authors[0].id;
        let topic = self.topic_of(target);
        if self.rng.r#gen::<f64>() < cfg.replay_share
            && let Some((id, data)) = self.deleted.clone()
        {
            let msg = self.intern(id, topic, &data);
            for peer in self.connected_subscribers(n, topic, NodeId::MAX) {
                self.send(n, peer, Msg::Gossip { msg, hops: 1 });
            }
            return;
        }
        let invalid = self.rng.r#gen::<f64>() < cfg.invalid_share;
        let off_topic = !invalid && self.rng.r#gen::<f64>() < cfg.off_topic_share;
        let now = timestamp(self.now);
        let Some((key, head)) = self.nodes[n as usize].spam.as_mut() else {
            return;
        };
        let content = Payload::Post(Post {
            text: format!("buy now {}", self.tally.events),
            // Off-topic spam names nobody, yet is pushed onto the author's topic below.
            mentions: if off_topic { Vec::new() } else { vec![target] },
            ..Post::default()
        });
        let Ok(event) = sign_next(key, head.as_ref(), now, &content) else {
            return;
        };
        let mut data = event.encode();
        if invalid {
            // Corrupt the signature's R, so the event fails verification and nothing else.
            let at = event.header().encode().len() + 5;
            data[at] ^= 0x55;
        } else {
            *head = Some(event.head());
        }
        if off_topic {
            self.off_topic.insert(event.id());
        }
        let data: Rc<[u8]> = data.into();
        let msg = self.intern(event.id(), topic, &data);
        let targets = self.connected_subscribers(n, topic, NodeId::MAX);
        for peer in targets {
            self.send(n, peer, Msg::Gossip { msg, hops: 1 });
        }
    }

    // ----- adversities -----

    fn down(&mut self, n: NodeId, forever: bool) {
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

    fn up(&mut self, n: NodeId) {
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

    fn partition(&mut self, index: usize) {
        let p = self.sc.partitions[index].clone();
        let sides = match p.split {
            Split::Regions => self.sc.network.regions.len(),
            Split::Random => p.parts,
        };
        for n in 0..self.nodes.len() {
            let side = match p.split {
                Split::Regions => self.nodes[n].region as usize,
                Split::Random => self.rng.gen_range(0..sides),
            };
            self.nodes[n].side = side as u16 + 1;
        }
        for a in 0..self.nodes.len() as NodeId {
            for b in self.nodes[a as usize].conns.clone() {
                if !self.reachable(a, b) {
                    self.disconnect(a, b);
                }
            }
        }
    }

    fn heal(&mut self) {
        for node in &mut self.nodes {
            node.side = 0;
        }
        self.heal_at = Some(self.now);
    }

    fn takedown(&mut self) {
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

    fn rehome(&mut self) {
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

    fn join(&mut self, j: NodeId) {
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

    // ----- results -----

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

fn tx_time(bytes: u64, rate: f64) -> Micros {
    ((bytes as f64 / rate) * 1_000_000.0).ceil() as Micros
}

fn post_text(k: u32, bytes: usize) -> String {
    let mut text = format!("post {k} ");
    while text.len() < bytes {
        text.push_str("lorem ipsum ");
    }
    text.truncate(bytes.max(1));
    text
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
