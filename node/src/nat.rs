//! NAT traversal as the daemon carries it out: AutoNAT outcomes into the reachability verdict,
//! relays offered by peers into reservations (listening on `/p2p-circuit` addresses), and the
//! direct-or-relayed state of each peer's connections. The decisions are the protocol crate's
//! (`handbill_protocol::reachability`); this keeps the libp2p handles they act on.

use handbill_protocol::Timestamp;
use handbill_protocol::api::{AddressView, ConnectionKind, ReachabilityView};
use handbill_protocol::reachability::{
    Reachability, ReachabilityTracker, RelayAction, RelayPlan, confirms_public, ranked_addresses,
};
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One open connection to a peer.
#[derive(Clone, Debug)]
struct Link {
    id: ConnectionId,
    remote: Multiaddr,
    relayed: bool,
}

/// What a change of connections means for the peer.
#[derive(Debug, PartialEq, Eq)]
pub struct LinkChange {
    /// Whether the peer is now reached only through relays.
    pub limited: bool,
    /// Relayed connections to close: a direct one now exists, and relays cap what a circuit
    /// carries.
    pub close: Vec<ConnectionId>,
}

/// The daemon's NAT state.
#[derive(Default)]
pub struct Nat {
    reachability: ReachabilityTracker<String>,
    plan: RelayPlan<PeerId>,
    /// Listeners on relays, to release a reservation and to tell which one ended.
    listeners: HashMap<ListenerId, PeerId>,
    listener_of: HashMap<PeerId, ListenerId>,
    /// Confirmed external addresses, relayed ones included (with `/p2p/` of this node).
    external: BTreeSet<String>,
    links: HashMap<PeerId, Vec<Link>>,
    /// Whether the relay service is switched on in the config.
    relay_service_configured: bool,
    /// Whether the relay service is offered now (it is while a public address is confirmed).
    relay_service_offered: bool,
}

/// Whether an address goes through a relay.
pub fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| p == Protocol::P2pCircuit)
}

impl Nat {
    /// A new state; `relay_service` says whether the config lets this node relay for others.
    pub fn new(relay_service: bool) -> Nat {
        Nat {
            relay_service_configured: relay_service,
            ..Nat::default()
        }
    }

    /// The reachability verdict.
    pub fn verdict(&self) -> Reachability {
        self.reachability.verdict()
    }

    /// Peers observed this node at `addr` (an AutoNAT candidate). Returns whether the verdict
    /// changed.
    pub fn candidate(&mut self, addr: &Multiaddr, now: Timestamp) -> bool {
        if !testable(addr) {
            return false;
        }
        self.reachability.candidate(addr.to_string(), now)
    }

    /// Whether the relay service should be offered now and is not, or the reverse: `Some(new
    /// state)` when it must change. Offered only while a direct address is confirmed (libp2p
    /// would also offer it on a relayed address, making a node behind NAT a relay).
    pub fn relay_service_change(&self) -> Option<bool> {
        let wanted =
            self.relay_service_configured && self.reachability.verdict() == Reachability::Public;
        (wanted != self.relay_service_offered).then_some(wanted)
    }

    /// An AutoNAT dial-back to `addr` failed. Returns whether the verdict changed.
    pub fn failed(&mut self, addr: &Multiaddr, now: Timestamp) -> bool {
        if !testable(addr) {
            return false;
        }
        self.reachability.failed(addr.to_string(), now)
    }

    /// The swarm confirmed an external address: an AutoNAT dial-back arrived (libp2p's client
    /// reports its successes only this way), or a relay accepted a reservation.
    /// Returns whether this node has a new address to announce. A LAN address confirmed by a
    /// neighbour is not one: it says nothing of the NAT in front of the LAN.
    pub fn external_confirmed(&mut self, addr: &Multiaddr, local: PeerId, now: Timestamp) -> bool {
        if !is_relayed(addr) {
            if !confirms_public(&addr.to_string()) {
                return false;
            }
            self.reachability.confirmed(addr.to_string(), now);
        }
        self.external.insert(with_peer(addr, local).to_string())
    }

    /// The swarm expired an external address.
    pub fn external_expired(&mut self, addr: &Multiaddr, local: PeerId, now: Timestamp) {
        self.reachability.expired(&addr.to_string(), now);
        self.external.remove(&with_peer(addr, local).to_string());
    }

    /// The relay service is now offered or not.
    pub fn relay_service_changed(&mut self, offered: bool) {
        self.relay_service_offered = offered;
    }

