//! The libp2p side of the node: the composed behaviour, gossip topics and message ids, and the
//! bounded request-response codec for replication.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use handbill_protocol::wire::{REPLICATION_MESSAGE_BYTES_MAX, REPLICATION_PROTOCOL};
use handbill_protocol::{AuthorId, limits::EVENT_BYTES_MAX};
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{
    StreamProtocol, allow_block_list, autonat, connection_limits, dcutr, identify, identity, kad,
    mdns, ping, relay, request_response,
};
use std::io;
use std::time::Duration;

/// The Kademlia protocol name: a private DHT for Handbill nodes, not the IPFS one.
pub const KAD_PROTOCOL: &str = "/handbill/kad/1";
/// The identify protocol version string.
pub const IDENTIFY_PROTOCOL: &str = "/handbill/1";

/// The prefix of every author topic; `1` is the routing version (see ARCHITECTURE.md).
const TOPIC_PREFIX: &str = "handbill/1/author/";

/// The gossip topic of an author.
pub fn topic(author: &AuthorId) -> IdentTopic {
    IdentTopic::new(format!("{TOPIC_PREFIX}{author}"))
}

/// The author whose topic this is, or `None` for a topic that is not an author topic.
pub fn topic_author(topic: &gossipsub::TopicHash) -> Option<AuthorId> {
    topic.as_str().strip_prefix(TOPIC_PREFIX)?.parse().ok()
}

/// How long a new connection may take to complete its handshake (security and multiplexer
/// negotiation) before it is dropped: a silent connection otherwise holds a pending slot forever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest gossip message gossipsub lets through to validation: well above the event limit, so
/// an oversized message reaches the engine, is rejected there and costs its sender, instead of
/// being dropped inside gossipsub's handler where nobody is charged for it.
pub const GOSSIP_MESSAGE_BYTES_MAX: usize = 4 * EVENT_BYTES_MAX;

/// Topics a peer may name in one gossipsub message: what fits in [`GOSSIP_MESSAGE_BYTES_MAX`]
/// at about 90 bytes a subscription. A node hosting more authors than this cannot introduce
/// itself to peers in one message (ARCHITECTURE.md, "Limits").
pub const SUBSCRIPTIONS_PER_MESSAGE_MAX: usize = 2_500;

/// Peer-scoring parameters for an author topic.
///
/// Author topics are often quiet for hours, so the mesh-delivery penalties (P3, P3b) that punish
/// silence are off; what matters is invalid messages (P4), which quickly push a peer below the
/// graylist threshold, and decay slowly (half-life about four minutes) so that a persistent
/// sender stays graylisted rather than earning a fresh chance every few seconds. First
/// deliveries (P2) and time in mesh (P1) earn a little credit.
pub fn topic_score_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 0.5,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 3600.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: 0.5,
        first_message_deliveries_cap: 100.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // Quadratic in the count: with the application score the engine sets per offence
        // (-20 after weighting), the third invalid message crosses the graylist threshold
        // (-80), when the engine bans the sender anyway.
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: 0.997,
        ..Default::default()
    }
}

/// The DHT key under which hosts of an author announce themselves.
pub fn provider_key(author: &AuthorId) -> kad::RecordKey {
    let mut hasher = blake3::Hasher::new_derive_key("handbill 1 provider key");
    hasher.update(&author.0);
    kad::RecordKey::new(hasher.finalize().as_bytes())
}

/// Gossip message id: a hash of the topic and the message's whole bytes. Scoped by topic
/// because the same event is published on several topics (its author's and those of the authors
/// it names), and gossipsub would drop the second publish of an identical id as a duplicate.
/// The whole bytes, not just the event id, because gossipsub remembers an id as seen before it
/// is validated: were the id the event's, a bare header or a copy with a corrupted payload sent
/// first would make every node drop the real event as a duplicate. Encodings are canonical, so
/// honest copies of one event still share an id.
fn message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    let mut hasher = blake3::Hasher::new_derive_key("handbill 1 gossip message id");
    hasher.update(message.topic.as_str().as_bytes());
    hasher.update(&message.data);
    gossipsub::MessageId::from(hasher.finalize().as_bytes().to_vec())
}

/// Everything the node speaks.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Exchanges addresses and protocols.
    pub identify: identify::Behaviour,
    /// Keeps connections alive and measures them.
    pub ping: ping::Behaviour,
    /// Topic-per-author event dissemination.
    pub gossipsub: gossipsub::Behaviour,
    /// Provider records: who hosts which author (off when discovery is off).
    pub kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
    /// LAN discovery, only when enabled.
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Heads exchange and range backfill.
    pub replication: request_response::Behaviour<ReplicationCodec>,
    /// Learns whether this node is reachable.
    pub autonat_client: autonat::v2::client::Behaviour,
    /// Helps others learn whether they are reachable.
    pub autonat_server: autonat::v2::server::Behaviour,
    /// Reaches and is reached through relays when behind NAT.
    pub relay_client: relay::client::Behaviour,
    /// Relays for nodes behind NAT, while this node is confirmed reachable (off by config).
    pub relay: Toggle<relay::Behaviour>,
    /// Upgrades relayed connections to direct ones.
    pub dcutr: dcutr::Behaviour,
    /// Bounds connections.
    pub limits: connection_limits::Behaviour,
    /// Bounds connections per address, so one machine cannot fill the node.
    pub address_limits: crate::address_limits::Behaviour,
    /// Peers banned for misbehaviour: disconnected and refused until the engine lifts the ban.
    pub banned: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
}

