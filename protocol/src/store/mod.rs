//! What a node keeps: the `Store` trait the engine is written against, and an in-memory store.
//!
//! The trait lives here, not in the node, so the engine and the simulator share it; the node's
//! sled implementation and [`MemoryStore`] both run the same [`conformance`] suite. A store only
//! ever holds [`VerifiedEvent`]s: validation happens before anything is written.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod memory;

pub use memory::{EventPool, MemoryStore};

use crate::id::{AuthorId, EventId};
use crate::log::ForkEvidence;
use crate::relations::Relation;
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;
use serde::{Deserialize, Serialize};
use std::ops::Bound;

/// Whether an event is indexed in the timeline: posts and reposts. Every store uses this rule.
pub fn in_timeline(event: &VerifiedEvent) -> bool {
    event.kind() == crate::payload::Kind::POST || event.kind() == crate::payload::Kind::REPOST
}

/// The event an event replies to, if it is a reply: the key of the reply-thread index.
pub fn reply_parent(event: &VerifiedEvent) -> Option<EventId> {
    match event.content()? {
        crate::payload::Payload::Post(post) => post.reply.map(|r| r.parent.id),
        _ => None,
    }
}

/// The secondary indexes of an event's payload that every store keeps with it and drops when
/// the payload goes: what it refers to, and its search terms.
pub fn payload_indexes(event: &VerifiedEvent) -> (Vec<(Relation, EventId)>, Vec<String>) {
    (
        crate::relations::references_of(event),
        crate::search::terms_of(event),
    )
}

/// Notifications a store keeps; adding one more drops the oldest.
pub const NOTIFICATIONS_MAX: u64 = 10_000;

/// Most references [`Store::reference_count`] counts; above it, counts read as this.
pub const REFERENCE_COUNT_MAX: u64 = 100_000;

/// Events read from a log per page by [`LogPages`].
pub const LOG_PAGE_EVENTS: usize = 512;

/// Walks an author's log from its first held event in pages, without holding a borrow of the
/// store between pages (so the caller can change other state, or the store, as it goes).
#[derive(Clone, Debug)]
pub struct LogPages {
    author: AuthorId,
    next_seq: u64,
}

impl LogPages {
    /// A walk over `author`'s log from seq 1.
    pub fn new(author: AuthorId) -> LogPages {
        LogPages {
            author,
            next_seq: 1,
        }
    }

    /// The next page in seq order, or `None` when the log is exhausted.
    pub fn next_page(
        &mut self,
        store: &impl Store,
    ) -> Result<Option<Vec<VerifiedEvent>>, StoreError> {
        let page = store.log(&self.author, self.next_seq, LOG_PAGE_EVENTS)?;
        Ok(page.last().map(VerifiedEvent::seq).map(|last| {
            self.next_seq = last.saturating_add(1);
            page
        }))
    }
}

/// A store failure. The engine cannot act on most of these beyond reporting them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend (disk, database) failed.
    #[error("store backend failed: {0}")]
    Backend(String),
    /// The disk holding the store is full: nothing more can be written until space is freed.
    /// What was acknowledged before is kept.
    #[error("the disk holding the store is full")]
    Full,
    /// Stored bytes no longer decode: the store was damaged outside our control.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store was built without the index a query needs (a simulator's stores keep no
    /// search index: nobody searches them).
    #[error("this store keeps no {0} index")]
    NoIndex(&'static str),
    /// The store was written by a newer build, in a layout this one does not know.
    #[error(
        "the store has layout version {found}, newer than the {supported} this build knows; run a newer handbilld"
    )]
    NewerFormat {
        /// The store's layout version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
}

/// What [`Store::insert`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new event.
    New,
    /// The event was already held, and nothing changed.
    AlreadyHad,
    /// The event was held without its payload, and now has it.
    PayloadFilled,
    /// A different event was already held at the same author and seq; both are now kept.
    Fork(Box<ForkEvidence>),
}

/// How much of an author's log a store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogState {
    /// Highest seq such that every event 1..=seq is held (0 when the first is missing).
    pub contiguous: u64,
    /// Highest seq held at all; above `contiguous` there are gaps.
    pub highest: u64,
}

/// Sizes of what is stored, for status output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounts {
    /// Events held (headers; with or without payload).
    pub events: u64,
    /// Authors with at least one event held.
    pub authors: u64,
    /// Events whose payload is held.
    pub payloads: u64,
}

/// Where a page of the timeline starts: strictly older than this (time, id) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimelineCursor {
    /// The `created_at` of the last item already seen.
    pub created_at: Timestamp,
    /// Its id, to break ties between events made in the same millisecond.
    pub id: EventId,
}

impl TimelineCursor {
    /// The lowest key.
    pub const MIN: TimelineCursor = TimelineCursor {
        created_at: Timestamp(0),
        id: EventId([0; 32]),
    };
    /// The highest key.
    pub const MAX: TimelineCursor = TimelineCursor {
        created_at: Timestamp(u64::MAX),
        id: EventId([0xff; 32]),
    };
}

/// Persistent storage of verified events and the node's own settings.
///
/// Writes may be buffered; [`Store::flush`] makes everything written so far durable. Every method
/// that reads returns events in a documented, deterministic order.
pub trait Store {
    /// Adds an event and its indexes (author log, timeline, replies). Idempotent.
    fn insert(&mut self, event: &VerifiedEvent) -> Result<Inserted, StoreError>;

