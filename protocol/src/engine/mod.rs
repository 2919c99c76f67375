//! The node's decisions as a sans-IO state machine, driven by the daemon and the simulator alike.
//!
//! Inputs are `handle_*` calls and [`Engine::publish`]/[`Engine::follow`]-style commands, each
//! with the current time; outputs are drained with [`Engine::poll_output`] until it returns
//! `None`, and [`Engine::poll_timeout`] says when to call [`Engine::handle_timeout`]. The engine
//! never touches a socket or a clock. It does write to its [`Store`], which is a trait object the
//! driver chooses (sled in the daemon, memory in the simulator).
//!
//! One ingest path serves every source (local post, gossip, backfill): decode, limits, dedupe,
//! host policy, verify (batched for backfill), store, apply effects (deletions, labels,
//! declarations, lists), notify. An event's validity never depends on what else the node holds
//! or on arrival order, so every honest node reaches the same verdict on the same bytes; log
//! inconsistencies (forks, broken `prev` links) are recorded as evidence, not used to reject.

mod commands;
mod discovery;
mod hosting;
mod ingest;
mod replication;
pub use replication::{RELAYED_RANGE_EVENTS_MAX, RELAYED_RANGES_PER_PEER_MAX};
mod reputation;
mod requests;
mod resolving;
mod routing;
mod settings;
mod social;
mod strangers;
mod views;

pub use ingest::GossipMessage;
pub use reputation::{Penalty, Reputation, ReputationLimits};
pub use routing::{Route, route, topics_for, topics_of};
pub use settings::NodeSettings;
pub use social::FOLLOWERS_NOTE;
pub use strangers::{StrangerBudget, StrangerLimits};
pub use views::{EDITS_READ_MAX, LIST_LOG_SCAN_MAX};

use crate::id::{AuthorId, EventId};
use crate::log::ChainError;
use crate::moderation::LabelIndex;
use crate::signature::{AuthorKey, KeyCache};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;
use crate::validate::{BuildError, EventError};
use crate::wire::{Head, Request};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The store setting that records the highest seq this node has signed.
const SIGNED_SEQ_SETTING: &str = "signed_seq";

/// The store setting that says every held delete has its tombstones (see
/// `Engine::backfill_tombstones`).
const TOMBSTONES_BACKFILLED_SETTING: &str = "tombstones_backfilled";

/// Tunables of the engine. The defaults are what the daemon runs with.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// How often heads are exchanged with every connected peer, in milliseconds.
    pub heads_interval_ms: u64,
    /// Range requests in flight to one peer at once.
    pub ranges_per_peer_max: usize,
    /// Range requests in flight in total.
    pub ranges_total_max: usize,
    /// Providers dialled per author lookup.
    pub providers_dialled_max: usize,
    /// Least time between two DHT lookups for the same author, in milliseconds.
    pub provider_lookup_interval_ms: u64,
    /// Connected peers serving a followed author below which the node looks for more in the
    /// DHT. More than one, because peers that serve an author can all be stale: a node whose
    /// only hosts of an author never hear from it would otherwise never learn anything new.
    pub serving_peers_min: usize,
    /// Least time between lookups for an author that some, but too few, peers serve.
    pub provider_refresh_interval_ms: u64,
    /// How often an author that enough connected peers serve is looked up anyway, to dial one
    /// host not connected yet: peers that serve an author can all be stale (an island that
    /// never hears the author again), and only a new host tells.
    pub new_host_interval_ms: u64,
    /// Outputs buffered before the oldest notifications are dropped (the driver drains them
    /// after every input, so this bounds a stalled driver, not normal operation).
    pub outputs_max: usize,
    /// Signatures already verified by other engines in this process (the simulator's cheap
    /// mode); `None` verifies everything in full, as the daemon does.
    pub signature_memo: Option<crate::signature::SignatureMemo>,
    /// How many events from authors the node does not host it stores per hosted topic.
    pub strangers: StrangerLimits,
    /// What misbehaviour costs a peer.
    pub reputation: ReputationLimits,
    /// Connection upkeep (redialling lost peers, random walks, letting idle peers go); `None`
    /// leaves connections entirely to the driver.
    pub upkeep: Option<crate::upkeep::UpkeepConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            heads_interval_ms: 30_000,
            ranges_per_peer_max: 2,
            ranges_total_max: 16,
            providers_dialled_max: 4,
            provider_lookup_interval_ms: 10_000,
            serving_peers_min: 3,
            provider_refresh_interval_ms: 60_000,
            new_host_interval_ms: 600_000,
            outputs_max: 65_536,
            signature_memo: None,
            strangers: StrangerLimits::default(),
            reputation: ReputationLimits::default(),
            upkeep: Some(crate::upkeep::UpkeepConfig::default()),
        }
    }
}

