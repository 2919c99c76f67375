//! The daemon's event loop: carries libp2p events, API commands and time into the engine, and
//! the engine's outputs out to the swarm. Every decision is the engine's; this only moves bytes.

use crate::address_limits::Address;
use crate::nat::{Nat, is_relayed, with_peer};
use crate::network::{Behaviour, BehaviourEvent, provider_key, topic, topic_author};
use crate::store::SledStore;
use anyhow::{Context, Result};
use futures::{FutureExt, StreamExt};
use handbill_protocol::api::{AddressView, ConnectionKind, ReachabilityView, StreamEvent};
use handbill_protocol::engine::{Acceptance, Engine, GossipMessage, Output};
use handbill_protocol::wire::{Request, Response};
use handbill_protocol::{AuthorId, Timestamp};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{
    Multiaddr, PeerId, Swarm, autonat, dcutr, gossipsub, identify, kad, mdns, relay,
    request_response,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// The engine as the daemon runs it.
pub type NodeEngine = Engine<SledStore, PeerId>;

/// The wall clock as protocol time. The daemon is the only place that reads it.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Commands from the API to the network loop.
pub enum NetCommand {
    /// Dial an address; the reply says whether dialling started.
    Dial(Multiaddr, oneshot::Sender<Result<(), String>>),
    /// Report connected peers with their gossipsub scores.
    PeerScores(oneshot::Sender<Vec<(PeerId, Option<f64>)>>),
}

/// What the API can see of the network.
#[derive(Clone, Debug, Default)]
pub struct NetInfo {
    /// This node's peer id.
    pub peer_id: String,
    /// Listen addresses, with `/p2p/PEER_ID` appended.
    pub listen_addrs: Vec<String>,
    /// Connected peers.
    pub peers: BTreeSet<String>,
    /// Reachability as AutoNAT found it, and the relays holding reservations.
    pub reachability: ReachabilityView,
    /// This node's addresses, best to share first.
    pub addresses: Vec<AddressView>,
    /// How each connected peer is reached, and the connection's address.
    pub links: BTreeMap<String, (ConnectionKind, Option<String>)>,
}

/// A job for the engine's owner: it runs with the engine and replies on its own channel.
type Job = Box<dyn FnOnce(&mut NodeEngine) + Send>;

/// How many API jobs may wait for the engine before callers wait to send.
const JOBS_QUEUED_MAX: usize = 64;

/// The engine is gone: the network task stopped (the daemon is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the node is shutting down")]
pub struct EngineGone;

/// The way to the engine from other tasks. The network task owns the engine; others send it
/// jobs over a bounded channel and await the reply, so no lock is shared and a slow API call
/// delays only what queues behind it (iroh-gossip's actor is the model).
#[derive(Clone)]
pub struct EngineHandle {
    jobs: mpsc::Sender<Job>,
}

impl EngineHandle {
    /// Runs `f` with the engine and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut NodeEngine) -> R + Send + 'static,
    ) -> Result<R, EngineGone> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |engine| {
            let _ = reply.send(f(engine));
        });
        self.jobs.send(job).await.map_err(|_| EngineGone)?;
        answer.await.map_err(|_| EngineGone)
    }
}

/// State shared between the network loop and the API.
pub struct Shared {
    /// The engine, through its owner.
    pub engine: EngineHandle,
    /// Newly stored events and notifications, for the API's event stream.
    pub stored: broadcast::Sender<StreamEvent>,
    /// Commands to the network loop.
    pub commands: mpsc::Sender<NetCommand>,
    /// Network facts for status output.
    pub net: Mutex<NetInfo>,
}

/// What the network loop receives from the rest of the daemon.
pub struct Inbox {
    commands: mpsc::Receiver<NetCommand>,
    jobs: mpsc::Receiver<Job>,
}

