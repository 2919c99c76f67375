//! Nodes behind real NAT (network namespaces, veth pairs, nftables masquerade) reach each other:
//! AutoNAT tells them they are behind NAT, they reserve slots on the public node's relay, find
//! each other through it, and punch a direct connection where the NATs allow; where they do
//! not, posts flow over the relay.
//!
//! The public segment holds the relay and a seed node the relay dials at start: AutoNAT v2 only
//! tests addresses over connections a node dialled itself, so a public node learns it is
//! reachable from the public peers it dials (every real public node has some), never from the
//! NAT'd peers that dial it.

use handbill_node::config::RelayConfig;
use handbill_protocol::api::{ConnectionKind, Status};
use handbill_protocol::reachability::{AddressKind, Reachability};
use handbill_tests::nat::{Host, Internet, NatKind, available};
use handbill_tests::{Node, relay_probe, wait_for};
use std::time::Instant;

/// Where every daemon listens for peers inside its namespace (TCP and QUIC on one port).
fn listen_args(extra: &[String]) -> Vec<String> {
    let mut args = vec![
        "--listen".to_string(),
        "/ip4/0.0.0.0/tcp/4701,/ip4/0.0.0.0/udp/4701/quic-v1".to_string(),
    ];
    args.extend_from_slice(extra);
    args
}

fn tcp_addr(host: &Host, node: &Node) -> String {
    format!("/ip4/{}/tcp/4701/p2p/{}", host.ip, node.status().peer_id)
}

