//! A simulator scenario mapped onto real daemons: which node is in which region and which
//! posts, the overlay to dial, the links the router applies, and the workload's timing.
//!
//! Regions get the scenario's shares exactly (largest remainder, then shuffled), where the
//! simulator draws each node's region at random; the initial overlay is the simulator's own
//! random regular graph generator; authors are drawn from the non-bootstrap nodes, as there.

use super::router::{Links, Partition};
use handbill_sim::scenario::{Scenario, Split};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// What the testbed runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario's name.
    pub name: String,
    /// Daemons.
    pub nodes: usize,
    /// The posting nodes, in round-robin order.
    pub authors: Vec<usize>,
    /// Overlay links dialled at the start (lower index dials).
    pub edges: Vec<(usize, usize)>,
    /// What the router does.
    pub links: Links,
    /// Posts in total.
    pub posts: usize,
    /// First post, from the epoch.
    pub start: Duration,
    /// Between consecutive posts, network-wide.
    pub interval: Duration,
    /// Bytes of text per post.
    pub text_bytes: usize,
    /// How long the run lasts from the epoch.
    pub duration: Duration,
    /// Whether authors follow each other.
    pub authors_follow: bool,
}

/// Why a scenario cannot run on the testbed.
#[derive(Debug)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the testbed cannot run this scenario: {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

fn regions(shares: &[f64], n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let sum: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| s / sum * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..shares.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut left = n - counts.iter().sum::<usize>();
    for r in by_remainder.into_iter().cycle() {
        if left == 0 {
            break;
        }
        counts[r] += 1;
        left -= 1;
    }
    let mut out: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(r, &c)| std::iter::repeat_n(r, c))
        .collect();
    out.shuffle(rng);
    out
}

impl Plan {
    /// The plan for `sc`: honest nodes, the workload, links and partitions. Scenarios with
    /// adversaries, churn, takedowns or moderation are refused (not part of the calibration).
    pub fn from_scenario(sc: &Scenario) -> Result<Plan, Unsupported> {
        let refuse = |what: &str| Err(Unsupported(what.into()));
        if sc.deplatform.is_some()
            || sc.censor.is_some()
            || sc.eclipse.is_some()
            || sc.spam.is_some()
            || sc.moderation.is_some()
        {
            return refuse("adversaries, takedowns and moderation are simulator-only");
        }
        if sc.churn.share > 0.0 {
            return refuse("churn is simulator-only");
        }
        if sc.workload.follow_fraction < 1.0 {
            return refuse("every node follows every author here (follow_fraction 1)");
        }
        let n = sc.nodes;
        let net = &sc.network;
        let mut rng = ChaCha8Rng::seed_from_u64(sc.seed);
        let region_of = regions(&net.region_shares, n, &mut rng);
        let mut ordinary: Vec<usize> = (sc.overlay.bootstrap.min(n)..n).collect();
        ordinary.shuffle(&mut rng);
        if ordinary.len() < sc.workload.authors {
            return refuse("more authors than non-bootstrap nodes");
        }
        let authors = ordinary[..sc.workload.authors].to_vec();
        let degree = sc.overlay.degree.min(n.saturating_sub(1));
        let edges = handbill_sim::world::random_regular(n, degree, &mut rng)
            .into_iter()
            .map(|(a, b)| (a as usize, b as usize))
            .collect();
        let partitions = sc
            .partitions
            .iter()
            .map(|p| Partition {
                at: Duration::from_secs_f64(p.at_s),
                heal: Duration::from_secs_f64(p.heal_s),
                side_of: match p.split {
                    Split::Regions => region_of.clone(),
                    Split::Random => (0..n).map(|_| rng.gen_range(0..p.parts.max(1))).collect(),
                },
            })
            .collect();
        Ok(Plan {
            name: sc.name.clone(),
            nodes: n,
            authors,
            edges,
            links: Links {
                region_of,
                latency_ms: net.latency_ms.clone(),
                jitter_ms: net.jitter_ms,
                loss: net.loss,
                upload_bytes_per_s: net.upload_bytes_per_s,
                partitions,
                seed: sc.seed,
            },
            posts: sc.workload.posts,
            start: Duration::from_secs_f64(sc.workload.start_s),
            interval: Duration::from_secs_f64(sc.workload.interval_ms / 1000.0),
            text_bytes: sc.workload.text_bytes,
            duration: Duration::from_secs_f64(sc.duration_s),
            authors_follow: sc.workload.authors_follow,
        })
    }

    /// Whether `node` follows `author` (a node never follows itself).
    pub fn follows(&self, node: usize, author: usize) -> bool {
        node != author && (self.authors_follow || !self.authors.contains(&node))
    }
}