impl Shared {
    /// Creates the shared state; returns it and the inbox of the network loop.
    pub fn new() -> (Arc<Shared>, Inbox) {
        let (commands, command_receiver) = mpsc::channel(64);
        let (jobs, job_receiver) = mpsc::channel(JOBS_QUEUED_MAX);
        let (stored, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            engine: EngineHandle { jobs },
            stored,
            commands,
            net: Mutex::new(NetInfo::default()),
        });
        let inbox = Inbox {
            commands: command_receiver,
            jobs: job_receiver,
        };
        (shared, inbox)
    }

    /// Network facts.
    pub fn net(&self) -> MutexGuard<'_, NetInfo> {
        self.net
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Requests in flight, so responses and failures reach the engine with their request, and the
/// addresses the engine's redials go to.
#[derive(Default)]
struct Pending {
    requests: BTreeMap<request_response::OutboundRequestId, (PeerId, Request)>,
    // Looked up by id only, never iterated, so hash order cannot leak into behaviour.
    provider_queries: HashMap<kad::QueryId, AuthorId>,
    addresses: AddressBook,
    /// The remote IP of each direct connection, to check the addresses a peer announces.
    connected_ips: HashMap<libp2p::swarm::ConnectionId, std::net::IpAddr>,
    /// Dials made on purpose (bootstrap addresses without a peer id, `connect`): the peer they
    /// reach joins the engine's book of peers to keep.
    wanted: std::collections::HashSet<libp2p::swarm::ConnectionId>,
    /// Gossip received since the engine last judged any (see `GossipBatch`).
    gossip: GossipBatch,
    /// Reachability, relay reservations and the kind of each peer's connections.
    nat: Nat,
    /// Whether what the API shows of the network changed since it was last published.
    net_changed: bool,
}

/// Where peers can be dialled: addresses this node dialled them at, and the listen addresses
/// they announce on the IP they connected from (never another IP: a peer must not be able to
/// point this node's redials at a third party). Bounded: the peer added longest ago leaves
/// first, and each peer keeps its four latest addresses.
#[derive(Default)]
struct AddressBook {
    // Looked up by peer only, never iterated.
    by_peer: HashMap<PeerId, Vec<Multiaddr>>,
    /// Peers in the order they were first added, for eviction.
    order: std::collections::VecDeque<PeerId>,
}

impl AddressBook {
    const PEERS_MAX: usize = 1024;
    const ADDRESSES_PER_PEER: usize = 4;

    fn add(&mut self, peer: PeerId, addr: Multiaddr) {
        let addr = match peer_of(&addr) {
            Some(_) => addr,
            None => addr.with(Protocol::P2p(peer)),
        };
        if !self.by_peer.contains_key(&peer) {
            if self.by_peer.len() >= Self::PEERS_MAX
                && let Some(oldest) = self.order.pop_front()
            {
                self.by_peer.remove(&oldest);
            }
            self.order.push_back(peer);
        }
        let addresses = self.by_peer.entry(peer).or_default();
        addresses.retain(|a| *a != addr);
        addresses.insert(0, addr);
        addresses.truncate(Self::ADDRESSES_PER_PEER);
    }

    fn of(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.by_peer.get(peer).cloned().unwrap_or_default()
    }
}

/// Whether a ping failure says the connection is dead: the ping or the opening of its stream
/// timed out. libp2p's ping reports a failure only after two in a row. Other ping errors come
/// from peers that lack or half-speak ping (js-libp2p closes its ping stream after each reply)
/// and say nothing of the link; closing on those would drop such peers for nothing.
fn ping_timed_out(failure: &libp2p::ping::Failure) -> bool {
    match failure {
        libp2p::ping::Failure::Timeout => true,
        libp2p::ping::Failure::Other { error } => error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut),
        libp2p::ping::Failure::Unsupported => false,
    }
}

/// The way to `peer` through the relay a `/p2p-circuit` address it announced names, built from
/// this node's own address of the relay, or `None` unless the relay is another peer this node
/// is directly connected to and the address ends in `peer`.
fn relayed_way_to(peer: PeerId, announced: &Multiaddr, pending: &Pending) -> Option<Multiaddr> {
    let Some(Address::Relay(relay)) = Address::of(announced) else {
        return None;
    };
    if relay == peer || peer_of(announced) != Some(peer) || !pending.nat.has_direct_link(&relay) {
        return None;
    }
    let base = pending
        .addresses
        .of(&relay)
        .into_iter()
        .find(|a| !is_relayed(a))?;
    Some(base.with(Protocol::P2pCircuit).with(Protocol::P2p(peer)))
}

