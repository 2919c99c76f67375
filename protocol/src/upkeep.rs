//! Connection upkeep: which peers to redial, when to look for new ones, and which idle
//! connections to let go, as a sans-IO state machine the engine embeds.
//!
//! A node must heal by itself: a connection lost while both sides stay up (a link down, a NAT
//! mapping expired) is redialled with exponential backoff for as long as the peer stays in the
//! bounded book of known peers; a node short of connections asks for a random walk (Kademlia in
//! the daemon, random picks in the simulator); and a node with more connections than it keeps
//! lets go of the ones that serve nothing it hosts. Decisions only: the driver dials, walks and
//! disconnects, and reports back.

use crate::time::Timestamp;
use std::collections::BTreeMap;

/// Tunables of connection upkeep.
#[derive(Clone, Debug)]
pub struct UpkeepConfig {
    /// Peers remembered for redialling; beyond this the least recently connected is forgotten.
    pub known_max: usize,
    /// Delay before the first redial of a lost peer, in milliseconds; doubled per failure.
    pub redial_initial_ms: u64,
    /// Longest delay between redials of one peer, in milliseconds.
    pub redial_max_ms: u64,
    /// Redials started per upkeep round at most.
    pub redials_per_round: usize,
    /// Below this many connections the node asks for a random walk.
    pub degree_min: usize,
    /// Least time between two random walks, in milliseconds.
    pub walk_interval_ms: u64,
    /// Above this many connections, idle ones (serving nothing hosted) are closed.
    pub connections_max: usize,
    /// How often upkeep runs, in milliseconds.
    pub round_ms: u64,
    /// A connection that lasted less than this, in milliseconds, counts as a failed dial when
    /// it closes: a peer that accepts and then drops us (full, or banning us) is not redialled
    /// every few seconds.
    pub stable_ms: u64,
}

impl Default for UpkeepConfig {
    fn default() -> UpkeepConfig {
        UpkeepConfig {
            known_max: 256,
            redial_initial_ms: 2_000,
            redial_max_ms: 120_000,
            redials_per_round: 8,
            degree_min: 4,
            walk_interval_ms: 60_000,
            connections_max: 96,
            round_ms: 1_000,
            stable_ms: 30_000,
        }
    }
}

/// What upkeep asks the driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpkeepAction<P> {
    /// Dial a known peer that is not connected.
    Redial(P),
    /// Find new peers (a DHT random walk).
    RandomWalk,
    /// Close the connection to an idle peer: the node holds more than it keeps.
    Disconnect(P),
}

#[derive(Clone, Debug)]
struct Known {
    connected: bool,
    /// When the current (or last) connection came up.
    connected_at: Timestamp,
    /// Failed redials in a row since the last connection.
    failures: u32,
    /// When the next redial is due (only when not connected).
    next_dial: Timestamp,
    /// The last time a connection to it was up, for forgetting the stalest first.
    last_connected: Timestamp,
}

/// The book of known peers and the upkeep schedule.
#[derive(Clone, Debug)]
pub struct Upkeep<P: Ord + Clone> {
    config: UpkeepConfig,
    known: BTreeMap<P, Known>,
    next_round: Timestamp,
    next_walk: Timestamp,
}

impl<P: Ord + Clone> Upkeep<P> {
    /// An empty book.
    pub fn new(config: UpkeepConfig, now: Timestamp) -> Upkeep<P> {
        Upkeep {
            config,
            known: BTreeMap::new(),
            next_round: now,
            next_walk: now,
        }
    }

    /// A peer worth keeping a connection to (configured, remembered from an earlier run,
    /// connected to on purpose, a host of a hosted author): redialled whenever it is not
    /// connected. Only these are in the book; peers that merely pass by (inbound, DHT
    /// contacts) are not, or every one of them would be redialled forever.
    pub fn add_known(&mut self, peer: P, connected: bool, now: Timestamp) {
        if let Some(entry) = self.known.get_mut(&peer) {
            if connected && !entry.connected {
                entry.connected = true;
                entry.connected_at = now;
            }
            return;
        }
        self.make_room();
        self.known.insert(
            peer,
            Known {
                connected,
                connected_at: now,
                failures: 0,
                next_dial: now,
                // A peer from an earlier run ranks as if last seen now: it is no staler than
                // the peers of this run.
                last_connected: now,
            },
        );
    }

    /// A connection to `peer` is up.
    pub fn connected(&mut self, peer: &P, now: Timestamp) {
        if let Some(entry) = self.known.get_mut(peer) {
            entry.connected = true;
            entry.connected_at = now;
            entry.last_connected = now;
        }
    }

