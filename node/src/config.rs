//! `config.toml`: the node's settings file, and how flags and environment override it.

use anyhow::{Context, Result};
use handbill_protocol::engine::StrangerLimits;
use serde::Deserialize;
use std::path::Path;

/// The commented config written on first start.
pub const DEFAULT_CONFIG: &str = r#"# Handbill node configuration.
# Command-line flags override environment variables, which override this file.

# Port for peer-to-peer connections (TCP and QUIC). 0 picks a free port at every start.
port = 4701

# Addresses to listen on. Empty means TCP and QUIC on all interfaces at `port`.
# Example: listen = ["/ip4/0.0.0.0/tcp/4701", "/ip4/0.0.0.0/udp/4701/quic-v1"]
listen = []

# Peers to connect to at start, as multiaddrs ending in /p2p/PEER_ID. There is no built-in list:
# a node contacts only what you put here, what you connect to, and what those peers tell it about.
bootstrap = []

# Discover peers on the local network with mDNS.
mdns = false

# Dial nodes that the DHT says host the authors you follow. With false, this node talks only to
# the peers above, those you connect to, and those that connect to it.
discover = true

# Port of the local HTTP API and the web app (`handbill open`) on 127.0.0.1, also written to
# api.addr in the home directory. 0 here means "not chosen yet": the first start picks a free
# port and records it in its place, so the app's address, and with it the browser's sign-in,
# stays the same across restarts. `--api-port 0` picks a new port at every start instead.
api_port = 0

# Events from strangers (authors this node does not host) are kept only when they concern an
# author it hosts: replies, mentions, quotes, reposts, reactions and follows arriving on that
# author's topic. They are capped per hosted author per clock hour; the excess is not stored or
# forwarded. A popular author gets thousands of honest replies a day, in bursts.
# Most events from one stranger per hosted author per hour (a lively thread: a few a minute).
stranger_events_per_author_per_hour = 60
# Most events from all strangers together per hosted author per hour.
stranger_events_per_topic_per_hour = 2000

# Relay service (circuit relay v2): while AutoNAT confirms that this node is reachable from the
# internet, it lets nodes behind NAT reserve a slot here and be reached through it, until they
# punch a direct connection. It never relays while it is itself unreachable. Each circuit is
# cut at the byte or time limit below, so a relay carries introductions and light gossip, not
# bulk transfers; nodes prefer a direct connection as soon as they have one.
[relay]
# Offer the relay service (when reachable). false (or any limit set to 0): never relay.
service = true
# Reservations held at once, in total and per peer.
reservations = 128
reservations_per_peer = 2
# How long a reservation lasts before the node behind NAT must renew it, in seconds.
reservation_secs = 3600
# Circuits relayed at once, in total and per peer (as source of the circuit).
circuits = 16
circuits_per_peer = 4
# Each circuit ends after this long (seconds) or this many bytes (both directions together).
circuit_secs = 120
circuit_bytes = 1048576
"#;

/// The relay service's switch and limits (`[relay]` in the config file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Offer circuit relay v2 while reachable.
    pub service: bool,
    /// Reservations held at once.
    pub reservations: usize,
    /// Reservations held at once for one peer.
    pub reservations_per_peer: usize,
    /// Reservation lifetime in seconds.
    pub reservation_secs: u64,
    /// Circuits relayed at once.
    pub circuits: usize,
    /// Circuits relayed at once from one source peer.
    pub circuits_per_peer: usize,
    /// Longest circuit in seconds.
    pub circuit_secs: u64,
    /// Most bytes a circuit carries.
    pub circuit_bytes: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            service: true,
            reservations: 128,
            reservations_per_peer: 2,
            reservation_secs: 3600,
            circuits: 16,
            circuits_per_peer: 4,
            circuit_secs: 120,
            circuit_bytes: 1 << 20,
        }
    }
}

impl RelayConfig {
    /// The libp2p relay configuration these limits give, or `None` when the service is off.
    /// A limit of 0 switches the service off (libp2p would read it as one).
    pub fn server(&self) -> Option<libp2p::relay::Config> {
        let any_zero = [
            self.reservations,
            self.reservations_per_peer,
            self.circuits,
            self.circuits_per_peer,
        ]
        .contains(&0)
            || self.circuit_secs == 0
            || self.circuit_bytes == 0
            || self.reservation_secs == 0;
        if !self.service || any_zero {
            return None;
        }
        Some(libp2p::relay::Config {
            max_reservations: self.reservations,
            // libp2p-relay 0.22 refuses a peer's reservation or circuit only when it already
            // holds *more* than the per-peer maximum, so it would allow one over the limit.
            max_reservations_per_peer: self.reservations_per_peer.saturating_sub(1),
            reservation_duration: std::time::Duration::from_secs(self.reservation_secs),
            max_circuits: self.circuits,
            max_circuits_per_peer: self.circuits_per_peer.saturating_sub(1),
            max_circuit_duration: std::time::Duration::from_secs(self.circuit_secs),
            max_circuit_bytes: self.circuit_bytes,
            ..libp2p::relay::Config::default()
        })
    }

