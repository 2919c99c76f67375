//! Measures local search against its target (≤ 50 ms per query over 100,000 posts), through
//! the engine on a real sled store, so a query's time includes the index, moderation and
//! building the result items.
//!
//! `cargo run --release -p handbill-tests --example measure_search` (`SEARCH_POSTS=n` to change
//! the 100,000).
//!
//! Posts are ~20 words drawn from a 5,000-word vocabulary with Zipf-like frequencies (a few
//! words in most posts, most words rare), by 200 authors, one in ten with a tag: the shape of
//! real text, where a query for a common word has tens of thousands of postings.

use handbill_node::daemon::now;
use handbill_node::store::SledStore;
use handbill_protocol::engine::{Engine, EngineConfig};
use handbill_protocol::payload::{Payload, Post};
use handbill_protocol::store::Store;
use handbill_protocol::{AuthorKey, Timestamp, VerifiedEvent, sign_next};
use std::time::{Duration, Instant};

const VOCABULARY: usize = 5_000;
const AUTHORS: usize = 200;
const RUNS: usize = 50;

/// splitmix64: a deterministic stream without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A word rank with probability about 1/rank (Zipf, s = 1).
    fn zipf(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let h = (VOCABULARY as f64).ln() + 0.577;
        ((u * h).exp() as usize).clamp(1, VOCABULARY) - 1
    }
}

fn word(rank: usize) -> String {
    format!("w{rank}")
}

fn main() {
    let n: usize = std::env::var("SEARCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = SledStore::open(&dir.path().join("store")).expect("store");
    let keys: Vec<AuthorKey> = (0..AUTHORS)
        .map(|i| {
            let mut secret = [9u8; 32];
            secret[..8].copy_from_slice(&(i as u64).to_le_bytes());
            AuthorKey::from_secret_bytes(&secret)
        })
        .collect();
    let mut heads = vec![None; AUTHORS];
    let mut rng = Rng(1);
    let t0 = now().0 - n as u64;
    let start = Instant::now();
    let mut batch: Vec<VerifiedEvent> = Vec::with_capacity(1000);
    for i in 0..n {
        let a = i % AUTHORS;
        let words: Vec<String> = (0..20).map(|_| word(rng.zipf())).collect();
        let tags = if i % 10 == 0 {
            vec![format!("topic{}", rng.next() % 50)]
        } else {
            Vec::new()
        };
        let post = Payload::Post(Post {
            text: words.join(" "),
            tags,
            ..Post::default()
        });
        let e =
            sign_next(&keys[a], heads[a].as_ref(), Timestamp(t0 + i as u64), &post).expect("valid");
        heads[a] = Some(e.head());
        batch.push(e);
        if batch.len() == 1000 {
            store.insert_batch(&batch).expect("insert");
            batch.clear();
        }
    }
    store.insert_batch(&batch).expect("insert");
    store.flush().expect("flush");
    println!(
        "search: stored {n} posts with their index in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let engine = Engine::<SledStore, u8>::new(
        AuthorKey::from_secret_bytes(&[1; 32]),
        store,
        EngineConfig::default(),
        now(),
    )
    .expect("engine");
    let author = keys[7].author().to_string();
    let queries = [
        ("the most common word", word(0)),
        ("a mid-frequency word", word(100)),
        ("a rare word", word(4_000)),
        ("two common words", format!("{} {}", word(0), word(1))),
        ("common and rare", format!("{} {}", word(0), word(3_000))),
        (
            "three words",
            format!("{} {} {}", word(2), word(5), word(9)),
        ),
        ("a tag", "#topic7".to_string()),
        ("an author and a word", format!("from:{author} {}", word(3))),
        ("no hits", "nothingmatches".to_string()),
    ];
    println!("search: {RUNS} runs per query, first page of 20, newest first");
    let mut worst = Duration::ZERO;
    for (what, query) in &queries {
        let mut times = Vec::with_capacity(RUNS);
        let mut hits = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            let results = engine.search(query, None, 20, now()).expect("search");
            times.push(start.elapsed());
            hits = results.items.len();
        }
        times.sort();
        let p50 = times[RUNS / 2];
        let p99 = times[RUNS * 99 / 100];
        worst = worst.max(times[RUNS - 1]);
        println!(
            "  {what:22} {query:40.40} {hits:>2} hits  p50 {:6.2} ms  p99 {:6.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    println!(
        "search: slowest query {:.2} ms (target ≤ 50 ms)",
        worst.as_secs_f64() * 1e3
    );
}