/// Where an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Published by this node's author.
    Local,
    /// Received by gossip.
    Gossip,
    /// Fetched by backfill.
    Backfill,
}

/// The gossip validation result, reported back to gossipsub (which scores peers by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptance {
    /// Valid: store it and let gossipsub forward it.
    Accept,
    /// Invalid: drop it and penalise the peer that sent it.
    Reject,
    /// Valid but not wanted here (host policy, clock skew): drop it without penalty.
    Ignore,
}

/// Something the driver must do, or may tell its users.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<P> {
    /// Publish an event's bytes on the gossip topics of these authors.
    Publish {
        /// The event.
        id: EventId,
        /// Authors whose topics carry it (its author first).
        topics: Vec<AuthorId>,
        /// The wire envelope.
        data: Vec<u8>,
    },
    /// Send a replication request.
    SendRequest {
        /// To whom.
        peer: P,
        /// What.
        request: Request,
    },
    /// Subscribe to an author's gossip topic.
    Subscribe(AuthorId),
    /// Leave an author's gossip topic.
    Unsubscribe(AuthorId),
    /// Announce in the DHT that this node hosts the author.
    StartProviding(AuthorId),
    /// Stop announcing.
    StopProviding(AuthorId),
    /// Look up which nodes host the author.
    FindProviders(AuthorId),
    /// Connect to a peer: a provider of a hosted author, or a known peer that was lost.
    Dial(P),
    /// Find new peers: the node has too few connections (a DHT random walk).
    RandomWalk,
    /// Close the connections to a peer that serves nothing the node hosts: the node holds
    /// more connections than it keeps.
    Disconnect(P),
    /// A peer broke the protocol. The driver sets the peer's gossip application score to
    /// `score` (it only ever goes down while offences accumulate).
    Misbehaved {
        /// The peer.
        peer: P,
        /// What it did.
        reason: Misbehaviour,
        /// The peer's application score now.
        score: f64,
    },
    /// Disconnect the peer and refuse its connections until `until` (repeated misbehaviour).
    Ban {
        /// The peer.
        peer: P,
        /// When the ban ends.
        until: Timestamp,
    },
    /// A ban ended: accept the peer's connections again.
    Unban(P),
    /// An event was stored (or its payload filled in).
    Stored {
        /// The event.
        id: EventId,
        /// Its author.
        author: AuthorId,
        /// Its kind.
        kind: crate::payload::Kind,
        /// Where it came from.
        origin: Origin,
    },
    /// An event that concerns this node's author was stored: a notification at `position`.
    Notified {
        /// Its position in the notification journal.
        position: u64,
        /// The event.
        id: EventId,
    },
    /// An author's log was found inconsistent (a fork or a broken `prev` link).
    LogInconsistent {
        /// The author.
        author: AuthorId,
        /// Where.
        seq: u64,
        /// What was found.
        problem: Inconsistency,
    },
}

