//! An in-memory [`Store`]: for the simulator, for engine tests, and as the reference that the
//! persistent store's behaviour is checked against.

use super::{
    Inserted, LogState, NOTIFICATIONS_MAX, REFERENCE_COUNT_MAX, Store, StoreCounts, StoreError,
    TimelineCursor, in_timeline, reply_parent,
};
use crate::id::{AuthorId, EventId};
use crate::log::{ForkEvidence, SamePosition, compare_position};
use crate::relations::Relation;
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// A [`Store`] that keeps everything in ordered maps. Flushing does nothing; nothing survives
/// the process.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    events: BTreeMap<EventId, VerifiedEvent>,
    logs: BTreeMap<(AuthorId, u64), Vec<EventId>>,
    states: BTreeMap<AuthorId, LogState>,
    timeline: BTreeSet<(Timestamp, EventId)>,
    replies: BTreeMap<EventId, Vec<EventId>>,
    tombstones: BTreeSet<(EventId, AuthorId)>,
    forks: BTreeSet<(AuthorId, u64)>,
    latest: BTreeMap<(AuthorId, crate::payload::Kind), (u64, EventId)>,
    references: BTreeSet<(EventId, Relation, AuthorId, TimelineCursor)>,
    terms: BTreeSet<(String, TimelineCursor)>,
    notifications: BTreeMap<u64, EventId>,
    settings: BTreeMap<String, Vec<u8>>,
    pool: Option<EventPool>,
    /// Whether `terms` is kept: one entry per word of every post is most of a post's cost in
    /// a store, and a simulated node is never searched.
    no_search_index: bool,
}

/// One copy of each event shared by many memory stores: a simulator's thousands of nodes hold
/// the same events, and without sharing their memory grows with nodes × events × event size.
///
/// Interning is by id, signature and payload presence, so a store always holds exactly the
/// event it was given (the id fixes header and payload; the signature is kept apart because an
/// author could sign the same header twice).
#[derive(Clone, Default)]
pub struct EventPool {
    events: std::sync::Arc<std::sync::Mutex<PooledEvents>>,
}

/// Events by (id, signature, payload held).
type PooledEvents = std::collections::HashMap<(EventId, [u8; 64], bool), VerifiedEvent>;

impl EventPool {
    /// An empty pool.
    pub fn new() -> EventPool {
        EventPool::default()
    }

    /// Distinct events held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn intern(&self, event: &VerifiedEvent) -> VerifiedEvent {
        let key = (
            event.id(),
            event.signature().0,
            event.payload_bytes().is_some(),
        );
        self.lock()
            .entry(key)
            .or_insert_with(|| event.clone())
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PooledEvents> {
        // Inserting is atomic from our side, so a poisoned lock still holds a sound map.
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for EventPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventPool({} events)", self.len())
    }
}

impl MemoryStore {
    fn references_range(
        &self,
        target: &EventId,
        relation: Relation,
    ) -> impl Iterator<Item = &(EventId, Relation, AuthorId, TimelineCursor)> {
        let (low, high) = (AuthorId([0; 32]), AuthorId([0xff; 32]));
        self.references.range(
            (*target, relation, low, TimelineCursor::MIN)
                ..=(*target, relation, high, TimelineCursor::MAX),
        )
    }

    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store that shares event bodies with every other store using `pool`.
    pub fn pooled(pool: EventPool) -> MemoryStore {
        MemoryStore {
            pool: Some(pool),
            ..MemoryStore::default()
        }
    }

    /// The same store without the search index ([`Store::search_seek`] then fails): for
    /// simulations, where nodes are never searched and words are most of a stored post's cost.
    pub fn without_search_index(mut self) -> MemoryStore {
        self.no_search_index = true;
        self
    }

    fn keep(&self, event: &VerifiedEvent) -> VerifiedEvent {
        match &self.pool {
            Some(pool) => pool.intern(event),
            None => event.clone(),
        }
    }

    /// Adds (or, with `add` false, drops) the indexes of an event's payload.
    fn index_payload(&mut self, event: &VerifiedEvent, add: bool) {
        let key = TimelineCursor {
            created_at: event.header().created_at,
            id: event.id(),
        };
        for (relation, target) in crate::relations::references_of(event) {
            let entry = (target, relation, event.author(), key);
            if add {
                self.references.insert(entry);
            } else {
                self.references.remove(&entry);
            }
        }
        if self.no_search_index {
            return;
        }
        for term in crate::search::terms_of(event) {
            if add {
                self.terms.insert((term, key));
            } else {
                self.terms.remove(&(term, key));
            }
        }
    }

