//! Whether other nodes can reach this one, which relays a node behind NAT keeps reservations
//! on, and which of a node's addresses are worth sharing: the decisions of NAT traversal, fed by
//! the daemon with AutoNAT outcomes, identify results and reservation events.
//!
//! AutoNAT v2 tests one address at a time: a server dials the address back, and only a dial
//! that arrives with the right nonce confirms it. So a confirmation cannot be forged, while a
//! failure can (a hostile server simply does not dial). One confirmed address therefore makes a
//! node public, and "behind NAT" needs every tested address to have failed; the worst a lying
//! server achieves is that a public node also reserves relay slots it does not need. A node
//! has several candidate addresses (one per listening port and transport that peers observed),
//! and it is behind NAT only once every candidate it knows has failed.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::time::Timestamp;

/// What a node knows of its own reachability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    /// At least one address was confirmed by a dial-back: others can connect here.
    Public,
    /// Every tested address failed its dial-back: others reach this node only through relays
    /// (or a hole punched from both sides).
    BehindNat,
    /// Nothing tested yet (no AutoNAT server among the peers this node dialled).
    Unknown,
}

impl fmt::Display for Reachability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reachability::Public => "public",
            Reachability::BehindNat => "behind NAT",
            Reachability::Unknown => "unknown",
        })
    }
}

/// What a dial-back test said of one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Test {
    Untested,
    Failed,
    Confirmed,
}

/// Dial-back outcomes per address, and the verdict they give. Addresses are whatever the
/// caller uses (multiaddr text in the daemon). At most [`ReachabilityTracker::ADDRESSES_MAX`]
/// are remembered, oldest failures forgotten first: peers report the addresses they observe,
/// and a hostile one can report any number.
#[derive(Clone, Debug)]
pub struct ReachabilityTracker<A: Ord + Clone> {
    /// Addresses peers observed this node at, oldest first, with their test outcome.
    addresses: Vec<(A, Test)>,
    /// When the current verdict was first reached.
    since: Option<Timestamp>,
    verdict: Reachability,
}

impl<A: Ord + Clone> Default for ReachabilityTracker<A> {
    fn default() -> Self {
        ReachabilityTracker {
            addresses: Vec::new(),
            since: None,
            verdict: Reachability::Unknown,
        }
    }
}

impl<A: Ord + Clone> ReachabilityTracker<A> {
    /// Most addresses remembered.
    pub const ADDRESSES_MAX: usize = 64;

    /// Sets `addr`'s outcome, making room when it is new: the oldest failure goes first, then
    /// the oldest untested address; confirmed ones are never dropped.
    fn set(&mut self, addr: A, test: Test) {
        if let Some((_, t)) = self.addresses.iter_mut().find(|(a, _)| *a == addr) {
            // A confirmation stands against later failures (which a lying server can fake).
            if *t != Test::Confirmed || test == Test::Confirmed {
                *t = test;
            }
            return;
        }
        if self.addresses.len() >= Self::ADDRESSES_MAX {
            let victim = self
                .addresses
                .iter()
                .position(|(_, t)| *t == Test::Failed)
                .or_else(|| {
                    self.addresses
                        .iter()
                        .position(|(_, t)| *t == Test::Untested)
                });
            match victim {
                Some(i) => {
                    self.addresses.remove(i);
                }
                None => return,
            }
        }
        self.addresses.push((addr, test));
    }

    /// Peers observed this node at `addr`: it will be tested. Returns whether the verdict
    /// changed (an unknown one stays unknown until this candidate is tested too).
    pub fn candidate(&mut self, addr: A, now: Timestamp) -> bool {
        if !self.addresses.iter().any(|(a, _)| *a == addr) {
            self.set(addr, Test::Untested);
        }
        self.update(now)
    }

    /// A dial-back to `addr` arrived: it is reachable. Returns whether the verdict changed.
    pub fn confirmed(&mut self, addr: A, now: Timestamp) -> bool {
        self.set(addr, Test::Confirmed);
        self.update(now)
    }

    /// A dial-back to `addr` failed. Returns whether the verdict changed.
    pub fn failed(&mut self, addr: A, now: Timestamp) -> bool {
        self.set(addr, Test::Failed);
        self.update(now)
    }

    /// A confirmed address stopped being valid (the listener closed, the swarm expired it).
    /// Returns whether the verdict changed.
    pub fn expired(&mut self, addr: &A, now: Timestamp) -> bool {
        self.addresses
            .retain(|(a, t)| !(a == addr && *t == Test::Confirmed));
        self.update(now)
    }

