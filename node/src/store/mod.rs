//! The sled-backed [`Store`]: the node's durable copy of every event it hosts.
//!
//! Every write that touches several trees runs in one sled transaction, so a crash (even
//! kill -9) leaves either all of an insert or none of it; [`Store::flush`] makes it durable. The
//! trees and their keys (integers big-endian so byte order is numeric order):
//!
//! ```text
//! events     id                      -> envelope bytes (header, signature, payload if held)
//! logs       author ‖ seq            -> ids held at that position, 32 bytes each, arrival order
//! states     author                  -> contiguous ‖ highest
//! timeline   created_at ‖ id         -> author              (posts and reposts)
//! replies    parent ‖ created_at ‖ id -> ()
//! deletions  id ‖ deleter            -> ()                   (tombstones, kept forever)
//! forks      author ‖ seq            -> ()
//! latest     author ‖ kind           -> seq ‖ id          (newest event of each kind)
//! meta       "events" | "payloads"   -> u64 counters
//!            "format"                -> u32 layout version (see `format`)
//! settings   name                    -> bytes
//! peers      multiaddr               -> last connected (ms)  (dialled again at start)
//! ```
//!
//! and the indexes of the social features (references, search terms, notifications) described
//! in [`indexes`]. Those are written in one atomic batch per tree just before an insert's
//! transaction (see [`Store::insert_batch`] here) and erased inside the erasing transaction.

use handbill_protocol::event::SignedEvent;
use handbill_protocol::log::{SamePosition, compare_position};
use handbill_protocol::payload::Kind;
use handbill_protocol::relations::Relation;
use handbill_protocol::store::{
    Inserted, LogState, NOTIFICATIONS_MAX, REFERENCE_COUNT_MAX, Store, StoreCounts, StoreError,
    TimelineCursor, in_timeline, reply_parent,
};
use handbill_protocol::{AuthorId, CheckedEvent, EventId, Timestamp, VerifiedEvent};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Transactional, Tree};
use std::ops::Bound;
use std::path::Path;

mod format;
mod indexes;

/// Memory sled may use for its page cache: small, because an idle node should stay small and
/// the OS page cache does the rest.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The node's store on disk.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    events: Tree,
    logs: Tree,
    states: Tree,
    timeline: Tree,
    replies: Tree,
    deletions: Tree,
    forks: Tree,
    latest: Tree,
    references: Tree,
    terms: Tree,
    notifications: Tree,
    meta: Tree,
    settings: Tree,
    peers: Tree,
}

fn backend(e: sled::Error) -> StoreError {
    match &e {
        sled::Error::Io(io) if is_disk_full(io) => StoreError::Full,
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Whether an IO error means the disk (or the quota) is full. sled then refuses every write
/// until the daemon restarts, which is what a full disk should do: refuse, and keep what was
/// written.
fn is_disk_full(e: &std::io::Error) -> bool {
    // ENOSPC and EDQUOT on Linux.
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(28 | 122))
}

fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => backend(e),
    }
}

fn key_pos(author: &AuthorId, seq: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&author.0);
    k[32..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn key_time(created_at: Timestamp, id: &EventId) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&created_at.0.to_be_bytes());
    k[8..].copy_from_slice(&id.0);
    k
}

fn key_reply(parent: &EventId, created_at: Timestamp, id: &EventId) -> [u8; 72] {
    let mut k = [0u8; 72];
    k[..32].copy_from_slice(&parent.0);
    k[32..].copy_from_slice(&key_time(created_at, id));
    k
}

fn key_kind(author: &AuthorId, kind: Kind) -> [u8; 34] {
    let mut k = [0u8; 34];
    k[..32].copy_from_slice(&author.0);
    k[32..].copy_from_slice(&kind.0.to_be_bytes());
    k
}

fn latest_value(seq: u64, id: &EventId) -> [u8; 40] {
    let mut v = [0u8; 40];
    v[..8].copy_from_slice(&seq.to_be_bytes());
    v[8..].copy_from_slice(&id.0);
    v
}