    /// Whether the relay service runs with these settings.
    pub fn enabled(&self) -> bool {
        self.server().is_some()
    }
}

/// The config file's contents.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// P2P port.
    pub port: u16,
    /// Listen multiaddrs.
    pub listen: Vec<String>,
    /// Bootstrap multiaddrs.
    pub bootstrap: Vec<String>,
    /// mDNS on the LAN.
    pub mdns: bool,
    /// Dial DHT providers of followed authors.
    pub discover: bool,
    /// Local API port.
    pub api_port: u16,
    /// Events kept from one stranger per hosted author per hour.
    pub stranger_events_per_author_per_hour: u32,
    /// Events kept from all strangers per hosted author per hour.
    pub stranger_events_per_topic_per_hour: u32,
    /// The relay service.
    pub relay: RelayConfig,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            port: 4701,
            listen: Vec::new(),
            bootstrap: Vec::new(),
            mdns: false,
            discover: true,
            api_port: 0,
            stranger_events_per_author_per_hour: StrangerLimits::default().per_author,
            stranger_events_per_topic_per_hour: StrangerLimits::default().per_topic,
            relay: RelayConfig::default(),
        }
    }
}

impl FileConfig {
    /// Reads `path`; a missing file means defaults.
    pub fn load(path: &Path) -> Result<FileConfig> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The stranger budget these settings give.
    pub fn stranger_limits(&self) -> StrangerLimits {
        StrangerLimits {
            per_author: self.stranger_events_per_author_per_hour,
            per_topic: self.stranger_events_per_topic_per_hour,
        }
    }

    /// The listen addresses to use when none are given on the command line.
    pub fn listen_addrs(&self) -> Vec<String> {
        if !self.listen.is_empty() {
            return self.listen.clone();
        }
        vec![
            format!("/ip4/0.0.0.0/tcp/{}", self.port),
            format!("/ip4/0.0.0.0/udp/{}/quic-v1", self.port),
        ]
    }
}

/// Sets the `listen` addresses in the config file at `path`, keeping the rest of it (comments
/// included): the default file's `listen = []` line is replaced.
pub fn record_listen(path: &Path, addrs: &[String]) -> Result<()> {
    let quoted: Vec<String> = addrs
        .iter()
        .map(|a| toml::Value::String(a.clone()).to_string())
        .collect();
    record_setting(path, "listen", &format!("[{}]", quoted.join(", ")))
        .with_context(|| format!("recording the listen addresses {addrs:?}"))
}

/// Sets the API port in the config file at `path`, keeping the rest of it.
pub fn record_api_port(path: &Path, port: u16) -> Result<()> {
    record_setting(path, "api_port", &port.to_string())
        .with_context(|| format!("recording api_port = {port}"))
}

/// Replaces the top-level `key = …` line of the config file at `path` with `key = value`
/// (adding it at the top if absent), checks that the result still parses, and writes it.
fn record_setting(path: &Path, key: &str, value: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = format!("{key} = {value}");
    let mut replaced = false;
    let mut in_table = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let trimmed = l.trim_start();
            in_table |= trimmed.starts_with('[');
            let is_key = trimmed
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='));
            if !replaced && !in_table && is_key {
                replaced = true;
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut text = lines.join("\n") + "\n";
    if !replaced {
        text = format!("{line}\n{text}");
    }
    toml::from_str::<FileConfig>(&text).context("the changed config does not parse")?;
    let tmp = path.with_extension("toml.tmp");
    // The rewrite keeps the file's mode (an owner who made it private keeps it private).
    let mode = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions();
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::set_permissions(&tmp, mode))
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_parses_to_defaults() {
        let parsed: FileConfig = toml::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(parsed, FileConfig::default());
        assert_eq!(parsed.listen_addrs().len(), 2);
    }

    #[test]
    fn unknown_keys_are_an_error() {
        assert!(toml::from_str::<FileConfig>("prot = 1").is_err());
    }

    #[test]
    fn recorded_listen_addresses_are_read_back_and_comments_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, DEFAULT_CONFIG).unwrap();
        let addrs = vec!["/ip4/127.0.0.1/tcp/4702".to_string()];
        record_listen(&path, &addrs).unwrap();
        let loaded = FileConfig::load(&path).unwrap();
        assert_eq!(loaded.listen_addrs(), addrs);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# Addresses to listen on."));
    }

    #[test]
    fn recorded_api_port_is_read_back_and_tables_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, DEFAULT_CONFIG).unwrap();
        record_api_port(&path, 23456).unwrap();
        let loaded = FileConfig::load(&path).unwrap();
        assert_eq!(loaded.api_port, 23456);
        assert_eq!(loaded.relay.circuits, FileConfig::default().relay.circuits);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("api_port =").count(), 1, "{text}");
        assert!(text.contains("`--api-port 0` picks a new port"));
    }
}