    fn recompute_state(&mut self, author: &AuthorId) {
        let highest = self
            .logs
            .range((*author, 0)..=(*author, u64::MAX))
            .next_back()
            .map_or(0, |((_, seq), _)| *seq);
        let mut contiguous = 0;
        while contiguous < highest && self.logs.contains_key(&(*author, contiguous + 1)) {
            contiguous += 1;
        }
        if highest == 0 {
            self.states.remove(author);
        } else {
            self.states.insert(
                *author,
                LogState {
                    contiguous,
                    highest,
                },
            );
        }
    }
}

impl Store for MemoryStore {
    fn insert(&mut self, event: &VerifiedEvent) -> Result<Inserted, StoreError> {
        let id = event.id();
        if let Some(held) = self.events.get_mut(&id) {
            if held.payload_bytes().is_none() && event.payload_bytes().is_some() {
                let kept = self.keep(event);
                if let Some(held) = self.events.get_mut(&id) {
                    *held = kept;
                }
                if let Some(parent) = reply_parent(event) {
                    self.replies.entry(parent).or_default().push(id);
                }
                self.index_payload(event, true);
                return Ok(Inserted::PayloadFilled);
            }
            return Ok(Inserted::AlreadyHad);
        }
        let position = (event.author(), event.seq());
        let mut fork: Option<ForkEvidence> = None;
        if let Some(first) = self.logs.get(&position).and_then(|ids| ids.first())
            && let Some(held) = self.events.get(first)
            && let SamePosition::Fork(evidence) = compare_position(held, event)
        {
            fork = Some(*evidence);
        }
        let kept = self.keep(event);
        self.events.insert(id, kept);
        self.logs.entry(position).or_default().push(id);
        let latest = self
            .latest
            .entry((event.author(), event.kind()))
            .or_insert((0, id));
        if event.seq() >= latest.0 {
            *latest = (event.seq(), id);
        }
        if in_timeline(event) {
            self.timeline.insert((event.header().created_at, id));
        }
        if let Some(parent) = reply_parent(event) {
            self.replies.entry(parent).or_default().push(id);
        }
        self.index_payload(event, true);
        if fork.is_none() {
            // Advance incrementally: a full recount on every insert would make ingest quadratic.
            let state = self.states.entry(event.author()).or_default();
            state.highest = state.highest.max(event.seq());
            while state.contiguous < state.highest
                && self
                    .logs
                    .contains_key(&(event.author(), state.contiguous + 1))
            {
                state.contiguous += 1;
            }
        }
        match fork {
            Some(evidence) => {
                self.forks.insert(position);
                Ok(Inserted::Fork(Box::new(evidence)))
            }
            None => Ok(Inserted::New),
        }
    }

    fn event(&self, id: &EventId) -> Result<Option<VerifiedEvent>, StoreError> {
        Ok(self.events.get(id).cloned())
    }

    fn contains(&self, id: &EventId) -> Result<bool, StoreError> {
        Ok(self.events.contains_key(id))
    }

    fn ids_at(&self, author: &AuthorId, seq: u64) -> Result<Vec<EventId>, StoreError> {
        Ok(self.logs.get(&(*author, seq)).cloned().unwrap_or_default())
    }

