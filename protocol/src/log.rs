//! An author's log: checking an event against its neighbours, and recognising forks.
//!
//! Each author has one append-only chain: `seq` counts up from 1 and `prev` names the event
//! before. Two different events at the same position are a fork, which only the author's key can
//! produce; both are kept as evidence and the author is flagged.

use crate::event::Header;
use crate::id::{AuthorId, EventId};
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;

/// Why an event does not follow the event given as its predecessor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The two events have different authors.
    #[error("predecessor is by another author")]
    AuthorMismatch,
    /// `seq` is not the predecessor's plus one.
    #[error("seq {found} does not follow {predecessor}")]
    SeqNotNext {
        /// The predecessor's seq.
        predecessor: u64,
        /// The event's seq.
        found: u64,
    },
    /// `prev` names a different event than the predecessor (a fork further back).
    #[error("prev {found:?} is not the predecessor {expected}")]
    PrevMismatch {
        /// The predecessor's id.
        expected: EventId,
        /// The event's `prev`.
        found: Option<EventId>,
    },
    /// The event is older than its predecessor; a log's times never go backwards.
    #[error("created_at {found} is before the predecessor's {predecessor}")]
    TimeWentBackwards {
        /// The predecessor's time.
        predecessor: Timestamp,
        /// The event's time.
        found: Timestamp,
    },
}

impl ChainError {
    /// A stable snake_case name for logs, APIs and conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::AuthorMismatch => "author_mismatch",
            ChainError::SeqNotNext { .. } => "seq_not_next",
            ChainError::PrevMismatch { .. } => "prev_mismatch",
            ChainError::TimeWentBackwards { .. } => "time_went_backwards",
        }
    }
}

/// Checks that `next` directly follows `predecessor` in one author's log.
pub fn check_successor(predecessor: &VerifiedEvent, next: &Header) -> Result<(), ChainError> {
    let p = predecessor.header();
    if p.author != next.author {
        return Err(ChainError::AuthorMismatch);
    }
    if p.seq.checked_add(1) != Some(next.seq) {
        return Err(ChainError::SeqNotNext {
            predecessor: p.seq,
            found: next.seq,
        });
    }
    if next.prev != Some(predecessor.id()) {
        return Err(ChainError::PrevMismatch {
            expected: predecessor.id(),
            found: next.prev,
        });
    }
    if next.created_at < p.created_at {
        return Err(ChainError::TimeWentBackwards {
            predecessor: p.created_at,
            found: next.created_at,
        });
    }
    Ok(())
}

/// Proof that an author signed two different events at the same position of their log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkEvidence {
    /// The author who forked.
    pub author: AuthorId,
    /// The contested position.
    pub seq: u64,
    /// The event known first.
    pub first: VerifiedEvent,
    /// The conflicting event.
    pub second: VerifiedEvent,
}

/// What a newly arrived event is, relative to one already held at the same author and seq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SamePosition {
    /// The same event again (perhaps with or without its payload).
    Duplicate,
    /// A different event at the same position.
    Fork(Box<ForkEvidence>),
    /// Not the same position at all (different author or seq).
    Unrelated,
}

/// Compares an arriving event with one already held.
pub fn compare_position(held: &VerifiedEvent, arriving: &VerifiedEvent) -> SamePosition {
    if held.author() != arriving.author() || held.seq() != arriving.seq() {
        return SamePosition::Unrelated;
    }
    if held.id() == arriving.id() {
        return SamePosition::Duplicate;
    }
    SamePosition::Fork(Box::new(ForkEvidence {
        author: held.author(),
        seq: held.seq(),
        first: held.clone(),
        second: arriving.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{Payload, Post};
    use crate::signature::AuthorKey;
    use crate::validate::sign_next;

    fn post(text: &str) -> Payload {
        Payload::Post(Post {
            text: text.into(),
            ..Post::default()
        })
    }

    #[test]
    fn successor_rules() {
        let key = AuthorKey::from_secret_bytes(&[1; 32]);
        let other = AuthorKey::from_secret_bytes(&[2; 32]);
        let t = Timestamp(1000);
        let first = sign_next(&key, None, t, &post("1")).unwrap();
        let second = sign_next(&key, Some(&first.head()), t, &post("2")).unwrap();
        assert_eq!(check_successor(&first, second.header()), Ok(()));
        assert!(matches!(
            check_successor(&second, first.header()),
            Err(ChainError::SeqNotNext { .. })
        ));
        let stranger = sign_next(&other, Some(&first.head()), t, &post("x")).unwrap();
        assert_eq!(
            check_successor(&first, stranger.header()),
            Err(ChainError::AuthorMismatch)
        );
        // A sibling of `first` makes a second candidate for seq 2 that names the wrong prev.
        let sibling = sign_next(&key, None, t, &post("1b")).unwrap();
        let wrong = sign_next(&key, Some(&sibling.head()), t, &post("2b")).unwrap();
        assert!(matches!(
            check_successor(&first, wrong.header()),
            Err(ChainError::PrevMismatch { .. })
        ));
        let mut backwards = *second.header();
        backwards.created_at = Timestamp(999);
        assert!(matches!(
            check_successor(&first, &backwards),
            Err(ChainError::TimeWentBackwards { .. })
        ));
    }

    #[test]
    fn forks_are_recognised() {
        let key = AuthorKey::from_secret_bytes(&[1; 32]);
        let a = sign_next(&key, None, Timestamp(1), &post("a")).unwrap();
        let b = sign_next(&key, None, Timestamp(1), &post("b")).unwrap();
        assert_eq!(
            compare_position(&a, &a.without_payload()),
            SamePosition::Duplicate
        );
        match compare_position(&a, &b) {
            SamePosition::Fork(evidence) => {
                assert_eq!(evidence.seq, 1);
                assert_eq!(evidence.second.id(), b.id());
            }
            other => panic!("expected a fork, got {other:?}"),
        }
        let c = sign_next(&key, Some(&a.head()), Timestamp(1), &post("c")).unwrap();
        assert_eq!(compare_position(&a, &c), SamePosition::Unrelated);
    }
}