/// The IP in an address, if any.
fn ip_of(addr: &Multiaddr) -> Option<std::net::IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(a) => Some(a.into()),
        Protocol::Ip6(a) => Some(a.into()),
        _ => None,
    })
}

/// Runs the network loop until `shutdown` flips, then flushes the store. It owns the engine:
/// run it on a thread of its own (`spawn_blocking`), since the engine's store work (flushes,
/// scans) blocks, and the API's tasks must not wait behind it.
pub async fn run(
    mut swarm: Swarm<Behaviour>,
    mut engine: NodeEngine,
    shared: Arc<Shared>,
    mut inbox: Inbox,
    known_peers: Vec<Multiaddr>,
    relay_service: bool,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let mut pending = Pending {
        nat: Nat::new(relay_service),
        ..Pending::default()
    };
    // The relay service follows this node's verdict, not libp2p's default (any confirmed
    // external address, relayed ones included).
    if let Some(relay) = swarm.behaviour_mut().relay.as_mut() {
        relay.set_status(Some(relay::Status::Disable));
    }
    {
        let mut net = shared.net();
        net.peer_id = swarm.local_peer_id().to_string();
    }
    // Configured peers and those of earlier runs: the engine's upkeep dials them, now and
    // whenever they are lost. An address without a peer id is dialled once, on purpose.
    for addr in known_peers {
        match peer_of(&addr) {
            Some(peer) => {
                pending.addresses.add(peer, addr);
                engine.add_known_peer(peer, now());
            }
            None => match dial(&mut swarm, addr.clone()) {
                Ok(id) => {
                    pending.wanted.insert(id);
                }
                Err(e) => tracing::warn!("cannot dial {addr}: {e}"),
            },
        }
    }
    loop {
        drain(&mut swarm, &mut engine, &shared, &mut pending);
        plan_relays(&mut swarm, &mut pending);
        if std::mem::take(&mut pending.net_changed) {
            publish_net(&swarm, &shared, &pending);
        }
        let due = match (engine.poll_timeout(), pending.nat.next_retry(now())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = due.map_or(Duration::from_secs(60), |t| {
            Duration::from_millis(t.0.saturating_sub(now().0))
        });
        tokio::select! {
            event = swarm.select_next_some() => {
                // Take every event that is ready now, so gossip that arrived together is
                // verified and stored together (group commit).
                let mut next = Some(event);
                let mut taken = 0;
                while let Some(event) = next {
                    on_swarm_event(&mut swarm, &mut engine, &shared, &mut pending, event);
                    taken += 1;
                    next = if taken < SWARM_EVENTS_PER_BATCH_MAX {
                        swarm.next().now_or_never().flatten()
                    } else {
                        None
                    };
                }
                std::mem::take(&mut pending.gossip).judge(&mut swarm, &mut engine);
            }
            Some(job) = inbox.jobs.recv() => job(&mut engine),
            Some(command) = inbox.commands.recv() => match command {
                NetCommand::Dial(addr, reply) => {
                    let result = dial(&mut swarm, addr).map(|id| {
                        pending.wanted.insert(id);
                    });
                    let _ = reply.send(result);
                }
                NetCommand::PeerScores(reply) => {
                    let peers: Vec<PeerId> = swarm.connected_peers().copied().collect();
                    let gossip = &swarm.behaviour().gossipsub;
                    let scores = peers.into_iter().map(|p| (p, gossip.peer_score(&p))).collect();
                    let _ = reply.send(scores);
                }
            },
            () = tokio::time::sleep(sleep) => engine.handle_timeout(now()),
            _ = shutdown.changed() => break,
        }
    }
    let mut store = engine.store().clone();
    handbill_protocol::store::Store::flush(&mut store).context("flushing the store at shutdown")
}

/// Asks relays for reservations or releases them, as the reachability verdict wants.
fn plan_relays(swarm: &mut Swarm<Behaviour>, pending: &mut Pending) {
    if let Some(offer) = pending.nat.relay_service_change() {
        if let Some(relay) = swarm.behaviour_mut().relay.as_mut() {
            let status = if offer {
                relay::Status::Enable
            } else {
                relay::Status::Disable
            };
            relay.set_status(Some(status));
        }
        tracing::info!(offered = offer, "relay service");
        pending.nat.relay_service_changed(offer);
        pending.net_changed = true;
    }
    for relay in pending.nat.decide(now()) {
        pending.net_changed = true;
        // Where this node reached the relay: the reservation goes over that connection.
        let addr = pending
            .addresses
            .of(&relay)
            .into_iter()
            .find(|a| !is_relayed(a))
            .map(|a| a.with(Protocol::P2pCircuit));
        let listener = addr.and_then(|addr| match swarm.listen_on(addr.clone()) {
            Ok(listener) => {
                tracing::info!("behind NAT: asking {addr} for a relay reservation");
                Some(listener)
            }
            Err(e) => {
                tracing::warn!("cannot listen through {addr}: {e}");
                None
            }
        });
        pending.nat.reserving(relay, listener, now());
    }
}

/// Copies what the API shows of the network into the shared state.
fn publish_net(swarm: &Swarm<Behaviour>, shared: &Shared, pending: &Pending) {
    let links = swarm
        .connected_peers()
        .map(|p| (p.to_string(), pending.nat.link_of(p)))
        .collect();
    let mut net = shared.net();
    net.reachability = pending.nat.view();
    net.addresses = pending.nat.addresses(&net.listen_addrs);
    net.links = links;
}

/// Dials an address, teaching Kademlia about it when it names a peer; returns the connection's
/// id.
pub fn dial(
    swarm: &mut Swarm<Behaviour>,
    addr: Multiaddr,
) -> Result<libp2p::swarm::ConnectionId, String> {
    if let (Some(peer), Some(kad)) = (peer_of(&addr), swarm.behaviour_mut().kad.as_mut()) {
        kad.add_address(&peer, addr.clone());
    }
    let opts = libp2p::swarm::dial_opts::DialOpts::from(addr);
    let id = opts.connection_id();
    swarm.dial(opts).map_err(|e| e.to_string())?;
    Ok(id)
}

/// The peer an address names, from its last `/p2p/` component.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter()
        .filter_map(|p| match p {
            Protocol::P2p(id) => Some(id),
            _ => None,
        })
        .last()
}