/// The figures of one run, logged to `MEASURE_LOG` when set.
fn measure(line: &str) {
    eprintln!("measure: {line}");
    if let Ok(path) = std::env::var("MEASURE_LOG") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// The public segment: a seed, and the relay that bootstraps from it and so learns it is
/// reachable.
struct PublicSide {
    relay: Node,
    seed: Node,
    relay_addr: String,
}

fn public_side(net: &mut Internet, dir: &std::path::Path) -> (Host, Host, PublicSide) {
    let seed_host = net.public_host("seed");
    let relay_host = net.public_host("relay");
    let seed = Node::start_in(&seed_host.ns, dir.join("seed"), listen_args(&[]));
    let seed_addr = tcp_addr(&seed_host, &seed);
    let relay = Node::start_in(
        &relay_host.ns,
        dir.join("relay"),
        listen_args(&["--bootstrap".into(), seed_addr]),
    );
    let relay_addr = tcp_addr(&relay_host, &relay);
    wait_for("the relay to be confirmed public and relaying", || {
        let s = relay.status();
        (s.reachability.state == Reachability::Public && s.reachability.relay_service).then_some(())
    });
    (
        seed_host,
        relay_host,
        PublicSide {
            relay,
            seed,
            relay_addr,
        },
    )
}

/// Starts a home node that knows only the relay, and waits until it knows it is behind NAT
/// and holds a relay reservation; returns the node and the seconds to each.
fn home_node(host: &Host, dir: &std::path::Path, name: &str, relay_addr: &str) -> (Node, f64, f64) {
    let started = Instant::now();
    let node = Node::start_in(
        &host.ns,
        dir.join(name),
        listen_args(&["--bootstrap".into(), relay_addr.into()]),
    );
    let verdict = wait_for(&format!("{name} to find it is behind NAT"), || {
        (node.status().reachability.state == Reachability::BehindNat)
            .then(|| started.elapsed().as_secs_f64())
    });
    let reserved = wait_for(&format!("{name} to hold a relay reservation"), || {
        let s = node.status();
        let relayed = s.addresses.iter().any(|a| a.kind == AddressKind::Relayed);
        (relayed && !s.reachability.relays.is_empty()).then(|| started.elapsed().as_secs_f64())
    });
    (node, verdict, reserved)
}

fn link_to(node: &Node, peer: &str) -> Option<ConnectionKind> {
    node.status()
        .peer_scores
        .into_iter()
        .find(|p| p.peer_id == peer)
        .map(|p| p.connection)
}

/// Alice posts `n` posts and returns the seconds until Bob holds the last.
fn posts_per_second(alice: &Node, bob: &Node, n: usize, tag: &str) -> f64 {
    let start = Instant::now();
    let mut last = None;
    for i in 0..n {
        last = Some(alice.post_text(&format!("{tag} {i}")));
    }
    bob.wait_for_event(&last.expect("posted"));
    n as f64 / start.elapsed().as_secs_f64()
}

fn skip_without_tools() -> bool {
    match available() {
        Ok(()) => false,
        Err(why) => {
            eprintln!("skipping: {why}");
            true
        }
    }
}

#[test]
fn behind_endpoint_independent_nats_two_homes_punch_a_direct_connection() {
    if skip_without_tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Internet::new();
    let (_seed_host, _relay_host, mut public) = public_side(&mut net, dir.path());
    let alice_host = net.home_host("alice", NatKind::EndpointIndependent);
    let bob_host = net.home_host("bob", NatKind::EndpointIndependent);
    let (alice, alice_verdict, alice_reserved) =
        home_node(&alice_host, dir.path(), "alice", &public.relay_addr);
    let (bob, bob_verdict, bob_reserved) =
        home_node(&bob_host, dir.path(), "bob", &public.relay_addr);
    measure(&format!(
        "nat endpoint-independent: reachability verdict {alice_verdict:.1}s/{bob_verdict:.1}s, \
         relay reservation {alice_reserved:.1}s/{bob_reserved:.1}s (alice/bob, from start)"
    ));

    // `status` and `id` tell a person behind NAT what others can reach: a relayed address
    // first, their LAN address after it.
    let status: Status = alice.status();
    assert_eq!(status.addresses[0].kind, AddressKind::Relayed, "{status:?}");
    // Through the relay or the seed: both are public, so both relay.
    let publics = [public.relay.status().peer_id, public.seed.status().peer_id];
    assert!(
        publics.iter().any(|p| status.addresses[0].addr.contains(p)),
        "{:?} through one of {publics:?}",
        status.addresses
    );
    assert!(
        !status.reachability.relay_service,
        "a node behind NAT never relays for others, relayed address or not"
    );
    assert!(
        status
            .addresses
            .iter()
            .all(|a| a.kind != AddressKind::Public),
        "a node behind NAT has no confirmed public address: {:?}",
        status.addresses
    );

    // They follow each other, knowing nothing but the relay's address.
    let since_follow = Instant::now();
    alice.follow(bob.author());
    bob.follow(alice.author());
    let bob_peer = bob.status().peer_id;
    let alice_peer = alice.status().peer_id;
    let hello = alice.post_text("hello from behind my NAT");
    bob.wait_for_event(&hello);
    let reply = bob.post_text("hello back, from behind mine");
    alice.wait_for_event(&reply);

    // Hole punching upgrades the relayed connection to a direct one.
    wait_for("a direct connection between alice and bob", || {
        (link_to(&alice, &bob_peer) == Some(ConnectionKind::Direct)
            && link_to(&bob, &alice_peer) == Some(ConnectionKind::Direct))
        .then_some(())
    });
    measure(&format!(
        "nat endpoint-independent: direct connection {:.1}s after following",
        since_follow.elapsed().as_secs_f64()
    ));
    let direct_rate = posts_per_second(&alice, &bob, 200, "direct");
    measure(&format!(
        "nat endpoint-independent: {direct_rate:.0} posts/s alice -> bob over the direct connection"
    ));

    // The public side goes away; the homes keep talking over their own connection.
    public.relay.stop();
    public.seed.stop();
    let after = alice.post_text("the relay is gone and we still talk");
    bob.wait_for_event(&after);
    let back = bob.post_text("still here");
    alice.wait_for_event(&back);
    assert_eq!(link_to(&alice, &bob_peer), Some(ConnectionKind::Direct));
    drop(alice);
    drop(bob);
}

#[test]
fn behind_symmetric_nats_posts_flow_over_the_relay() {
    if skip_without_tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Internet::new();
    let (_seed_host, _relay_host, public) = public_side(&mut net, dir.path());
    let alice_host = net.home_host("alice", NatKind::Symmetric);
    let bob_host = net.home_host("bob", NatKind::Symmetric);
    let (alice, _, _) = home_node(&alice_host, dir.path(), "alice", &public.relay_addr);
    let (bob, _, _) = home_node(&bob_host, dir.path(), "bob", &public.relay_addr);
    // Alice wrote before anyone followed her: Bob backfills her log over the relay, in the
    // small batches a relayed link gets.
    const EARLIER: u64 = 60;
    for i in 0..EARLIER {
        alice.post_text(&format!("written before bob came {i}"));
    }
    let since_follow = Instant::now();
    alice.follow(bob.author());
    bob.follow(alice.author());
    let alice_author = alice.author();
    wait_for("bob to backfill alice's log over the relay", || {
        // Her posts and her follow of Bob.
        (bob.log_of(&alice_author).0 > EARLIER).then_some(())
    });
    measure(&format!(
        "nat symmetric: {EARLIER} earlier posts backfilled over the relay in {:.1}s after following",
        since_follow.elapsed().as_secs_f64()
    ));
    let bob_peer = bob.status().peer_id;
    let hello = alice.post_text("hello over the relay");
    bob.wait_for_event(&hello);
    let reply = bob.post_text("and back over the relay");
    alice.wait_for_event(&reply);
    // Random port mapping leaves no hole to punch. (The relay cuts circuits at its limits and
    // the link is re-made through it, so poll rather than look once.)
    wait_for("alice to reach bob through the relay", || {
        (link_to(&alice, &bob_peer) == Some(ConnectionKind::Relayed)).then_some(())
    });
    let relayed_rate = posts_per_second(&alice, &bob, 200, "relayed");
    measure(&format!(
        "nat symmetric: {relayed_rate:.0} posts/s alice -> bob over the relay"
    ));
    // A hole punch is tried and fails; the link stays relayed and keeps working.
    wait_for("a failed hole punch", || {
        (bob.log().contains("hole punching failed") || alice.log().contains("hole punching failed"))
            .then_some(())
    });
    let later = alice.post_text("still relayed");
    bob.wait_for_event(&later);
    assert_ne!(
        link_to(&alice, &bob_peer),
        Some(ConnectionKind::Direct),
        "no direct connection through symmetric NATs"
    );
}

#[test]
fn a_relay_holds_its_per_peer_limits_against_a_greedy_peer() {
    if skip_without_tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net = Internet::new();
    let (_seed_host, _relay_host, public) = public_side(&mut net, dir.path());
    let greedy = net.public_host("greedy");
    let relay: libp2p::Multiaddr = public.relay_addr.parse().expect("relay address");
    let limits = RelayConfig::default();

    // Four connections from one peer, a reservation asked on each: the relay grants its
    // per-peer number and refuses the rest, while holding the granted ones.
    let granted = relay_probe::reservations(&greedy.ns, &relay, 4);
    assert_eq!(granted, limits.reservations_per_peer);

    // Eight circuits at once from one peer: the relay carries its per-peer number.
    let carried = relay_probe::circuits(&greedy.ns, &relay, 8);
    assert_eq!(carried, limits.circuits_per_peer);

    // The relay still serves an honest node behind NAT.
    let home = net.home_host("alice", NatKind::EndpointIndependent);
    let (alice, _, _) = home_node(&home, dir.path(), "alice", &public.relay_addr);
    let relay_peer = public.relay.status().peer_id;
    wait_for("alice to hold a reservation on the relay", || {
        alice
            .status()
            .reachability
            .relays
            .contains(&relay_peer)
            .then_some(())
    });
}