    /// The last connection to `peer` closed: redial it after the initial delay if the
    /// connection had lasted, else back off as after a failed dial.
    pub fn disconnected(&mut self, peer: &P, now: Timestamp) {
        let config = &self.config;
        if let Some(entry) = self.known.get_mut(peer) {
            entry.connected = false;
            entry.last_connected = now;
            if now.0.saturating_sub(entry.connected_at.0) >= config.stable_ms {
                entry.failures = 0;
                entry.next_dial = now.saturating_add_millis(config.redial_initial_ms);
            } else {
                entry.failures = entry.failures.saturating_add(1);
                entry.next_dial = now.saturating_add_millis(backoff(config, entry.failures));
            }
        }
    }

    /// A dial to `peer` failed: back off further.
    pub fn dial_failed(&mut self, peer: &P, now: Timestamp) {
        if let Some(entry) = self.known.get_mut(peer)
            && !entry.connected
        {
            entry.failures = entry.failures.saturating_add(1);
            entry.next_dial = now.saturating_add_millis(backoff(&self.config, entry.failures));
        }
    }

    /// Forgets a peer (banned, or not one to redial).
    pub fn forget(&mut self, peer: &P) {
        self.known.remove(peer);
    }

    /// When the next upkeep round is due.
    pub fn next_round(&self) -> Timestamp {
        self.next_round
    }

    /// How many peers the book holds.
    pub fn known_len(&self) -> usize {
        self.known.len()
    }

    /// Runs a round if one is due. `idle` lists connected peers that serve nothing the node
    /// hosts, in the order to let them go when over the limit.
    pub fn round(
        &mut self,
        now: Timestamp,
        idle: impl IntoIterator<Item = P>,
        connections: usize,
    ) -> Vec<UpkeepAction<P>> {
        if now < self.next_round {
            return Vec::new();
        }
        self.next_round = now.saturating_add_millis(self.config.round_ms);
        let mut actions = Vec::new();
        if connections < self.config.connections_max {
            let room = self.config.connections_max - connections;
            let due: Vec<P> = self
                .known
                .iter()
                .filter(|(_, k)| !k.connected && k.next_dial <= now)
                .map(|(p, _)| p.clone())
                .take(self.config.redials_per_round.min(room))
                .collect();
            for peer in due {
                if let Some(entry) = self.known.get_mut(&peer) {
                    // Until the dial reports back, do not dial again; a dial that never
                    // reports (the driver dropped it) is retried after the backoff.
                    let wait = backoff(&self.config, entry.failures);
                    entry.next_dial = now.saturating_add_millis(wait);
                }
                actions.push(UpkeepAction::Redial(peer));
            }
        }
        if connections < self.config.degree_min && now >= self.next_walk {
            self.next_walk = now.saturating_add_millis(self.config.walk_interval_ms);
            actions.push(UpkeepAction::RandomWalk);
        }
        if connections > self.config.connections_max {
            let surplus = connections - self.config.connections_max;
            // Peers in the book are kept on purpose; letting one go would only redial it.
            let spare: Vec<P> = idle
                .into_iter()
                .filter(|p| !self.known.contains_key(p))
                .take(surplus)
                .collect();
            actions.extend(spare.into_iter().map(UpkeepAction::Disconnect));
        }
        actions
    }

    /// Forgets the disconnected peer connected least recently, if the book is full.
    fn make_room(&mut self) {
        if self.known.len() < self.config.known_max {
            return;
        }
        // The stalest disconnected peer; if every one is connected, the one connected longest
        // ago (it is still connected, just no longer redialled when lost).
        let stalest = self
            .known
            .iter()
            .min_by_key(|(_, k)| (k.connected, k.last_connected))
            .map(|(p, _)| p.clone());
        if let Some(peer) = stalest {
            self.known.remove(&peer);
        }
    }
}

