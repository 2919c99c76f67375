//! Per-address connection limits, so that one address cannot fill the node's connection slots.
//!
//! libp2p's `connection_limits` counts globally and per peer; a peer id costs nothing, so an
//! attacker holding silent TCP connections from one machine filled the global pending limit
//! and kept every honest peer out. Here connections are counted per *address*: the IP for a
//! direct connection, the relay for a relayed one (many honest peers can share either, so the
//! limits are far above what one household or one relay's honest users need).

use libp2p::PeerId;
use libp2p::core::transport::PortUse;
use libp2p::core::{Endpoint, Multiaddr};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};

/// What connections are counted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A direct connection's remote IP.
    Ip(IpAddr),
    /// A relayed connection's relay.
    Relay(PeerId),
}

impl Address {
    /// The address a connection counts against: its remote IP, or the relay for a relayed
    /// one (an inbound circuit's remote address is only `/p2p/SOURCE`; its local address names
    /// the relay).
    pub fn of_connection(local: &Multiaddr, remote: &Multiaddr) -> Option<Address> {
        Address::of(remote).or_else(|| Address::of(local))
    }

    /// The address a multiaddr counts against, if it names one.
    pub fn of(remote: &Multiaddr) -> Option<Address> {
        let mut ip = None;
        let mut last_peer = None;
        for part in remote.iter() {
            match part {
                Protocol::Ip4(a) => ip = Some(IpAddr::V4(a)),
                // One IPv6 user holds a whole /64: count the prefix, not the address.
                Protocol::Ip6(a) => {
                    let prefix = u128::from(a) & !((1u128 << 64) - 1);
                    ip = Some(IpAddr::V6(prefix.into()));
                }
                Protocol::P2p(peer) => last_peer = Some(peer),
                // Everything before the circuit names the relay.
                Protocol::P2pCircuit => return last_peer.map(Address::Relay),
                _ => {}
            }
        }
        ip.map(Address::Ip)
    }
}

/// The limits per address.
#[derive(Clone, Copy, Debug)]
pub struct AddressLimits {
    /// Incoming connections still in their handshake.
    pub pending_incoming: usize,
    /// Established connections, both directions.
    pub established: usize,
}

impl Default for AddressLimits {
    fn default() -> AddressLimits {
        AddressLimits {
            pending_incoming: 16,
            established: 64,
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, thiserror::Error)]
#[error("{address:?} already has {count} {what} connections (limit {limit})")]
pub struct TooManyFromAddress {
    address: Address,
    what: &'static str,
    count: usize,
    limit: usize,
}

/// The behaviour that keeps the counts and refuses connections over the limits.
#[derive(Default)]
pub struct Behaviour {
    limits: AddressLimits,
    pending: HashMap<ConnectionId, Address>,
    established: HashMap<ConnectionId, Address>,
    pending_count: HashMap<Address, usize>,
    established_count: HashMap<Address, usize>,
}

fn decrement(counts: &mut HashMap<Address, usize>, address: Address) {
    if let Some(n) = counts.get_mut(&address) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(&address);
        }
    }
}

impl Behaviour {
    /// A behaviour enforcing `limits`.
    pub fn new(limits: AddressLimits) -> Behaviour {
        Behaviour {
            limits,
            ..Behaviour::default()
        }
    }

    fn check(
        counts: &HashMap<Address, usize>,
        address: Address,
        limit: usize,
        what: &'static str,
    ) -> Result<(), ConnectionDenied> {
        let count = counts.get(&address).copied().unwrap_or(0);
        if count >= limit {
            return Err(ConnectionDenied::new(TooManyFromAddress {
                address,
                what,
                count,
                limit,
            }));
        }
        Ok(())
    }

    fn end_pending(&mut self, connection: ConnectionId) {
        if let Some(address) = self.pending.remove(&connection) {
            decrement(&mut self.pending_count, address);
        }
    }