    fn update(&mut self, now: Timestamp) -> bool {
        let confirmed = self.addresses.iter().any(|(_, t)| *t == Test::Confirmed);
        let all_failed =
            !self.addresses.is_empty() && self.addresses.iter().all(|(_, t)| *t == Test::Failed);
        let verdict = if confirmed {
            Reachability::Public
        } else if all_failed || self.verdict == Reachability::BehindNat {
            // A candidate seen later (another transport's port) does not make a node behind
            // NAT unsure again: only a confirmation changes that verdict.
            Reachability::BehindNat
        } else {
            Reachability::Unknown
        };
        let changed = verdict != self.verdict;
        if changed {
            self.verdict = verdict;
            self.since = Some(now);
        }
        changed
    }

    /// The verdict.
    pub fn verdict(&self) -> Reachability {
        self.verdict
    }

    /// When the verdict was reached (`None` while it is the initial "unknown").
    pub fn since(&self) -> Option<Timestamp> {
        self.since
    }

    /// The confirmed addresses.
    pub fn confirmed_addresses(&self) -> impl Iterator<Item = &A> {
        self.addresses
            .iter()
            .filter(|(_, t)| *t == Test::Confirmed)
            .map(|(a, _)| a)
    }
}

/// Whether a confirmation of `addr` (multiaddr text) says this node is reachable from the
/// internet. A private, link-local or loopback address confirmed by a neighbour on the same
/// LAN says nothing of the NAT in front of it.
pub fn confirms_public(addr: &str) -> bool {
    !matches!(
        address_kind(addr, false),
        AddressKind::Lan | AddressKind::Loopback | AddressKind::Relayed
    )
}

/// How many relays a node behind NAT keeps reservations on: more than one, so that losing a
/// relay does not make it unreachable, and few, since each costs a relay a slot.
pub const RELAYS_WANTED: usize = 2;

/// How long a relay that refused or dropped a reservation is left alone at first; it doubles
/// with each further failure up to [`RELAY_RETRY_MAX_MS`].
pub const RELAY_RETRY_MS: u64 = 30_000;

/// The longest wait before asking a failing relay again.
pub const RELAY_RETRY_MAX_MS: u64 = 60 * 60 * 1000;

/// Relays (peers known to offer circuit relay v2) a reservation candidate can hold.
const RELAY_CANDIDATES_MAX: usize = 64;

/// A reservation held this long ends the relay's record of failures: a relay that refuses or
/// drops reservations soon after granting them keeps backing off instead.
pub const RELAY_TRUSTED_AFTER_MS: u64 = 10 * 60 * 1000;

/// The state of this node's reservation on one relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Offered by the relay, not asked for.
    Idle,
    /// Asked for, no answer yet.
    Asked,
    /// The relay holds a slot for this node, since this time.
    Held { since: Timestamp },
    /// Refused or lost; not asked again before `retry_at`.
    Failed { retry_at: Timestamp },
}

impl Slot {
    fn busy(&self) -> bool {
        matches!(self, Slot::Asked | Slot::Held { .. })
    }
}

/// What [`RelayPlan::decide`] wants done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayAction<P> {
    /// Ask this relay for a reservation.
    Reserve(P),
}

/// Which relays to keep reservations on: while the node is behind NAT, [`RELAYS_WANTED`] of the
/// connected peers that offer relaying, oldest offer first, skipping those that failed recently.
/// A reservation is kept until its relay drops it or disconnects, even if the node turns out to
/// be public: a spare relayed address costs little, and libp2p's relay client cannot withdraw a
/// reservation safely while its renewal is in flight.
#[derive(Clone, Debug)]
pub struct RelayPlan<P: Ord + Clone> {
    /// Connected relays in the order they were first seen offering, with their slot state.
    relays: Vec<(P, Slot)>,
    /// Failures per relay and when it may be asked again, kept across disconnections.
    failures: BTreeMap<P, (Timestamp, u32)>,
}

impl<P: Ord + Clone> Default for RelayPlan<P> {
    fn default() -> Self {
        RelayPlan {
            relays: Vec::new(),
            failures: BTreeMap::new(),
        }
    }
}

impl<P: Ord + Clone> RelayPlan<P> {
    /// A directly connected peer says it offers relaying (identify lists the hop protocol).
    pub fn offered(&mut self, relay: P) {
        if self.relays.iter().any(|(p, _)| *p == relay) || self.relays.len() >= RELAY_CANDIDATES_MAX
        {
            return;
        }
        let slot = match self.failures.get(&relay) {
            Some(&(retry_at, _)) => Slot::Failed { retry_at },
            None => Slot::Idle,
        };
        self.relays.push((relay, slot));
    }

