//! Criterion benchmarks for the protocol's hot paths: signing, verification, encoding and
//! moderation evaluation.
//!
//! Every input is built from fixed secret seeds and fixed timestamps, so two runs (or two
//! machines) measure exactly the same work and their numbers can be compared. Setup happens
//! outside the timed closures, and each setup asserts that the input takes the path the benchmark
//! claims to measure (a batch of valid signatures, an event that verifies, a post that is hidden),
//! because a benchmark that silently measures an error path reports a misleadingly fast number.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use handbill_protocol::moderation::{self, FeedSubscription, LabelIndex, Preferences};
use handbill_protocol::payload::{
    EventRef, Label, LabelDefinition, LabelTarget, LabelerDeclaration, Post, Severity,
};
use handbill_protocol::signature::{self, SignedId};
use handbill_protocol::{
    Action, AuthorId, AuthorKey, EventId, Payload, Signature, SignedEvent, Timestamp,
    VerifiedEvent, sign_next, validate,
};
use std::hint::black_box;
use std::time::Duration;

/// The clock every event is signed and checked at.
const NOW: Timestamp = Timestamp(1_750_000_000_000);

/// The batch sizes measured: a typical gossip burst and a backfill page.
const BATCH_SIZES: [usize; 2] = [64, 256];

const FEEDS: usize = 10;
const LABELS_PER_FEED: usize = 1_000;
/// One label in this many targets an author rather than a post.
const AUTHOR_LABEL_EVERY: usize = 10;
/// The values every feed declares, with their default actions.
const LABEL_VALUES: [(&str, Action); 5] = [
    ("spam", Action::Hide),
    ("violence", Action::Hide),
    ("nsfw", Action::Warn),
    ("satire", Action::Show),
    ("scam", Action::Hide),
];

/// A deterministic key distinct for every `n`: the seed spells `n` and a fixed marker.
fn key(n: u32) -> AuthorKey {
    let mut seed = [0x5a; 32];
    seed[..4].copy_from_slice(&n.to_be_bytes());
    AuthorKey::from_secret_bytes(&seed)
}

/// A distinct 32-byte id for (`domain`, `a`, `b`), for things the index never verifies
/// (labelled posts and label events need only be distinct, not real).
fn fake_id(domain: u8, a: u32, b: u32) -> [u8; 32] {
    let mut bytes = [domain; 32];
    bytes[1..5].copy_from_slice(&a.to_be_bytes());
    bytes[5..9].copy_from_slice(&b.to_be_bytes());
    bytes
}

fn post(text: String, tags: &[&str]) -> Payload {
    Payload::Post(Post {
        text,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Post::default()
    })
}

/// About 1 KiB of ASCII prose, so byte and char counts agree.
fn text_1k() -> String {
    let sentence = "Handbill posts travel as signed events between peers who may never meet. ";
    let mut text = sentence.repeat(1024 / sentence.len() + 1);
    text.truncate(1024);
    text
}

/// The second event of a log, so its header carries `prev` like almost every real event.
fn post_1k() -> VerifiedEvent {
    let author = key(1);
    let first = sign_next(&author, None, NOW, &post("first".into(), &[])).expect("valid post");
    sign_next(
        &author,
        Some(&first.head()),
        NOW,
        &post(text_1k(), &["rust", "p2p"]),
    )
    .expect("a 1 KiB post is within the limits")
}

fn bench_sign(c: &mut Criterion) {
    let author = key(1);
    let id = post_1k().id();
    c.bench_function("sign", |b| b.iter(|| author.sign(black_box(&id))));
}

/// `count` signed ids, by one author or by `count` distinct authors.
struct Batch {
    authors: Vec<AuthorId>,
    ids: Vec<EventId>,
    signatures: Vec<Signature>,
}

impl Batch {
    fn new(count: usize, one_author: bool) -> Batch {
        let keys: Vec<AuthorKey> = if one_author {
            vec![key(0)]
        } else {
            (0..count as u32).map(key).collect()
        };
        let mut batch = Batch {
            authors: Vec::with_capacity(count),
            ids: Vec::with_capacity(count),
            signatures: Vec::with_capacity(count),
        };
        for i in 0..count {
            let signer = &keys[i % keys.len()];
            let id = EventId(fake_id(1, i as u32, 0));
            batch.authors.push(signer.author());
            batch.signatures.push(signer.sign(&id));
            batch.ids.push(id);
        }
        batch
    }