/// How a peer broke the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Misbehaviour {
    /// A gossip message that is not a valid event (garbage, too large, bad signature, bad
    /// payload).
    #[error("invalid gossip message: {0}")]
    InvalidGossip(EventError),
    /// A valid event on a topic its routing does not include.
    #[error("event {0} sent on a topic it does not belong to")]
    OffTopic(EventId),
    /// A range response carried events that fail validation or belong to another author.
    #[error("{0} invalid events in a range response")]
    InvalidEvents(usize),
    /// A range response about an author that was not asked for.
    #[error("range response for another author")]
    WrongAuthor,
    /// Replication bytes that do not decode as a request or response.
    #[error("malformed replication message")]
    MalformedReplication,
    /// A response of the wrong type for its request.
    #[error("response does not match the request")]
    MismatchedResponse,
}

/// What is wrong with an author's log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    /// Two different events at one position: the author (or their key) signed both.
    #[error("fork: {first} and {second} at the same position")]
    Fork {
        /// The event held first.
        first: EventId,
        /// The one that arrived second.
        second: EventId,
    },
    /// An event does not link to its predecessor as it claims.
    #[error(transparent)]
    BrokenLink(#[from] ChainError),
}

/// Why a local command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The event could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Only an event's author can delete or edit it.
    #[error("event {0} is by another author; only its author can delete or edit it")]
    NotYourEvent(EventId),
    /// Only a post can be edited.
    #[error("event {0} is not a post; only posts can be edited")]
    NotAPost(EventId),
    /// The event's payload was deleted.
    #[error("event {0} was deleted")]
    Deleted(EventId),
    /// Typed text does not name exactly one id or author.
    #[error(transparent)]
    Resolve(#[from] crate::resolve::ResolveError),
    /// A search query cannot run.
    #[error(transparent)]
    Query(#[from] crate::search::QueryError),
    /// Following yourself makes no sense.
    #[error("you cannot follow yourself")]
    FollowSelf,
    /// Already followed: nothing is published again.
    #[error("you already follow {0}")]
    AlreadyFollowing(AuthorId),
    /// The request refers to an event this node does not hold (its author is needed to route
    /// the new event).
    #[error("event {0} is not stored on this node; follow its author or fetch it first")]
    NotHeld(EventId),
    /// The own log in the store ends below a position this node already signed: signing now
    /// would put two events at one seq (a fork). The store was damaged or replaced.
    #[error(
        "refusing to sign: this node already signed up to seq {signed} but its store holds its log only up to {held}; restore the store or the key's log before posting"
    )]
    WouldFork {
        /// Highest seq this node has signed.
        signed: u64,
        /// Highest seq of its own log in the store.
        held: u64,
    },
}

/// What the engine knows of one connected peer.
#[derive(Clone, Debug, Default)]
struct PeerState {
    /// Their heads, as last reported (and narrowed by empty range responses).
    heads: BTreeMap<AuthorId, Head>,
    /// Range requests in flight to them, by author.
    ranges: BTreeSet<AuthorId>,
    /// Authors they have answered a heads request about (holding them or not).
    answered: BTreeSet<AuthorId>,
    /// Reached only through a relay, whose circuits carry little: backfill from them comes in
    /// small batches, one at a time, and only when no directly connected peer has it.
    limited: bool,
}

