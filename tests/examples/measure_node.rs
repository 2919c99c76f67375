//! Measures the node against the daemon issue's targets, with real daemons on 127.0.0.1.
//!
//! `cargo run --release -p handbill-tests --example measure_node -- [ingest|ingest-net|backfill|gossip|rss|all]`
//!
//! - ingest: posts/s through the backfill ingest path (decode, batch verify, validate, sled
//!   store, index), in process, no network (`INGEST_POSTS=n` to change the 20,000);
//! - ingest-net: posts/s ingested from the network: pre-signed posts by 100 authors published
//!   by one gossipsub peer over loopback into a daemon that follows them all (`NET_POSTS=n` to
//!   change the 50,000);
//! - backfill: posts/s for a node to backfill 10,000 posts from one peer over loopback;
//! - gossip: delivery latency percentiles of posts from one author to 9 followers (10 nodes);
//! - rss: resident memory of an idle daemon, and of one holding 100,000 posts.

use handbill_node::daemon::now;
use handbill_node::home::Home;
use handbill_node::network::topic;
use handbill_node::store::SledStore;
use handbill_protocol::api::FeedItem;
use handbill_protocol::engine::{Engine, EngineConfig, Output};
use handbill_protocol::payload::{Payload, Post};
use handbill_protocol::store::{MemoryStore, Store};
use handbill_protocol::{AuthorKey, VerifiedEvent, sign_next};
use handbill_tests::hostile::HostilePeer;
use handbill_tests::{Node, wait_for};
use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

/// A log of `n` posts of about 200 bytes by `key`.
fn log_of(key: &AuthorKey, n: usize) -> Vec<VerifiedEvent> {
    let t = now();
    let mut out: Vec<VerifiedEvent> = Vec::with_capacity(n);
    for i in 0..n {
        let head = out.last().map(VerifiedEvent::head);
        let text = format!("post {i}: {}", "lorem ipsum dolor sit amet ".repeat(7));
        let post = Payload::Post(Post {
            text,
            ..Post::default()
        });
        out.push(sign_next(key, head.as_ref(), t, &post).expect("valid"));
    }
    out
}

/// A new home whose store already holds `n` posts by its own author, written straight into the
/// store as if they had been posted over time.
fn seeded_home(dir: &Path, name: &str, n: usize) -> (Home, AuthorKey) {
    let home = Home::at(dir.join(name));
    home.init().expect("init");
    let key = home.read_author_key().expect("key");
    let mut store = SledStore::open(&home.store()).expect("store");
    for e in &log_of(&key, n) {
        store.insert(e).expect("insert");
    }
    store.flush().expect("flush");
    drop(store);
    (home, key)
}