    /// A peer's identify info arrived and it offers relaying. (A relay that stops offering
    /// keeps its place until the reservation on it ends: the listener's close says so.)
    pub fn identified(&mut self, peer: PeerId, offers_relay: bool) {
        if offers_relay && self.has_direct_link(&peer) {
            self.plan.offered(peer);
        }
    }

    /// A relay accepted (or renewed) this node's reservation.
    pub fn reservation_accepted(&mut self, relay: PeerId, now: Timestamp) {
        self.plan.accepted(&relay, now);
    }

    /// A listener closed; if it was a reservation, the relay refused it or it ended.
    pub fn listener_closed(&mut self, listener: ListenerId, now: Timestamp) {
        if let Some(relay) = self.listeners.remove(&listener) {
            // Only the relay's live listener counts: an older one closing late says nothing.
            if self.listener_of.get(&relay) == Some(&listener) {
                self.listener_of.remove(&relay);
                self.plan.failed(&relay, now);
            }
        }
    }

    /// Relays to ask for a reservation now; carry each out and report it with
    /// [`Nat::reserving`]. A relay whose listener is still open (a reservation held or being
    /// renewed) is not asked twice.
    pub fn decide(&mut self, now: Timestamp) -> Vec<PeerId> {
        let mut ask = Vec::new();
        for RelayAction::Reserve(relay) in self.plan.decide(self.reachability.verdict(), now) {
            if self.listener_of.contains_key(&relay) {
                self.plan.accepted(&relay, now);
            } else {
                ask.push(relay);
            }
        }
        ask
    }

    /// A reservation was asked of `relay` through `listener`, or could not be (`None`).
    pub fn reserving(&mut self, relay: PeerId, listener: Option<ListenerId>, now: Timestamp) {
        match listener {
            Some(listener) => {
                self.listeners.insert(listener, relay);
                self.listener_of.insert(relay, listener);
            }
            None => self.plan.failed(&relay, now),
        }
    }

    /// When a relay waiting out a failure may be asked again (only while one is wanted).
    pub fn next_retry(&self, now: Timestamp) -> Option<Timestamp> {
        self.plan.next_retry(self.reachability.verdict(), now)
    }

    /// A connection to `peer` opened; `relayed` as libp2p's endpoint says (an inbound relayed
    /// connection's remote address is the bare `/p2p/PEER`, with no `p2p-circuit` in it).
    pub fn connected(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        remote: Multiaddr,
        relayed: bool,
    ) -> LinkChange {
        let links = self.links.entry(peer).or_default();
        links.push(Link {
            id,
            remote,
            relayed,
        });
        let direct = links.iter().any(|l| !l.relayed);
        let close = if direct {
            links.iter().filter(|l| l.relayed).map(|l| l.id).collect()
        } else {
            Vec::new()
        };
        LinkChange {
            limited: !direct,
            close,
        }
    }

    /// A connection to `peer` closed. Returns whether the peer is now reached only through
    /// relays (`None` when no connection is left).
    pub fn disconnected(&mut self, peer: &PeerId, id: ConnectionId) -> Option<bool> {
        let links = self.links.get_mut(peer)?;
        links.retain(|l| l.id != id);
        if links.is_empty() {
            self.links.remove(peer);
            self.plan.gone(peer);
            return None;
        }
        let direct = links.iter().any(|l| !l.relayed);
        if !direct {
            self.plan.gone(peer);
        }
        Some(!direct)
    }

    /// Whether `peer` has a direct (not relayed) connection here.
    pub fn has_direct_link(&self, peer: &PeerId) -> bool {
        self.links
            .get(peer)
            .is_some_and(|links| links.iter().any(|l| !l.relayed))
    }

    /// How `peer` is connected, and the address of the connection that counts (a direct one
    /// when there is one).
    pub fn link_of(&self, peer: &PeerId) -> (ConnectionKind, Option<String>) {
        let Some(links) = self.links.get(peer) else {
            return (ConnectionKind::Direct, None);
        };
        match links.iter().find(|l| !l.relayed) {
            Some(direct) => (ConnectionKind::Direct, Some(direct.remote.to_string())),
            None => (
                ConnectionKind::Relayed,
                links.first().map(|l| l.remote.to_string()),
            ),
        }
    }

    /// The reachability as the API shows it.
    pub fn view(&self) -> ReachabilityView {
        ReachabilityView {
            state: self.reachability.verdict(),
            since: self.reachability.since(),
            confirmed: self.reachability.confirmed_addresses().cloned().collect(),
            relays: self.plan.held().map(|p| p.to_string()).collect(),
            relay_service: self.relay_service_configured && self.relay_service_offered,
        }
    }