/// The node engine. `P` identifies peers (libp2p's `PeerId` in the daemon, an index in the
/// simulator).
pub struct Engine<S: Store, P: Ord + Clone> {
    config: EngineConfig,
    key: AuthorKey,
    me: AuthorId,
    store: S,
    settings: NodeSettings,
    labels: LabelIndex,
    hosted: BTreeSet<AuthorId>,
    peers: BTreeMap<P, PeerState>,
    outputs: VecDeque<Output<P>>,
    next_heads_round: Timestamp,
    keys: KeyCache,
    /// When each followed author is next checked (and looked up in the DHT if too few
    /// connected peers serve it).
    lookups: BTreeMap<AuthorId, Timestamp>,
    /// When each well-served hosted author is next looked up for one new host, and the
    /// lookups of that kind in flight.
    new_host_due: BTreeMap<AuthorId, Timestamp>,
    new_host_lookups: BTreeSet<AuthorId>,
    /// The highest seq any connected peer reported per author (an upper bound: it is
    /// recomputed when a claim is withdrawn), so finding backfill work costs O(authors), not
    /// O(peers × authors), when there is none.
    best_heads: BTreeMap<AuthorId, u64>,
    /// Known peers and when to redial them.
    upkeep: Option<crate::upkeep::Upkeep<P>>,
    /// Stranger events admitted this hour per hosted topic.
    strangers: StrangerBudget,
    /// Offences and bans per peer.
    reputation: Reputation<P>,
}

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// Starts an engine over `store`, loading the node's settings and rebuilding its indexes.
    pub fn new(
        key: AuthorKey,
        store: S,
        config: EngineConfig,
        now: Timestamp,
    ) -> Result<Self, StoreError> {
        let settings = NodeSettings::load(&store)?;
        let me = key.author();
        let keys = match &config.signature_memo {
            Some(memo) => KeyCache::default().with_memo(memo.clone()),
            None => KeyCache::default(),
        };
        let mut engine = Engine {
            key,
            me,
            store,
            settings,
            labels: LabelIndex::new(),
            hosted: BTreeSet::new(),
            peers: BTreeMap::new(),
            outputs: VecDeque::new(),
            next_heads_round: now,
            keys,
            lookups: BTreeMap::new(),
            new_host_due: BTreeMap::new(),
            new_host_lookups: BTreeSet::new(),
            best_heads: BTreeMap::new(),
            upkeep: config
                .upkeep
                .clone()
                .map(|c| crate::upkeep::Upkeep::new(c, now)),
            strangers: StrangerBudget::new(config.strangers),
            reputation: Reputation::new(config.reputation),
            config,
        };
        // A store from before the signed seq was recorded: its own log is the best record.
        if engine.store.setting(SIGNED_SEQ_SETTING)?.is_none() {
            let held = engine.store.log_state(&me)?.highest;
            engine
                .store
                .put_setting(SIGNED_SEQ_SETTING, &held.to_be_bytes())?;
            engine.store.flush()?;
        }
        engine.backfill_tombstones()?;
        engine.rebuild_moderation()?;
        engine.refresh_hosted();
        for author in engine.hosted.clone() {
            engine.push(Output::FindProviders(author));
        }
        Ok(engine)
    }

    /// This node's author.
    pub fn author(&self) -> AuthorId {
        self.me
    }

    /// The store, for reads.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The node's settings (follows, moderation preferences, host policy).
    pub fn settings(&self) -> &NodeSettings {
        &self.settings
    }

    /// Labels in force from subscribed feeds and host-policy feeds.
    pub fn labels(&self) -> &LabelIndex {
        &self.labels
    }

    /// Authors whose logs this node keeps and serves.
    pub fn hosted(&self) -> &BTreeSet<AuthorId> {
        &self.hosted
    }

    /// Peers currently connected, in order.
    pub fn peers(&self) -> impl Iterator<Item = &P> {
        self.peers.keys()
    }

    /// The next output for the driver, if any.
    pub fn poll_output(&mut self) -> Option<Output<P>> {
        self.outputs.pop_front()
    }

    /// When [`Engine::handle_timeout`] is next due: the next heads round, or the next check of
    /// whether a followed author is served well enough (see `look_up_unserved`). Cheap:
    /// drivers call it after every input.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let next_check = self.lookups.values().min().copied();
        let next = next_check.map_or(self.next_heads_round, |c| c.min(self.next_heads_round));
        let next = self
            .upkeep
            .as_ref()
            .map_or(next, |u| u.next_round().min(next));
        Some(
            self.reputation
                .next_expiry()
                .map_or(next, |ban| ban.min(next)),
        )
    }

    fn push(&mut self, output: Output<P>) {
        // Only notifications may be dropped, and only when the driver has fallen far behind;
        // every other output carries work the protocol depends on.
        if self.outputs.len() >= self.config.outputs_max
            && matches!(output, Output::Stored { .. } | Output::Notified { .. })
        {
            return;
        }
        self.outputs.push_back(output);
    }
}

#[cfg(test)]
mod tests;