/// The wait before redialling a peer after `failures` failed dials in a row.
fn backoff(config: &UpkeepConfig, failures: u32) -> u64 {
    config
        .redial_initial_ms
        .saturating_mul(1u64 << failures.min(16))
        .min(config.redial_max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> UpkeepConfig {
        UpkeepConfig {
            known_max: 3,
            redial_initial_ms: 1_000,
            redial_max_ms: 8_000,
            redials_per_round: 8,
            degree_min: 2,
            walk_interval_ms: 60_000,
            connections_max: 4,
            round_ms: 500,
            stable_ms: 30_000,
        }
    }

    fn redials(actions: &[UpkeepAction<u32>]) -> Vec<u32> {
        actions
            .iter()
            .filter_map(|a| match a {
                UpkeepAction::Redial(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_lost_peer_is_redialled_with_growing_backoff_until_it_connects() {
        let mut upkeep = Upkeep::new(config(), Timestamp(0));
        upkeep.add_known(7, true, Timestamp(0));
        upkeep.add_known(8, true, Timestamp(0));
        assert!(redials(&upkeep.round(Timestamp(0), [], 2)).is_empty());
        // Up for longer than `stable_ms`: redialled after the initial delay.
        upkeep.disconnected(&7, Timestamp(40_000));
        assert!(redials(&upkeep.round(Timestamp(40_500), [], 1)).is_empty());
        assert_eq!(redials(&upkeep.round(Timestamp(41_000), [], 1)), vec![7]);
        // Failures double the wait, up to the maximum.
        let mut at = 41_000;
        let mut waits = Vec::new();
        for _ in 0..5 {
            upkeep.dial_failed(&7, Timestamp(at));
            let mut t = at;
            loop {
                t += 500;
                if redials(&upkeep.round(Timestamp(t), [], 1)) == vec![7] {
                    break;
                }
            }
            waits.push(t - at);
            at = t;
        }
        assert_eq!(waits, vec![2_000, 4_000, 8_000, 8_000, 8_000]);
        upkeep.connected(&7, Timestamp(at));
        assert!(redials(&upkeep.round(Timestamp(at + 100_000), [], 2)).is_empty());
    }

    #[test]
    fn a_peer_that_drops_us_at_once_is_redialled_with_backoff_not_every_round() {
        let mut upkeep = Upkeep::new(config(), Timestamp(0));
        upkeep.add_known(7, false, Timestamp(0));
        let mut at = 0;
        let mut gaps = Vec::new();
        let mut last = 0;
        for _ in 0..4 {
            // Dialled, connected, dropped a moment later.
            loop {
                at += 500;
                if redials(&upkeep.round(Timestamp(at), [], 1)) == vec![7] {
                    break;
                }
            }
            gaps.push(at - last);
            last = at;
            upkeep.connected(&7, Timestamp(at + 10));
            upkeep.disconnected(&7, Timestamp(at + 20));
        }
        // After the first dial, each short-lived connection doubles the wait (2 s, 4 s, 8 s).
        assert!(
            gaps[1] >= 2_000 && gaps[2] > gaps[1] && gaps[3] > gaps[2] && gaps[3] >= 8_000,
            "backoff grows: {gaps:?}"
        );
        // A connection that lasted resets the backoff.
        upkeep.connected(&7, Timestamp(at + 100));
        upkeep.disconnected(&7, Timestamp(at + 100 + 30_000));
        let next = at + 100 + 30_000 + 1_000;
        assert_eq!(redials(&upkeep.round(Timestamp(next), [], 1)), vec![7]);
    }

    #[test]
    fn only_peers_added_on_purpose_are_redialled() {
        let mut upkeep: Upkeep<u32> = Upkeep::new(config(), Timestamp(0));
        upkeep.connected(&9, Timestamp(0));
        upkeep.disconnected(&9, Timestamp(100_000));
        assert!(redials(&upkeep.round(Timestamp(200_000), [], 1)).is_empty());
    }

    #[test]
    fn the_book_is_bounded_and_forgets_the_stalest_disconnected_peer() {
        let mut upkeep = Upkeep::new(config(), Timestamp(0));
        for (peer, at) in [(1, 100), (2, 200), (3, 300)] {
            upkeep.add_known(peer, true, Timestamp(0));
            upkeep.disconnected(&peer, Timestamp(at));
        }
        upkeep.add_known(4, false, Timestamp(400));
        assert_eq!(upkeep.known_len(), 3);
        let due = redials(&upkeep.round(Timestamp(10_000), [], 0));
        assert_eq!(due, vec![2, 3, 4], "peer 1 was the stalest");
    }

    #[test]
    fn a_short_node_walks_and_a_crowded_one_lets_idle_peers_go() {
        let mut upkeep: Upkeep<u32> = Upkeep::new(config(), Timestamp(0));
        let actions = upkeep.round(Timestamp(0), [], 1);
        assert!(actions.contains(&UpkeepAction::RandomWalk));
        // Not again before the walk interval.
        let actions = upkeep.round(Timestamp(1_000), [], 1);
        assert!(!actions.contains(&UpkeepAction::RandomWalk));
        let actions = upkeep.round(Timestamp(2_000), [5, 6, 7], 6);
        assert_eq!(
            actions,
            vec![UpkeepAction::Disconnect(5), UpkeepAction::Disconnect(6)]
        );
    }
}