impl Behaviour {
    /// Builds the behaviour for `key`; gossip remembers seen message ids for `duplicate_cache`.
    pub fn new(
        key: &identity::Keypair,
        relay_client: relay::client::Behaviour,
        relay_server: Option<relay::Config>,
        enable_mdns: bool,
        enable_dht: bool,
        duplicate_cache: Duration,
    ) -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
        let peer_id = key.public().to_peer_id();
        let config = gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_millis(700))
            .validation_mode(ValidationMode::Anonymous)
            .validate_messages()
            .max_transmit_size(GOSSIP_MESSAGE_BYTES_MAX)
            // Gossipsub tells a new peer every topic it is on in one first message; its default
            // 16 KiB cap on that message's subscriptions and control parts drops the hello of a
            // node hosting more than about 90 authors, so such a node would never be sent gossip.
            .max_control_message_size(GOSSIP_MESSAGE_BYTES_MAX)
            .message_id_fn(message_id)
            .duplicate_cache_time(duplicate_cache)
            .build()?;
        let filter = gossipsub::MaxCountSubscriptionFilter {
            filter: gossipsub::AllowAllSubscriptionFilter {},
            max_subscribed_topics: 10_000,
            // As many as fit in one message of GOSSIP_MESSAGE_BYTES_MAX (about 90 bytes each).
            max_subscriptions_per_request: SUBSCRIPTIONS_PER_MESSAGE_MAX,
        };
        let mut gossip = gossipsub::Behaviour::new_with_subscription_filter(
            MessageAuthenticity::Anonymous,
            config,
            filter,
        )?;
        let score = gossipsub::PeerScoreParams {
            // Many nodes of one operator (and every test) share an IP; do not punish that.
            ip_colocation_factor_weight: 0.0,
            ..Default::default()
        };
        let thresholds = gossipsub::PeerScoreThresholds::default();
        gossip.with_peer_score(score, thresholds)?;

        let mut kad_config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        kad_config.set_query_timeout(Duration::from_secs(30));
        let mut kad =
            kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
        kad.set_mode(Some(kad::Mode::Server));

        let mdns = if enable_mdns {
            Some(mdns::tokio::Behaviour::new(
                mdns::Config::default(),
                peer_id,
            )?)
        } else {
            None
        };

        Ok(Behaviour {
            identify: identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL.into(), key.public())
                    .with_agent_version(format!("handbilld/{}", env!("CARGO_PKG_VERSION"))),
            ),
            // Pings every 5 s with a 10 s timeout: a dead connection (link down, NAT mapping
            // gone) is found within about 30 s (ping reports the second failure in a row,
            // the first ping timing out and then the opening of the next ping stream).
            ping: ping::Behaviour::new(
                ping::Config::new()
                    .with_interval(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(10)),
            ),
            gossipsub: gossip,
            kad: Toggle::from(enable_dht.then_some(kad)),
            mdns: Toggle::from(mdns),
            replication: request_response::Behaviour::with_codec(
                ReplicationCodec,
                [(
                    StreamProtocol::new(REPLICATION_PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(30))
                    .with_max_concurrent_streams(64),
            ),
            autonat_client: autonat::v2::client::Behaviour::default(),
            autonat_server: autonat::v2::server::Behaviour::default(),
            relay_client,
            // libp2p's relay advertises and serves the hop protocol only while the swarm has a
            // confirmed external address, which is what "offered while reachable" asks.
            relay: Toggle::from(relay_server.map(|config| relay::Behaviour::new(peer_id, config))),
            dcutr: dcutr::Behaviour::new(peer_id),
            limits: connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_established(Some(256))
                    // Hole punching needs room: a relayed connection each way while both sides
                    // dial, and the direct ones DCUtR opens from both ends at once.
                    .with_max_established_per_peer(Some(8))
                    .with_max_pending_incoming(Some(128)),
            ),
            address_limits: crate::address_limits::Behaviour::new(
                crate::address_limits::AddressLimits::default(),
            ),
            banned: allow_block_list::Behaviour::default(),
        })
    }
}

/// Length-prefixed frames with a hard size bound checked before reading the body.
#[derive(Clone, Default)]
pub struct ReplicationCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > REPLICATION_MESSAGE_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("replication frame of {len} bytes exceeds {REPLICATION_MESSAGE_BYTES_MAX}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, data: &[u8]) -> io::Result<()> {
    let len = u32::try_from(data.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(data).await
}

impl request_response::Codec for ReplicationCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response).await
    }
}