    fn items(&self) -> Vec<SignedId<'_>> {
        (0..self.ids.len())
            .map(|i| SignedId {
                author: &self.authors[i],
                id: &self.ids[i],
                signature: &self.signatures[i],
            })
            .collect()
    }
}

fn bench_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");

    let single = Batch::new(1, true);
    let item = single.items()[0];
    assert_eq!(
        signature::verify(&item),
        Ok(()),
        "the signature must be valid"
    );
    group.bench_function("single", |b| b.iter(|| signature::verify(black_box(&item))));
    // The node's path: the author's decompressed key is reused from a KeyCache.
    let mut cache = signature::KeyCache::default();
    group.bench_function("single_cached_key", |b| {
        b.iter(|| cache.verify(black_box(&item)))
    });

    for (name, one_author) in [("batch_one_author", true), ("batch_many_authors", false)] {
        for count in BATCH_SIZES {
            let batch = Batch::new(count, one_author);
            let items = batch.items();
            // An invalid item would send the batch down the one-by-one fallback.
            assert!(
                signature::verify_batch(&items).iter().all(Result::is_ok),
                "every signature in the batch must be valid"
            );
            group.throughput(Throughput::Elements(count as u64));
            group.bench_with_input(BenchmarkId::new(name, count), &items, |b, items| {
                b.iter(|| signature::verify_batch(black_box(items)))
            });
            let mut cache = signature::KeyCache::default();
            let cached = format!("{name}_cached_keys");
            group.bench_with_input(BenchmarkId::new(cached, count), &items, |b, items| {
                b.iter(|| cache.verify_batch(black_box(items)))
            });
        }
    }
    group.finish();
}

fn bench_event_id(c: &mut Criterion) {
    let header = *post_1k().header();
    c.bench_function("event_id", |b| b.iter(|| black_box(&header).id()));
}

fn bench_post_1k(c: &mut Criterion) {
    let event = post_1k();
    let signed = event.signed().clone();
    let bytes = signed.encode();
    assert_eq!(
        validate::verify_bytes(&bytes, NOW).as_ref(),
        Ok(&event),
        "the encoded post must verify"
    );

    let mut group = c.benchmark_group("post_1k");
    group.bench_function("encode", |b| b.iter(|| black_box(&signed).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| SignedEvent::decode(black_box(&bytes)))
    });
    group.bench_function("decode_check_verify", |b| {
        b.iter(|| validate::verify_bytes(black_box(&bytes), NOW))
    });
    // What the engine does for a gossiped post from an author it has heard from before.
    let mut cache = signature::KeyCache::default();
    group.bench_function("decode_check_verify_cached_key", |b| {
        b.iter(|| {
            let event = SignedEvent::decode(black_box(&bytes)).expect("decodes");
            validate::CheckedEvent::check(event, NOW)
                .expect("valid")
                .verify_with(&mut cache)
        })
    });
    group.finish();
}

/// A viewer subscribed to ten busy feeds, and two posts to judge against them.
struct ModerationWorld {
    prefs: Preferences,
    labels: LabelIndex,
    labelled: VerifiedEvent,
    unlabelled: VerifiedEvent,
}

