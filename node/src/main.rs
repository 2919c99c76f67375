//! `handbilld`: the Handbill node daemon.
//!
//! Keeps and serves the signed logs of the authors its user follows, gossips new events, backfills
//! what it missed, and answers the local API. Exit codes: 0 after a clean shutdown, 1 on any error
//! (the message says what to do), 2 on bad command-line usage.

use anyhow::{Context, Result};
use clap::Parser;
use handbill_node::home::Home;
use handbill_node::{api, config, daemon, network, store, web};
use handbill_protocol::engine::{Engine, EngineConfig, ReputationLimits};
use libp2p::{Multiaddr, Transport, identity, noise, tcp, yamux};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The Handbill node daemon.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// The node's home directory (keys, config, store). Created on first start.
    #[arg(long, env = "HANDBILL_HOME")]
    home: Option<PathBuf>,

    /// Address to listen on for peers (repeatable). Default: TCP and QUIC on all interfaces at
    /// the configured port.
    #[arg(long, env = "HANDBILL_LISTEN", value_delimiter = ',')]
    listen: Vec<String>,

    /// Peer to connect to at start, as a multiaddr ending in /p2p/PEER_ID (repeatable). Adds to
    /// the configured ones.
    #[arg(long, env = "HANDBILL_BOOTSTRAP", value_delimiter = ',')]
    bootstrap: Vec<String>,

    /// Discover peers on the local network with mDNS.
    #[arg(long, env = "HANDBILL_MDNS")]
    mdns: bool,

    /// Run without the DHT: neither announce nor look up who hosts which author, and talk only
    /// to configured, bootstrap and explicitly connected peers (and those that connect here).
    #[arg(long, env = "HANDBILL_NO_DISCOVER")]
    no_discover: bool,

    /// Port of the local API and web app on 127.0.0.1 (0 picks a new one at every start;
    /// without this, the port recorded in config.toml, chosen on the first start).
    #[arg(long, env = "HANDBILL_API_PORT")]
    api_port: Option<u16>,

    /// Create the home (author key, node key, config), print the author id, and exit without
    /// starting. Fails if the home already has an author key.
    #[arg(long)]
    init: bool,

    /// How long gossip remembers message ids it has seen, in seconds. Tests shorten it to
    /// replay old messages; there is no reason to change it otherwise.
    #[arg(
        long,
        env = "HANDBILL_GOSSIP_DUPLICATE_CACHE_SECS",
        default_value_t = 60,
        hide = true
    )]
    gossip_duplicate_cache_secs: u64,

    /// How long a peer banned for repeated misbehaviour stays banned, in seconds. Tests
    /// shorten it to see a ban end.
    #[arg(long, env = "HANDBILL_BAN_SECS", default_value_t = 600, hide = true)]
    ban_secs: u64,
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,libp2p_gossipsub=warn,libp2p_kad=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in a redirected log.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("handbilld: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(args)) {
        eprintln!("handbilld: error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<()> {
    raise_file_limit();
    let home = Home::at(match args.home {
        Some(home) => home,
        None => Home::default_root()?,
    });
    if args.init && home.author_key().exists() {
        anyhow::bail!(
            "{} already holds an author key; refusing to overwrite it",
            home.root().display()
        );
    }
    let created = home.init()?;
    if args.init {
        if !args.listen.is_empty() {
            // Recorded so that a plain `handbilld --home …` later listens where `init` said.
            config::record_listen(&home.config(), &args.listen)?;
        }
        println!("{}", home.read_author_key()?.author());
        eprintln!("handbilld: initialised {}", home.root().display());
        return Ok(());
    }
    let _lock = home.lock_exclusive()?;
    let author_key = home.read_author_key()?;
    let author = author_key.author();
    let node_key = identity::Keypair::from_protobuf_encoding(&home.read_node_key()?)
        .with_context(|| format!("{} is not a libp2p key", home.node_key().display()))?;
    if created {
        eprintln!(
            "handbilld: initialised a new node in {}\n  author id: {author}\n  (keys are in author.key and node.key, readable only by you)",
            home.root().display()
        );
    }
    let file = config::FileConfig::load(&home.config())?;
    let mdns = args.mdns || file.mdns;
    let listen = if args.listen.is_empty() {
        file.listen_addrs()
    } else {
        args.listen.clone()
    };
    let mut bootstrap = file.bootstrap.clone();
    bootstrap.extend(args.bootstrap.iter().cloned());

    let store = store::SledStore::open(&home.store())
        .with_context(|| format!("opening the store in {}", home.store().display()))?;
    let discover = !args.no_discover && file.discover;
    let mut engine_config = EngineConfig {
        strangers: file.stranger_limits(),
        reputation: ReputationLimits {
            ban_ms: args.ban_secs.saturating_mul(1000),
            ..ReputationLimits::default()
        },
        ..EngineConfig::default()
    };
    if !discover {
        engine_config.providers_dialled_max = 0;
    }
    // Peers from earlier runs, so a restarted node finds the network again by itself.
    let known_peers = store.known_peers().unwrap_or_default();
    let engine = Engine::new(author_key, store, engine_config, daemon::now())
        .context("loading the node's state from the store")?;

    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(node_key)
        .with_tokio()
        .with_quic()
        // TCP as `with_tcp` builds it, plus the handshake timeout it lacks.
        .with_other_transport(
            |key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
                Ok(
                    tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
                        .upgrade(libp2p::core::upgrade::Version::V1Lazy)
                        .authenticate(noise::Config::new(key)?)
                        .multiplex(yamux::Config::default())
                        .timeout(network::HANDSHAKE_TIMEOUT),
                )
            },
        )?
        .with_relay_client(noise::Config::new, yamux::Config::default)?
        .with_behaviour(|key, relay| {
            network::Behaviour::new(
                key,
                relay,
                file.relay.server(),
                mdns,
                discover,
                Duration::from_secs(args.gossip_duplicate_cache_secs),
            )
        })
        .map_err(|e| anyhow::anyhow!("building the network behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    for addr in &listen {
        let addr: Multiaddr = addr
            .parse()
            .with_context(|| format!("--listen {addr} is not a multiaddr"))?;
        refuse_taken_tcp_port(&addr)?;
        swarm
            .listen_on(addr.clone())
            .with_context(|| format!("cannot listen on {addr}"))?;
    }
    // Bootstrap peers first, then those of earlier runs; the network loop dials them all.
    let mut known: Vec<Multiaddr> = Vec::new();
    for addr in &bootstrap {
        known.push(
            addr.parse()
                .with_context(|| format!("bootstrap address {addr} is not a multiaddr"))?,
        );
    }
    known.extend(
        known_peers
            .iter()
            .filter(|a| !bootstrap.contains(a))
            .filter_map(|a| a.parse::<Multiaddr>().ok()),
    );
    let known_peers = known;
    let peer_id = *swarm.local_peer_id();

    let (shared, inbox) = daemon::Shared::new();
    let listener = match args.api_port {
        Some(port) => api_listener(port)
            .with_context(|| format!("binding the local API on 127.0.0.1:{port} (--api-port)"))?,
        None if file.api_port != 0 => api_listener(file.api_port).with_context(|| {
            format!(
                "binding the local API on 127.0.0.1:{port}: another program holds the port. \
                 Stop it, or set another api_port in {config} (the web app's address changes \
                 with it, so browsers sign in again)",
                port = file.api_port,
                config = home.config().display()
            )
        })?,
        None => {
            let listener = first_api_listener().context("binding the local API on 127.0.0.1")?;
            let port = listener
                .local_addr()
                .context("reading the API address")?
                .port();
            config::record_api_port(&home.config(), port)?;
            listener
        }
    };
    let api_addr = listener.local_addr().context("reading the API address")?;
    let web = web::Web::new(
        web::SessionStore::open(home.sessions(), daemon::now())?,
        api_addr.port(),
        &author,
    );
    let token = home.new_api_token()?;
    let tmp = home.root().join("api.addr.tmp");
    std::fs::write(&tmp, format!("http://{api_addr}\n"))
        .and_then(|()| std::fs::rename(&tmp, home.api_addr()))
        .with_context(|| format!("writing {}", home.api_addr().display()))?;
    eprintln!(
        "handbilld: author {author}\n  peer {peer_id}\n  local API http://{api_addr} (token in {})",
        home.api_token().display()
    );

    let (stop, stopped) = watch::channel(false);
    let state = api::ApiState {
        shared: Arc::clone(&shared),
        token: Arc::new(token),
        web: Arc::new(web),
    };
    let server = tokio::spawn(api::serve::serve(
        listener,
        api::router(state),
        api::serve::ConnectionLimits::default(),
        stopped.clone(),
    ));
    // The network task owns the engine and does its blocking store work: a thread of its own
    // (the swarm's connection tasks still run on the runtime's workers, as does the API).
    let runtime = tokio::runtime::Handle::current();
    let network_shared = Arc::clone(&shared);
    let network = tokio::task::spawn_blocking(move || {
        runtime.block_on(daemon::run(
            swarm,
            engine,
            network_shared,
            inbox,
            known_peers,
            file.relay.enabled(),
            stopped,
        ))
    });

    wait_for_signal().await?;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    network.await.context("network loop panicked")??;
    // Open event streams would hold the server forever; give requests in progress a moment.
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let _ = std::fs::remove_file(home.api_addr());
    eprintln!("handbilld: stopped; store flushed");
    Ok(())
}

/// The API's listening socket on loopback. A deep accept queue: under a connection flood the
/// kernel drops connection attempts once the queue is full, and the owner's would then wait
/// for a SYN retransmit (a second or more) instead of a turn of the accept loop.
/// SO_REUSEADDR lets a restarted daemon take its port back while the last run's connections
/// linger in TIME_WAIT; a port another socket listens on still fails to bind.
fn api_listener(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind((std::net::Ipv4Addr::LOCALHOST, port).into())?;
    socket.listen(4096)
}

/// The first start's API listener: a free port below Linux's ephemeral range (32768 and up),
/// so that no outgoing connection holds it when the daemon restarts.
fn first_api_listener() -> std::io::Result<tokio::net::TcpListener> {
    use rand_core::{OsRng, RngCore};
    for _ in 0..64 {
        let port = 20_000 + (OsRng.next_u32() % 12_000) as u16;
        if let Ok(listener) = api_listener(port) {
            return Ok(listener);
        }
    }
    api_listener(0)
}

/// Raises the soft limit on open files to the hard one: connection pools bound what the node
/// holds, but a flood still needs descriptors for the moment between accept and close.
fn raise_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// Fails if a TCP listen address names a port another process is listening on. libp2p-tcp sets
/// SO_REUSEPORT on its listeners, so a second daemon on the same port would start "fine" and the
/// kernel would then split incoming connections between the two. A plain bind (no
/// SO_REUSEPORT) fails on a port in use, so it is a faithful probe.
fn refuse_taken_tcp_port(addr: &Multiaddr) -> Result<()> {
    use libp2p::multiaddr::Protocol;
    let mut ip: Option<std::net::IpAddr> = None;
    for part in addr.iter() {
        match part {
            Protocol::Ip4(a) => ip = Some(a.into()),
            Protocol::Ip6(a) => ip = Some(a.into()),
            Protocol::Tcp(port) if port != 0 => {
                if let Some(ip) = ip {
                    std::net::TcpListener::bind((ip, port)).with_context(|| {
                        format!(
                            "cannot listen on {addr}: port {port} is in use (another handbilld? \
                             pick a free port with --listen)"
                        )
                    })?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