fn ids_of(bytes: &[u8]) -> Vec<EventId> {
    bytes
        .chunks_exact(32)
        .map(|c| {
            let mut id = [0u8; 32];
            id.copy_from_slice(c);
            EventId(id)
        })
        .collect()
}

fn state_of(bytes: Option<&[u8]>) -> LogState {
    match bytes {
        Some(b) if b.len() == 16 => {
            let mut c = [0u8; 8];
            let mut h = [0u8; 8];
            c.copy_from_slice(&b[..8]);
            h.copy_from_slice(&b[8..]);
            LogState {
                contiguous: u64::from_be_bytes(c),
                highest: u64::from_be_bytes(h),
            }
        }
        _ => LogState::default(),
    }
}

/// What an insert needs that can be worked out before the transaction (it may run more than
/// once on conflicts).
struct Prepared {
    bytes: Vec<u8>,
    timeline: bool,
    parent: Option<EventId>,
    has_payload: bool,
}

impl Prepared {
    fn of(event: &VerifiedEvent) -> Prepared {
        Prepared {
            bytes: event.encode(),
            timeline: in_timeline(event),
            parent: reply_parent(event),
            has_payload: event.payload_bytes().is_some(),
        }
    }
}

/// Counter changes of a batch, written once at its end.
#[derive(Default)]
struct Counts {
    events: i64,
    payloads: i64,
}

/// The trees an insert writes, inside one transaction.
struct InsertTrees<'a> {
    events: &'a TransactionalTree,
    logs: &'a TransactionalTree,
    states: &'a TransactionalTree,
    timeline: &'a TransactionalTree,
    replies: &'a TransactionalTree,
    forks: &'a TransactionalTree,
    latest: &'a TransactionalTree,
    references: &'a TransactionalTree,
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

impl InsertTrees<'_> {
    /// Adds one event and its indexes. Reads go through the transaction, so a batch sees its
    /// own earlier writes (a duplicate or a fork within one batch is recognised).
    fn insert(
        &self,
        event: &VerifiedEvent,
        p: &Prepared,
        counts: &mut Counts,
    ) -> TxResult<Inserted> {
        let id = event.id();
        let author = event.author();
        let seq = event.seq();
        let created_at = event.header().created_at;
        if let Some(old) = self.events.get(id.0)? {
            let old_has_payload = decode_stored(&old)
                .map_err(ConflictableTransactionError::Abort)?
                .payload_bytes()
                .is_some();
            if !old_has_payload && p.has_payload {
                self.events.insert(&id.0, p.bytes.as_slice())?;
                counts.payloads += 1;
                if let Some(parent) = p.parent {
                    self.replies
                        .insert(&key_reply(&parent, created_at, &id)[..], &[])?;
                }
                indexes::write_references(self.references, event)?;
                return Ok(Inserted::PayloadFilled);
            }
            return Ok(Inserted::AlreadyHad);
        }
        self.events.insert(&id.0, p.bytes.as_slice())?;
        counts.events += 1;
        if p.has_payload {
            counts.payloads += 1;
        }
        let pos = key_pos(&author, seq);
        let mut ids = self.logs.get(pos)?.map(|v| v.to_vec()).unwrap_or_default();
        let first_held = ids_of(&ids).first().copied();
        ids.extend_from_slice(&id.0);
        self.logs.insert(&pos[..], ids)?;
        let mut outcome = Inserted::New;
        match first_held {
            None => {
                let mut state = state_of(self.states.get(author.0)?.as_deref());
                state.highest = state.highest.max(seq);
                while state.contiguous < state.highest
                    && self
                        .logs
                        .get(key_pos(&author, state.contiguous + 1))?
                        .is_some()
                {
                    state.contiguous += 1;
                }
                self.states.insert(&author.0, &state_bytes(state))?;
            }
            Some(first) => {
                self.forks.insert(&pos[..], &[])?;
                if let Some(held) = self.events.get(first.0)? {
                    let held = decode_stored(&held).map_err(ConflictableTransactionError::Abort)?;
                    if let SamePosition::Fork(evidence) = compare_position(&held, event) {
                        outcome = Inserted::Fork(evidence);
                    }
                }
            }
        }
        if p.timeline {
            self.timeline
                .insert(&key_time(created_at, &id)[..], &author.0)?;
        }
        let kind_key = key_kind(&author, event.kind());
        let newer = self.latest.get(kind_key)?.is_none_or(|v| {
            <[u8; 8]>::try_from(&v[..8]).map_or(true, |s| u64::from_be_bytes(s) <= seq)
        });
        if newer {
            self.latest
                .insert(&kind_key[..], &latest_value(seq, &id)[..])?;
        }
        if let Some(parent) = p.parent {
            self.replies
                .insert(&key_reply(&parent, created_at, &id)[..], &[])?;
        }
        if p.has_payload {
            indexes::write_references(self.references, event)?;
        }
        Ok(outcome)
    }
}