fn moderation_world() -> ModerationWorld {
    let text = "Walked along the canal this morning: herons, a narrowboat called Patience, and \
                someone's radio playing the shipping forecast. The bakery by the lock has \
                started doing rye again, which made the whole trip worth it. Photos later.";
    let labelled_author = key(100);
    let labelled =
        sign_next(&labelled_author, None, NOW, &post(text.into(), &["walks"])).expect("valid post");
    let unlabelled =
        sign_next(&key(101), None, NOW, &post(text.into(), &["walks"])).expect("valid post");

    let feeds: Vec<AuthorId> = (0..FEEDS as u32).map(|f| key(200 + f).author()).collect();
    let mut labels = LabelIndex::new();
    for (f, feed) in feeds.iter().enumerate() {
        for i in 0..LABELS_PER_FEED {
            let (value, _) = LABEL_VALUES[(f + i) % LABEL_VALUES.len()];
            let target = if i == 0 {
                // Every feed labels the post under test, so evaluation finds ten event labels.
                LabelTarget::Event(EventRef {
                    author: labelled.author(),
                    id: labelled.id(),
                })
            } else if i == AUTHOR_LABEL_EVERY - 1 && f < 2 {
                // Two feeds also label its author, so the author lookup finds something too.
                LabelTarget::Author(labelled.author())
            } else if i % AUTHOR_LABEL_EVERY == AUTHOR_LABEL_EVERY - 1 {
                LabelTarget::Author(AuthorId(fake_id(2, f as u32, i as u32)))
            } else {
                LabelTarget::Event(EventRef {
                    author: AuthorId(fake_id(3, f as u32, i as u32)),
                    id: EventId(fake_id(4, f as u32, i as u32)),
                })
            };
            let label = Label {
                target,
                value: value.into(),
                reason: Some("reported and reviewed".into()),
                // Some labels expire in the future, so `in_force` does its comparison for real.
                expires_at: (i % 3 == 0).then(|| NOW.saturating_add_millis(86_400_000)),
                negate: false,
            };
            let seq = i as u64 + 1;
            labels.apply(*feed, seq, EventId(fake_id(5, f as u32, i as u32)), &label);
        }
    }
    assert_eq!(
        labels.len(),
        FEEDS * LABELS_PER_FEED,
        "every label must land on a distinct (feed, subject, value)"
    );

    let declaration = |f: usize| LabelerDeclaration {
        name: format!("Feed {f}"),
        description: "A moderation feed for benchmarks".into(),
        labels: LABEL_VALUES
            .iter()
            .map(|(value, action)| LabelDefinition {
                value: (*value).into(),
                severity: Severity::Medium,
                default_action: *action,
                description: String::new(),
            })
            .collect(),
    };
    let mut prefs = Preferences {
        viewer: Some(key(300).author()),
        always_show_followed: true,
        ..Preferences::default()
    };
    for (f, feed) in feeds.iter().enumerate() {
        let mut subscription = FeedSubscription {
            declaration: Some(declaration(f)),
            ..FeedSubscription::default()
        };
        if f % 3 == 0 {
            subscription.overrides.insert("satire".into(), Action::Warn);
        }
        prefs.feeds.insert(*feed, subscription);
    }
    let words = [
        "crypto", "giveaway", "election", "spoilers", "finale", "airdrop", "referral", "promo",
        "leak", "rumour",
    ];
    prefs.muted_words = words.iter().map(|w| w.to_string()).collect();
    let tags = ["ad", "sponsored", "nft", "politics", "sports"];
    prefs.muted_tags = tags.iter().map(|t| t.to_string()).collect();

    ModerationWorld {
        prefs,
        labels,
        labelled,
        unlabelled,
    }
}

fn bench_moderation(c: &mut Criterion) {
    let world = moderation_world();
    let verdict = moderation::evaluate(&world.labelled, &world.prefs, &world.labels, NOW);
    assert_eq!(
        verdict.action,
        Action::Hide,
        "the labelled post must be hidden"
    );
    assert_eq!(
        verdict.reasons.len(),
        FEEDS + 2,
        "ten post labels and two author labels"
    );
    let verdict = moderation::evaluate(&world.unlabelled, &world.prefs, &world.labels, NOW);
    assert_eq!(
        verdict.action,
        Action::Show,
        "the unlabelled post must be shown"
    );

    let mut group = c.benchmark_group("moderation/evaluate_10_feeds_10k_labels");
    for (name, event) in [
        ("labelled", &world.labelled),
        ("unlabelled", &world.unlabelled),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                moderation::evaluate(
                    black_box(event),
                    black_box(&world.prefs),
                    black_box(&world.labels),
                    NOW,
                )
            })
        });
    }
    group.finish();
}

/// Short measurements: these paths take nanoseconds to milliseconds, 30 samples over 3 s are
/// stable enough to spot regressions, and the whole suite stays within a few minutes.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_sign, bench_verify, bench_event_id, bench_post_1k, bench_moderation
}
criterion_main!(benches);