fn ingest() {
    let n_env = std::env::var("INGEST_POSTS")
        .ok()
        .and_then(|v| v.parse().ok());
    let n: usize = n_env.unwrap_or(20_000);
    let source_key = AuthorKey::from_secret_bytes(&[1; 32]);
    let events = log_of(&source_key, n);
    let mut source = Engine::<MemoryStore, u8>::new(
        AuthorKey::from_secret_bytes(&[1; 32]),
        MemoryStore::new(),
        EngineConfig::default(),
        now(),
    )
    .expect("engine");
    for e in &events {
        source.publish(e.content().expect("payload"), now()).ok();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(&dir.path().join("store")).expect("store");
    let mut sink = Engine::<SledStore, u8>::new(
        AuthorKey::from_secret_bytes(&[2; 32]),
        store,
        EngineConfig::default(),
        now(),
    )
    .expect("engine");
    sink.follow(source_key.author(), now()).expect("follow");
    while source.poll_output().is_some() {}
    while sink.poll_output().is_some() {}
    let start = Instant::now();
    sink.handle_connected(0, now());
    // Pump requests and responses between the two engines until the sink is quiet.
    loop {
        let mut busy = false;
        while let Some(output) = sink.poll_output() {
            if let Output::SendRequest { request, .. } = output {
                busy = true;
                let response = source.handle_request(&1, request.clone(), now());
                sink.handle_response(&0, &request, response, now());
            }
        }
        if !busy {
            break;
        }
    }
    let elapsed = start.elapsed();
    let held = sink
        .store()
        .log_state(&source_key.author())
        .expect("state")
        .contiguous;
    assert_eq!(held as usize, n, "sink holds the whole log");
    println!(
        "ingest: {n} posts through the backfill path (decode, batch verify, validate, sled, index) in {:.2} s = {:.0} posts/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}

fn backfill() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, key) = seeded_home(dir.path(), "a", N);
    let a = Node::start_with(home.root().to_path_buf(), Vec::new());
    let b = Node::start(dir.path(), "b");
    b.follow(key.author());
    let start = Instant::now();
    b.connect(&a);
    wait_for("B to backfill", || {
        (b.log_of(&key.author()).0 as usize == N).then_some(())
    });
    let elapsed = start.elapsed();
    println!(
        "backfill: {N} posts from one peer over loopback in {:.2} s = {:.0} posts/s",
        elapsed.as_secs_f64(),
        N as f64 / elapsed.as_secs_f64()
    );
}

fn ingest_net() {
    let authors_env = std::env::var("NET_AUTHORS")
        .ok()
        .and_then(|v| v.parse().ok());
    let authors: usize = authors_env.unwrap_or(100);
    let n: usize = std::env::var("NET_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let per_author = n.div_ceil(authors);
    let keys: Vec<AuthorKey> = (0..authors)
        .map(|i| AuthorKey::from_secret_bytes(&[i as u8 + 10; 32]))
        .collect();
    let logs: Vec<Vec<VerifiedEvent>> = keys.iter().map(|k| log_of(k, per_author)).collect();
    // Interleaved as live traffic is: every author's next post in turn.
    let mut messages = Vec::with_capacity(per_author * authors);
    for i in 0..per_author {
        for (key, log) in keys.iter().zip(&logs) {
            messages.push((topic(&key.author()), log[i].encode()));
        }
    }
    let total = messages.len() as u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), "sink");
    for key in &keys {
        node.follow(key.author());
    }
    let sender = HostilePeer::start();
    let addr: libp2p::Multiaddr = node.addr().parse().expect("address");
    sender.dial(&addr);
    let peer = handbill_node::daemon::peer_of(&addr).expect("peer id");
    for (i, key) in keys.iter().enumerate() {
        assert!(
            sender.join(&topic(&key.author()), peer),
            "the sender never shared topic {i} with the daemon; its log:\n{}",
            node.log()
        );
    }
    let before = node.status().counts.events;
    let start = Instant::now();
    sender.publish_all(messages).expect("published");
    let queued = start.elapsed();
    // Until everything is stored, or nothing more arrives for 10 s (gossipsub may drop).
    let (mut stored, mut progress_at) = (0, Instant::now());
    while stored < total && progress_at.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        let now_stored = node.status().counts.events - before;
        if now_stored > stored {
            (stored, progress_at) = (now_stored, Instant::now());
        }
    }
    let start_to_last = progress_at - start;
    println!(
        "ingest-net: {stored} of {total} posts by {authors} authors from one gossip peer over loopback stored in {:.2} s = {:.0} posts/s (sender done queueing after {:.2} s)",
        start_to_last.as_secs_f64(),
        stored as f64 / start_to_last.as_secs_f64(),
        queued.as_secs_f64(),
    );
    // With HANDBILL_TEST_LOG=info,handbill_node::daemon=trace the daemon logs each batch.
    let mut sizes: Vec<u64> = node
        .log()
        .lines()
        .filter(|l| l.contains("judging a gossip batch"))
        .map(without_colours)
        .filter_map(|l| {
            l.split("messages=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    if !sizes.is_empty() {
        sizes.sort_unstable();
        println!(
            "ingest-net: {} gossip batches, messages per batch p50 {} p90 {} max {}",
            sizes.len(),
            percentile(&sizes, 0.5),
            percentile(&sizes, 0.9),
            sizes[sizes.len() - 1]
        );
    }
}

/// A log line without its terminal colour codes (ESC [ … m).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn gossip() {
    const FOLLOWERS: usize = 9;
    const POSTS: usize = 100;
    let dir = tempfile::tempdir().expect("tempdir");
    let author = Node::start(dir.path(), "author");
    let followers: Vec<Node> = (0..FOLLOWERS)
        .map(|i| Node::start(dir.path(), &format!("f{i}")))
        .collect();
    // A sparse overlay: the author knows three nodes; every node knows its neighbour.
    for (i, f) in followers.iter().enumerate() {
        if i < 3 {
            f.connect(&author);
        }
        if i > 0 {
            f.connect(&followers[i - 1]);
        }
        f.follow(author.author());
    }
    let warm = author.post_text("warm-up");
    for f in &followers {
        f.wait_for_event(&warm);
    }
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let mut readers = Vec::new();
    for f in &followers {
        let (api, token) = f.api();
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(120)))
                .build()
                .into();
            let mut response = agent
                .get(format!("{api}/v1/stream"))
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .expect("stream");
            let reader = std::io::BufReader::new(response.body_mut().as_reader());
            let mut seen = 0;
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if let Some(json) = line.strip_prefix("data:") {
                    let item: FeedItem = serde_json::from_str(json.trim()).expect("item");
                    if item.text.as_deref().is_some_and(|t| t.starts_with("timed")) {
                        let latency = now().0.saturating_sub(item.created_at.0);
                        let _ = tx.send(latency);
                        seen += 1;
                        if seen == POSTS {
                            break;
                        }
                    }
                }
            }
        }));
    }
    drop(tx);
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..POSTS {
        author.post_text(&format!("timed {i}"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut latencies: Vec<u64> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while latencies.len() < POSTS * FOLLOWERS && Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_secs(1)) {
            latencies.push(l);
        }
    }
    latencies.sort_unstable();
    println!(
        "gossip: {} of {} deliveries to {FOLLOWERS} followers (10 nodes); latency ms p50 {} p90 {} p99 {} max {}",
        latencies.len(),
        POSTS * FOLLOWERS,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0)
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn rss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idle = Node::start(dir.path(), "idle");
    std::thread::sleep(Duration::from_secs(5));
    let idle_kib = rss_kib(idle.pid().expect("running"));
    println!("rss: idle daemon {:.1} MiB", idle_kib as f64 / 1024.0);

    const N: usize = 100_000;
    let (home, key) = seeded_home(dir.path(), "full", N);
    let full = Node::start_with(home.root().to_path_buf(), Vec::new());
    // Exercise the store the way a user would: page through the timeline and serve backfill.
    let follower = Node::start(dir.path(), "follower");
    follower.follow(key.author());
    follower.connect(&full);
    let start = Instant::now();
    while (follower.log_of(&key.author()).0 as usize) < N {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "backfill of {N} stalled"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "rss: the follower backfilled {N} posts in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let _: serde_json::Value = full.get("/v1/timeline?limit=500");
    let full_kib = rss_kib(full.pid().expect("running"));
    let follower_kib = rss_kib(follower.pid().expect("running"));
    println!(
        "rss: daemon holding {N} posts {:.1} MiB (after serving them); the follower that backfilled them {:.1} MiB",
        full_kib as f64 / 1024.0,
        follower_kib as f64 / 1024.0
    );
}

fn main() {
    // MEASURE_LOG=filter shows this process's own logs (the gossip sender's), e.g. when a run
    // stalls; the daemons' logs are HANDBILL_TEST_LOG's.
    if let Ok(filter) = std::env::var("MEASURE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .init();
    }
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let all = which == "all";
    if all || which == "ingest" {
        ingest();
    }
    if all || which == "ingest-net" {
        ingest_net();
    }
    if all || which == "backfill" {
        backfill();
    }
    if all || which == "gossip" {
        gossip();
    }
    if all || which == "rss" {
        rss();
    }
}