    /// Inserts events in order with the same outcomes as [`Store::insert`] one by one. A store
    /// that can writes them in one transaction (group commit: all or none after a crash),
    /// which is what makes ingest fast. Returns what each insert did, in order.
    fn insert_batch(&mut self, events: &[VerifiedEvent]) -> Result<Vec<Inserted>, StoreError> {
        events.iter().map(|event| self.insert(event)).collect()
    }

    /// The event with this id, if held.
    fn event(&self, id: &EventId) -> Result<Option<VerifiedEvent>, StoreError>;

    /// Whether the event is held (with or without payload).
    fn contains(&self, id: &EventId) -> Result<bool, StoreError>;

    /// Ids held at this position of an author's log: one normally, two or more after a fork,
    /// in order of arrival.
    fn ids_at(&self, author: &AuthorId, seq: u64) -> Result<Vec<EventId>, StoreError>;

    /// Up to `limit` events of an author's log from `from_seq` upwards, in seq order, skipping
    /// positions not held; at a forked position, the first event held.
    fn log(
        &self,
        author: &AuthorId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedEvent>, StoreError>;

    /// How much of the author's log is held.
    fn log_state(&self, author: &AuthorId) -> Result<LogState, StoreError>;

    /// Every author with at least one event held, in id order.
    fn authors(&self) -> Result<Vec<AuthorId>, StoreError>;

    /// Erases an event's payload, keeping its header (an honoured deletion). Returns whether a
    /// payload was there to erase.
    fn erase_payload(&mut self, id: &EventId) -> Result<bool, StoreError>;

    /// Removes an event entirely (host policy). Returns whether it was held.
    fn remove(&mut self, id: &EventId) -> Result<bool, StoreError>;

    /// Records that `deleter` deleted `id`. Kept forever, one record per (id, deleter): only
    /// the record of the event's own author counts, so a stranger's cannot displace it.
    fn add_tombstone(&mut self, id: &EventId, deleter: &AuthorId) -> Result<(), StoreError>;

    /// Whether `author` deleted `id` (if `id` is theirs, its payload must never be kept).
    fn is_deleted(&self, id: &EventId, author: &AuthorId) -> Result<bool, StoreError>;

    /// Newest-first events by any of `authors`, strictly older than `before`, at most `limit`.
    fn timeline(
        &self,
        authors: &dyn Fn(&AuthorId) -> bool,
        before: Option<TimelineCursor>,
        limit: usize,
    ) -> Result<Vec<VerifiedEvent>, StoreError>;

    /// Ids of events that reply to `parent`, oldest first.
    fn replies(&self, parent: &EventId) -> Result<Vec<EventId>, StoreError>;

    /// The newest event (highest seq) of `kind` by `author`, e.g. their current profile.
    fn latest_of_kind(
        &self,
        author: &AuthorId,
        kind: crate::payload::Kind,
    ) -> Result<Option<EventId>, StoreError>;

    /// Ids of held events by `author` that refer to `target` by `relation`, newest first, at
    /// most `limit` (an author's own edits of a post, which no one else's can crowd out).
    fn references_by(
        &self,
        target: &EventId,
        relation: Relation,
        author: &AuthorId,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError>;

    /// How many held events refer to `target` by `relation`, up to [`REFERENCE_COUNT_MAX`].
    fn reference_count(&self, target: &EventId, relation: Relation) -> Result<u64, StoreError>;

    /// The newest search key of `term`'s postings within `upper`, if any (the one read that
    /// [`crate::search::intersect`] needs).
    fn search_seek(
        &self,
        term: &str,
        upper: Bound<TimelineCursor>,
    ) -> Result<Option<TimelineCursor>, StoreError>;

    /// Held events containing every one of `terms` (see [`crate::search::terms_of`]), newest
    /// first, strictly older than `before`, at most `limit`.
    fn search(
        &self,
        terms: &[String],
        before: Option<TimelineCursor>,
        limit: usize,
    ) -> Result<Vec<TimelineCursor>, StoreError> {
        crate::search::intersect(terms, before, limit, |term, upper| {
            self.search_seek(term, upper)
        })
    }

    /// Appends an event to the node's notifications and returns its position (positions only
    /// grow). Keeps the newest [`NOTIFICATIONS_MAX`].
    fn add_notification(&mut self, id: &EventId) -> Result<u64, StoreError>;

    /// Notifications newest first, at positions strictly below `before`, at most `limit`.
    fn notifications(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, EventId)>, StoreError>;

    /// Held event ids from `low` to `high` inclusive, in byte order, at most `limit` (how a
    /// short id's prefix is resolved: see [`crate::resolve`]).
    fn event_ids_in(
        &self,
        low: &EventId,
        high: &EventId,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError>;

    /// Authors with recorded forks and the forked seqs, in order.
    fn forks(&self) -> Result<Vec<(AuthorId, u64)>, StoreError>;

    /// Counts for status output.
    fn counts(&self) -> Result<StoreCounts, StoreError>;

    /// A named setting of this node (follows, preferences, policy), if set.
    fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets a named setting.
    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Makes every write so far durable.
    fn flush(&mut self) -> Result<(), StoreError>;
}
