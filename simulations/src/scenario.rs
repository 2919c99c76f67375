//! Scenarios: what one run simulates, read from TOML. Every field has a default, so a scenario
//! file names only what it changes; `--set key=value` edits the parsed TOML before it is read,
//! so an override is checked exactly like the file.

use serde::{Deserialize, Serialize};

/// Why a scenario could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The TOML does not parse or does not match the schema (unknown keys are errors).
    #[error("scenario is not valid: {0}")]
    Parse(String),
    /// A `--set` argument is not `key=value`, or its key path does not fit the scenario.
    #[error("bad --set {arg:?}: {why}")]
    Set {
        /// The argument as given.
        arg: String,
        /// What is wrong with it.
        why: String,
    },
    /// The values parse but contradict each other or are out of range.
    #[error("scenario is inconsistent: {0}")]
    Invalid(String),
}

/// How far `network.region_shares` may sum from 1: floating-point rounding of decimal
/// fractions and no more (write thirds as 0.333333, 0.333333, 0.333334).
pub const REGION_SHARES_TOLERANCE: f64 = 1e-9;

/// One simulated run: network, overlay, dissemination, workload and the adversities applied.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in output file names and the summary.
    pub name: String,
    /// What the scenario asks.
    pub description: String,
    /// The run's only source of randomness; the same scenario and seed give identical outputs.
    pub seed: u64,
    /// Virtual time simulated, in seconds.
    pub duration_s: f64,
    /// Nodes present at the start (attackers and later joiners are added on top).
    pub nodes: usize,
    /// `full` verifies every signature at every node (the default, what the daemon does);
    /// `memo` verifies each distinct signature once per run and remembers the success, which is
    /// exact (verdicts depend only on the bytes) and much cheaper for large runs.
    pub signatures: SignatureMode,
    /// Links: latency, jitter, bandwidth, loss.
    pub network: Network,
    /// Who is connected to whom.
    pub overlay: Overlay,
    /// How posts spread.
    pub dissemination: Dissemination,
    /// Who posts what, and who follows whom.
    pub workload: Workload,
    /// Nodes leaving and returning.
    pub churn: Churn,
    /// Network splits and heals.
    pub partitions: Vec<Partition>,
    /// A hosting provider's nodes vanish at once.
    pub deplatform: Option<Deplatform>,
    /// Nodes that silently drop one author.
    pub censor: Option<Censor>,
    /// Sybils that surround one node.
    pub eclipse: Option<Eclipse>,
    /// Nodes that flood invalid and unwanted events.
    pub spam: Option<Spam>,
    /// Labellers and the users who subscribe to them.
    pub moderation: Option<Moderation>,
    /// Output resolution.
    pub metrics: Metrics,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "custom".into(),
            description: String::new(),
            seed: 1,
            duration_s: 120.0,
            nodes: 100,
            signatures: SignatureMode::Full,
            network: Network::default(),
            overlay: Overlay::default(),
            dissemination: Dissemination::default(),
            workload: Workload::default(),
            churn: Churn::default(),
            partitions: Vec::new(),
            deplatform: None,
            censor: None,
            eclipse: None,
            spam: None,
            moderation: None,
            metrics: Metrics::default(),
        }
    }
}

/// How signatures are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureMode {
    /// Every node verifies every signature.
    Full,
    /// Each distinct valid signature is verified once per run (exact; see [`Scenario`]).
    Memo,
}

