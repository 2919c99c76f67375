//! A greedy relay client: asks a relay for more reservations and circuits than its limits
//! allow, holding every one it gets, and counts what the relay grants. Built from the same
//! libp2p crates as `handbilld`; runs on a thread inside a network namespace.

use crate::netns::Netns;
use futures::StreamExt;
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, Swarm, SwarmEvent};
use libp2p::{Multiaddr, identity, noise, relay, tcp, yamux};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(NetworkBehaviour)]
struct Probe {
    relay: relay::client::Behaviour,
}

fn swarm(key: identity::Keypair) -> Swarm<Probe> {
    libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp transport")
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .expect("relay client transport")
        .with_behaviour(|_, relay| Probe { relay })
        .expect("probe behaviour")
        // Hold every granted reservation and circuit while the others are asked for.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build()
}

/// How one request ended.
#[derive(Debug)]
enum Outcome {
    Granted,
    Refused,
}

/// Runs `work` to completion on a runtime of its own, on a thread inside `ns`.
fn in_namespace<T: Send>(ns: &Netns, work: impl std::future::Future<Output = T> + Send) -> T {
    ns.run(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("probe runtime")
            .block_on(work)
    })
}

/// How long a request may take before it counts as refused.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// Asks `relay` (an address ending in `/p2p/RELAY`) for `attempts` reservations, each over its
/// own connection from one peer identity (a relay holds one reservation per connection), and
/// returns how many it granted while all were held. Keep `attempts` within the relay's
/// connections per peer (4), so that only the reservation limit refuses.
pub fn reservations(ns: &Netns, relay: &Multiaddr, attempts: usize) -> usize {
    let relay = relay.clone();
    in_namespace(ns, async move {
        let key = identity::Keypair::generate_ed25519();
        let (report, mut reports) = mpsc::unbounded_channel();
        let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
        for _ in 0..attempts {
            let mut swarm = swarm(key.clone());
            let report = report.clone();
            let mut stopped = stop.subscribe();
            let circuit = relay.clone().with(Protocol::P2pCircuit);
            tokio::spawn(async move {
                let listener = swarm.listen_on(circuit).expect("listening on the relay");
                let mut reported = false;
                let deadline = tokio::time::sleep(ANSWER_WITHIN);
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        event = swarm.select_next_some() => {
                            if let Some(outcome) = reservation_outcome(&event, listener)
                                && !reported
                            {
                                reported = true;
                                let _ = report.send(outcome);
                            }
                        }
                        () = &mut deadline, if !reported => {
                            reported = true;
                            let _ = report.send(Outcome::Refused);
                        }
                        _ = stopped.recv() => break,
                    }
                }
            });
        }
        drop(report);
        let mut granted = 0;
        for _ in 0..attempts {
            if let Some(Outcome::Granted) = reports.recv().await {
                granted += 1;
            }
        }
        let _ = stop.send(());
        granted
    })
}

fn reservation_outcome(event: &SwarmEvent<ProbeEvent>, listener: ListenerId) -> Option<Outcome> {
    match event {
        SwarmEvent::Behaviour(ProbeEvent::Relay(
            relay::client::Event::ReservationReqAccepted { .. },
        )) => Some(Outcome::Granted),
        SwarmEvent::ListenerClosed { listener_id, .. } if *listener_id == listener => {
            Some(Outcome::Refused)
        }
        _ => None,
    }
}

/// Opens `attempts` circuits through `relay` from one peer to another (both the probe's; the
/// destination holds a reservation), all at once, and returns how many the relay carried
/// while all were held.
pub fn circuits(ns: &Netns, relay: &Multiaddr, attempts: usize) -> usize {
    let relay = relay.clone();
    in_namespace(ns, async move {
        // The destination: one reservation, then it accepts whatever arrives.
        let mut destination = swarm(identity::Keypair::generate_ed25519());
        let destination_id = *destination.local_peer_id();
        let listener = destination
            .listen_on(relay.clone().with(Protocol::P2pCircuit))
            .expect("listening on the relay");
        let reserved = tokio::time::timeout(ANSWER_WITHIN, async {
            loop {
                if let Some(outcome) =
                    reservation_outcome(&destination.select_next_some().await, listener)
                {
                    return outcome;
                }
            }
        })
        .await;
        assert!(
            matches!(reserved, Ok(Outcome::Granted)),
            "the destination's reservation: {reserved:?}"
        );
        tokio::spawn(async move {
            loop {
                destination.select_next_some().await;
            }
        });

        // The source connects to the relay first, so every circuit asks over that one
        // connection (and the relay's per-peer connection cap plays no part).
        let mut source = swarm(identity::Keypair::generate_ed25519());
        source.dial(relay.clone()).expect("dialling the relay");
        tokio::time::timeout(ANSWER_WITHIN, async {
            loop {
                if let SwarmEvent::ConnectionEstablished { .. } = source.select_next_some().await {
                    return;
                }
            }
        })
        .await
        .expect("the source connects to the relay");
        let target = relay
            .clone()
            .with(Protocol::P2pCircuit)
            .with(Protocol::P2p(destination_id));
        for _ in 0..attempts {
            let opts = DialOpts::peer_id(destination_id)
                .addresses(vec![target.clone()])
                .condition(PeerCondition::Always)
                .build();
            source.dial(opts).expect("dialling through the relay");
        }
        let mut granted = 0;
        let mut answered = 0;
        let _ = tokio::time::timeout(ANSWER_WITHIN, async {
            while answered < attempts {
                match source.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { peer_id, .. }
                        if peer_id == destination_id =>
                    {
                        granted += 1;
                        answered += 1;
                    }
                    SwarmEvent::OutgoingConnectionError {
                        peer_id: Some(peer),
                        ..
                    } if peer == destination_id => answered += 1,
                    _ => {}
                }
            }
        })
        .await;
        granted
    })
}