/// Most listen addresses the API shows.
const LISTEN_ADDRS_SHOWN_MAX: usize = 64;

/// Swarm events taken in one go before the engine judges the gossip among them: enough for
/// large batches under load, few enough that other work waits at most a few milliseconds.
const SWARM_EVENTS_PER_BATCH_MAX: usize = 512;

/// Gossip messages that arrived together, judged by the engine in one batch.
#[derive(Default)]
struct GossipBatch {
    messages: Vec<(PeerId, gossipsub::MessageId, gossipsub::Message)>,
}

impl GossipBatch {
    fn push(&mut self, from: PeerId, id: gossipsub::MessageId, message: gossipsub::Message) {
        self.messages.push((from, id, message));
    }

    /// Has the engine judge every message (one verification batch, one store transaction) and
    /// reports each verdict to gossipsub, which forwards the accepted and scores the senders.
    fn judge(self, swarm: &mut Swarm<Behaviour>, engine: &mut NodeEngine) {
        if self.messages.is_empty() {
            return;
        }
        // Messages on topics we do not subscribe to have nothing of ours to be judged by.
        let topics: Vec<Option<AuthorId>> = self
            .messages
            .iter()
            .map(|(_, _, message)| topic_author(&message.topic))
            .collect();
        let input: Vec<GossipMessage<'_, PeerId>> = self
            .messages
            .iter()
            .zip(&topics)
            .filter_map(|((from, _, message), topic)| {
                Some(GossipMessage {
                    from: *from,
                    topic: (*topic)?,
                    data: &message.data,
                })
            })
            .collect();
        tracing::trace!(messages = input.len(), "judging a gossip batch");
        let mut verdicts = engine.handle_gossip_batch(&input, now()).into_iter();
        let gossip = &mut swarm.behaviour_mut().gossipsub;
        for ((from, id, _), topic) in self.messages.iter().zip(&topics) {
            let verdict = match topic {
                Some(_) => verdicts.next().unwrap_or(Acceptance::Ignore),
                None => Acceptance::Ignore,
            };
            let acceptance = match verdict {
                Acceptance::Accept => gossipsub::MessageAcceptance::Accept,
                Acceptance::Reject => {
                    tracing::warn!(peer = %from, "rejected invalid gossip");
                    gossipsub::MessageAcceptance::Reject
                }
                Acceptance::Ignore => gossipsub::MessageAcceptance::Ignore,
            };
            gossip.report_message_validation_result(id, from, acceptance);
        }
    }
}