/// The link model.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    /// Region names; nodes are assigned to regions in proportion to `region_shares`.
    pub regions: Vec<String>,
    /// Share of nodes in each region; they must sum to 1.
    pub region_shares: Vec<f64>,
    /// One-way base latency between regions, in milliseconds: `latency_ms[a][b]`.
    pub latency_ms: Vec<Vec<f64>>,
    /// Extra delay per message, uniform in `[0, jitter_ms)`.
    pub jitter_ms: f64,
    /// Each node's upload rate in bytes per second; messages queue behind it. 0 is unlimited.
    pub upload_bytes_per_s: f64,
    /// Probability that a message is lost on the way.
    pub loss: f64,
    /// Time a DHT provider lookup takes, in milliseconds.
    pub dht_lookup_ms: f64,
    /// Providers a DHT lookup returns at most.
    pub dht_results: usize,
    /// A replication request unanswered after this long fails, in milliseconds.
    pub request_timeout_ms: f64,
    /// Bytes of framing added to every message (transport, multiplexer and protobuf headers).
    pub overhead_bytes: u64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            regions: vec!["europe".into(), "america".into(), "asia".into()],
            region_shares: vec![0.4, 0.35, 0.25],
            latency_ms: vec![
                vec![12.0, 45.0, 110.0],
                vec![45.0, 18.0, 85.0],
                vec![110.0, 85.0, 25.0],
            ],
            jitter_ms: 8.0,
            upload_bytes_per_s: 1_250_000.0,
            loss: 0.0,
            dht_lookup_ms: 600.0,
            dht_results: 20,
            request_timeout_ms: 10_000.0,
            overhead_bytes: 40,
        }
    }
}

/// The overlay: which nodes hold connections.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Overlay {
    /// Degree of the random regular graph the initial nodes form.
    pub degree: usize,
    /// Nodes `0..bootstrap` are the well-known bootstrap nodes.
    pub bootstrap: usize,
    /// Below this many connections a node dials more (random walks stand in for Kademlia).
    pub min_degree: usize,
    /// How often a node checks its connections and redials lost peers, in milliseconds.
    pub maintenance_ms: f64,
    /// Providers a node dials when a DHT lookup finds hosts of an author it hosts and too few
    /// connected peers serve (the engine's `providers_dialled_max`; 0 keeps the overlay exactly
    /// as built, as the daemon's `--no-discover` does).
    pub dial_providers: usize,
    /// Interval of a node's DHT random walk (libp2p Kademlia's periodic bootstrap), in
    /// seconds: each walk connects to `random_walk_dials` random nodes, which is how a healed
    /// partition finds itself again. 0 disables.
    pub random_walk_s: f64,
    /// Connections a random walk opens.
    pub random_walk_dials: usize,
}

impl Default for Overlay {
    fn default() -> Self {
        Overlay {
            degree: 8,
            bootstrap: 4,
            min_degree: 4,
            maintenance_ms: 10_000.0,
            dial_providers: 4,
            random_walk_s: 300.0,
            random_walk_dials: 2,
        }
    }
}

/// Which dissemination model spreads gossip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// libp2p gossipsub v1.1/1.2: per-topic mesh, lazy IHAVE/IWANT, optional IDONTWANT, scoring.
    Gossipsub,
    /// Every node forwards every new valid message to all its overlay neighbours.
    Flood,
    /// Infect-and-die random push: forward once to `fanout` nodes drawn from full membership.
    Push,
}

/// Dissemination parameters (the gossipsub names follow the libp2p specification).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dissemination {
    /// The model.
    pub model: Model,
    /// Target mesh degree.
    pub d: usize,
    /// Below this, the heartbeat grafts up to `d`.
    pub d_lo: usize,
    /// Above this, the heartbeat prunes down to `d`.
    pub d_hi: usize,
    /// Peers outside the mesh sent IHAVE each heartbeat.
    pub d_lazy: usize,
    /// Heartbeat interval, in milliseconds.
    pub heartbeat_ms: f64,
    /// Heartbeats of message ids advertised in IHAVE.
    pub history_gossip: usize,
    /// Heartbeats a message stays retrievable by IWANT.
    pub history_length: usize,
    /// Send IDONTWANT to mesh peers on first receipt (gossipsub v1.2).
    pub idontwant: bool,
    /// How long a message id is remembered as seen, in milliseconds.
    pub seen_ttl_ms: f64,
    /// Push model: nodes each node forwards to.
    pub fanout: usize,
    /// Whether the engines' heads and range requests are carried. `false` isolates the model:
    /// nothing is backfilled, so what arrives is what the model delivered.
    pub engine_backfill: bool,
    /// Score added per first delivery from a peer (P2).
    pub first_delivery_weight: f64,
    /// Cap on the first-delivery counter.
    pub first_delivery_cap: f64,
    /// Weight of the squared invalid-message counter (P4); negative.
    pub invalid_message_weight: f64,
    /// Counter decay per heartbeat.
    pub score_decay: f64,
    /// Below this score, IHAVE is neither sent to nor accepted from the peer.
    pub gossip_threshold: f64,
    /// Below this score, everything from the peer is ignored.
    pub graylist_threshold: f64,
}

