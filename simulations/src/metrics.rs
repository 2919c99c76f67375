//! What a run measures, and how it is written: the JSON summary, CSV series and per-node and
//! per-post tables. Every number here is derived from virtual time and counters, never from the
//! wall clock, so two runs of the same scenario and seed write identical bytes.

use crate::queue::Micros;
use crate::scenario::Model;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Counters filled during a run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Bytes each node sent: full messages and fetched events.
    pub payload_bytes: Vec<u64>,
    /// Bytes each node sent: everything else (IHAVE, IWANT, IDONTWANT, GRAFT, PRUNE, requests).
    pub control_bytes: Vec<u64>,
    /// Duplicate arrivals of a post's gossip message, per node.
    pub duplicates: Vec<u64>,
    /// Per time bucket: payload and control bytes sent, and nodes online at its end.
    pub buckets: Vec<Bucket>,
    /// Sum and count of gossip hops at first delivery of a post.
    pub hops: (u64, u64),
    /// Events processed.
    pub events: u64,
    /// Events processed, by kind (indexed by `EventKind as usize`).
    pub by_kind: [u64; EventKind::ALL.len()],
    /// `Misbehaved` reports from engines (invalid replication data).
    pub misbehaved: u64,
    /// Log inconsistencies (forks, broken links) engines found.
    pub log_inconsistencies: u64,
    /// Messages dropped because their sender was graylisted.
    pub graylisted_drops: u64,
    /// Gossip messages rejected as invalid.
    pub rejected: u64,
    /// Sends skipped because the receiver had said IDONTWANT.
    pub dont_want_saved: u64,
}

/// What an event was, for the per-kind counters in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A gossip message carrying a workload post.
    GossipPost,
    /// Any other gossip message.
    GossipOther,
    /// IHAVE.
    IHave,
    /// IWANT.
    IWant,
    /// IDONTWANT.
    IDontWant,
    /// GRAFT or PRUNE.
    GraftPrune,
    /// A heads request.
    RequestHeads,
    /// A range request.
    RequestRange,
    /// A replication response.
    Response,
    /// An upload queue ready for its next message.
    Uplink,
    /// A gossipsub heartbeat.
    Heartbeat,
    /// Connection upkeep.
    Maintain,
    /// An engine timer.
    EngineTimer,
    /// A replication request's deadline.
    RequestTimeout,
    /// A connection completing.
    Connect,
    /// A DHT lookup completing.
    DhtLookup,
    /// A post, label or spam event being published.
    Publish,
    /// Churn, partitions, takedowns, joins.
    Other,
}

impl EventKind {
    /// Every kind, in counter order.
    pub const ALL: [EventKind; 18] = [
        EventKind::GossipPost,
        EventKind::GossipOther,
        EventKind::IHave,
        EventKind::IWant,
        EventKind::IDontWant,
        EventKind::GraftPrune,
        EventKind::RequestHeads,
        EventKind::RequestRange,
        EventKind::Response,
        EventKind::Uplink,
        EventKind::Heartbeat,
        EventKind::Maintain,
        EventKind::EngineTimer,
        EventKind::RequestTimeout,
        EventKind::Connect,
        EventKind::DhtLookup,
        EventKind::Publish,
        EventKind::Other,
    ];

    /// The name in `summary.json` (`events_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::GossipPost => "gossip_post",
            EventKind::GossipOther => "gossip_other",
            EventKind::IHave => "ihave",
            EventKind::IWant => "iwant",
            EventKind::IDontWant => "idontwant",
            EventKind::GraftPrune => "graft_prune",
            EventKind::RequestHeads => "request_heads",
            EventKind::RequestRange => "request_range",
            EventKind::Response => "response",
            EventKind::Uplink => "uplink",
            EventKind::Heartbeat => "heartbeat",
            EventKind::Maintain => "maintain",
            EventKind::EngineTimer => "engine_timer",
            EventKind::RequestTimeout => "request_timeout",
            EventKind::Connect => "connect",
            EventKind::DhtLookup => "dht_lookup",
            EventKind::Publish => "publish",
            EventKind::Other => "other",
        }
    }
}

/// One time bucket of the series.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bucket {
    /// Bytes of payload sent in the bucket.
    pub payload: u64,
    /// Bytes of control sent in the bucket.
    pub control: u64,
    /// Nodes online at the end of the bucket.
    pub online: u64,
}

impl Tally {
    /// Counters for `nodes` nodes.
    pub fn new(nodes: usize) -> Tally {
        Tally {
            payload_bytes: vec![0; nodes],
            control_bytes: vec![0; nodes],
            duplicates: vec![0; nodes],
            ..Tally::default()
        }
    }