    /// The peer is no longer directly connected.
    pub fn gone(&mut self, relay: &P) {
        self.relays.retain(|(p, _)| p != relay);
    }

    /// Whether a reservation on `relay` is held or asked for.
    pub fn is_busy(&self, relay: &P) -> bool {
        self.relays.iter().any(|(p, s)| p == relay && s.busy())
    }

    /// The relay accepted (or renewed) the reservation.
    pub fn accepted(&mut self, relay: &P, now: Timestamp) {
        if let Some((_, slot)) = self.relays.iter_mut().find(|(p, _)| p == relay)
            && !matches!(slot, Slot::Held { .. })
        {
            *slot = Slot::Held { since: now };
        }
    }

    /// The relay refused the reservation or it ended: not asked again for a while, longer
    /// with each failure, unless the reservation had lasted [`RELAY_TRUSTED_AFTER_MS`].
    pub fn failed(&mut self, relay: &P, now: Timestamp) {
        let held_long = self.relays.iter().any(|(p, s)| {
            p == relay
                && matches!(s, Slot::Held { since } if now.0.saturating_sub(since.0) >= RELAY_TRUSTED_AFTER_MS)
        });
        let before = if held_long {
            0
        } else {
            self.failures.get(relay).map_or(0, |f| f.1)
        };
        let failures = before.saturating_add(1);
        let wait = RELAY_RETRY_MS
            .saturating_mul(1 << (failures - 1).min(20))
            .min(RELAY_RETRY_MAX_MS);
        let retry_at = Timestamp(now.0.saturating_add(wait));
        if self.failures.len() >= RELAY_CANDIDATES_MAX
            && !self.failures.contains_key(relay)
            && let Some(oldest) = self.failures.keys().next().cloned()
        {
            self.failures.remove(&oldest);
        }
        self.failures.insert(relay.clone(), (retry_at, failures));
        if let Some((_, slot)) = self.relays.iter_mut().find(|(p, _)| p == relay) {
            *slot = Slot::Failed { retry_at };
        }
    }

    /// The relays holding a reservation for this node.
    pub fn held(&self) -> impl Iterator<Item = &P> {
        self.relays
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Held { .. }))
            .map(|(p, _)| p)
    }

    fn wants_more(&self, reachability: Reachability) -> bool {
        reachability == Reachability::BehindNat
            && self.relays.iter().filter(|(_, s)| s.busy()).count() < RELAYS_WANTED
    }

    /// What to do now, given the node's reachability: ask relays while behind NAT and fewer
    /// than [`RELAYS_WANTED`] are held or asked. Marks the relays it asks, so each action is
    /// returned once.
    pub fn decide(&mut self, reachability: Reachability, now: Timestamp) -> Vec<RelayAction<P>> {
        let mut actions = Vec::new();
        if reachability != Reachability::BehindNat {
            return actions;
        }
        let mut busy = self.relays.iter().filter(|(_, s)| s.busy()).count();
        for (relay, slot) in &mut self.relays {
            if busy >= RELAYS_WANTED {
                break;
            }
            let ready = match slot {
                Slot::Idle => true,
                Slot::Failed { retry_at } => now >= *retry_at,
                Slot::Asked | Slot::Held { .. } => false,
            };
            if ready {
                *slot = Slot::Asked;
                busy += 1;
                actions.push(RelayAction::Reserve(relay.clone()));
            }
        }
        actions
    }

    /// When [`RelayPlan::decide`] will next have something to do: the earliest future retry,
    /// and only while more relays are wanted.
    pub fn next_retry(&self, reachability: Reachability, now: Timestamp) -> Option<Timestamp> {
        if !self.wants_more(reachability) {
            return None;
        }
        self.relays
            .iter()
            .filter_map(|(_, s)| match s {
                Slot::Failed { retry_at } if *retry_at > now => Some(*retry_at),
                _ => None,
            })
            .min()
    }
}

/// What kind of address an address is, best to share first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    /// Confirmed reachable from outside by an AutoNAT dial-back.
    Public,
    /// Through a relay that holds a reservation for this node.
    Relayed,
    /// A globally routable address nobody has confirmed yet.
    Unconfirmed,
    /// A private or link-local address: reachable on the same network.
    Lan,
    /// Loopback: this machine only.
    Loopback,
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressKind::Public => "public",
            AddressKind::Relayed => "relayed",
            AddressKind::Unconfirmed => "unconfirmed",
            AddressKind::Lan => "lan",
            AddressKind::Loopback => "loopback",
        })
    }
}

