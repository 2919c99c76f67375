//! The budget for events from strangers: authors the node does not host, whose events it keeps
//! only because they concern an author it does host (a reply, mention, quote, repost, reaction
//! or follow arriving on that author's topic).
//!
//! Without a bound, anyone could fill every node's disk by replying to a popular author. The
//! budget is counted per hosted topic and per clock hour: at most `per_author` events from one
//! stranger and at most `per_topic` from all strangers together; the excess is ignored (not
//! stored, not forwarded, no penalty, since an honest burst looks the same). Memory is bounded
//! too: a topic's per-stranger counts never hold more entries than its total allows.

use crate::id::AuthorId;
use crate::time::Timestamp;
use std::collections::BTreeMap;

const HOUR_MS: u64 = 3_600_000;

/// The limits, per hosted topic per clock hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrangerLimits {
    /// Most events stored from one stranger on one hosted topic. A person in a lively thread
    /// writes a few replies a minute at most; 60 an hour leaves room for that.
    pub per_author: u32,
    /// Most events stored from all strangers together on one hosted topic. A popular author
    /// gets thousands of honest replies and reactions a day, in bursts; 2,000 an hour covers a
    /// burst of that size while bounding what a flood of fresh keys can store (2,000 events of
    /// at most 64 KiB, 128 MiB an hour per hosted author in the worst case, far less in
    /// practice since events average a few hundred bytes).
    pub per_topic: u32,
}

impl Default for StrangerLimits {
    fn default() -> Self {
        StrangerLimits {
            per_author: 60,
            per_topic: 2_000,
        }
    }
}

/// One hosted topic's counts in the current hour.
#[derive(Clone, Debug, Default)]
struct TopicCounts {
    hour: u64,
    total: u32,
    per_author: BTreeMap<AuthorId, u32>,
}

/// Counts of stranger events admitted, per hosted topic, in the current hour.
#[derive(Clone, Debug, Default)]
pub struct StrangerBudget {
    limits: StrangerLimits,
    topics: BTreeMap<AuthorId, TopicCounts>,
}

impl StrangerBudget {
    /// An empty budget with these limits.
    pub fn new(limits: StrangerLimits) -> StrangerBudget {
        StrangerBudget {
            limits,
            topics: BTreeMap::new(),
        }
    }

    /// Whether one more event by `author` may be stored on hosted `topic` now; counts it if so.
    pub fn admit(&mut self, topic: AuthorId, author: AuthorId, now: Timestamp) -> bool {
        let hour = now.0 / HOUR_MS;
        let counts = self.topics.entry(topic).or_default();
        if counts.hour != hour {
            *counts = TopicCounts {
                hour,
                ..TopicCounts::default()
            };
        }
        if counts.total >= self.limits.per_topic {
            return false;
        }
        let mine = counts.per_author.entry(author).or_insert(0);
        if *mine >= self.limits.per_author {
            return false;
        }
        *mine += 1;
        counts.total += 1;
        true
    }

    /// Forgets topics no longer hosted, so the map is bounded by what the node hosts.
    pub fn retain_topics(&mut self, hosted: impl Fn(&AuthorId) -> bool) {
        self.topics.retain(|topic, _| hosted(topic));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: AuthorId = AuthorId([1; 32]);

    fn stranger(i: u8) -> AuthorId {
        AuthorId([i; 32])
    }

    #[test]
    fn one_stranger_is_capped_per_topic_per_hour() {
        let mut budget = StrangerBudget::new(StrangerLimits {
            per_author: 3,
            per_topic: 100,
        });
        let t = Timestamp(HOUR_MS * 10);
        let admitted = (0..10)
            .filter(|_| budget.admit(TOPIC, stranger(9), t))
            .count();
        assert_eq!(admitted, 3);
        assert!(
            budget.admit(TOPIC, stranger(8), t),
            "others are not affected"
        );
        assert!(
            budget.admit(TOPIC, stranger(9), Timestamp(HOUR_MS * 11)),
            "the next hour starts afresh"
        );
    }

    #[test]
    fn all_strangers_together_are_capped_per_topic() {
        let mut budget = StrangerBudget::new(StrangerLimits {
            per_author: 3,
            per_topic: 5,
        });
        let t = Timestamp(0);
        let admitted = (10..30)
            .filter(|i| budget.admit(TOPIC, stranger(*i), t))
            .count();
        assert_eq!(admitted, 5);
        assert!(
            budget.admit(AuthorId([2; 32]), stranger(50), t),
            "another topic has its own budget"
        );
        budget.retain_topics(|t| *t == TOPIC);
        assert_eq!(budget.topics.len(), 1);
    }
}