fn state_bytes(state: LogState) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&state.contiguous.to_be_bytes());
    b[8..].copy_from_slice(&state.highest.to_be_bytes());
    b
}

fn counter(
    tree: &TransactionalTree,
    name: &str,
) -> Result<u64, sled::transaction::UnabortableTransactionError> {
    Ok(tree
        .get(name)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes))
}

fn bump(
    tree: &TransactionalTree,
    name: &str,
    delta: i64,
) -> Result<(), sled::transaction::UnabortableTransactionError> {
    let value = counter(tree, name)?.saturating_add_signed(delta);
    tree.insert(name, &value.to_be_bytes())?;
    Ok(())
}

/// Decodes stored bytes; they were verified before they were written, so only structure and
/// payload are re-checked (no signature work, no clock bound). A payload that no longer passes
/// (a kind an older build stored as opaque bytes and this build checks, e.g. an invalid edit)
/// is read as not held: the header still verifies, and the store stays readable.
fn decode_stored(bytes: &[u8]) -> Result<VerifiedEvent, StoreError> {
    let mut event = SignedEvent::decode(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    match CheckedEvent::check(event.clone(), Timestamp(u64::MAX)) {
        Ok(checked) => Ok(checked.assume_verified_from_own_store()),
        Err(_) if event.payload.is_some() => {
            event.payload = None;
            CheckedEvent::check(event, Timestamp(u64::MAX))
                .map(CheckedEvent::assume_verified_from_own_store)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

impl SledStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(backend)?;
        format::migrate(&db)?;
        let tree = |name: &str| db.open_tree(name).map_err(backend);
        Ok(SledStore {
            events: tree("events")?,
            logs: tree("logs")?,
            states: tree("states")?,
            timeline: tree("timeline")?,
            replies: tree("replies")?,
            deletions: tree("deletions")?,
            forks: tree("forks")?,
            latest: tree("latest")?,
            references: tree("references")?,
            terms: tree("terms")?,
            notifications: tree("notifications")?,
            meta: tree("meta")?,
            settings: tree("settings")?,
            peers: tree("peers")?,
            db,
        })
    }
}

/// Peer addresses remembered across restarts.
pub const KNOWN_PEERS_MAX: usize = 64;

impl SledStore {
    /// Remembers a peer address this node connected to, so a restart can reconnect without
    /// help; keeps the [`KNOWN_PEERS_MAX`] most recent.
    pub fn remember_peer(&self, addr: &str, now: Timestamp) -> Result<(), StoreError> {
        self.peers
            .insert(addr.as_bytes(), &now.0.to_be_bytes())
            .map_err(backend)?;
        if self.peers.len() > KNOWN_PEERS_MAX {
            let mut all = self.known_peers_with_times()?;
            all.sort_by_key(|(_, t)| *t);
            for (addr, _) in all.iter().take(all.len() - KNOWN_PEERS_MAX) {
                self.peers.remove(addr.as_bytes()).map_err(backend)?;
            }
        }
        Ok(())
    }

    /// Remembered peer addresses, most recent first.
    pub fn known_peers(&self) -> Result<Vec<String>, StoreError> {
        let mut all = self.known_peers_with_times()?;
        all.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
        Ok(all.into_iter().map(|(a, _)| a).collect())
    }

    fn known_peers_with_times(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.peers
            .iter()
            .map(|entry| {
                let (k, v) = entry.map_err(backend)?;
                let t = <[u8; 8]>::try_from(v.as_ref()).map_or(0, u64::from_be_bytes);
                Ok((String::from_utf8_lossy(&k).into_owned(), t))
            })
            .collect()
    }
}

impl Store for SledStore {
    fn insert(&mut self, event: &VerifiedEvent) -> Result<Inserted, StoreError> {
        let mut inserted = self.insert_batch(std::slice::from_ref(event))?;
        inserted
            .pop()
            .ok_or_else(|| StoreError::Backend("a batch of one inserted nothing".into()))
    }

    /// One sled transaction for the whole batch: one commit's worth of locking and logging
    /// instead of one per event, which is most of what an insert costs.
    ///
    /// The payloads' search postings are written first, in one atomic batch outside the
    /// transaction: per-key transactional writes of a few dozen postings per post cost a
    /// quarter of ingest more. A crash between the two leaves postings of events not stored,
    /// which match nothing (results are read from stored payloads) and are rewritten, keys
    /// being idempotent, when the event arrives again; never a stored payload without its
    /// postings. References (at most two per event) are written inside the transaction, and
    /// erasing stays transactional with the payload.
    fn insert_batch(&mut self, batch: &[VerifiedEvent]) -> Result<Vec<Inserted>, StoreError> {
        let prepared: Vec<Prepared> = batch.iter().map(Prepared::of).collect();
        self.terms
            .apply_batch(indexes::posting_batch(batch))
            .map_err(backend)?;
        (
            &self.events,
            &self.logs,
            &self.states,
            &self.timeline,
            &self.replies,
            &self.forks,
            &self.latest,
            &self.references,
            &self.meta,
        )
            .transaction(
                |(events, logs, states, tl, replies, forks, latest, references, meta)| {
                    let trees = InsertTrees {
                        events,
                        logs,
                        states,
                        timeline: tl,
                        replies,
                        forks,
                        latest,
                        references,
                    };
                    let mut counts = Counts::default();
                    let outcomes = batch
                        .iter()
                        .zip(&prepared)
                        .map(|(event, p)| trees.insert(event, p, &mut counts))
                        .collect::<Result<Vec<_>, _>>()?;
                    bump(meta, "events", counts.events)?;
                    bump(meta, "payloads", counts.payloads)?;
                    Ok(outcomes)
                },
            )
            .map_err(tx_error)
    }

    fn event(&self, id: &EventId) -> Result<Option<VerifiedEvent>, StoreError> {
        self.events
            .get(id.0)
            .map_err(backend)?
            .map(|b| decode_stored(&b))
            .transpose()
    }

    fn contains(&self, id: &EventId) -> Result<bool, StoreError> {
        self.events.contains_key(id.0).map_err(backend)
    }

    fn ids_at(&self, author: &AuthorId, seq: u64) -> Result<Vec<EventId>, StoreError> {
        Ok(self
            .logs
            .get(key_pos(author, seq))
            .map_err(backend)?
            .map(|v| ids_of(&v))
            .unwrap_or_default())
    }

    fn log(
        &self,
        author: &AuthorId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<VerifiedEvent>, StoreError> {
        let mut out = Vec::new();
        for entry in self
            .logs
            .range(key_pos(author, from_seq)..=key_pos(author, u64::MAX))
        {
            if out.len() >= limit {
                break;
            }
            let (_, ids) = entry.map_err(backend)?;
            if let Some(first) = ids_of(&ids).first()
                && let Some(event) = self.event(first)?
            {
                out.push(event);
            }
        }
        Ok(out)
    }

    fn log_state(&self, author: &AuthorId) -> Result<LogState, StoreError> {
        Ok(state_of(
            self.states.get(author.0).map_err(backend)?.as_deref(),
        ))
    }

    fn authors(&self) -> Result<Vec<AuthorId>, StoreError> {
        self.states
            .iter()
            .keys()
            .map(|k| {
                let k = k.map_err(backend)?;
                <[u8; 32]>::try_from(k.as_ref())
                    .map(AuthorId)
                    .map_err(|_| StoreError::Corrupt("author key is not 32 bytes".into()))
            })
            .collect()
    }

    fn erase_payload(&mut self, id: &EventId) -> Result<bool, StoreError> {
        let Some(event) = self.event(id)? else {
            return Ok(false);
        };
        if event.payload_bytes().is_none() {
            return Ok(false);
        }
        let bare = event.without_payload().encode();
        (&self.events, &self.references, &self.terms, &self.meta)
            .transaction(|(events, references, terms, meta)| {
                events.insert(&id.0, bare.as_slice())?;
                indexes::write_payload_indexes(references, terms, &event, false)?;
                bump(meta, "payloads", -1)?;
                Ok(())
            })
            .map_err(tx_error)?;
        Ok(true)
    }

    fn remove(&mut self, id: &EventId) -> Result<bool, StoreError> {
        let Some(event) = self.event(id)? else {
            return Ok(false);
        };
        let author = event.author();
        let seq = event.seq();
        let created_at = event.header().created_at;
        let parent = reply_parent(&event);
        let had_payload = event.payload_bytes().is_some();
        (
            &self.events,
            &self.logs,
            &self.states,
            &self.timeline,
            &self.replies,
            &self.references,
            &self.terms,
            &self.meta,
        )
            .transaction(
                |(events, logs, states, tl, replies, references, terms, meta)| {
                    events.remove(&id.0)?;
                    indexes::write_payload_indexes(references, terms, &event, false)?;
                    bump(meta, "events", -1)?;
                    if had_payload {
                        bump(meta, "payloads", -1)?;
                    }
                    let pos = key_pos(&author, seq);
                    let remaining: Vec<u8> = logs
                        .get(pos)?
                        .map(|v| ids_of(&v))
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|held| held != id)
                        .flat_map(|held| held.0)
                        .collect();
                    if remaining.is_empty() {
                        logs.remove(&pos[..])?;
                        let mut state = state_of(states.get(author.0)?.as_deref());
                        if seq <= state.contiguous {
                            state.contiguous = seq - 1;
                        }
                        if seq == state.highest {
                            let mut highest = seq - 1;
                            while highest > state.contiguous
                                && logs.get(key_pos(&author, highest))?.is_none()
                            {
                                highest -= 1;
                            }
                            state.highest = highest;
                        }
                        if state.highest == 0 {
                            states.remove(&author.0)?;
                        } else {
                            states.insert(&author.0, &state_bytes(state))?;
                        }
                    } else {
                        logs.insert(&pos[..], remaining)?;
                    }
                    tl.remove(&key_time(created_at, id)[..])?;
                    if let Some(p) = parent {
                        replies.remove(&key_reply(&p, created_at, id)[..])?;
                    }
                    Ok(())
                },
            )
            .map_err(tx_error)?;
        let kind_key = key_kind(&author, event.kind());
        let pointed_here = self
            .latest
            .get(kind_key)
            .map_err(backend)?
            .is_some_and(|v| v.len() == 40 && v[8..] == id.0);
        if pointed_here {
            // Rare (host policy removals): scan the log backwards for the next newest.
            let mut replacement = None;
            for entry in self
                .logs
                .range(key_pos(&author, 0)..=key_pos(&author, u64::MAX))
                .rev()
            {
                let (_, ids) = entry.map_err(backend)?;
                if let Some(first) = ids_of(&ids).first()
                    && let Some(e) = self.event(first)?
                    && e.kind() == event.kind()
                {
                    replacement = Some(latest_value(e.seq(), &e.id()));
                    break;
                }
            }
            match replacement {
                Some(v) => self.latest.insert(kind_key, &v[..]).map_err(backend)?,
                None => self.latest.remove(kind_key).map_err(backend)?,
            };
        }
        Ok(true)
    }

    fn add_tombstone(&mut self, id: &EventId, deleter: &AuthorId) -> Result<(), StoreError> {
        self.deletions
            .insert(format::deletion_key(id, deleter), &[])
            .map_err(backend)?;
        Ok(())
    }

    fn is_deleted(&self, id: &EventId, author: &AuthorId) -> Result<bool, StoreError> {
        self.deletions
            .contains_key(format::deletion_key(id, author))
            .map_err(backend)
    }

    fn timeline(
        &self,
        authors: &dyn Fn(&AuthorId) -> bool,
        before: Option<TimelineCursor>,
        limit: usize,
    ) -> Result<Vec<VerifiedEvent>, StoreError> {
        let iter = match before {
            Some(c) => self.timeline.range(..key_time(c.created_at, &c.id)),
            None => self.timeline.iter(),
        };
        let mut out = Vec::new();
        for entry in iter.rev() {
            if out.len() >= limit {
                break;
            }
            let (key, author) = entry.map_err(backend)?;
            let Ok(author) = <[u8; 32]>::try_from(author.as_ref()).map(AuthorId) else {
                continue;
            };
            if !authors(&author) {
                continue;
            }
            let mut id = [0u8; 32];
            id.copy_from_slice(&key[8..40]);
            if let Some(event) = self.event(&EventId(id))? {
                out.push(event);
            }
        }
        Ok(out)
    }

    fn replies(&self, parent: &EventId) -> Result<Vec<EventId>, StoreError> {
        self.replies
            .scan_prefix(parent.0)
            .keys()
            .map(|k| {
                let k = k.map_err(backend)?;
                let mut id = [0u8; 32];
                id.copy_from_slice(&k[40..72]);
                Ok(EventId(id))
            })
            .collect()
    }

    fn references_by(
        &self,
        target: &EventId,
        relation: Relation,
        author: &AuthorId,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        self.references
            .scan_prefix(indexes::reference_prefix_by(target, relation, author))
            .keys()
            .rev()
            .take(limit)
            .map(|k| {
                let k = k.map_err(backend)?;
                indexes::cursor_at_end(&k)
                    .map(|at| at.id)
                    .ok_or_else(|| StoreError::Corrupt("a reference key is too short".into()))
            })
            .collect()
    }

    fn reference_count(&self, target: &EventId, relation: Relation) -> Result<u64, StoreError> {
        let mut count = 0;
        for key in self
            .references
            .scan_prefix(indexes::reference_prefix(target, relation))
            .keys()
            .take(REFERENCE_COUNT_MAX as usize)
        {
            key.map_err(backend)?;
            count += 1;
        }
        Ok(count)
    }

    fn search_seek(
        &self,
        term: &str,
        upper: Bound<TimelineCursor>,
    ) -> Result<Option<TimelineCursor>, StoreError> {
        indexes::seek(&self.terms, term, upper)
    }

    fn add_notification(&mut self, id: &EventId) -> Result<u64, StoreError> {
        let last = self
            .notifications
            .last()
            .map_err(backend)?
            .and_then(|(k, _)| <[u8; 8]>::try_from(k.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        let position = last + 1;
        self.notifications
            .insert(position.to_be_bytes(), &id.0)
            .map_err(backend)?;
        if let Some(old) = position.checked_sub(NOTIFICATIONS_MAX) {
            self.notifications
                .remove(old.to_be_bytes())
                .map_err(backend)?;
        }
        Ok(position)
    }

    fn notifications(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, EventId)>, StoreError> {
        self.notifications
            .range(..before.unwrap_or(u64::MAX).to_be_bytes())
            .rev()
            .take(limit)
            .map(|entry| {
                let (k, v) = entry.map_err(backend)?;
                match (
                    <[u8; 8]>::try_from(k.as_ref()),
                    <[u8; 32]>::try_from(v.as_ref()),
                ) {
                    (Ok(p), Ok(id)) => Ok((u64::from_be_bytes(p), EventId(id))),
                    _ => Err(StoreError::Corrupt("a notification is malformed".into())),
                }
            })
            .collect()
    }

    fn event_ids_in(
        &self,
        low: &EventId,
        high: &EventId,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        self.events
            .range(low.0..=high.0)
            .keys()
            .take(limit)
            .map(|k| {
                <[u8; 32]>::try_from(k.map_err(backend)?.as_ref())
                    .map(EventId)
                    .map_err(|_| StoreError::Corrupt("an event key is not 32 bytes".into()))
            })
            .collect()
    }

    fn forks(&self) -> Result<Vec<(AuthorId, u64)>, StoreError> {
        self.forks
            .iter()
            .keys()
            .map(|k| {
                let k = k.map_err(backend)?;
                let mut a = [0u8; 32];
                a.copy_from_slice(&k[..32]);
                let mut s = [0u8; 8];
                s.copy_from_slice(&k[32..40]);
                Ok((AuthorId(a), u64::from_be_bytes(s)))
            })
            .collect()
    }

    fn latest_of_kind(&self, author: &AuthorId, kind: Kind) -> Result<Option<EventId>, StoreError> {
        Ok(self
            .latest
            .get(key_kind(author, kind))
            .map_err(backend)?
            .filter(|v| v.len() == 40)
            .map(|v| {
                let mut id = [0u8; 32];
                id.copy_from_slice(&v[8..]);
                EventId(id)
            }))
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        let read = |name: &str| -> Result<u64, StoreError> {
            Ok(self
                .meta
                .get(name)
                .map_err(backend)?
                .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                .map_or(0, u64::from_be_bytes))
        };
        Ok(StoreCounts {
            events: read("events")?,
            authors: self.states.len() as u64,
            payloads: read("payloads")?,
        })
    }

    fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .settings
            .get(name)
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.settings.insert(name, value).map_err(backend)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.db.flush().map_err(backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handbill_protocol::store::conformance;

    #[test]
    fn sled_store_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let counter = std::cell::Cell::new(0);
        conformance::run_all(|| {
            counter.set(counter.get() + 1);
            SledStore::open(&dir.path().join(counter.get().to_string())).unwrap()
        });
    }

    #[test]
    fn known_peers_are_bounded_and_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for i in 0..(KNOWN_PEERS_MAX as u64 + 10) {
            store
                .remember_peer(&format!("/ip4/127.0.0.1/tcp/{i}"), Timestamp(i))
                .unwrap();
        }
        let peers = store.known_peers().unwrap();
        assert_eq!(peers.len(), KNOWN_PEERS_MAX);
        assert_eq!(
            peers[0],
            format!("/ip4/127.0.0.1/tcp/{}", KNOWN_PEERS_MAX + 9)
        );
    }

    #[test]
    fn flushed_events_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let events = conformance::chain(1, 5, 1000);
        {
            let mut store = SledStore::open(dir.path()).unwrap();
            for e in &events {
                store.insert(e).unwrap();
            }
            store.put_setting("x", b"y").unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.log(&events[0].author(), 1, 10).unwrap(), events);
        assert_eq!(store.counts().unwrap().events, 5);
        assert_eq!(store.setting("x").unwrap(), Some(b"y".to_vec()));
    }

    #[test]
    fn a_version_2_store_gets_its_search_index_on_opening() {
        let dir = tempfile::tempdir().unwrap();
        let events = conformance::chain(2, 3, 1000);
        {
            let mut store = SledStore::open(dir.path()).unwrap();
            store.insert_batch(&events).unwrap();
            // As a version 2 build left it: no index trees, format 2.
            store.db.drop_tree("terms").unwrap();
            store.db.drop_tree("references").unwrap();
            store.meta.insert("format", &2u32.to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let hits = store.search(&["post".to_string()], None, 10).unwrap();
        assert_eq!(hits.len(), 3);
    }

    #[test]
    fn a_stored_payload_this_build_no_longer_accepts_reads_as_not_held() {
        // An older build stored unknown kinds as opaque bytes; this one checks kind 12 (edits).
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let post = &conformance::chain(3, 1, 1000)[0];
        let mut event = SignedEvent::decode(&post.encode()).unwrap();
        event.header.kind = Kind::EDIT;
        let id = event.header.id();
        store.events.insert(id.0, event.encode()).unwrap();
        let read = store.event(&id).unwrap().expect("held");
        assert!(read.payload_bytes().is_none());
        assert_eq!(read.kind(), Kind::EDIT);
    }
}
