//! The labels in force: every subscribed feed's labels, indexed by what they label.
//!
//! A feed can label, relabel and retract (negate) over time; for each (feed, target, value) the
//! label with the highest `seq` in the feed's log wins, whatever order events arrive in, so two
//! nodes holding the same label events agree on what is in force. Retractions are remembered so a
//! late-arriving older label cannot resurrect a retracted one. Expiry is applied when evaluating,
//! against the time passed in.

use crate::id::{AuthorId, EventId};
use crate::payload::{Label, LabelTarget, Payload};
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;
use std::collections::BTreeMap;

/// What a label is attached to, as the index keys it. Event labels are keyed by event id alone:
/// the author inside a label's event reference is the labeller's claim, not a fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LabelSubject {
    /// One event.
    Event(EventId),
    /// An author and everything they post.
    Author(AuthorId),
}

impl From<&LabelTarget> for LabelSubject {
    fn from(target: &LabelTarget) -> Self {
        match target {
            LabelTarget::Event(r) => LabelSubject::Event(r.id),
            LabelTarget::Author(a) => LabelSubject::Author(*a),
        }
    }
}

/// The current state of one (feed, subject, value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelState {
    /// The feed that issued it.
    pub feed: AuthorId,
    /// The label value.
    pub value: String,
    /// Why, in the feed's words.
    pub reason: Option<String>,
    /// When it stops applying.
    pub expires_at: Option<Timestamp>,
    /// Retracted: kept so older labels arriving later stay overridden.
    pub negated: bool,
    /// Position of the deciding label event in the feed's log.
    pub seq: u64,
    /// The deciding label event.
    pub event: EventId,
}

impl LabelState {
    /// Whether this label applies at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        !self.negated && self.expires_at.is_none_or(|t| now < t)
    }
}

/// Labels by subject, for evaluation in time independent of how many labels exist.
#[derive(Clone, Debug, Default)]
pub struct LabelIndex {
    by_subject: BTreeMap<LabelSubject, Vec<LabelState>>,
    /// What each deciding label event labels, by feed and position in its log: a feed's labels
    /// newest first without walking everyone's.
    by_feed: BTreeMap<(AuthorId, u64), LabelSubject>,
    len: usize,
}

/// What [`LabelIndex::apply`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The label is now the deciding one for its (feed, subject, value).
    Updated,
    /// A newer label for the same (feed, subject, value) is already known.
    Superseded,
}

impl LabelIndex {
    /// An empty index.
    pub fn new() -> LabelIndex {
        LabelIndex::default()
    }

    /// How many (feed, subject, value) entries are held, retracted ones included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no labels are held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a label event, if `event` is one. Returns `None` for other kinds or a deleted payload.
    pub fn ingest(&mut self, event: &VerifiedEvent) -> Option<Applied> {
        match event.content()? {
            Payload::Label(label) => {
                Some(self.apply(event.author(), event.seq(), event.id(), label))
            }
            _ => None,
        }
    }

    /// Adds a label issued by `feed` at position `seq` of its log by event `event`.
    pub fn apply(&mut self, feed: AuthorId, seq: u64, event: EventId, label: &Label) -> Applied {
        let subject = LabelSubject::from(&label.target);
        let entries = self.by_subject.entry(subject).or_default();
        let state = LabelState {
            feed,
            value: label.value.clone(),
            reason: label.reason.clone(),
            expires_at: label.expires_at,
            negated: label.negate,
            seq,
            event,
        };
        match entries
            .iter_mut()
            .find(|s| s.feed == feed && s.value == label.value)
        {
            Some(existing) if existing.seq >= seq => Applied::Superseded,
            Some(existing) => {
                self.by_feed.remove(&(feed, existing.seq));
                self.by_feed.insert((feed, seq), subject);
                *existing = state;
                Applied::Updated
            }
            None => {
                // Kept sorted by (feed, value) so evaluation reports reasons in a stable order.
                let at = entries
                    .binary_search_by(|s| {
                        (s.feed, s.value.as_str()).cmp(&(feed, label.value.as_str()))
                    })
                    .unwrap_or_else(|i| i);
                entries.insert(at, state);
                self.by_feed.insert((feed, seq), subject);
                self.len += 1;
                Applied::Updated
            }
        }
    }

    /// Every label state on `subject`, retracted and expired ones included, ordered by feed and
    /// value.
    pub fn on(&self, subject: &LabelSubject) -> &[LabelState] {
        self.by_subject.get(subject).map_or(&[], Vec::as_slice)
    }