impl Default for Dissemination {
    fn default() -> Self {
        Dissemination {
            model: Model::Gossipsub,
            d: 6,
            d_lo: 5,
            d_hi: 12,
            d_lazy: 6,
            heartbeat_ms: 1000.0,
            history_gossip: 3,
            history_length: 5,
            idontwant: false,
            seen_ttl_ms: 120_000.0,
            fanout: 3,
            engine_backfill: true,
            first_delivery_weight: 1.0,
            first_delivery_cap: 20.0,
            invalid_message_weight: -100.0,
            score_decay: 0.9,
            gossip_threshold: -10.0,
            graylist_threshold: -80.0,
        }
    }
}

/// What is posted, by whom, and who follows.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    /// Posting authors (drawn from the non-bootstrap nodes).
    pub authors: usize,
    /// Posts in total, spread round-robin over the authors.
    pub posts: usize,
    /// When the first post is made, in seconds.
    pub start_s: f64,
    /// Time between consecutive posts (network-wide), in milliseconds.
    pub interval_ms: f64,
    /// Bytes of text per post.
    pub text_bytes: usize,
    /// Probability that a node follows a given author.
    pub follow_fraction: f64,
    /// Whether authors also follow the other authors (their follow events then travel and
    /// are stored too).
    pub authors_follow: bool,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            authors: 5,
            posts: 50,
            start_s: 5.0,
            interval_ms: 1000.0,
            text_bytes: 200,
            follow_fraction: 1.0,
            authors_follow: false,
        }
    }
}

/// Session-time distributions for churn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Exponential with the given mean.
    Exponential,
    /// Log-normal with the given mean and shape `sigma`.
    Lognormal,
}

/// Steady churn.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Churn {
    /// Share of ordinary nodes that churn (authors and bootstrap nodes stay up).
    pub share: f64,
    /// Mean online session, in seconds.
    pub session_mean_s: f64,
    /// Mean downtime, in seconds.
    pub downtime_mean_s: f64,
    /// The distribution of both.
    pub distribution: Distribution,
    /// Shape of the log-normal distribution.
    pub sigma: f64,
}

impl Default for Churn {
    fn default() -> Self {
        Churn {
            share: 0.0,
            session_mean_s: 300.0,
            downtime_mean_s: 60.0,
            distribution: Distribution::Exponential,
            sigma: 1.0,
        }
    }
}

/// How a partition splits the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Each region becomes its own side.
    Regions,
    /// Nodes are split at random into `parts` sides.
    Random,
}

/// A network split from `at_s` until `heal_s`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Partition {
    /// Start, in seconds.
    pub at_s: f64,
    /// End, in seconds.
    pub heal_s: f64,
    /// How nodes are split.
    pub split: Split,
    /// Sides of a random split.
    pub parts: usize,
}

impl Default for Partition {
    fn default() -> Self {
        Partition {
            at_s: 20.0,
            heal_s: 60.0,
            split: Split::Random,
            parts: 2,
        }
    }
}

/// A hosting provider pulls its nodes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Deplatform {
    /// Share of nodes the provider hosts: the first author's node, every bootstrap node, and
    /// random others.
    pub share: f64,
    /// When they vanish, in seconds.
    pub at_s: f64,
    /// The first author comes back on a new node outside the provider this long after, in
    /// seconds (negative: never).
    pub rehome_after_s: f64,
    /// New nodes that try to join after the takedown.
    pub joiners: usize,
    /// Joiners arrive uniformly over this many seconds after the takedown.
    pub join_spread_s: f64,
    /// Addresses a joiner (and the re-homed author) knows besides the bootstrap list: random
    /// nodes of the original network, as shared in profiles and known-peer files.
    pub contacts: usize,
}