/// The kind of a multiaddr given as text (`/ip4/1.2.3.4/tcp/4701/p2p/…`); `confirmed` says
/// whether AutoNAT confirmed it.
pub fn address_kind(addr: &str, confirmed: bool) -> AddressKind {
    if addr.split('/').any(|part| part == "p2p-circuit") {
        return AddressKind::Relayed;
    }
    if confirmed {
        return AddressKind::Public;
    }
    let mut parts = addr.split('/').skip(1);
    let ip: Option<std::net::IpAddr> = match (parts.next(), parts.next()) {
        (Some("ip4" | "ip6"), Some(ip)) => ip.parse().ok(),
        _ => None,
    };
    match ip {
        Some(ip) if ip.is_loopback() => AddressKind::Loopback,
        Some(std::net::IpAddr::V4(v4))
            if v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                // Carrier-grade NAT (RFC 6598) is private to the provider.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64) =>
        {
            AddressKind::Lan
        }
        Some(std::net::IpAddr::V6(v6))
            if (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.is_unspecified() =>
        {
            AddressKind::Lan
        }
        Some(_) => AddressKind::Unconfirmed,
        // DNS names and the like: nothing says who can resolve them.
        None => AddressKind::Unconfirmed,
    }
}

/// `addrs` (text, with whether each is confirmed) ordered best to share first, each with its
/// kind; equal kinds keep their order, duplicates are dropped.
pub fn ranked_addresses(addrs: &[(String, bool)]) -> Vec<(String, AddressKind)> {
    let mut seen = BTreeSet::new();
    let mut ranked: Vec<(String, AddressKind)> = addrs
        .iter()
        .filter(|(a, _)| seen.insert(a.clone()))
        .map(|(a, confirmed)| (a.clone(), address_kind(a, *confirmed)))
        .collect();
    ranked.sort_by_key(|(_, kind)| *kind);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_000);

    #[test]
    fn one_confirmation_makes_a_node_public_and_failures_alone_put_it_behind_nat() {
        let mut t = ReachabilityTracker::<&str>::default();
        assert_eq!(t.verdict(), Reachability::Unknown);
        t.candidate("a", T0);
        t.candidate("b", T0);
        assert!(!t.failed("b", T0), "candidate a is not tested yet");
        assert_eq!(t.verdict(), Reachability::Unknown);
        assert!(t.failed("a", T0));
        assert_eq!(t.verdict(), Reachability::BehindNat);
        assert_eq!(t.since(), Some(T0));
        assert!(!t.failed("b", Timestamp(2_000)));
        assert!(
            !t.candidate("d", Timestamp(2_500)),
            "a new candidate leaves a node behind NAT until it is confirmed"
        );
        assert!(t.confirmed("c", Timestamp(3_000)));
        assert_eq!(t.verdict(), Reachability::Public);
        // A later lie about the confirmed address does not undo the confirmation.
        assert!(!t.failed("c", Timestamp(4_000)));
        assert_eq!(t.verdict(), Reachability::Public);
        assert!(t.expired(&"c", Timestamp(5_000)));
        assert_eq!(t.verdict(), Reachability::Unknown, "d is still untested");
        assert!(t.failed("d", Timestamp(6_000)));
        assert_eq!(t.verdict(), Reachability::BehindNat);
    }

    #[test]
    fn failures_from_a_symmetric_nat_are_bounded() {
        let mut t = ReachabilityTracker::<u32>::default();
        t.confirmed(u32::MAX, T0);
        for port in 0..10_000 {
            t.failed(port, T0);
            t.candidate(port + 20_000, T0);
        }
        assert_eq!(t.addresses.len(), ReachabilityTracker::<u32>::ADDRESSES_MAX);
        assert_eq!(t.confirmed_addresses().collect::<Vec<_>>(), vec![&u32::MAX]);
        assert!(confirms_public("/ip4/203.0.113.9/tcp/4701"));
        assert!(!confirms_public("/ip4/192.168.1.9/tcp/4701"));
    }

    #[test]
    fn behind_nat_a_node_reserves_on_two_relays_and_keeps_them() {
        let mut plan = RelayPlan::<u8>::default();
        for relay in [1, 2, 3] {
            plan.offered(relay);
        }
        assert!(plan.decide(Reachability::Unknown, T0).is_empty());
        assert_eq!(
            plan.decide(Reachability::BehindNat, T0),
            vec![RelayAction::Reserve(1), RelayAction::Reserve(2)]
        );
        assert!(plan.decide(Reachability::BehindNat, T0).is_empty());
        plan.accepted(&1, T0);
        plan.failed(&2, T0);
        assert_eq!(
            plan.decide(Reachability::BehindNat, T0),
            vec![RelayAction::Reserve(3)]
        );
        assert_eq!(
            plan.next_retry(Reachability::BehindNat, T0),
            None,
            "two are busy"
        );
        plan.gone(&1);
        // Relay 2 waits out its backoff; nobody else is left.
        assert!(plan.decide(Reachability::BehindNat, T0).is_empty());
        assert_eq!(
            plan.next_retry(Reachability::BehindNat, T0),
            Some(Timestamp(T0.0 + RELAY_RETRY_MS))
        );
        assert_eq!(plan.next_retry(Reachability::Public, T0), None);
        let later = Timestamp(T0.0 + RELAY_RETRY_MS);
        assert_eq!(
            plan.next_retry(Reachability::BehindNat, later),
            None,
            "a due retry is decide's to take, not a time to sleep until"
        );
        assert_eq!(
            plan.decide(Reachability::BehindNat, later),
            vec![RelayAction::Reserve(2)]
        );
        plan.accepted(&3, later);
        assert!(plan.decide(Reachability::Public, later).is_empty());
        assert_eq!(plan.held().collect::<Vec<_>>(), vec![&3]);
    }

    #[test]
    fn a_failing_relay_waits_longer_each_time_even_across_reconnections() {
        let mut plan = RelayPlan::<u8>::default();
        plan.offered(1);
        plan.failed(&1, T0);
        plan.failed(&1, T0);
        plan.gone(&1);
        plan.offered(1);
        plan.offered(2);
        plan.accepted(&2, T0);
        plan.failed(&2, T0);
        assert!(plan.decide(Reachability::BehindNat, T0).is_empty());
        assert_eq!(
            plan.next_retry(Reachability::BehindNat, T0),
            Some(Timestamp(T0.0 + RELAY_RETRY_MS)),
            "relay 2's first failure"
        );
        // A relay that grants and then drops at once keeps backing off.
        let t1 = Timestamp(T0.0 + RELAY_RETRY_MS);
        assert_eq!(
            plan.decide(Reachability::BehindNat, t1),
            vec![RelayAction::Reserve(2)]
        );
        plan.accepted(&2, t1);
        plan.failed(&2, t1);
        plan.gone(&1);
        assert_eq!(
            plan.next_retry(Reachability::BehindNat, t1),
            Some(Timestamp(t1.0 + 2 * RELAY_RETRY_MS))
        );
        // One that held the reservation a long time starts afresh.
        let t2 = Timestamp(t1.0 + 2 * RELAY_RETRY_MS);
        assert_eq!(
            plan.decide(Reachability::BehindNat, t2),
            vec![RelayAction::Reserve(2)]
        );
        plan.accepted(&2, t2);
        let t3 = Timestamp(t2.0 + RELAY_TRUSTED_AFTER_MS);
        plan.failed(&2, t3);
        assert_eq!(
            plan.next_retry(Reachability::BehindNat, t3),
            Some(Timestamp(t3.0 + RELAY_RETRY_MS))
        );
        for _ in 0..40 {
            plan.failed(&2, t3);
        }
        assert_eq!(
            plan.next_retry(Reachability::BehindNat, t3),
            Some(Timestamp(t3.0 + RELAY_RETRY_MAX_MS))
        );
    }

    #[test]
    fn addresses_rank_public_then_relayed_then_lan_then_loopback() {
        let addrs = [
            ("/ip4/127.0.0.1/tcp/4701/p2p/x".to_string(), false),
            ("/ip4/192.168.1.5/tcp/4701/p2p/x".to_string(), false),
            (
                "/ip4/203.0.113.7/tcp/4701/p2p/r/p2p-circuit/p2p/x".to_string(),
                true,
            ),
            ("/ip4/10.1.2.3/tcp/4701/p2p/x".to_string(), true),
            ("/ip4/8.8.8.8/udp/4701/quic-v1/p2p/x".to_string(), false),
            ("/ip6/fe80::1/tcp/4701/p2p/x".to_string(), false),
            ("/ip4/100.64.0.9/tcp/4701/p2p/x".to_string(), false),
        ];
        let kinds: Vec<AddressKind> = ranked_addresses(&addrs).into_iter().map(|r| r.1).collect();
        use AddressKind::*;
        assert_eq!(
            kinds,
            vec![Public, Relayed, Unconfirmed, Lan, Lan, Lan, Loopback]
        );
        assert_eq!(
            ranked_addresses(&addrs)[0].0,
            "/ip4/10.1.2.3/tcp/4701/p2p/x",
            "a confirmed private address is public: AutoNAT's word beats the IP range"
        );
    }
}
