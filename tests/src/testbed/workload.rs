//! The scenario's workload on the testbed, and what it measures: authors post round-robin on
//! the scenario's schedule; every node's event stream is read from the moment before, so each
//! delivery is timed on the machine's one clock, from the post's `created_at` (stamped by the
//! author's daemon when it signed the post) to the moment the follower's daemon announced it
//! stored it.

use super::Testbed;
use handbill_protocol::EventId;
use handbill_protocol::api::{FeedItem, PublishRequest};
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as the daemons stamp events.
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// One stored event a node announced.
struct Receipt {
    node: usize,
    id: EventId,
    created_ms: f64,
    at_ms: f64,
}

/// Reads node `i`'s event stream on a thread in its namespace, sending every stored post. The
/// thread ends when the daemon does.
fn read_stream(tb: &Testbed, i: usize, tx: mpsc::Sender<Receipt>) {
    let (api, token) = tb.nodes[i].api();
    let ns = tb.netns(i).name.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        crate::netns::Netns::enter_named(&ns);
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let Ok(mut response) = agent
            .get(format!("{api}/v1/stream"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
        else {
            return;
        };
        let _ = ready_tx.send(());
        let reader = std::io::BufReader::new(response.body_mut().as_reader());
        let mut stored = false;
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if let Some(name) = line.strip_prefix("event:") {
                stored = name.trim() == "stored";
            } else if let Some(json) = line.strip_prefix("data:") {
                let at_ms = now_ms();
                if !stored {
                    continue;
                }
                if let Ok(item) = serde_json::from_str::<FeedItem>(json.trim()) {
                    let receipt = Receipt {
                        node: i,
                        id: item.id,
                        created_ms: item.created_at.0 as f64,
                        at_ms,
                    };
                    if tx.send(receipt).is_err() {
                        break;
                    }
                }
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the event stream to open");
}

/// A post of the workload.
#[derive(Clone, Debug)]
pub struct Post {
    /// Its id.
    pub id: EventId,
    /// The posting node.
    pub author: usize,
    /// When it was published, from the epoch.
    pub at: Duration,
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// The posts, in order.
    pub posts: Vec<Post>,
    /// Per node, per post: the delivery latency in milliseconds (`Some(None)`: held at the
    /// end but its stream never announced it; `None`: not held, or not eligible).
    pub latency_ms: Vec<Vec<Option<Option<f64>>>>,
    /// Eligible (node, post) pairs: the node follows the post's author.
    pub eligible: Vec<Vec<bool>>,
    /// When each delivery happened, from the epoch (for convergence after a heal).
    pub delivered_at: Vec<Vec<Option<Duration>>>,
    /// Router counters over the run (from the epoch to the end).
    pub counters: Vec<super::router::Counters>,
    /// Router counters from 10 s after the last post to the end (empty if the run stopped
    /// before): the traffic of a network with nothing to carry (pings, identify, Kademlia,
    /// gossipsub heartbeats, heads exchanges).
    pub idle_counters: Vec<super::router::Counters>,
    /// How long that idle stretch lasted.
    pub idle_span: Duration,
    /// Per node, gossip messages it dropped as duplicates during the run (from its log).
    pub duplicates: Vec<u64>,
    /// How long the run lasted from the epoch.
    pub elapsed: Duration,
}

impl Outcome {
    /// Delivered pairs over eligible pairs.
    pub fn delivery_ratio(&self) -> f64 {
        let (mut eligible, mut delivered) = (0usize, 0usize);
        for (e, l) in self.eligible.iter().zip(&self.latency_ms) {
            for (e, l) in e.iter().zip(l) {
                if *e {
                    eligible += 1;
                    delivered += usize::from(l.is_some());
                }
            }
        }
        delivered as f64 / eligible.max(1) as f64
    }

    /// Every measured latency, in milliseconds.
    pub fn latencies(&self) -> Vec<f64> {
        self.latency_ms
            .iter()
            .flatten()
            .filter_map(|l| l.flatten())
            .collect()
    }

    /// Duplicate gossip arrivals at nodes that follow someone, per delivered pair: the
    /// simulator's `duplicates_per_node_per_message`.
    pub fn duplicates_per_delivery(&self) -> f64 {
        let (mut duplicates, mut delivered) = (0u64, 0u64);
        for (n, row) in self.latency_ms.iter().enumerate() {
            let got = row.iter().filter(|l| l.is_some()).count() as u64;
            if self.eligible[n].iter().any(|e| *e) {
                duplicates += self.duplicates[n];
                delivered += got;
            }
        }
        duplicates as f64 / delivered.max(1) as f64
    }

    /// The eligible pairs that were not delivered, as (node, post).
    pub fn missing(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (n, (e, l)) in self.eligible.iter().zip(&self.latency_ms).enumerate() {
            for (p, (e, l)) in e.iter().zip(l).enumerate() {
                if *e && l.is_none() {
                    out.push((n, p));
                }
            }
        }
        out
    }
}

/// How long to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// The scenario's whole duration (bytes then cover the same window as the simulator's).
    Duration,
    /// Until every eligible pair is delivered, or the scenario's duration at most.
    Delivered,
}

fn text(k: usize, bytes: usize) -> String {
    let mut t = format!("calibration post {k} ");
    while t.len() < bytes {
        t.push('x');
    }
    t
}

fn publish(tb: &Testbed, author: usize, text: String) -> EventId {
    tb.nodes[author].publish(&PublishRequest::Post {
        text,
        reply_to: None,
        quote: None,
        tags: Vec::new(),
        mentions: Vec::new(),
        self_labels: Vec::new(),
    })
}

/// Waits until every follower holds `ids` (as its stream says), taking receipts from `rx`.
fn await_all(
    tb: &Testbed,
    rx: &mpsc::Receiver<Receipt>,
    ids: &[(EventId, usize)],
    limit: Duration,
) {
    let mut pending: HashMap<(usize, EventId), ()> = HashMap::new();
    for (i, _) in tb.nodes.iter().enumerate() {
        for &(id, author) in ids {
            if tb.plan.follows(i, author) {
                pending.insert((i, id), ());
            }
        }
    }
    let deadline = Instant::now() + limit;
    while !pending.is_empty() && Instant::now() < deadline {
        if let Ok(r) = rx.recv_timeout(Duration::from_millis(200)) {
            pending.remove(&(r.node, r.id));
        }
    }
    // A stream may have skipped an announcement: ask the stragglers' nodes directly.
    pending.retain(|(node, id), _| tb.nodes[*node].event(id).is_none());
    assert!(
        pending.is_empty(),
        "warm-up posts missing after {limit:?} at (node, post): {:?}",
        pending.keys().take(10).collect::<Vec<_>>()
    );
}

/// Runs the plan's workload on a started testbed: a warm-up post per author that every
/// follower must hold (gossip meshes and provider links form, as the simulator's network
/// exists before time zero), then the epoch (router counters reset, partitions timed from
/// it), the scheduled posts, and waiting as `until` says.
pub fn run(tb: &Testbed, until: Until) -> Outcome {
    let plan = &tb.plan;
    let (tx, rx) = mpsc::channel();
    for i in 0..plan.nodes {
        read_stream(tb, i, tx.clone());
    }
    drop(tx);
    let warm: Vec<(EventId, usize)> = plan
        .authors
        .iter()
        .map(|&a| (publish(tb, a, format!("warm-up from node {a}")), a))
        .collect();
    let warming = Instant::now();
    await_all(tb, &rx, &warm, Duration::from_secs(180));
    eprintln!(
        "testbed: warm-up posts everywhere in {:.1} s",
        warming.elapsed().as_secs_f64()
    );
    while rx.try_recv().is_ok() {}

    let log_at = |i: usize| std::fs::metadata(tb.log_path(i)).map_or(0, |m| m.len());
    let log_offsets: Vec<u64> = (0..plan.nodes).map(log_at).collect();
    let epoch = Instant::now();
    tb.router.set_epoch(epoch);
    let mut posts: Vec<Post> = Vec::with_capacity(plan.posts);
    let mut receipts: Vec<Receipt> = Vec::new();
    let mut index: HashMap<EventId, usize> = HashMap::new();
    for k in 0..plan.posts {
        let due = plan.start + plan.interval * k as u32;
        while epoch.elapsed() < due {
            let left = due.saturating_sub(epoch.elapsed());
            if let Ok(r) = rx.recv_timeout(left) {
                receipts.push(r);
            }
        }
        let author = plan.authors[k % plan.authors.len()];
        let id = publish(tb, author, text(k, plan.text_bytes));
        index.insert(id, k);
        posts.push(Post {
            id,
            author,
            at: epoch.elapsed(),
        });
    }
    let eligible: Vec<Vec<bool>> = (0..plan.nodes)
        .map(|i| posts.iter().map(|p| plan.follows(i, p.author)).collect())
        .collect();
    let wanted: usize = eligible.iter().flatten().filter(|e| **e).count();
    let mut latency_ms = vec![vec![None; posts.len()]; plan.nodes];
    let mut delivered_at = vec![vec![None; posts.len()]; plan.nodes];
    let epoch_ms = now_ms() - epoch.elapsed().as_secs_f64() * 1000.0;
    let mut got = 0usize;
    let take = |r: Receipt,
                latency_ms: &mut Vec<Vec<Option<Option<f64>>>>,
                delivered_at: &mut Vec<Vec<Option<Duration>>>| {
        let Some(&k) = index.get(&r.id) else { return 0 };
        if !eligible[r.node][k] || latency_ms[r.node][k].is_some() {
            return 0;
        }
        latency_ms[r.node][k] = Some(Some((r.at_ms - r.created_ms).max(0.0)));
        delivered_at[r.node][k] = Some(Duration::from_secs_f64(
            ((r.at_ms - epoch_ms) / 1000.0).max(0.0),
        ));
        1
    };
    for r in receipts.drain(..) {
        got += take(r, &mut latency_ms, &mut delivered_at);
    }
    let quiet_from = epoch.elapsed() + Duration::from_secs(10);
    let mut quiet: Option<(Vec<super::router::Counters>, Duration)> = None;
    while epoch.elapsed() < plan.duration && !(until == Until::Delivered && got == wanted) {
        if quiet.is_none() && epoch.elapsed() >= quiet_from {
            quiet = Some((tb.router.counters(), epoch.elapsed()));
        }
        let left = plan.duration.saturating_sub(epoch.elapsed());
        if let Ok(r) = rx.recv_timeout(left.min(Duration::from_millis(500))) {
            got += take(r, &mut latency_ms, &mut delivered_at);
        }
    }
    let elapsed = epoch.elapsed();
    let counters = tb.router.counters();
    let (idle_counters, idle_span) = match quiet {
        Some((at, since)) => (
            counters
                .iter()
                .zip(&at)
                .map(|(end, start)| super::router::Counters {
                    sent_bytes: end.sent_bytes - start.sent_bytes,
                    sent_packets: end.sent_packets - start.sent_packets,
                    received_bytes: end.received_bytes - start.received_bytes,
                    ..Default::default()
                })
                .collect(),
            elapsed.saturating_sub(since),
        ),
        None => (Vec::new(), Duration::ZERO),
    };
    let duplicates = (0..plan.nodes)
        .map(|i| duplicates_since(&tb.log_path(i), log_offsets[i]))
        .collect();
    // Pairs the streams did not announce: held or not, asked of the node.
    for (n, row) in latency_ms.iter_mut().enumerate() {
        for (k, cell) in row.iter_mut().enumerate() {
            if eligible[n][k] && cell.is_none() && tb.nodes[n].event(&posts[k].id).is_some() {
                *cell = Some(None);
            }
        }
    }
    Outcome {
        posts,
        latency_ms,
        eligible,
        delivered_at,
        counters,
        idle_counters,
        idle_span,
        duplicates,
        elapsed,
    }
}

/// Gossip duplicates a daemon logged after `offset` in its log.
fn duplicates_since(log: &std::path::Path, offset: u64) -> u64 {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let _ = f.seek(SeekFrom::Start(offset));
        let _ = f.read_to_string(&mut text);
    }
    text.lines()
        .filter(|l| l.contains("Message already received"))
        .count() as u64
}