impl Default for Deplatform {
    fn default() -> Self {
        Deplatform {
            share: 0.3,
            at_s: 30.0,
            rehome_after_s: 10.0,
            joiners: 10,
            join_spread_s: 20.0,
            contacts: 3,
        }
    }
}

/// Censoring relays.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Censor {
    /// Share of ordinary nodes that drop the first author (they follow the author, so they sit
    /// in the author's mesh, and refuse every event through host policy).
    pub share: f64,
}

impl Default for Censor {
    fn default() -> Self {
        Censor { share: 0.3 }
    }
}

/// Sybils surrounding one target node.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Eclipse {
    /// Sybil nodes added; all connect to the target, graft it, and forward nothing.
    pub sybils: usize,
    /// Overlay links the target keeps to honest nodes.
    pub honest_links: usize,
    /// Whether the sybils also answer the target's DHT lookups first.
    pub poison_dht: bool,
}

impl Default for Eclipse {
    fn default() -> Self {
        Eclipse {
            sybils: 30,
            honest_links: 1,
            poison_dht: true,
        }
    }
}

/// Spammers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spam {
    /// Spammer nodes added; each connects to `overlay.degree` random honest nodes.
    pub spammers: usize,
    /// Events per second per spammer.
    pub rate_per_s: f64,
    /// Share of spam with a broken signature; the rest are valid posts nobody follows,
    /// published on the first author's topic by mentioning them.
    pub invalid_share: f64,
    /// Share of the valid spam published on the first author's topic *without* naming them
    /// (off-topic injection: every honest node must reject it and store none).
    pub off_topic_share: f64,
    /// Share of spam messages that replay the original bytes of a post its author deleted
    /// before the spam started (every honest node must keep it deleted).
    pub replay_share: f64,
    /// When spamming starts, in seconds.
    pub start_s: f64,
}

impl Default for Spam {
    fn default() -> Self {
        Spam {
            spammers: 5,
            rate_per_s: 20.0,
            invalid_share: 0.5,
            off_topic_share: 0.0,
            replay_share: 0.0,
            start_s: 10.0,
        }
    }
}

/// Labellers and subscribers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Moderation {
    /// Labelling nodes (ordinary nodes that declare a feed).
    pub labelers: usize,
    /// Share of posts each labeller labels.
    pub label_share: f64,
    /// The label value.
    pub label: String,
    /// Time from receiving a post to labelling it, in milliseconds.
    pub label_delay_ms: f64,
    /// Share of ordinary nodes that subscribe to every labeller with `hide`.
    pub subscriber_share: f64,
}

impl Default for Moderation {
    fn default() -> Self {
        Moderation {
            labelers: 1,
            label_share: 0.2,
            label: "spam".into(),
            label_delay_ms: 2000.0,
            subscriber_share: 0.5,
        }
    }
}

/// Output resolution.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    /// Width of a time-series bucket, in milliseconds.
    pub interval_ms: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            interval_ms: 1000.0,
        }
    }
}

/// The scenarios shipped in `simulations/scenarios/`, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("deplatform", include_str!("../scenarios/deplatform.toml")),
    ("censor", include_str!("../scenarios/censor.toml")),
    ("eclipse", include_str!("../scenarios/eclipse.toml")),
    ("spam", include_str!("../scenarios/spam.toml")),
    ("partition", include_str!("../scenarios/partition.toml")),
    ("churn", include_str!("../scenarios/churn.toml")),
    ("moderation", include_str!("../scenarios/moderation.toml")),
    ("baseline", include_str!("../scenarios/baseline.toml")),
    ("scale", include_str!("../scenarios/scale.toml")),
    (
        "scale-memory",
        include_str!("../scenarios/scale-memory.toml"),
    ),
];

