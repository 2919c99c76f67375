//! What misbehaviour costs a peer. Every offence (an invalid gossip message, invalid events in
//! a range response, an answer that does not match its question) lowers the peer's application
//! score, which gossipsub weighs into its peer score, so a repeat offender is graylisted; enough
//! offences within a window ban the peer: disconnected and refused until the ban ends.
//!
//! Offences are counted per peer, not per address: an attacker with fresh identities pays the
//! handshake for each, and each is banned as quickly.

use crate::time::Timestamp;
use std::collections::BTreeMap;

/// How misbehaviour is counted and punished.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReputationLimits {
    /// Offences within [`ReputationLimits::window_ms`] that ban a peer. An honest peer commits
    /// none: its node validated everything it forwards, and routing and new kinds are designed
    /// so that no honest version rejects another's messages. More than one leaves room for a
    /// fluke; not many more, because gossipsub graylists an invalid sender after a few
    /// messages and then drops its messages unseen, so later offences are never counted.
    pub offences_before_ban: u32,
    /// How long an offence counts, in milliseconds.
    pub window_ms: u64,
    /// How long a ban lasts, in milliseconds.
    pub ban_ms: u64,
    /// Application score per offence in the window (gossipsub multiplies it by its
    /// `app_specific_weight`).
    pub score_per_offence: f64,
    /// Peers tracked at once; beyond it, the records with the oldest offences are forgotten
    /// (banned peers are kept).
    pub peers_max: usize,
}

impl Default for ReputationLimits {
    fn default() -> Self {
        ReputationLimits {
            offences_before_ban: 3,
            window_ms: 10 * 60 * 1000,
            ban_ms: 10 * 60 * 1000,
            score_per_offence: -2.0,
            peers_max: 4096,
        }
    }
}

/// What an offence did to the peer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Penalty {
    /// The peer's application score now.
    pub score: f64,
    /// Set when this offence banned the peer: the ban ends then.
    pub banned_until: Option<Timestamp>,
}

#[derive(Clone, Debug)]
struct Record {
    /// Offences since `since`.
    offences: u32,
    /// Start of the current window.
    since: Timestamp,
    banned_until: Option<Timestamp>,
}

/// Offences and bans per peer.
#[derive(Clone, Debug)]
pub struct Reputation<P> {
    limits: ReputationLimits,
    peers: BTreeMap<P, Record>,
}

impl<P: Ord + Clone> Reputation<P> {
    /// No offences yet.
    pub fn new(limits: ReputationLimits) -> Self {
        Reputation {
            limits,
            peers: BTreeMap::new(),
        }
    }

    /// Records one offence by `peer`.
    pub fn offend(&mut self, peer: &P, now: Timestamp) -> Penalty {
        if !self.peers.contains_key(peer) && self.peers.len() >= self.limits.peers_max {
            self.forget_oldest();
        }
        let limits = self.limits;
        let record = self.peers.entry(peer.clone()).or_insert(Record {
            offences: 0,
            since: now,
            banned_until: None,
        });
        if now.0.saturating_sub(record.since.0) > limits.window_ms {
            record.offences = 0;
            record.since = now;
        }
        record.offences = record.offences.saturating_add(1);
        let mut banned_until = None;
        if record.offences >= limits.offences_before_ban && record.banned_until.is_none() {
            let until = now.saturating_add_millis(limits.ban_ms);
            record.banned_until = Some(until);
            banned_until = Some(until);
        }
        Penalty {
            score: f64::from(record.offences) * limits.score_per_offence,
            banned_until,
        }
    }

    /// Whether `peer` is banned now.
    pub fn is_banned(&self, peer: &P, now: Timestamp) -> bool {
        self.peers
            .get(peer)
            .and_then(|r| r.banned_until)
            .is_some_and(|until| now < until)
    }

    /// When the next ban ends, if any peer is banned.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.peers.values().filter_map(|r| r.banned_until).min()
    }

    /// Ends the bans that are over, returning those peers (their record starts afresh).
    pub fn expire(&mut self, now: Timestamp) -> Vec<P> {
        let ended: Vec<P> = self
            .peers
            .iter()
            .filter(|(_, r)| r.banned_until.is_some_and(|until| now >= until))
            .map(|(p, _)| p.clone())
            .collect();
        for peer in &ended {
            self.peers.remove(peer);
        }
        ended
    }

    fn forget_oldest(&mut self) {
        let oldest = self
            .peers
            .iter()
            .filter(|(_, r)| r.banned_until.is_none())
            .min_by_key(|(_, r)| r.since)
            .map(|(p, _)| p.clone());
        if let Some(peer) = oldest {
            self.peers.remove(&peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_offence_costs_score_and_repeats_ban_until_the_ban_ends() {
        let limits = ReputationLimits::default();
        let mut rep = Reputation::new(limits);
        let t = Timestamp(1_000);
        let first = rep.offend(&7u32, t);
        assert_eq!(first.score, limits.score_per_offence);
        assert_eq!(first.banned_until, None);
        let mut last = first;
        for _ in 1..limits.offences_before_ban {
            last = rep.offend(&7u32, t);
        }
        let until = last.banned_until.expect("banned on the last offence");
        assert!(rep.is_banned(&7, t));
        assert!(!rep.is_banned(&8, t));
        assert_eq!(rep.next_expiry(), Some(until));
        assert!(rep.expire(t).is_empty());
        assert_eq!(rep.expire(until), vec![7]);
        assert!(!rep.is_banned(&7, until));
    }

    #[test]
    fn offences_outside_the_window_are_forgiven() {
        let limits = ReputationLimits::default();
        let mut rep = Reputation::new(limits);
        for i in 0..u64::from(limits.offences_before_ban) * 3 {
            let p = rep.offend(&1u32, Timestamp(i * (limits.window_ms + 1)));
            assert_eq!(p.banned_until, None);
        }
    }

    #[test]
    fn the_number_of_tracked_peers_is_bounded() {
        let limits = ReputationLimits {
            peers_max: 10,
            ..ReputationLimits::default()
        };
        let mut rep = Reputation::new(limits);
        for peer in 0..100u32 {
            rep.offend(&peer, Timestamp(u64::from(peer)));
        }
        assert_eq!(rep.peers.len(), 10);
    }
}