    /// This node's addresses, best to share first: the confirmed external ones (relayed
    /// included) and the listen addresses.
    pub fn addresses(&self, listen: &[String]) -> Vec<AddressView> {
        let mut all: Vec<(String, bool)> = Vec::new();
        for addr in &self.external {
            all.push((addr.clone(), true));
        }
        let confirmed: BTreeMap<&str, ()> = self
            .reachability
            .confirmed_addresses()
            .map(|a| (a.as_str(), ()))
            .collect();
        for addr in listen {
            // Listen addresses carry /p2p/ID; confirmed ones are compared without it.
            let bare = addr.rsplit_once("/p2p/").map_or(addr.as_str(), |(a, _)| a);
            all.push((addr.clone(), confirmed.contains_key(bare)));
        }
        ranked_addresses(&all)
            .into_iter()
            .map(|(addr, kind)| AddressView { addr, kind })
            .collect()
    }
}

/// Whether `addr` says anything about reachability: what a peer observes over a relayed
/// connection is a bare `/p2p/ID` or the relay's address, never this node's.
fn testable(addr: &Multiaddr) -> bool {
    let has_ip = addr
        .iter()
        .any(|p| matches!(p, Protocol::Ip4(_) | Protocol::Ip6(_)));
    has_ip && !is_relayed(addr)
}

/// `addr` ending in `/p2p/local` (added when missing).
pub fn with_peer(addr: &Multiaddr, local: PeerId) -> Multiaddr {
    match addr.iter().last() {
        Some(Protocol::P2p(_)) => addr.clone(),
        _ => addr.clone().with(Protocol::P2p(local)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Multiaddr {
        s.parse().expect("multiaddr")
    }

    #[test]
    fn a_direct_connection_retires_the_relayed_ones() {
        let mut nat = Nat::new(true);
        let peer = PeerId::random();
        let relay = PeerId::random();
        let circuit = addr(&format!(
            "/ip4/10.0.0.1/tcp/1/p2p/{relay}/p2p-circuit/p2p/{peer}"
        ));
        let relayed = ConnectionId::new_unchecked(1);
        let change = nat.connected(peer, relayed, circuit, true);
        assert_eq!(
            change,
            LinkChange {
                limited: true,
                close: vec![]
            }
        );
        assert_eq!(nat.link_of(&peer).0, ConnectionKind::Relayed);
        let direct = ConnectionId::new_unchecked(2);
        let change = nat.connected(peer, direct, addr("/ip4/10.0.0.2/tcp/4701"), false);
        assert_eq!(
            change,
            LinkChange {
                limited: false,
                close: vec![relayed]
            }
        );
        assert_eq!(nat.disconnected(&peer, relayed), Some(false));
        assert_eq!(
            nat.link_of(&peer),
            (
                ConnectionKind::Direct,
                Some("/ip4/10.0.0.2/tcp/4701".into())
            )
        );
        assert_eq!(nat.disconnected(&peer, direct), None);
    }

    #[test]
    fn addresses_put_confirmed_and_relayed_first() {
        let mut nat = Nat::new(true);
        let me = PeerId::random();
        let relay = PeerId::random();
        let now = Timestamp(1);
        nat.external_confirmed(
            &addr(&format!("/ip4/10.9.0.1/tcp/4701/p2p/{relay}/p2p-circuit")),
            me,
            now,
        );
        let listen = vec![
            format!("/ip4/127.0.0.1/tcp/4701/p2p/{me}"),
            format!("/ip4/192.168.1.2/tcp/4701/p2p/{me}"),
        ];
        let kinds: Vec<_> = nat.addresses(&listen).into_iter().map(|a| a.kind).collect();
        use handbill_protocol::reachability::AddressKind::*;
        assert_eq!(kinds, vec![Relayed, Lan, Loopback]);
        // A neighbour on the LAN confirming a private address proves nothing.
        assert!(!nat.external_confirmed(&addr("/ip4/192.168.1.2/tcp/4701"), me, now));
        assert_eq!(nat.verdict(), Reachability::Unknown);
        let listen = vec![
            listen[0].clone(),
            listen[1].clone(),
            format!("/ip4/198.51.100.7/tcp/4701/p2p/{me}"),
        ];
        assert!(nat.external_confirmed(&addr("/ip4/198.51.100.7/tcp/4701"), me, now));
        let ranked = nat.addresses(&listen);
        assert_eq!(ranked[0].kind, Public);
        assert_eq!(
            ranked[0].addr,
            format!("/ip4/198.51.100.7/tcp/4701/p2p/{me}")
        );
        assert_eq!(ranked.len(), 4, "the confirmed listen address appears once");
        assert_eq!(nat.verdict(), Reachability::Public);
    }
}