impl Scenario {
    /// Reads a scenario from TOML text, applying `sets` (`key.path=value`) first.
    pub fn from_toml(text: &str, sets: &[String]) -> Result<Scenario, ScenarioError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        for arg in sets {
            apply_set(&mut table, arg)?;
        }
        let scenario: Scenario = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ScenarioError::Parse(e.to_string()))?;
        scenario.check()?;
        Ok(scenario)
    }

    /// A built-in scenario by name.
    pub fn built_in(name: &str) -> Option<&'static str> {
        BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// The scenario as TOML, exactly as it runs (every default spelled out).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# could not serialise: {e}\n"))
    }

    /// Rejects values that would make the run meaningless or panic.
    pub fn check(&self) -> Result<(), ScenarioError> {
        self.check_limits()?;
        let bad = |why: String| Err(ScenarioError::Invalid(why));
        let n = &self.network;
        let regions = n.regions.len();
        if regions == 0 || n.region_shares.len() != regions {
            return bad(
                "network.regions and network.region_shares need the same, non-zero length".into(),
            );
        }
        if n.latency_ms.len() != regions || n.latency_ms.iter().any(|row| row.len() != regions) {
            return bad(format!("network.latency_ms must be {regions}×{regions}"));
        }
        let finite_non_negative = |x: f64| x.is_finite() && x >= 0.0;
        if !n
            .latency_ms
            .iter()
            .flatten()
            .all(|x| finite_non_negative(*x))
            || !n.region_shares.iter().all(|x| finite_non_negative(*x))
            || n.region_shares.iter().sum::<f64>() <= 0.0
        {
            return bad("latencies and region shares must be non-negative numbers".into());
        }
        // Shares are written to scenario.toml as given, so a run must use them as given: a
        // silent renormalisation would make the recorded scenario differ from what ran.
        let total: f64 = n.region_shares.iter().sum();
        if (total - 1.0).abs() > REGION_SHARES_TOLERANCE {
            return bad(format!(
                "network.region_shares must sum to 1 (they sum to {total}); e.g. [0.4, 0.35, 0.25]"
            ));
        }
        if !(0.0..=1.0).contains(&n.loss) {
            return bad("network.loss must be in [0, 1]".into());
        }
        if self.nodes < 2 {
            return bad("a network needs at least 2 nodes".into());
        }
        if self.duration_s == 0.0 {
            return bad("duration_s must be positive".into());
        }
        let o = &self.overlay;
        if o.degree == 0 || o.degree >= self.nodes {
            return bad(format!("overlay.degree must be in 1..{}", self.nodes));
        }
        if o.bootstrap > self.nodes / 2 {
            return bad("overlay.bootstrap may be at most half the nodes".into());
        }
        let w = &self.workload;
        if w.authors == 0 || w.authors + o.bootstrap > self.nodes {
            return bad(
                "workload.authors must be at least 1 and fit beside the bootstrap nodes".into(),
            );
        }
        if !(0.0..=1.0).contains(&w.follow_fraction) {
            return bad("workload.follow_fraction must be in [0, 1]".into());
        }
        if w.text_bytes > handbill_protocol::limits::POST_TEXT_BYTES_MAX {
            return bad(format!(
                "workload.text_bytes is above the protocol's limit of {}",
                handbill_protocol::limits::POST_TEXT_BYTES_MAX
            ));
        }
        let d = &self.dissemination;
        if d.d_lo > d.d || d.d > d.d_hi || d.history_gossip > d.history_length {
            return bad(
                "dissemination needs d_lo ≤ d ≤ d_hi and history_gossip ≤ history_length".into(),
            );
        }
        for p in &self.partitions {
            if p.heal_s < p.at_s || (p.split == Split::Random && p.parts < 2) {
                return bad(
                    "a partition heals after it starts and splits into at least 2 parts".into(),
                );
            }
        }
        for (name, share) in [
            ("churn.share", self.churn.share),
            (
                "deplatform.share",
                self.deplatform.as_ref().map_or(0.0, |x| x.share),
            ),
            (
                "censor.share",
                self.censor.as_ref().map_or(0.0, |x| x.share),
            ),
            (
                "spam.invalid_share",
                self.spam.as_ref().map_or(0.0, |x| x.invalid_share),
            ),
            (
                "spam.off_topic_share",
                self.spam.as_ref().map_or(0.0, |x| x.off_topic_share),
            ),
            (
                "spam.replay_share",
                self.spam.as_ref().map_or(0.0, |x| x.replay_share),
            ),
            (
                "moderation.label_share",
                self.moderation.as_ref().map_or(0.0, |x| x.label_share),
            ),
            (
                "moderation.subscriber_share",
                self.moderation.as_ref().map_or(0.0, |x| x.subscriber_share),
            ),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return bad(format!("{name} must be in [0, 1]"));
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// Bounds every number that sizes memory or paces a periodic event, so no accepted value
    /// (NaN, infinity, a period that rounds to zero µs, a count past what a run can hold) can
    /// hang a run or exhaust memory. Comparisons are written so NaN fails them.
    fn check_limits(&self) -> Result<(), ScenarioError> {
        let bad = |why: String| Err(ScenarioError::Invalid(why));
        let d = &self.dissemination;
        let o = &self.overlay;
        let n = &self.network;
        // Periods that reschedule themselves must be at least a microsecond apart.
        let mut periods = vec![
            ("dissemination.heartbeat_ms", d.heartbeat_ms / 1000.0),
            ("overlay.maintenance_ms", o.maintenance_ms / 1000.0),
            ("metrics.interval_ms", self.metrics.interval_ms / 1000.0),
            ("workload.interval_ms", self.workload.interval_ms / 1000.0),
        ];
        if self.churn.share > 0.0 {
            periods.push(("churn.session_mean_s", self.churn.session_mean_s));
            periods.push(("churn.downtime_mean_s", self.churn.downtime_mean_s));
        }
        if let Some(spam) = &self.spam
            && !(spam.rate_per_s > 0.0 && spam.rate_per_s <= 100_000.0)
        {
            return bad("spam.rate_per_s must be in (0, 100000]".into());
        }
        for (name, seconds) in periods {
            if !(seconds >= 1e-6 && seconds.is_finite()) {
                return bad(format!("{name} must be a finite period of at least 1 µs"));
            }
        }
        let floats = [
            ("duration_s", self.duration_s),
            ("network.jitter_ms", n.jitter_ms),
            ("network.upload_bytes_per_s", n.upload_bytes_per_s),
            ("network.dht_lookup_ms", n.dht_lookup_ms),
            ("network.request_timeout_ms", n.request_timeout_ms),
            ("workload.start_s", self.workload.start_s),
            ("dissemination.seen_ttl_ms", d.seen_ttl_ms),
            ("overlay.random_walk_s", o.random_walk_s),
            ("churn.sigma", self.churn.sigma),
        ];
        for (name, x) in floats {
            if !(x >= 0.0 && x.is_finite()) {
                return bad(format!("{name} must be a finite, non-negative number"));
            }
        }
        let extra = self.eclipse.as_ref().map_or(0, |e| e.sybils)
            + self.spam.as_ref().map_or(0, |s| s.spammers)
            + self.deplatform.as_ref().map_or(0, |x| x.joiners + 1);
        if self.nodes.saturating_add(extra) > 10_000_000 {
            return bad(
                "nodes, sybils, spammers and joiners together are limited to 10 million".into(),
            );
        }
        let pairs = (self.nodes + extra) as f64 * self.workload.posts as f64;
        if pairs > 2e9 {
            return bad(
                "nodes × posts is limited to 2 billion (delivery records take memory)".into(),
            );
        }
        if self.duration_s / (self.metrics.interval_ms / 1000.0) > 1e6 {
            return bad(
                "duration_s / metrics.interval_ms gives more than a million buckets".into(),
            );
        }
        if o.degree > 1000 || o.min_degree > o.degree {
            return bad(
                "overlay.degree is limited to 1000, and min_degree may not exceed it".into(),
            );
        }
        if n.dht_results > 1000 || n.regions.len() > 255 {
            return bad("network.dht_results is limited to 1000 and regions to 255".into());
        }
        let mut spans: Vec<(f64, f64)> = Vec::new();
        for p in &self.partitions {
            if p.parts > 1000 {
                return bad("a partition has at most 1000 parts".into());
            }
            if spans.iter().any(|(a, b)| p.at_s < *b && *a < p.heal_s) {
                return bad("partitions may not overlap in time".into());
            }
            spans.push((p.at_s, p.heal_s));
        }
        Ok(())
    }
}

/// Applies one `key.path=value` to the parsed TOML. The value is read as TOML (`3`, `0.5`,
/// `true`, `[1, 2]`, `"text"`), or as a bare string when that fails (`model=flood`).
fn apply_set(table: &mut toml::Table, arg: &str) -> Result<(), ScenarioError> {
    let err = |why: &str| ScenarioError::Set {
        arg: arg.to_string(),
        why: why.to_string(),
    };
    let (path, raw) = arg
        .split_once('=')
        .ok_or_else(|| err("expected key=value"))?;
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").ok_or_else(|| err("no value"))?,
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let keys: Vec<&str> = path.trim().split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(err("empty key in path"));
    }
    let (last, parents) = keys.split_last().ok_or_else(|| err("empty key"))?;
    let mut at = table;
    for key in parents {
        let entry = at
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = entry
            .as_table_mut()
            .ok_or_else(|| err(&format!("{key} is not a table")))?;
    }
    at.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses_and_checks() {
        for (name, text) in BUILT_IN {
            let s = Scenario::from_toml(text, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&s.name, name);
        }
    }

    #[test]
    fn sets_override_nested_values_and_round_trip() {
        let s = Scenario::from_toml(
            "nodes = 50\n",
            &[
                "dissemination.model=flood".into(),
                "network.jitter_ms=0".into(),
                "churn.share=0.25".into(),
                "censor.share=0.1".into(),
            ],
        )
        .expect("valid");
        assert_eq!(s.dissemination.model, Model::Flood);
        assert_eq!(s.network.jitter_ms, 0.0);
        assert_eq!(s.churn.share, 0.25);
        assert_eq!(s.censor.as_ref().map(|c| c.share), Some(0.1));
        let again = Scenario::from_toml(&s.to_toml(), &[]).expect("round trip");
        assert_eq!(again.to_toml(), s.to_toml());
    }

    #[test]
    fn mistakes_get_named_errors() {
        assert!(matches!(
            Scenario::from_toml("nodez = 5", &[]),
            Err(ScenarioError::Parse(_))
        ));
        assert!(matches!(
            Scenario::from_toml("", &["nodes".into()]),
            Err(ScenarioError::Set { .. })
        ));
        assert!(matches!(
            Scenario::from_toml("", &["nodes=1".into()]),
            Err(ScenarioError::Invalid(_))
        ));
        assert!(matches!(
            Scenario::from_toml("", &["network.loss=2".into()]),
            Err(ScenarioError::Invalid(_))
        ));
        // Values that would hang a run or exhaust memory are refused up front.
        for set in [
            "dissemination.heartbeat_ms=nan",
            "dissemination.heartbeat_ms=0.0001",
            "overlay.maintenance_ms=inf",
            "overlay.min_degree=20",
            "metrics.interval_ms=0.001",
            "workload.posts=100000000",
            "network.dht_results=1000000",
            "spam.rate_per_s=1e9",
            "partitions=[{at_s=1,heal_s=5},{at_s=3,heal_s=9}]",
        ] {
            assert!(
                matches!(
                    Scenario::from_toml("", &[set.into()]),
                    Err(ScenarioError::Invalid(_))
                ),
                "{set} was accepted"
            );
        }
    }
}