    /// The bucket for time `at`, created (carrying `online` forward) if new.
    pub fn bucket(&mut self, index: usize, online: u64) -> &mut Bucket {
        while self.buckets.len() <= index {
            self.buckets.push(Bucket {
                online,
                ..Bucket::default()
            });
        }
        &mut self.buckets[index]
    }
}

/// The run's summary, written as `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The dissemination model.
    pub model: Model,
    /// Nodes simulated, attackers and joiners included.
    pub nodes: usize,
    /// Virtual seconds simulated.
    pub virtual_s: f64,
    /// Events the simulator processed.
    pub sim_events: u64,
    /// Posts published.
    pub posts: usize,
    /// Who received what.
    pub delivery: Delivery,
    /// Publish-to-store latency of delivered (node, post) pairs whose node was online when the
    /// post was published, in milliseconds.
    pub latency_ms: Option<Percentiles>,
    /// Mean gossip hops at first delivery (posts received by gossip only).
    pub hops_mean: Option<f64>,
    /// Duplicate arrivals per delivered (node, post) pair; `None` when nothing was delivered.
    pub duplicates_per_node_per_message: Option<f64>,
    /// Bytes sent per honest node.
    pub bytes_per_node: Bytes,
    /// Posts that had to be fetched after the fact.
    pub backfill: Backfill,
    /// Mean mesh degree on the authors' topics at the end (gossipsub only).
    pub mesh_degree_mean: Option<f64>,
    /// Replication misbehaviour reports, log inconsistencies, graylist drops, rejections and
    /// IDONTWANT savings.
    pub counters: BTreeMap<String, u64>,
    /// Results specific to the scenario's adversities.
    pub checks: BTreeMap<String, serde_json::Value>,
}

/// Delivery of posts to eligible nodes (honest followers of the author, online at the end).
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// Delivered pairs over eligible pairs.
    pub ratio: f64,
    /// Eligible (node, post) pairs.
    pub eligible_pairs: u64,
    /// Delivered pairs.
    pub delivered_pairs: u64,
    /// The worst post's ratio.
    pub per_post_min: f64,
    /// Mean over posts.
    pub per_post_mean: f64,
    /// The worst node's ratio.
    pub per_node_min: f64,
    /// 10th percentile over nodes.
    pub per_node_p10: f64,
    /// Posts that reached every eligible node.
    pub posts_complete: usize,
}

/// Percentiles of a sample.
#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Of `values` (sorted here); `None` when empty.
    pub fn of(values: &mut [f64]) -> Option<Percentiles> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(Percentiles {
            mean: round3(mean),
            p50: round3(quantile(values, 0.5)),
            p90: round3(quantile(values, 0.9)),
            p99: round3(quantile(values, 0.99)),
            max: round3(values[values.len() - 1]),
        })
    }
}

/// Bytes sent per honest node.
#[derive(Clone, Debug, Serialize)]
pub struct Bytes {
    /// Mean payload bytes.
    pub payload_mean: f64,
    /// Mean control bytes.
    pub control_mean: f64,
    /// Largest payload bytes.
    pub payload_max: u64,
    /// Largest control bytes.
    pub control_max: u64,
}

/// Posts fetched after the fact.
#[derive(Clone, Debug, Serialize)]
pub struct Backfill {
    /// Of the eligible pairs where the node was offline or not yet joined when the post was
    /// published, the share it holds at the end; `None` when there were none.
    pub completeness: Option<f64>,
    /// Those pairs.
    pub pairs: u64,
    /// Share of all deliveries that were fetched (range responses) rather than gossiped;
    /// `None` when nothing was delivered.
    pub via_backfill_share: Option<f64>,
}

/// The `q` quantile of sorted `values` (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Rounds to 3 decimals, so summaries stay readable.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Microseconds to milliseconds.
pub fn ms(t: Micros) -> f64 {
    t as f64 / 1000.0
}

/// A CSV table built in memory.
#[derive(Clone, Debug, Default)]
pub struct Csv {
    text: String,
}

impl Csv {
    /// A table with this header.
    pub fn new(columns: &[&str]) -> Csv {
        let mut csv = Csv::default();
        csv.text.push_str(&columns.join(","));
        csv.text.push('\n');
        csv
    }

    /// Appends a row; fields must not contain commas (none of ours do).
    pub fn row(&mut self, fields: &[String]) {
        self.text.push_str(&fields.join(","));
        self.text.push('\n');
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Formats a float for CSV: fixed precision, so output is stable and compact.
pub fn f(x: f64) -> String {
    let mut s = String::new();
    if x.is_finite() {
        let _ = write!(s, "{:.3}", x);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_are_listed_in_counter_order() {
        for (i, kind) in EventKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{}", kind.name());
        }
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&mut v).expect("non-empty");
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(p.mean, 50.5);
        assert!(Percentiles::of(&mut []).is_none());
    }
}
