//! A hostile peer: a libp2p node built from the same crates as `handbilld`, speaking only
//! gossipsub, that publishes whatever bytes a test gives it on whatever topic it names.
//!
//! It runs on its own thread and runtime; the test drives it with blocking calls. Its gossipsub
//! accepts messages far larger than any event, validates nothing, and derives message ids from
//! the content, so it never refuses to send what an honest node would.

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, noise, tcp, yamux};
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use crate::DEADLINE;

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
}

enum Command {
    Dial(Multiaddr),
    Join {
        topic: IdentTopic,
        target: PeerId,
        reply: oneshot::Sender<bool>,
    },
    Publish {
        topic: IdentTopic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    PublishAll {
        messages: Vec<(IdentTopic, Vec<u8>)>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Connected(PeerId, oneshot::Sender<bool>),
    Subscribe(Vec<IdentTopic>),
    Received(oneshot::Sender<Vec<Vec<u8>>>),
}

/// A running hostile peer; stopped when dropped.
pub struct HostilePeer {
    commands: mpsc::UnboundedSender<Command>,
    /// Its peer id (fixed for its life, so bans on it hold).
    pub peer_id: PeerId,
}

impl HostilePeer {
    /// Starts a hostile peer with a new identity.
    pub fn start() -> HostilePeer {
        let key = libp2p::identity::Keypair::generate_ed25519();
        let peer_id = key.public().to_peer_id();
        let (commands, receiver) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("hostile peer runtime");
            runtime.block_on(run(key, receiver));
        });
        HostilePeer { commands, peer_id }
    }

    /// Dials `addr` (a daemon's address with `/p2p/…`).
    pub fn dial(&self, addr: &Multiaddr) {
        let _ = self.commands.send(Command::Dial(addr.clone()));
    }

    /// Subscribes to `topic` and waits until `target` is connected and subscribed to it too (so
    /// what is published next reaches it). Returns false if that did not happen in time.
    pub fn join(&self, topic: &IdentTopic, target: PeerId) -> bool {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::Join {
            topic: topic.clone(),
            target,
            reply,
        });
        answer.blocking_recv().unwrap_or(false)
    }

    /// Publishes `data` on `topic` to every connected peer subscribed to it.
    pub fn publish(&self, topic: &IdentTopic, data: Vec<u8>) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::Publish {
            topic: topic.clone(),
            data,
            reply,
        });
        answer
            .blocking_recv()
            .unwrap_or_else(|_| Err("the hostile peer stopped".into()))
    }

    /// Publishes every message in order at once (the send queue is large enough for a
    /// benchmark's worth); returns once the last is queued, or at the first refusal.
    pub fn publish_all(&self, messages: Vec<(IdentTopic, Vec<u8>)>) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::PublishAll { messages, reply });
        answer
            .blocking_recv()
            .unwrap_or_else(|_| Err("the hostile peer stopped".into()))
    }

    /// Subscribes to every topic at once, before dialling, so a peer learns them all from the
    /// first message on a new connection.
    pub fn subscribe(&self, topics: Vec<IdentTopic>) {
        let _ = self.commands.send(Command::Subscribe(topics));
    }

    /// The data of every gossip message received so far.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::Received(reply));
        answer.blocking_recv().unwrap_or_default()
    }

    /// Whether a connection to `peer` is open now.
    pub fn connected(&self, peer: PeerId) -> bool {
        let (reply, answer) = oneshot::channel();
        let _ = self.commands.send(Command::Connected(peer, reply));
        answer.blocking_recv().unwrap_or(false)
    }
}

/// A content-derived message id, so the hostile peer's own duplicate cache never stops a
/// replay of bytes it has not sent before.
fn content_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&message.data, &mut hasher);
    std::hash::Hash::hash(message.topic.as_str(), &mut hasher);
    gossipsub::MessageId::from(std::hash::Hasher::finish(&hasher).to_be_bytes().to_vec())
}

async fn run(key: libp2p::identity::Keypair, mut commands: mpsc::UnboundedReceiver<Command>) {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .max_transmit_size(1024 * 1024)
        // A node hosting many authors says so in one large first message.
        .max_control_message_size(1024 * 1024)
        // Room for a benchmark's burst: a full queue would drop a message, not wait.
        .connection_handler_queue_len(1 << 20)
        .publish_queue_duration(Duration::from_secs(120))
        .heartbeat_interval(Duration::from_millis(300))
        .message_id_fn(content_id)
        // Short, so the same bytes can be sent again a moment later (a replay).
        .duplicate_cache_time(Duration::from_secs(1))
        .build()
        .expect("gossipsub config");
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|_| Behaviour {
            // Gossipsub's default filter ignores a hello naming more than 100 topics.
            gossipsub: gossipsub::Behaviour::new_with_subscription_filter(
                gossipsub::MessageAuthenticity::Anonymous,
                config,
                gossipsub::MaxCountSubscriptionFilter {
                    filter: gossipsub::AllowAllSubscriptionFilter {},
                    max_subscribed_topics: 100_000,
                    max_subscriptions_per_request: 100_000,
                },
            )
            .expect("gossipsub"),
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    let mut connected: HashSet<PeerId> = HashSet::new();
    let mut received: Vec<Vec<u8>> = Vec::new();
    let mut joins: Vec<(
        IdentTopic,
        PeerId,
        oneshot::Sender<bool>,
        tokio::time::Instant,
    )> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Dial(addr)) => {
                    let _ = swarm.dial(addr);
                }
                Some(Command::Join { topic, target, reply }) => {
                    let _ = swarm.behaviour_mut().gossipsub.subscribe(&topic);
                    joins.push((topic, target, reply, tokio::time::Instant::now() + DEADLINE));
                }
                Some(Command::Publish { topic, data, reply }) => {
                    let result = swarm
                        .behaviour_mut()
                        .gossipsub
                        .publish(topic, data)
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    let _ = reply.send(result);
                }
                Some(Command::PublishAll { messages, reply }) => {
                    let gossip = &mut swarm.behaviour_mut().gossipsub;
                    let result = messages
                        .into_iter()
                        .try_for_each(|(topic, data)| gossip.publish(topic, data).map(|_| ()))
                        .map_err(|e| e.to_string());
                    let _ = reply.send(result);
                }
                Some(Command::Connected(peer, reply)) => {
                    let _ = reply.send(connected.contains(&peer));
                }
                Some(Command::Subscribe(topics)) => {
                    for topic in topics {
                        let _ = swarm.behaviour_mut().gossipsub.subscribe(&topic);
                    }
                }
                Some(Command::Received(reply)) => {
                    let _ = reply.send(received.clone());
                }
            },
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    connected.insert(peer_id);
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    connected.remove(&peer_id);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                    message,
                    ..
                })) => received.push(message.data),
                _ => {}
            },
            _ = tick.tick() => {}
        }
        let gossip = &swarm.behaviour().gossipsub;
        let mut waiting = Vec::new();
        for (topic, target, reply, deadline) in joins.drain(..) {
            let ready = gossip
                .all_peers()
                .any(|(p, topics)| *p == target && topics.contains(&&topic.hash()));
            if ready {
                let _ = reply.send(true);
            } else if tokio::time::Instant::now() > deadline {
                let _ = reply.send(false);
            } else {
                waiting.push((topic, target, reply, deadline));
            }
        }
        joins = waiting;
    }
}