    fn log(
        &self,
        author: &AuthorId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedEvent>, StoreError> {
        Ok(self
            .logs
            .range((*author, from_seq)..=(*author, u64::MAX))
            .filter_map(|(_, ids)| ids.first().and_then(|id| self.events.get(id)).cloned())
            .take(limit)
            .collect())
    }

    fn log_state(&self, author: &AuthorId) -> Result<LogState, StoreError> {
        Ok(self.states.get(author).copied().unwrap_or_default())
    }

    fn authors(&self) -> Result<Vec<AuthorId>, StoreError> {
        Ok(self.states.keys().copied().collect())
    }

    fn erase_payload(&mut self, id: &EventId) -> Result<bool, StoreError> {
        match self.events.get(id).cloned() {
            Some(event) if event.payload_bytes().is_some() => {
                self.index_payload(&event, false);
                self.events.insert(*id, event.without_payload());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn remove(&mut self, id: &EventId) -> Result<bool, StoreError> {
        let Some(event) = self.events.remove(id) else {
            return Ok(false);
        };
        self.index_payload(&event, false);
        let position = (event.author(), event.seq());
        if let Some(ids) = self.logs.get_mut(&position) {
            ids.retain(|held| held != id);
            if ids.is_empty() {
                self.logs.remove(&position);
            }
        }
        self.timeline.remove(&(event.header().created_at, *id));
        let key = (event.author(), event.kind());
        if self.latest.get(&key).is_some_and(|(_, held)| held == id) {
            // Fall back to the newest remaining event of that kind.
            let newest = self
                .events
                .values()
                .filter(|e| e.author() == key.0 && e.kind() == key.1)
                .max_by_key(|e| e.seq())
                .map(|e| (e.seq(), e.id()));
            match newest {
                Some(entry) => self.latest.insert(key, entry),
                None => self.latest.remove(&key),
            };
        }
        for children in self.replies.values_mut() {
            children.retain(|child| child != id);
        }
        self.recompute_state(&event.author());
        Ok(true)
    }

    fn add_tombstone(&mut self, id: &EventId, deleter: &AuthorId) -> Result<(), StoreError> {
        self.tombstones.insert((*id, *deleter));
        Ok(())
    }

    fn is_deleted(&self, id: &EventId, author: &AuthorId) -> Result<bool, StoreError> {
        Ok(self.tombstones.contains(&(*id, *author)))
    }

    fn timeline(
        &self,
        authors: &dyn Fn(&AuthorId) -> bool,
        before: Option<TimelineCursor>,
        limit: usize,
    ) -> Result<Vec<VerifiedEvent>, StoreError> {
        let upper = before.map(|c| (c.created_at, c.id));
        Ok(self
            .timeline
            .iter()
            .rev()
            .filter(|key| upper.is_none_or(|u| **key < u))
            .filter_map(|(_, id)| self.events.get(id))
            .filter(|e| authors(&e.author()))
            .take(limit)
            .cloned()
            .collect())
    }

    fn replies(&self, parent: &EventId) -> Result<Vec<EventId>, StoreError> {
        let mut ids = self.replies.get(parent).cloned().unwrap_or_default();
        ids.sort_by_key(|id| self.events.get(id).map(|e| (e.header().created_at, *id)));
        ids.dedup();
        Ok(ids)
    }

    fn references_by(
        &self,
        target: &EventId,
        relation: Relation,
        author: &AuthorId,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        Ok(self
            .references
            .range(
                (*target, relation, *author, TimelineCursor::MIN)
                    ..=(*target, relation, *author, TimelineCursor::MAX),
            )
            .rev()
            .take(limit)
            .map(|(_, _, _, key)| key.id)
            .collect())
    }

    fn reference_count(&self, target: &EventId, relation: Relation) -> Result<u64, StoreError> {
        Ok(self
            .references_range(target, relation)
            .take(REFERENCE_COUNT_MAX as usize)
            .count() as u64)
    }

    fn search_seek(
        &self,
        term: &str,
        upper: Bound<TimelineCursor>,
    ) -> Result<Option<TimelineCursor>, StoreError> {
        if self.no_search_index {
            return Err(StoreError::NoIndex("search"));
        }
        let low = Bound::Included((term.to_string(), TimelineCursor::MIN));
        let high = match upper {
            Bound::Unbounded => Bound::Included((term.to_string(), TimelineCursor::MAX)),
            Bound::Included(key) => Bound::Included((term.to_string(), key)),
            Bound::Excluded(key) => Bound::Excluded((term.to_string(), key)),
        };
        Ok(self
            .terms
            .range((low, high))
            .next_back()
            .map(|(_, key)| *key))
    }

    fn add_notification(&mut self, id: &EventId) -> Result<u64, StoreError> {
        let position = self.notifications.keys().next_back().map_or(1, |p| p + 1);
        self.notifications.insert(position, *id);
        if let Some(old) = position.checked_sub(NOTIFICATIONS_MAX) {
            self.notifications.remove(&old);
        }
        Ok(position)
    }

    fn notifications(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, EventId)>, StoreError> {
        Ok(self
            .notifications
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .take(limit)
            .map(|(p, id)| (*p, *id))
            .collect())
    }

    fn event_ids_in(
        &self,
        low: &EventId,
        high: &EventId,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        Ok(self
            .events
            .range(*low..=*high)
            .take(limit)
            .map(|(id, _)| *id)
            .collect())
    }

    fn forks(&self) -> Result<Vec<(AuthorId, u64)>, StoreError> {
        Ok(self.forks.iter().copied().collect())
    }

    fn latest_of_kind(
        &self,
        author: &AuthorId,
        kind: crate::payload::Kind,
    ) -> Result<Option<EventId>, StoreError> {
        Ok(self.latest.get(&(*author, kind)).map(|(_, id)| *id))
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        Ok(StoreCounts {
            events: self.events.len() as u64,
            authors: self.states.len() as u64,
            payloads: self
                .events
                .values()
                .filter(|e| e.payload_bytes().is_some())
                .count() as u64,
        })
    }

    fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.settings.get(name).cloned())
    }

    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.settings.insert(name.to_string(), value.to_vec());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        super::super::conformance::run_all(MemoryStore::new);
    }

    #[test]
    fn pooled_stores_pass_it_too_while_sharing_one_pool() {
        let pool = EventPool::new();
        super::super::conformance::run_all(|| MemoryStore::pooled(pool.clone()));
        assert!(!pool.is_empty(), "the stores shared the pool");
    }

    #[test]
    fn a_store_without_a_search_index_says_so_when_searched() {
        let store = MemoryStore::new().without_search_index();
        assert!(matches!(
            store.search(&["word".to_string()], None, 10),
            Err(StoreError::NoIndex("search"))
        ));
    }
}
