//! The sled trees behind the social features, kept in the same transactions as the payloads
//! they index:
//!
//! ```text
//! references     target ‖ relation ‖ author ‖ created_at ‖ id -> ()   (replies, quotes, …)
//! terms          term ‖ 0x00 ‖ created_at ‖ id      -> ()   (search postings)
//! notifications  position                            -> id   (the node author's journal)
//! ```

use super::{TxResult, backend, key_time};
use handbill_protocol::relations::Relation;
use handbill_protocol::store::{TimelineCursor, payload_indexes};
use handbill_protocol::{AuthorId, EventId, Timestamp, VerifiedEvent};
use sled::transaction::TransactionalTree;
use std::ops::Bound;

/// The key of a reference from `author`'s event `(created_at, id)` to `target`.
pub fn reference_key(
    target: &EventId,
    relation: Relation,
    author: &AuthorId,
    created_at: Timestamp,
    id: &EventId,
) -> Vec<u8> {
    let mut key = reference_prefix_by(target, relation, author);
    key.extend_from_slice(&key_time(created_at, id));
    key
}

/// The prefix of every reference to `target` by `relation` from `author`'s events.
pub fn reference_prefix_by(target: &EventId, relation: Relation, author: &AuthorId) -> Vec<u8> {
    let mut key = reference_prefix(target, relation);
    key.reserve(72);
    key.extend_from_slice(&author.0);
    key
}

/// The prefix of every reference to `target` by `relation`.
pub fn reference_prefix(target: &EventId, relation: Relation) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.extend_from_slice(&target.0);
    key.push(relation.code());
    key
}

/// The key of a search posting.
pub fn term_key(term: &str, at: &TimelineCursor) -> Vec<u8> {
    let mut key = Vec::with_capacity(term.len() + 41);
    key.extend_from_slice(term.as_bytes());
    key.push(0);
    key.extend_from_slice(&key_time(at.created_at, &at.id));
    key
}

/// The (created_at, id) at the end of a posting or reference key.
pub fn cursor_at_end(key: &[u8]) -> Option<TimelineCursor> {
    let tail = key.len().checked_sub(40).map(|start| &key[start..])?;
    let created_at = <[u8; 8]>::try_from(&tail[..8]).ok()?;
    let id = <[u8; 32]>::try_from(&tail[8..]).ok()?;
    Some(TimelineCursor {
        created_at: Timestamp(u64::from_be_bytes(created_at)),
        id: EventId(id),
    })
}

/// Writes (or, with `add` false, removes) the indexes of an event's payload, inside the
/// transaction that writes or erases the payload itself.
pub fn write_payload_indexes(
    references: &TransactionalTree,
    terms: &TransactionalTree,
    event: &VerifiedEvent,
    add: bool,
) -> TxResult<()> {
    let at = TimelineCursor {
        created_at: event.header().created_at,
        id: event.id(),
    };
    let (refs, words) = payload_indexes(event);
    for (relation, target) in refs {
        let key = reference_key(&target, relation, &event.author(), at.created_at, &at.id);
        if add {
            references.insert(key, &[])?;
        } else {
            references.remove(key)?;
        }
    }
    for term in words {
        let key = term_key(&term, &at);
        if add {
            terms.insert(key, &[])?;
        } else {
            terms.remove(key)?;
        }
    }
    Ok(())
}

/// The search postings of every payload in `events`, as one batch.
pub fn posting_batch(events: &[VerifiedEvent]) -> sled::Batch {
    let mut terms = sled::Batch::default();
    for event in events.iter().filter(|e| e.payload_bytes().is_some()) {
        let at = TimelineCursor {
            created_at: event.header().created_at,
            id: event.id(),
        };
        for term in handbill_protocol::search::terms_of(event) {
            terms.insert(term_key(&term, &at), &[] as &[u8]);
        }
    }
    terms
}

/// Writes the references of an event's payload inside an insert's transaction.
pub fn write_references(references: &TransactionalTree, event: &VerifiedEvent) -> TxResult<()> {
    for (relation, target) in handbill_protocol::relations::references_of(event) {
        let key = reference_key(
            &target,
            relation,
            &event.author(),
            event.header().created_at,
            &event.id(),
        );
        references.insert(key, &[])?;
    }
    Ok(())
}

/// The newest posting of `term` within `upper`.
pub fn seek(
    terms: &sled::Tree,
    term: &str,
    upper: Bound<TimelineCursor>,
) -> Result<Option<TimelineCursor>, handbill_protocol::store::StoreError> {
    let low = term_key(term, &TimelineCursor::MIN);
    let last = match upper {
        Bound::Unbounded => terms
            .range(low..=term_key(term, &TimelineCursor::MAX))
            .next_back(),
        Bound::Included(at) => terms.range(low..=term_key(term, &at)).next_back(),
        Bound::Excluded(at) => terms.range(low..term_key(term, &at)).next_back(),
    };
    match last {
        Some(entry) => Ok(cursor_at_end(&entry.map_err(backend)?.0)),
        None => Ok(None),
    }
}
