//! The node operator's policy: what this node refuses to store or relay.
//!
//! This is a different decision from a user's [`super::Verdict`]: it is about the operator's own
//! disk and bandwidth, not about what anyone sees. Refused events are ignored by gossip (neither
//! accepted nor penalised, since the sender did nothing invalid) and dropped from the store.

use super::labels::{LabelIndex, LabelSubject};
use crate::id::{AuthorId, EventId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What the operator refuses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPolicy {
    /// (feed, label value) pairs: events or authors carrying such a label are refused.
    pub refused_labels: BTreeSet<(AuthorId, String)>,
    /// Authors whose events are refused outright.
    pub blocked_authors: BTreeSet<AuthorId>,
}

/// The policy's decision about one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum HostDecision {
    /// Store and relay it.
    Carry,
    /// The author is blocked.
    RefuseAuthor {
        /// The blocked author.
        author: AuthorId,
    },
    /// A refused label applies to the event or its author.
    RefuseLabel {
        /// The feed that labelled it.
        feed: AuthorId,
        /// The label value.
        value: String,
    },
}

impl HostPolicy {
    /// Whether the node carries event `id` by `author`, given the labels it knows at `now`.
    pub fn decide(
        &self,
        id: EventId,
        author: AuthorId,
        labels: &LabelIndex,
        now: Timestamp,
    ) -> HostDecision {
        match self.decide_author(author, labels, now) {
            HostDecision::Carry => self.refused_label_on(LabelSubject::Event(id), labels, now),
            refused => refused,
        }
    }

    /// Whether the node carries anything by `author`: not blocked, no refused label on them.
    pub fn decide_author(
        &self,
        author: AuthorId,
        labels: &LabelIndex,
        now: Timestamp,
    ) -> HostDecision {
        if self.blocked_authors.contains(&author) {
            return HostDecision::RefuseAuthor { author };
        }
        self.refused_label_on(LabelSubject::Author(author), labels, now)
    }

    fn refused_label_on(
        &self,
        subject: LabelSubject,
        labels: &LabelIndex,
        now: Timestamp,
    ) -> HostDecision {
        if self.refused_labels.is_empty() {
            return HostDecision::Carry;
        }
        labels
            .on(&subject)
            .iter()
            .find(|s| s.in_force(now) && self.refused_labels.contains(&(s.feed, s.value.clone())))
            .map_or(HostDecision::Carry, |s| HostDecision::RefuseLabel {
                feed: s.feed,
                value: s.value.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{EventRef, Label, LabelTarget};

    #[test]
    fn refuses_blocked_authors_and_refused_labels_only() {
        let feed = AuthorId([1; 32]);
        let author = AuthorId([2; 32]);
        let post = EventId([3; 32]);
        let mut labels = LabelIndex::new();
        labels.apply(
            feed,
            1,
            EventId([4; 32]),
            &Label {
                target: LabelTarget::Event(EventRef { author, id: post }),
                value: "violence".into(),
                reason: None,
                expires_at: None,
                negate: false,
            },
        );
        let mut policy = HostPolicy::default();
        let now = Timestamp(0);
        assert_eq!(
            policy.decide(post, author, &labels, now),
            HostDecision::Carry
        );
        policy.refused_labels.insert((feed, "violence".into()));
        assert_eq!(
            policy.decide(post, author, &labels, now),
            HostDecision::RefuseLabel {
                feed,
                value: "violence".into()
            }
        );
        assert_eq!(
            policy.decide(EventId([5; 32]), author, &labels, now),
            HostDecision::Carry
        );
        policy.blocked_authors.insert(author);
        assert_eq!(
            policy.decide(EventId([5; 32]), author, &labels, now),
            HostDecision::RefuseAuthor { author }
        );
    }
}