/// Carries out every queued engine output.
fn drain(
    swarm: &mut Swarm<Behaviour>,
    engine: &mut NodeEngine,
    shared: &Shared,
    pending: &mut Pending,
) {
    while let Some(output) = engine.poll_output() {
        let behaviour = swarm.behaviour_mut();
        match output {
            Output::Publish { id, topics, data } => {
                for author in topics {
                    match behaviour.gossipsub.publish(topic(&author), data.clone()) {
                        Ok(_) => {}
                        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                            tracing::debug!(%id, %author, "no gossip peers on topic yet")
                        }
                        Err(e) => tracing::warn!(%id, %author, "gossip publish failed: {e}"),
                    }
                }
            }
            Output::SendRequest { peer, request } => {
                let request_id = behaviour.replication.send_request(&peer, request.encode());
                pending.requests.insert(request_id, (peer, request));
            }
            Output::Subscribe(author) => {
                if let Err(e) = behaviour.gossipsub.subscribe(&topic(&author)) {
                    tracing::warn!(%author, "subscribe failed: {e}");
                }
                if let Err(e) = behaviour
                    .gossipsub
                    .set_topic_params(topic(&author), crate::network::topic_score_params())
                {
                    tracing::warn!(%author, "cannot set topic scoring: {e}");
                }
            }
            Output::Unsubscribe(author) => {
                behaviour.gossipsub.unsubscribe(&topic(&author));
            }
            Output::StartProviding(author) => {
                if let Some(kad) = behaviour.kad.as_mut()
                    && let Err(e) = kad.start_providing(provider_key(&author))
                {
                    tracing::warn!(%author, "cannot announce as provider: {e}");
                }
            }
            Output::StopProviding(author) => {
                if let Some(kad) = behaviour.kad.as_mut() {
                    kad.stop_providing(&provider_key(&author));
                }
            }
            Output::FindProviders(author) => {
                if let Some(kad) = behaviour.kad.as_mut() {
                    let query = kad.get_providers(provider_key(&author));
                    pending.provider_queries.insert(query, author);
                }
            }
            Output::Dial(peer) => {
                let known = pending.addresses.of(&peer);
                let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                    .condition(libp2p::swarm::dial_opts::PeerCondition::DisconnectedAndNotDialing);
                // The address book's addresses when it has some (checked against the IP the
                // peer came from); otherwise what the behaviours know (a host found in the DHT).
                let opts = if known.is_empty() {
                    opts.build()
                } else {
                    opts.addresses(known).build()
                };
                match swarm.dial(opts) {
                    Ok(()) => tracing::debug!(%peer, "dialling"),
                    // Already connected or dialling: nothing failed.
                    Err(libp2p::swarm::DialError::DialPeerConditionFalse(_)) => {}
                    Err(e) => {
                        tracing::debug!(%peer, "cannot dial: {e}");
                        engine.handle_dial_failed(&peer, now());
                    }
                }
            }
            Output::RandomWalk => match swarm.behaviour_mut().kad.as_mut() {
                // A lookup of a random key connects to the peers it asks on the way.
                Some(kad) => {
                    kad.get_closest_peers(PeerId::random());
                }
                None => tracing::debug!("few connections, and no DHT to find more"),
            },
            Output::Disconnect(peer) => {
                tracing::debug!(%peer, "closing an idle connection: over the connection limit");
                let _ = swarm.disconnect_peer_id(peer);
            }
            Output::Misbehaved {
                peer,
                reason,
                score,
            } => {
                tracing::warn!(%peer, score, "peer misbehaved: {reason}");
                behaviour.gossipsub.set_application_score(&peer, score);
            }
            Output::Ban { peer, until } => {
                tracing::warn!(%peer, until = until.0, "banning peer for repeated misbehaviour");
                behaviour.banned.block_peer(peer);
            }
            Output::Unban(peer) => {
                tracing::info!(%peer, "ban ended");
                behaviour.banned.unblock_peer(peer);
                // It starts afresh, as the engine's record of it does.
                behaviour.gossipsub.set_application_score(&peer, 0.0);
            }
            Output::Stored { id, origin, .. } => {
                tracing::debug!(%id, ?origin, "stored");
                if shared.stored.receiver_count() > 0
                    && let Ok(Some(event)) =
                        handbill_protocol::store::Store::event(engine.store(), &id)
                {
                    match engine.item(&event, now()) {
                        Ok(item) => {
                            let _ = shared.stored.send(StreamEvent::Stored(item));
                        }
                        Err(e) => tracing::warn!(%id, "cannot show a stored event: {e}"),
                    }
                }
            }
            Output::Notified { position, id } => {
                if shared.stored.receiver_count() > 0 {
                    match engine.notification(position, &id, now()) {
                        Ok(Some(n)) => {
                            let _ = shared.stored.send(StreamEvent::Notification(n));
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(%id, "cannot show a notification: {e}"),
                    }
                }
            }
            Output::LogInconsistent {
                author,
                seq,
                problem,
            } => {
                tracing::warn!(%author, seq, "inconsistent log: {problem}");
            }
        }
    }
}