    fn establish(
        &mut self,
        connection: ConnectionId,
        address: Option<Address>,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.end_pending(connection);
        if let Some(address) = address {
            Self::check(
                &self.established_count,
                address,
                self.limits.established,
                "established",
            )?;
            self.established.insert(connection, address);
            *self.established_count.entry(address).or_default() += 1;
        }
        Ok(dummy::ConnectionHandler)
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection: ConnectionId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        if let Some(address) = Address::of_connection(local, remote) {
            Self::check(
                &self.pending_count,
                address,
                self.limits.pending_incoming,
                "pending incoming",
            )?;
            self.pending.insert(connection, address);
            *self.pending_count.entry(address).or_default() += 1;
        }
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection: ConnectionId,
        _peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.establish(connection, Address::of_connection(local, remote))
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection: ConnectionId,
        _peer: PeerId,
        remote: &Multiaddr,
        _role: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.establish(connection, Address::of(remote))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionClosed(closed) => {
                if let Some(address) = self.established.remove(&closed.connection_id) {
                    decrement(&mut self.established_count, address);
                }
            }
            FromSwarm::ListenFailure(failure) => {
                self.end_pending(failure.connection_id);
                // Another behaviour may refuse a connection this one already counted.
                if let Some(address) = self.established.remove(&failure.connection_id) {
                    decrement(&mut self.established_count, address);
                }
            }
            FromSwarm::DialFailure(failure) => {
                if let Some(address) = self.established.remove(&failure.connection_id) {
                    decrement(&mut self.established_count, address);
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer: PeerId,
        _connection: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_connections_count_by_ip_and_relayed_ones_by_relay() {
        let direct: Multiaddr = "/ip4/10.1.2.3/tcp/4701".parse().unwrap();
        assert_eq!(
            Address::of(&direct),
            Some(Address::Ip("10.1.2.3".parse().unwrap()))
        );
        let relay = PeerId::random();
        let relayed: Multiaddr = format!("/ip4/10.1.2.3/tcp/4701/p2p/{relay}/p2p-circuit")
            .parse()
            .unwrap();
        assert_eq!(Address::of(&relayed), Some(Address::Relay(relay)));
        let inbound_circuit: Multiaddr = format!("/p2p/{}", PeerId::random()).parse().unwrap();
        assert_eq!(
            Address::of_connection(&relayed, &inbound_circuit),
            Some(Address::Relay(relay))
        );
        let a: Multiaddr = "/ip6/2001:db8::1/tcp/1".parse().unwrap();
        let b: Multiaddr = "/ip6/2001:db8::ffff:2/tcp/1".parse().unwrap();
        assert_eq!(Address::of(&a), Address::of(&b), "one /64, one address");
    }

    #[test]
    fn one_address_is_refused_past_its_pending_limit_while_others_get_in() {
        let mut limits = Behaviour::new(AddressLimits {
            pending_incoming: 2,
            established: 3,
        });
        let local: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        let attacker: Multiaddr = "/ip4/10.0.0.9/tcp/5555".parse().unwrap();
        let honest: Multiaddr = "/ip4/10.0.0.7/tcp/5555".parse().unwrap();
        let mut next = 0;
        let mut id = || {
            next += 1;
            ConnectionId::new_unchecked(next)
        };
        assert!(
            limits
                .handle_pending_inbound_connection(id(), &local, &attacker)
                .is_ok()
        );
        assert!(
            limits
                .handle_pending_inbound_connection(id(), &local, &attacker)
                .is_ok()
        );
        assert!(
            limits
                .handle_pending_inbound_connection(id(), &local, &attacker)
                .is_err()
        );
        let honest_id = id();
        assert!(
            limits
                .handle_pending_inbound_connection(honest_id, &local, &honest)
                .is_ok()
        );
        assert!(
            limits
                .handle_established_inbound_connection(honest_id, PeerId::random(), &local, &honest)
                .is_ok()
        );
        assert!(!limits.pending.contains_key(&honest_id));
        assert_eq!(
            limits.established_count.get(&Address::of(&honest).unwrap()),
            Some(&1)
        );
    }
}
