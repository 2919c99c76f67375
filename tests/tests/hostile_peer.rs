//! A hostile peer on the gossip network: forged, tampered, oversized and garbage messages are
//! rejected and never stored, the sender's gossip score drops, and the node keeps serving.

use futures::StreamExt;
use handbill_node::daemon::now;
use handbill_node::network::topic;
use handbill_protocol::payload::{Payload, Post};
use handbill_protocol::{AuthorKey, sign_next};
use handbill_tests::{Node, wait_for};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, gossipsub, noise, tcp, yamux};
use std::time::Duration;
use tokio::sync::mpsc;

/// Only gossipsub, configured to send what an honest node never would.
#[derive(NetworkBehaviour)]
struct Hostile {
    gossipsub: gossipsub::Behaviour,
}

fn post(text: &str) -> Payload {
    Payload::Post(Post {
        text: text.into(),
        ..Post::default()
    })
}

/// Runs the hostile peer on its own runtime: dials `target`, joins `topic_name`, waits until the
/// target is a gossip peer on it, publishes each message, and reports when done.
fn hostile_peer(
    target: Multiaddr,
    target_peer: PeerId,
    topic_name: gossipsub::IdentTopic,
    messages: Vec<Vec<u8>>,
) -> mpsc::Receiver<Result<(), String>> {
    let (done, receiver) = mpsc::channel(1);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Anonymous)
                .max_transmit_size(1024 * 1024)
                .heartbeat_interval(Duration::from_millis(300))
                .message_id_fn(|m: &gossipsub::Message| {
                    gossipsub::MessageId::from(content_id(&m.data))
                })
                .build()
                .unwrap();
            let mut swarm = libp2p::SwarmBuilder::with_new_identity()
                .with_tokio()
                .with_tcp(
                    tcp::Config::default(),
                    noise::Config::new,
                    yamux::Config::default,
                )
                .unwrap()
                .with_behaviour(|_| Hostile {
                    gossipsub: gossipsub::Behaviour::new(
                        gossipsub::MessageAuthenticity::Anonymous,
                        config,
                    )
                    .unwrap(),
                })
                .unwrap()
                .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
                .build();
            swarm
                .behaviour_mut()
                .gossipsub
                .subscribe(&topic_name)
                .unwrap();
            swarm.dial(target).unwrap();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            // Wait until the target has told us it is subscribed to the topic.
            loop {
                let ready =
                    swarm.behaviour().gossipsub.all_peers().any(|(p, topics)| {
                        *p == target_peer && topics.contains(&&topic_name.hash())
                    });
                if ready {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    let _ = done.send(Err("target never joined the topic".into())).await;
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), swarm.select_next_some())
                    .await;
            }
            for message in messages {
                if let Err(e) = swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic_name.clone(), message)
                {
                    let _ = done.send(Err(format!("publish failed: {e}"))).await;
                    return;
                }
                // Let the swarm flush the message before the next.
                let until = tokio::time::Instant::now() + Duration::from_millis(200);
                while let Ok(event) = tokio::time::timeout_at(until, swarm.select_next_some()).await
                {
                    // The target may cut a peer that sent an oversized frame; reconnect.
                    if let SwarmEvent::ConnectionClosed { peer_id, .. } = event
                        && peer_id == target_peer
                    {
                        let _ = swarm.dial(target_peer);
                    }
                }
            }
            let _ = done.send(Ok(())).await;
            // Stay connected a little so the last messages are delivered, then leave.
            let until = tokio::time::Instant::now() + Duration::from_secs(3);
            while tokio::time::timeout_at(until, swarm.select_next_some())
                .await
                .is_ok()
            {}
        });
    });
    receiver
}

/// A content-derived id for the hostile peer's own duplicate cache.
fn content_id(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 8];
    for (i, b) in data.iter().enumerate() {
        out[i % 8] = out[i % 8].wrapping_mul(31).wrapping_add(*b);
    }
    out.extend_from_slice(&(data.len() as u64).to_be_bytes());
    out
}

#[test]
fn hostile_gossip_is_rejected_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let victim = Node::start(dir.path(), "victim");
    let author = AuthorKey::from_secret_bytes(&[42; 32]);
    victim.follow(author.author());

    let t = now();
    let good = sign_next(&author, None, t, &post("a genuine post")).unwrap();
    let fork = sign_next(&author, None, t, &post("a conflicting first post")).unwrap();
    let second = sign_next(&author, Some(&good.head()), t, &post("second")).unwrap();
    let third = sign_next(&author, Some(&second.head()), t, &post("third")).unwrap();

    let mut forged = second.encode();
    let sig_at = handbill_protocol::event::HEADER_BYTES_MAX + 7;
    forged[sig_at] ^= 0x40;
    let mut tampered = third.encode();
    let last = tampered.len() - 2;
    tampered[last] ^= 0x01;
    let oversized = vec![7u8; 200 * 1024];
    let garbage = b"\x01\x02 definitely not an event".to_vec();

    let status = victim.status();
    let target: Multiaddr = victim.addr().parse().unwrap();
    let target_peer: PeerId = status.peer_id.parse().unwrap();
    let mut done = hostile_peer(
        target,
        target_peer,
        topic(&author.author()),
        vec![
            good.encode(),
            fork.encode(),
            forged,
            tampered,
            garbage,
            oversized,
        ],
    );
    let finished = done.blocking_recv().expect("hostile peer reports");
    assert_eq!(finished, Ok(()));

    // The valid ones arrive; a fork is evidence, kept and flagged, not grounds to reject.
    victim.wait_for_event(&good.id());
    victim.wait_for_event(&fork.id());
    wait_for("the fork to be flagged", || {
        victim
            .status()
            .forks
            .iter()
            .any(|f| f.author == author.author() && f.seq == 1)
            .then_some(())
    });
    // The invalid ones are never stored, and the sender's score went negative.
    let scored = wait_for("the hostile peer to be penalised", || {
        victim
            .status()
            .peer_scores
            .iter()
            .find_map(|p| p.gossip_score.filter(|s| *s < 0.0))
    });
    assert!(scored < 0.0);
    assert!(
        victim.event(&second.id()).is_none(),
        "forged signature stored"
    );
    assert!(
        victim.event(&third.id()).is_none(),
        "tampered payload stored"
    );
    assert_eq!(
        victim.status().counts.events,
        2 + 1,
        "two posts by the author, one follow by the victim"
    );
    assert!(
        victim.log().contains("rejected invalid gossip"),
        "rejections are logged"
    );

    // The node keeps serving: a newcomer backfills the genuine post from it.
    let newcomer = Node::start(dir.path(), "newcomer");
    newcomer.follow(author.author());
    newcomer.connect(&victim);
    newcomer.wait_for_event(&good.id());
}