fn on_swarm_event(
    swarm: &mut Swarm<Behaviour>,
    engine: &mut NodeEngine,
    shared: &Shared,
    pending: &mut Pending,
    event: SwarmEvent<BehaviourEvent>,
) {
    match event {
        SwarmEvent::NewListenAddr { address, .. } => {
            let full = with_peer(&address, *swarm.local_peer_id());
            tracing::info!("listening on {full}");
            let full = full.to_string();
            let mut net = shared.net();
            // Relays choose the addresses of a reservation; a hostile one could send many.
            if !net.listen_addrs.contains(&full) && net.listen_addrs.len() < LISTEN_ADDRS_SHOWN_MAX
            {
                net.listen_addrs.push(full);
            }
            pending.net_changed = true;
        }
        SwarmEvent::ExpiredListenAddr { address, .. } => {
            let full = with_peer(&address, *swarm.local_peer_id());
            shared.net().listen_addrs.retain(|a| *a != full.to_string());
            pending.net_changed = true;
        }
        SwarmEvent::ListenerClosed {
            listener_id,
            reason,
            addresses,
        } => {
            if let Err(e) = reason {
                tracing::info!("a listener closed: {e}");
            }
            // The swarm reports a closed listener's addresses here, not as expired ones.
            let local = *swarm.local_peer_id();
            let gone: Vec<String> = addresses
                .iter()
                .map(|a| with_peer(a, local).to_string())
                .collect();
            shared.net().listen_addrs.retain(|a| !gone.contains(a));
            pending.nat.listener_closed(listener_id, now());
            pending.net_changed = true;
        }
        SwarmEvent::ExternalAddrConfirmed { address } => {
            tracing::info!("reachable at {address}");
            let before = pending.nat.verdict();
            // Announcements made before carry no way to reach this node.
            if pending
                .nat
                .external_confirmed(&address, *swarm.local_peer_id(), now())
            {
                engine.handle_addresses_changed();
            }
            if pending.nat.verdict() != before {
                tracing::info!("reachability: {}", pending.nat.verdict());
            }
            pending.net_changed = true;
        }
        SwarmEvent::NewExternalAddrCandidate { address } => {
            if pending.nat.candidate(&address, now()) {
                tracing::info!("reachability: {}", pending.nat.verdict());
            }
            pending.net_changed = true;
        }
        SwarmEvent::ExternalAddrExpired { address } => {
            tracing::info!("no longer reachable at {address}");
            pending
                .nat
                .external_expired(&address, *swarm.local_peer_id(), now());
            pending.net_changed = true;
        }
        SwarmEvent::ConnectionEstablished {
            peer_id,
            num_established,
            endpoint,
            connection_id,
            ..
        } => {
            if !endpoint.is_relayed()
                && let Some(ip) = ip_of(endpoint.get_remote_address())
            {
                pending.connected_ips.insert(connection_id, ip);
            }
            // A relayed dial's address is the way back to a peer behind NAT.
            if endpoint.is_dialer() && endpoint.is_relayed() {
                pending
                    .addresses
                    .add(peer_id, endpoint.get_remote_address().clone());
            }
            // Remember addresses we dialled (the peer listens there), to reconnect after a restart.
            if endpoint.is_dialer() && !endpoint.is_relayed() {
                pending
                    .addresses
                    .add(peer_id, endpoint.get_remote_address().clone());
                let addr = endpoint.get_remote_address().clone();
                let addr = if peer_of(&addr).is_some() {
                    addr
                } else {
                    addr.with(Protocol::P2p(peer_id))
                };
                if let Err(e) = engine.store().remember_peer(&addr.to_string(), now()) {
                    tracing::warn!("cannot remember peer {addr}: {e}");
                }
            }
            if num_established.get() == 1 {
                tracing::info!(%peer_id, addr = %endpoint.get_remote_address(), "connected");
                shared.net().peers.insert(peer_id.to_string());
                engine.handle_connected(peer_id, now());
            }
            let change = pending.nat.connected(
                peer_id,
                connection_id,
                endpoint.get_remote_address().clone(),
                endpoint.is_relayed(),
            );
            engine.handle_link_limited(&peer_id, change.limited, now());
            for relayed in change.close {
                tracing::info!(%peer_id, "direct connection established; closing the relayed one");
                swarm.close_connection(relayed);
            }
            pending.net_changed = true;
            if pending.wanted.remove(&connection_id) {
                engine.add_known_peer(peer_id, now());
            }
        }
        SwarmEvent::ConnectionClosed {
            peer_id,
            connection_id,
            num_established,
            ..
        } if num_established > 0 => {
            pending.connected_ips.remove(&connection_id);
            if let Some(limited) = pending.nat.disconnected(&peer_id, connection_id) {
                engine.handle_link_limited(&peer_id, limited, now());
            }
            pending.net_changed = true;
        }
        SwarmEvent::ConnectionClosed {
            peer_id,
            connection_id,
            ..
        } => {
            pending.connected_ips.remove(&connection_id);
            pending.nat.disconnected(&peer_id, connection_id);
            pending.net_changed = true;
            tracing::info!(%peer_id, "disconnected");
            shared.net().peers.remove(&peer_id.to_string());
            engine.handle_disconnected(&peer_id, now());
        }
        SwarmEvent::OutgoingConnectionError {
            peer_id,
            error,
            connection_id,
        } => {
            tracing::debug!(?peer_id, "dial failed: {error}");
            pending.wanted.remove(&connection_id);
            if let Some(peer) = peer_id
                && !swarm.is_connected(&peer)
            {
                engine.handle_dial_failed(&peer, now());
            }
        }
        SwarmEvent::Behaviour(event) => on_behaviour_event(swarm, engine, pending, event),
        _ => {}
    }
}