    /// The labels `feed` has in force at `now`, newest first (by position in its log), at most
    /// `limit`: what a reader sees before trusting a feed. Walks only this feed's labels, newest
    /// first, skipping retracted and expired ones.
    pub fn issued_by(
        &self,
        feed: &AuthorId,
        now: Timestamp,
        limit: usize,
    ) -> Vec<(LabelSubject, &LabelState)> {
        self.by_feed
            .range((*feed, 0)..=(*feed, u64::MAX))
            .rev()
            .filter_map(|((_, seq), subject)| {
                self.on(subject)
                    .iter()
                    .find(|s| s.feed == *feed && s.seq == *seq)
                    .map(|s| (*subject, s))
            })
            .filter(|(_, s)| s.in_force(now))
            .take(limit)
            .collect()
    }

    /// Drops every label issued by `feed` (after unsubscribing from it).
    pub fn remove_feed(&mut self, feed: &AuthorId) {
        let mut removed = 0;
        self.by_subject.retain(|_, entries| {
            let before = entries.len();
            entries.retain(|s| s.feed != *feed);
            removed += before - entries.len();
            !entries.is_empty()
        });
        self.by_feed.retain(|(f, _), _| f != feed);
        self.len -= removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(value: &str, negate: bool) -> Label {
        Label {
            target: LabelTarget::Author(AuthorId([9; 32])),
            value: value.into(),
            reason: None,
            expires_at: None,
            negate,
        }
    }

    #[test]
    fn newest_by_seq_wins_in_any_order() {
        let feed = AuthorId([1; 32]);
        let subject = LabelSubject::Author(AuthorId([9; 32]));
        let mut forward = LabelIndex::new();
        forward.apply(feed, 1, EventId([1; 32]), &label("spam", false));
        forward.apply(feed, 2, EventId([2; 32]), &label("spam", true));
        let mut backward = LabelIndex::new();
        assert_eq!(
            backward.apply(feed, 2, EventId([2; 32]), &label("spam", true)),
            Applied::Updated
        );
        assert_eq!(
            backward.apply(feed, 1, EventId([1; 32]), &label("spam", false)),
            Applied::Superseded
        );
        assert_eq!(forward.on(&subject), backward.on(&subject));
        assert!(!forward.on(&subject)[0].in_force(Timestamp(0)));
        assert_eq!(forward.len(), 1);
    }

    #[test]
    fn expiry_is_checked_at_evaluation_time() {
        let feed = AuthorId([1; 32]);
        let mut index = LabelIndex::new();
        let mut l = label("spam", false);
        l.expires_at = Some(Timestamp(100));
        index.apply(feed, 1, EventId([1; 32]), &l);
        let state = &index.on(&LabelSubject::Author(AuthorId([9; 32])))[0];
        assert!(state.in_force(Timestamp(99)));
        assert!(!state.in_force(Timestamp(100)));
    }

    #[test]
    fn a_feeds_labels_in_force_newest_first_and_bounded() {
        let (feed, other) = (AuthorId([1; 32]), AuthorId([2; 32]));
        let mut index = LabelIndex::new();
        let on = |n: u8, value: &str, negate: bool| Label {
            target: LabelTarget::Author(AuthorId([n; 32])),
            ..label(value, negate)
        };
        index.apply(feed, 1, EventId([1; 32]), &on(10, "spam", false));
        index.apply(feed, 2, EventId([2; 32]), &on(11, "scam", false));
        index.apply(feed, 3, EventId([3; 32]), &on(12, "spam", false));
        index.apply(feed, 4, EventId([4; 32]), &on(12, "spam", true));
        index.apply(other, 9, EventId([9; 32]), &on(10, "spam", false));
        let issued = index.issued_by(&feed, Timestamp(0), 10);
        let seqs: Vec<u64> = issued.iter().map(|(_, s)| s.seq).collect();
        assert_eq!(
            seqs,
            vec![2, 1],
            "retracted and other feeds' labels left out"
        );
        assert_eq!(issued[0].0, LabelSubject::Author(AuthorId([11; 32])));
        assert_eq!(index.issued_by(&feed, Timestamp(0), 1).len(), 1);
        index.apply(feed, 5, EventId([5; 32]), &on(10, "spam", false));
        let seqs: Vec<u64> = index
            .issued_by(&feed, Timestamp(0), 10)
            .iter()
            .map(|(_, s)| s.seq)
            .collect();
        assert_eq!(
            seqs,
            vec![5, 2],
            "a relabel replaces the label it overrides"
        );
        index.remove_feed(&feed);
        assert!(index.issued_by(&feed, Timestamp(0), 10).is_empty());
        assert_eq!(index.issued_by(&other, Timestamp(0), 10).len(), 1);
    }

    #[test]
    fn removing_a_feed_drops_its_labels_only() {
        let mut index = LabelIndex::new();
        index.apply(AuthorId([1; 32]), 1, EventId([1; 32]), &label("a", false));
        index.apply(AuthorId([2; 32]), 1, EventId([2; 32]), &label("a", false));
        index.remove_feed(&AuthorId([1; 32]));
        assert_eq!(index.len(), 1);
        let left = index.on(&LabelSubject::Author(AuthorId([9; 32])));
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].feed, AuthorId([2; 32]));
    }
}
