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

mod settings;

pub use settings::NodeSettings;

use crate::event::SignedEvent;
use crate::id::{AuthorId, EventId};
use crate::log::{ChainError, check_successor};
use crate::moderation::host::HostDecision;
use crate::moderation::{FeedSubscription, LabelIndex, SubscribedList, Verdict, evaluate};
use crate::payload::{LabelTarget, Payload};
use crate::signature::{AuthorKey, KeyCache};
use crate::store::{Inserted, LogPages, Store, StoreError, TimelineCursor};
use crate::time::Timestamp;
use crate::validate::{BuildError, CheckedEvent, ValidationError, VerifiedEvent, sign_next};
use crate::wire::{
    BACKFILL_BATCH_BYTES_MAX, BACKFILL_BATCH_EVENTS_MAX, Envelope, HEADS_AUTHORS_MAX, Head,
    Request, Response,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
    /// Outputs buffered before the oldest notifications are dropped (the driver drains them
    /// after every input, so this bounds a stalled driver, not normal operation).
    pub outputs_max: usize,
    /// Signatures already verified by other engines in this process (the simulator's cheap
    /// mode); `None` verifies everything in full, as the daemon does.
    pub signature_memo: Option<crate::signature::SignatureMemo>,
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
            outputs_max: 65_536,
            signature_memo: None,
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Connect to a peer (a provider of a followed author).
    Dial(P),
    /// A peer sent invalid data through replication; the driver may disconnect or penalise it.
    Misbehaved {
        /// The peer.
        peer: P,
        /// What it did.
        reason: String,
    },
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
    /// An author's log was found inconsistent (a fork or a broken `prev` link).
    LogInconsistent {
        /// The author.
        author: AuthorId,
        /// Where.
        seq: u64,
        /// What was found.
        problem: String,
    },
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
    /// The command makes no sense (e.g. following yourself, deleting someone else's event).
    #[error("{0}")]
    Refused(String),
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
    /// The highest seq any connected peer reported per author (an upper bound: it is
    /// recomputed when a claim is withdrawn), so finding backfill work costs O(authors), not
    /// O(peers × authors), when there is none.
    best_heads: BTreeMap<AuthorId, u64>,
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
            config,
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
            best_heads: BTreeMap::new(),
        };
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
        Some(next_check.map_or(self.next_heads_round, |c| c.min(self.next_heads_round)))
    }

    fn push(&mut self, output: Output<P>) {
        // Only notifications may be dropped, and only when the driver has fallen far behind;
        // every other output carries work the protocol depends on.
        if self.outputs.len() >= self.config.outputs_max && matches!(output, Output::Stored { .. })
        {
            return;
        }
        self.outputs.push_back(output);
    }

    // ----- commands from the local user -----

    /// Signs `content` as the next event of this node's author, stores it durably, and queues it
    /// for gossip. Returns only after the store has flushed.
    pub fn publish(
        &mut self,
        content: &Payload,
        now: Timestamp,
    ) -> Result<VerifiedEvent, CommandError> {
        if let Payload::Delete(delete) = content {
            for target in &delete.targets {
                if let Some(held) = self.store.event(target)?
                    && held.author() != self.me
                {
                    return Err(CommandError::Refused(format!(
                        "event {target} is by another author; only its author can delete it"
                    )));
                }
            }
        }
        let head = self.own_head()?;
        let event = sign_next(&self.key, head.as_ref(), now, content)?;
        self.ingest_verified(event.clone(), Origin::Local, now)?;
        self.store.flush()?;
        self.push(Output::Publish {
            id: event.id(),
            topics: topics_for(&event),
            data: event.encode(),
        });
        Ok(event)
    }

    fn own_head(&self) -> Result<Option<crate::validate::LogHead>, StoreError> {
        let state = self.store.log_state(&self.me)?;
        if state.highest == 0 {
            return Ok(None);
        }
        let id = self.store.ids_at(&self.me, state.highest)?;
        match id.first() {
            Some(id) => Ok(self.store.event(id)?.map(|e| e.head())),
            None => Ok(None),
        }
    }

    /// Follows an author: keep and serve their log, subscribe, backfill from peers that hold
    /// it, and find who hosts it through the DHT when no connected peer does.
    /// Also publishes a `Follow` event, so the follow is part of this author's public log.
    pub fn follow(
        &mut self,
        author: AuthorId,
        now: Timestamp,
    ) -> Result<VerifiedEvent, CommandError> {
        if author == self.me {
            return Err(CommandError::Refused("you cannot follow yourself".into()));
        }
        self.settings.follows.insert(author);
        self.settings.moderation.follows.insert(author);
        self.save_settings()?;
        let event = self.publish(&Payload::Follow(crate::payload::Follow { author }), now)?;
        self.refresh_hosted();
        // Ask the peers we have first: the DHT is searched (and providers dialled) only if none
        // of them serves the author, which `look_up_unserved` decides when their heads arrive.
        // Dialling providers of every followed author regardless would multiply connections.
        if self.peers.is_empty() {
            self.look_up_unserved(now);
        } else {
            self.ask_heads_for(&[author]);
        }
        Ok(event)
    }

    /// Stops following an author; their events stay stored until removed.
    pub fn unfollow(
        &mut self,
        author: AuthorId,
        now: Timestamp,
    ) -> Result<VerifiedEvent, CommandError> {
        self.settings.follows.remove(&author);
        self.settings.moderation.follows.remove(&author);
        self.save_settings()?;
        let event = self.publish(&Payload::Unfollow(crate::payload::Unfollow { author }), now)?;
        self.refresh_hosted();
        Ok(event)
    }

    /// Replaces the node's settings (moderation preferences, host policy) after a user change,
    /// re-applying host policy to what is stored and re-hosting feeds and lists as needed.
    pub fn update_settings(
        &mut self,
        change: impl FnOnce(&mut NodeSettings),
        now: Timestamp,
    ) -> Result<(), CommandError> {
        change(&mut self.settings);
        self.settings.moderation.viewer = Some(self.me);
        self.settings.moderation.follows = self.settings.follows.clone();
        self.save_settings()?;
        self.rebuild_moderation()?;
        self.refresh_hosted();
        self.enforce_host_policy(now)?;
        let fresh: Vec<AuthorId> = self.hosted.iter().copied().collect();
        self.ask_heads_for(&fresh);
        Ok(())
    }

    /// The viewer's verdict on an event now.
    pub fn verdict(&self, event: &VerifiedEvent, now: Timestamp) -> Verdict {
        evaluate(event, &self.settings.moderation, &self.labels, now)
    }

    /// The timeline (followed authors and own), newest first, each with its verdict.
    pub fn timeline(
        &self,
        before: Option<TimelineCursor>,
        limit: usize,
        now: Timestamp,
    ) -> Result<Vec<(VerifiedEvent, Verdict)>, StoreError> {
        let me = self.me;
        let follows = &self.settings.follows;
        let wanted = |a: &AuthorId| *a == me || follows.contains(a);
        Ok(self
            .store
            .timeline(&wanted, before, limit)?
            .into_iter()
            .map(|e| {
                let v = self.verdict(&e, now);
                (e, v)
            })
            .collect())
    }

    fn save_settings(&mut self) -> Result<(), StoreError> {
        self.settings.save(&mut self.store)?;
        self.store.flush()
    }

    /// Recomputes which authors this node hosts, emitting subscription changes.
    fn refresh_hosted(&mut self) {
        let mut wanted: BTreeSet<AuthorId> = BTreeSet::new();
        wanted.insert(self.me);
        wanted.extend(self.settings.follows.iter().copied());
        wanted.extend(self.settings.moderation.feeds.keys().copied());
        wanted.extend(self.settings.moderation.lists.values().map(|l| l.owner));
        wanted.extend(
            self.settings
                .host_policy
                .refused_labels
                .iter()
                .map(|(f, _)| *f),
        );
        wanted.extend(
            self.settings
                .list_subscriptions
                .iter()
                .map(|(owner, _)| *owner),
        );
        let added: Vec<AuthorId> = wanted.difference(&self.hosted).copied().collect();
        let removed: Vec<AuthorId> = self.hosted.difference(&wanted).copied().collect();
        for author in added {
            self.push(Output::Subscribe(author));
            self.push(Output::StartProviding(author));
        }
        for author in removed {
            self.push(Output::Unsubscribe(author));
            self.push(Output::StopProviding(author));
        }
        self.hosted = wanted;
    }

    /// Rebuilds the label index, feed declarations and subscribed lists from stored logs.
    fn rebuild_moderation(&mut self) -> Result<(), StoreError> {
        // The newest-seen seqs are derived from the logs replayed below; keeping old ones would
        // make a feed or list that was unsubscribed and subscribed again skip its own events.
        self.settings.declaration_seqs.clear();
        self.settings.list_seqs.clear();
        self.settings.moderation.viewer = Some(self.me);
        self.settings.moderation.follows = self.settings.follows.clone();
        let mut feeds: BTreeSet<AuthorId> =
            self.settings.moderation.feeds.keys().copied().collect();
        feeds.extend(
            self.settings
                .host_policy
                .refused_labels
                .iter()
                .map(|(f, _)| *f),
        );
        let owners: BTreeSet<AuthorId> = self
            .settings
            .list_subscriptions
            .iter()
            .map(|(o, _)| *o)
            .collect();
        self.labels = LabelIndex::new();
        for author in feeds.iter().chain(owners.iter()) {
            let mut pages = LogPages::new(*author);
            while let Some(page) = pages.next_page(&self.store)? {
                for event in &page {
                    self.apply_moderation_event(event);
                }
            }
        }
        Ok(())
    }

    /// Folds a label, declaration or list event into the moderation state, if relevant.
    fn apply_moderation_event(&mut self, event: &VerifiedEvent) {
        let author = event.author();
        match event.content() {
            Some(Payload::Label(_)) => {
                let relevant = self.settings.moderation.feeds.contains_key(&author)
                    || self
                        .settings
                        .host_policy
                        .refused_labels
                        .iter()
                        .any(|(f, _)| *f == author);
                if relevant {
                    self.labels.ingest(event);
                }
            }
            Some(Payload::LabelerDeclaration(declaration)) => {
                let seq = event.seq();
                if let Some(sub) = self.settings.moderation.feeds.get_mut(&author) {
                    let newer = self
                        .settings
                        .declaration_seqs
                        .get(&author)
                        .is_none_or(|s| *s < seq);
                    if newer {
                        sub.declaration = Some(declaration.clone());
                        self.settings.declaration_seqs.insert(author, seq);
                    }
                }
            }
            Some(Payload::List(_)) => {
                if let Some(list) = SubscribedList::from_event(event) {
                    let subscribed = self
                        .settings
                        .list_subscriptions
                        .contains(&(author, list.id));
                    let newer = self
                        .settings
                        .list_seqs
                        .get(&list.id)
                        .is_none_or(|s| *s < event.seq());
                    if subscribed && newer {
                        self.settings.list_seqs.insert(list.id, event.seq());
                        self.settings.moderation.lists.insert(list.id, list);
                    }
                }
            }
            _ => {}
        }
    }

    /// Drops stored events that the host policy now refuses.
    fn enforce_host_policy(&mut self, now: Timestamp) -> Result<(), StoreError> {
        let policy = self.settings.host_policy.clone();
        for author in &policy.blocked_authors {
            self.remove_author(author)?;
        }
        if policy.refused_labels.is_empty() {
            return Ok(());
        }
        for author in self.store.authors()? {
            let mut pages = LogPages::new(author);
            while let Some(page) = pages.next_page(&self.store)? {
                for event in page {
                    if policy.decide(event.id(), author, &self.labels, now) != HostDecision::Carry {
                        self.store.remove(&event.id())?;
                    }
                }
            }
        }
        self.store.flush()
    }

    fn remove_author(&mut self, author: &AuthorId) -> Result<(), StoreError> {
        loop {
            let batch = self.store.log(author, 1, 512)?;
            if batch.is_empty() {
                return Ok(());
            }
            for event in batch {
                for id in self.store.ids_at(author, event.seq())? {
                    self.store.remove(&id)?;
                }
            }
        }
    }

    // ----- network inputs -----

    /// A gossip message arrived from `from`. Returns the validation result for gossipsub.
    pub fn handle_gossip(&mut self, from: &P, data: &[u8], now: Timestamp) -> Acceptance {
        let _ = from;
        let event = match SignedEvent::decode(data) {
            Ok(event) => event,
            Err(_) => return Acceptance::Reject,
        };
        let checked = match CheckedEvent::check(event, now) {
            Ok(checked) => checked,
            // Our clock may be the one that is wrong; do not punish the sender for it.
            Err(ValidationError::FromTheFuture { .. }) => return Acceptance::Ignore,
            Err(_) => return Acceptance::Reject,
        };
        match self.store.event(&checked.id()) {
            // Already held: not forwarded again. Gossipsub's duplicate cache forgets after
            // minutes, the store does not, so accepting would let anyone replaying old events
            // make every node forward them again (an amplification attack).
            Ok(Some(held))
                if held.payload_bytes().is_some() || checked_without_payload(&checked) =>
            {
                return Acceptance::Ignore;
            }
            Ok(_) => {}
            Err(_) => return Acceptance::Ignore,
        }
        let decision = self.settings.host_policy.decide(
            checked.id(),
            checked.header().author,
            &self.labels,
            now,
        );
        if decision != HostDecision::Carry {
            return Acceptance::Ignore;
        }
        let verified = match checked.verify_with(&mut self.keys) {
            Ok(verified) => verified,
            Err(_) => return Acceptance::Reject,
        };
        match self.ingest_verified(verified, Origin::Gossip, now) {
            Ok(()) => Acceptance::Accept,
            Err(_) => Acceptance::Ignore,
        }
    }

    /// A connection to `peer` was established.
    pub fn handle_connected(&mut self, peer: P, _now: Timestamp) {
        if self.peers.contains_key(&peer) {
            return;
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

    /// The last connection to `peer` closed.
    pub fn handle_disconnected(&mut self, peer: &P, now: Timestamp) {
        if let Some(state) = self.peers.remove(peer) {
            self.recompute_best_heads(state.heads.keys().copied());
        }
        self.schedule_ranges(now);
    }

    /// Recomputes [`Engine::best_heads`] for `authors` after a peer's claim went away.
    fn recompute_best_heads(&mut self, authors: impl IntoIterator<Item = AuthorId>) {
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

    /// DHT lookup results: nodes that host `author`.
    pub fn handle_providers(&mut self, author: AuthorId, providers: Vec<P>) {
        // A lookup takes seconds; if enough connected peers serve the author by now, more
        // connections would add nothing.
        if self.serving(&author) >= self.config.serving_peers_min {
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
                    self.misbehaved(peer, "range response for another author");
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
            _ => self.misbehaved(peer, "response does not match the request"),
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

    /// Time passed: run periodic work that is due.
    pub fn handle_timeout(&mut self, now: Timestamp) {
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
    fn look_up_unserved(&mut self, now: Timestamp) {
        // Every hosted author but ourselves: follows, and also the moderation feeds and list
        // owners we subscribe to, which need hosts just as much.
        let me = self.me;
        let hosted = &self.hosted;
        self.lookups.retain(|a, _| hosted.contains(a) && *a != me);
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
            }
        }
    }

    /// Connected peers that hold something of `author`.
    fn serving(&self, author: &AuthorId) -> usize {
        self.peers
            .values()
            .filter(|p| p.heads.contains_key(author))
            .count()
    }

    fn ask_heads_for(&mut self, authors: &[AuthorId]) {
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

    fn misbehaved(&mut self, peer: &P, reason: &str) {
        self.push(Output::Misbehaved {
            peer: peer.clone(),
            reason: reason.to_string(),
        });
    }

    /// Sends range requests for hosted authors that connected peers hold more of, within the
    /// concurrency bounds, preferring one peer per author at a time.
    fn schedule_ranges(&mut self, _now: Timestamp) {
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
        for (peer, state) in &self.peers {
            let mut mine = state.ranges.len();
            for (author, ours) in &work {
                if total >= self.config.ranges_total_max || mine >= self.config.ranges_per_peer_max
                {
                    break;
                }
                if in_flight.contains(author) {
                    continue;
                }
                if state.heads.get(author).is_some_and(|h| h.highest > *ours) {
                    requests.push((peer.clone(), *author, ours + 1));
                    in_flight.insert(*author);
                    mine += 1;
                    total += 1;
                }
            }
        }
        for (peer, author, from_seq) in requests {
            if let Some(state) = self.peers.get_mut(&peer) {
                state.ranges.insert(author);
            }
            self.push(Output::SendRequest {
                peer,
                request: Request::Range {
                    author,
                    from_seq,
                    limit: BACKFILL_BATCH_EVENTS_MAX,
                },
            });
        }
    }

    /// Decodes, checks and batch-verifies a range response, storing what is valid.
    fn ingest_batch(
        &mut self,
        peer: &P,
        author: &AuthorId,
        envelopes: Vec<Envelope>,
        now: Timestamp,
    ) {
        let mut checked = Vec::with_capacity(envelopes.len());
        let mut invalid = 0usize;
        for Envelope(bytes) in envelopes {
            let event = SignedEvent::decode(&bytes)
                .map_err(|_| ())
                .and_then(|e| CheckedEvent::check(e, now).map_err(|_| ()));
            match event {
                Ok(c) if c.header().author == *author => {
                    if !self.already_complete(&c) {
                        checked.push(c);
                    }
                }
                _ => invalid += 1,
            }
        }
        for result in crate::validate::verify_batch_with(checked, &mut self.keys) {
            match result {
                Ok(event) => {
                    let decision = self.settings.host_policy.decide(
                        event.id(),
                        event.author(),
                        &self.labels,
                        now,
                    );
                    if decision == HostDecision::Carry {
                        // A store failure here is retried on the next heads round.
                        let _ = self.ingest_verified(event, Origin::Backfill, now);
                    }
                }
                Err(_) => invalid += 1,
            }
        }
        if invalid > 0 {
            self.misbehaved(
                peer,
                &format!("{invalid} invalid events in a range response"),
            );
        }
    }

    fn already_complete(&self, checked: &CheckedEvent) -> bool {
        match self.store.event(&checked.id()) {
            Ok(Some(held)) => held.payload_bytes().is_some() || checked_without_payload(checked),
            _ => false,
        }
    }

    /// The one ingest path for verified events: tombstones, store, log checks, effects, notify.
    fn ingest_verified(
        &mut self,
        event: VerifiedEvent,
        origin: Origin,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let author = event.author();
        let event = match self.store.tombstone(&event.id())? {
            Some(deleter) if deleter == author => event.without_payload(),
            _ => event,
        };
        let inserted = self.store.insert(&event)?;
        match &inserted {
            Inserted::AlreadyHad => return Ok(()),
            Inserted::Fork(evidence) => self.push(Output::LogInconsistent {
                author,
                seq: evidence.seq,
                problem: format!(
                    "fork: {} and {} at the same position",
                    evidence.first.id(),
                    evidence.second.id()
                ),
            }),
            Inserted::New | Inserted::PayloadFilled => {}
        }
        self.check_links(&event)?;
        self.apply_effects(&event, now)?;
        self.push(Output::Stored {
            id: event.id(),
            author,
            kind: event.kind(),
            origin,
        });
        Ok(())
    }

    /// Checks the event against its held neighbours; a broken link is evidence, not a rejection.
    fn check_links(&mut self, event: &VerifiedEvent) -> Result<(), StoreError> {
        let author = event.author();
        let mut problems: Vec<(u64, ChainError)> = Vec::new();
        if event.seq() > 1
            && let Some(prev_id) = self.store.ids_at(&author, event.seq() - 1)?.first()
            && let Some(prev) = self.store.event(prev_id)?
            && let Err(e) = check_successor(&prev, event.header())
        {
            problems.push((event.seq(), e));
        }
        if let Some(next_id) = self.store.ids_at(&author, event.seq() + 1)?.first()
            && let Some(next) = self.store.event(next_id)?
            && let Err(e) = check_successor(event, next.header())
        {
            problems.push((next.seq(), e));
        }
        for (seq, problem) in problems {
            self.push(Output::LogInconsistent {
                author,
                seq,
                problem: problem.to_string(),
            });
        }
        Ok(())
    }

    fn apply_effects(&mut self, event: &VerifiedEvent, now: Timestamp) -> Result<(), StoreError> {
        let author = event.author();
        match event.content() {
            Some(Payload::Delete(delete)) => {
                for target in &delete.targets {
                    match self.store.event(target)? {
                        // Only an author's own events can be deleted.
                        Some(held) if held.author() == author => {
                            self.store.erase_payload(target)?;
                        }
                        Some(_) => {}
                        None => self.store.add_tombstone(target, &author)?,
                    }
                }
            }
            Some(Payload::Label(label)) => {
                self.apply_moderation_event(event);
                let policy = &self.settings.host_policy;
                if policy
                    .refused_labels
                    .contains(&(author, label.value.clone()))
                    && !label.negate
                {
                    match label.target {
                        // Judge the held event by its real author, not the labeller's claim.
                        LabelTarget::Event(r) => {
                            if let Some(held) = self.store.event(&r.id)?
                                && policy.decide(r.id, held.author(), &self.labels, now)
                                    != HostDecision::Carry
                            {
                                self.store.remove(&r.id)?;
                            }
                        }
                        LabelTarget::Author(a) => {
                            if policy.decide_author(a, &self.labels, now) != HostDecision::Carry {
                                self.remove_author(&a)?;
                            }
                        }
                    }
                }
            }
            Some(Payload::LabelerDeclaration(_)) | Some(Payload::List(_)) => {
                self.apply_moderation_event(event);
                self.save_settings()?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Subscribes to a moderation feed with per-label overrides.
    pub fn subscribe_feed(
        &mut self,
        feed: AuthorId,
        overrides: BTreeMap<String, crate::payload::Action>,
        now: Timestamp,
    ) -> Result<(), CommandError> {
        self.update_settings(
            |s| {
                let sub = s
                    .moderation
                    .feeds
                    .entry(feed)
                    .or_insert_with(FeedSubscription::default);
                sub.overrides.extend(overrides);
            },
            now,
        )
    }
}

/// A header-only arrival adds nothing to an event already held.
fn checked_without_payload(checked: &CheckedEvent) -> bool {
    !checked.has_payload()
}

/// The authors on whose topics an event is published: its author, then everyone it refers to,
/// so replies, quotes, mentions, reposts and reactions reach the people concerned.
pub fn topics_for(event: &VerifiedEvent) -> Vec<AuthorId> {
    let mut topics = vec![event.author()];
    let mut add = |a: AuthorId| {
        if !topics.contains(&a) {
            topics.push(a);
        }
    };
    match event.content() {
        Some(Payload::Post(p)) => {
            if let Some(reply) = &p.reply {
                add(reply.parent.author);
                add(reply.root.author);
            }
            if let Some(quote) = &p.quote {
                add(quote.author);
            }
            for m in &p.mentions {
                add(*m);
            }
        }
        Some(Payload::Repost(r)) => add(r.target.author),
        Some(Payload::Reaction(r)) => add(r.target.author),
        _ => {}
    }
    topics
}

#[cfg(test)]
mod tests;