fn on_behaviour_event(
    swarm: &mut Swarm<Behaviour>,
    engine: &mut NodeEngine,
    pending: &mut Pending,
    event: BehaviourEvent,
) {
    match event {
        // Judged with the rest of what arrived together, once the loop has taken it all.
        BehaviourEvent::Gossipsub(gossipsub::Event::Message {
            propagation_source,
            message_id,
            message,
        }) => pending.gossip.push(propagation_source, message_id, message),
        BehaviourEvent::Replication(request_response::Event::Message { peer, message, .. }) => {
            match message {
                request_response::Message::Request {
                    request, channel, ..
                } => match Request::decode(&request) {
                    Ok(request) => {
                        let response = engine.handle_request(&peer, request, now());
                        let _ = swarm
                            .behaviour_mut()
                            .replication
                            .send_response(channel, response.encode());
                    }
                    Err(e) => {
                        tracing::warn!(%peer, "malformed replication request: {e}");
                        engine.handle_malformed(&peer, now());
                    }
                },
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((peer, request)) = pending.requests.remove(&request_id) {
                        match Response::decode(&response) {
                            Ok(response) => {
                                engine.handle_response(&peer, &request, response, now())
                            }
                            Err(e) => {
                                tracing::warn!(%peer, "malformed replication response: {e}");
                                engine.handle_request_failed(&peer, &request, now());
                                engine.handle_malformed(&peer, now());
                            }
                        }
                    }
                }
            }
        }
        BehaviourEvent::Replication(request_response::Event::OutboundFailure {
            request_id,
            error,
            ..
        }) => {
            if let Some((peer, request)) = pending.requests.remove(&request_id) {
                tracing::debug!(%peer, "replication request failed: {error}");
                engine.handle_request_failed(&peer, &request, now());
            }
        }
        BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
            id, result, step, ..
        }) => {
            if let kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                providers,
                ..
            })) = result
                && let Some(author) = pending.provider_queries.get(&id).copied()
            {
                let local = *swarm.local_peer_id();
                let found: Vec<PeerId> = providers.into_iter().filter(|p| *p != local).collect();
                engine.handle_providers(author, found);
            }
            if step.last {
                pending.provider_queries.remove(&id);
            }
        }
        BehaviourEvent::Identify(identify::Event::Received {
            peer_id,
            info,
            connection_id,
        }) => {
            // Where the peer listens, on the IP it came from: what a redial can use. A relayed
            // address counts through a relay this node is directly connected to, rebuilt from
            // this node's own address of that relay: a redial never goes where the peer says.
            let observed = pending.connected_ips.get(&connection_id).copied();
            for addr in info
                .listen_addrs
                .iter()
                .take(AddressBook::ADDRESSES_PER_PEER * 4)
            {
                if is_relayed(addr) {
                    if let Some(way) = relayed_way_to(peer_id, addr, pending) {
                        pending.addresses.add(peer_id, way);
                    }
                } else if observed.is_some() && ip_of(addr) == observed {
                    pending.addresses.add(peer_id, addr.clone());
                }
            }
            let offers_relay = info.protocols.contains(&relay::HOP_PROTOCOL_NAME);
            pending.nat.identified(peer_id, offers_relay);
            // A peer's loopback addresses are this machine's own unless it connected over
            // loopback: dialling them reaches this node, or whatever else listens here.
            let on_loopback = observed.is_some_and(|ip| ip.is_loopback());
            if let Some(kad) = swarm.behaviour_mut().kad.as_mut() {
                for addr in info.listen_addrs.into_iter().take(32) {
                    if on_loopback || !ip_of(&addr).is_some_and(|ip| ip.is_loopback()) {
                        kad.add_address(&peer_id, addr);
                    }
                }
            }
        }
        BehaviourEvent::Ping(libp2p::ping::Event {
            peer,
            connection,
            result: Err(failure),
        }) if ping_timed_out(&failure) => {
            // A connection that stops answering pings is dead (a link down, a NAT mapping
            // gone) even if TCP has not noticed: close it so upkeep redials.
            tracing::info!(%peer, "ping timed out; closing the connection: {failure}");
            swarm.close_connection(connection);
        }
        // A success also arrives as `ExternalAddrConfirmed`, which is where it is counted.
        BehaviourEvent::AutonatClient(autonat::v2::client::Event {
            tested_addr,
            server,
            result: Err(e),
            ..
        }) => {
            tracing::info!(%server, "{tested_addr} is not reachable from outside: {e}");
            if pending.nat.failed(&tested_addr, now()) {
                tracing::info!("reachability: {}", pending.nat.verdict());
            }
            pending.net_changed = true;
        }
        BehaviourEvent::RelayClient(relay::client::Event::ReservationReqAccepted {
            relay_peer_id,
            renewal,
            ..
        }) => {
            if !renewal {
                tracing::info!(relay = %relay_peer_id, "relay reservation accepted");
            }
            pending.nat.reservation_accepted(relay_peer_id, now());
            pending.net_changed = true;
        }
        BehaviourEvent::Dcutr(dcutr::Event {
            remote_peer_id,
            result,
        }) => match result {
            Ok(_) => tracing::info!(peer = %remote_peer_id, "hole punched: direct connection"),
            Err(e) => tracing::info!(peer = %remote_peer_id, "hole punching failed: {e}"),
        },
        BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
            for (peer, addr) in found {
                if let Some(kad) = swarm.behaviour_mut().kad.as_mut() {
                    kad.add_address(&peer, addr.clone());
                }
                if !swarm.is_connected(&peer) {
                    let _ = swarm.dial(addr);
                }
            }
        }
        _ => {}
    }
}
