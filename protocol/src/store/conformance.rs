//! One behaviour suite for every [`Store`]: the in-memory store and the node's sled store both
//! run [`run_all`], so the engine can rely on the same semantics from either.
//!
//! Enabled in tests and by the `conformance` feature (for other crates' tests).

use super::{Inserted, LogState, Store, TimelineCursor};
use crate::id::{AuthorId, EventId};
use crate::payload::{EventRef, Payload, Post, ReplyRef, Repost};
use crate::signature::AuthorKey;
use crate::time::Timestamp;
use crate::validate::{VerifiedEvent, sign_next};

mod indexes;

/// Runs every check, each against a fresh store from `make`.
pub fn run_all<S: Store>(make: impl Fn() -> S) {
    indexes::run_all(&make);
    insert_is_idempotent_and_fills_payloads(&mut make());
    log_order_gaps_and_state(&mut make());
    forks_keep_both_events(&mut make());
    erase_and_remove(&mut make());
    tombstones(&mut make());
    timeline_pages_newest_first(&mut make());
    replies_in_order(&mut make());
    settings_round_trip(&mut make());
    latest_of_kind_tracks_the_newest(&mut make());
    a_batch_inserts_as_one_by_one_would(&mut make());
}

fn latest_of_kind_tracks_the_newest<S: Store>(store: &mut S) {
    let k = key(11);
    let profile = |name: &str| {
        Payload::Profile(crate::payload::Profile {
            name: name.into(),
            bio: String::new(),
        })
    };
    let p1 = sign_next(&k, None, Timestamp(1), &profile("one")).expect("valid");
    let post1 = sign_next(&k, Some(&p1.head()), Timestamp(2), &post("x")).expect("valid");
    let p2 = sign_next(&k, Some(&post1.head()), Timestamp(3), &profile("two")).expect("valid");
    let kind = crate::payload::Kind::PROFILE;
    assert_eq!(
        store.latest_of_kind(&k.author(), kind).expect("latest"),
        None
    );
    // Out of order: the newest wins whatever arrives last.
    store.insert(&p2).expect("insert");
    store.insert(&p1).expect("insert");
    store.insert(&post1).expect("insert");
    assert_eq!(
        store.latest_of_kind(&k.author(), kind).expect("latest"),
        Some(p2.id())
    );
    assert_eq!(
        store
            .latest_of_kind(&k.author(), crate::payload::Kind::POST)
            .expect("latest"),
        Some(post1.id())
    );
    store.remove(&p2.id()).expect("remove");
    assert_eq!(
        store.latest_of_kind(&k.author(), kind).expect("latest"),
        Some(p1.id())
    );
}

/// A batch sees its own earlier events: duplicates, filled payloads and forks within one batch
/// come out as they would from inserts one by one, and so do the counts and indexes.
fn a_batch_inserts_as_one_by_one_would<S: Store>(store: &mut S) {
    let events = chain(12, 4, 1000);
    let author = events[0].author();
    let k = key(12);
    let fork = sign_next(&k, None, Timestamp(999), &post("other first")).expect("valid");
    store.insert(&events[1]).expect("insert");
    let batch = vec![
        events[0].without_payload(),
        events[1].clone(),
        events[0].clone(),
        events[3].clone(),
        events[3].clone(),
        fork.clone(),
    ];
    let outcomes = store.insert_batch(&batch).expect("batch");
    assert_eq!(
        outcomes[..5],
        [
            Inserted::New,
            Inserted::AlreadyHad,
            Inserted::PayloadFilled,
            Inserted::New,
            Inserted::AlreadyHad,
        ]
    );
    match &outcomes[5] {
        Inserted::Fork(evidence) => {
            assert_eq!(evidence.first.id(), events[0].id());
            assert_eq!(evidence.second.id(), fork.id());
        }
        other => panic!("expected a fork, got {other:?}"),
    }
    assert_eq!(
        store.log_state(&author).expect("state"),
        LogState {
            contiguous: 2,
            highest: 4
        }
    );
    let counts = store.counts().expect("counts");
    assert_eq!((counts.events, counts.payloads), (4, 4));
    assert_eq!(store.forks().expect("forks"), vec![(author, 1)]);
    assert_eq!(
        store.event(&events[0].id()).expect("get"),
        Some(events[0].clone())
    );
    assert_eq!(store.insert_batch(&[]).expect("empty batch"), vec![]);
}

fn key(seed: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[seed; 32])
}

fn post(text: &str) -> Payload {
    Payload::Post(Post {
        text: text.into(),
        ..Post::default()
    })
}

/// A chain of `n` posts by `seed`'s key, one millisecond apart from `t0`.
pub fn chain(seed: u8, n: u64, t0: u64) -> Vec<VerifiedEvent> {
    let k = key(seed);
    let mut out: Vec<VerifiedEvent> = Vec::new();
    for i in 0..n {
        let head = out.last().map(VerifiedEvent::head);
        let e = sign_next(
            &k,
            head.as_ref(),
            Timestamp(t0 + i),
            &post(&format!("post {i}")),
        )
        .expect("valid post");
        out.push(e);
    }
    out
}

fn insert_is_idempotent_and_fills_payloads<S: Store>(store: &mut S) {
    let events = chain(1, 2, 1000);
    let bare = events[0].without_payload();
    assert_eq!(store.insert(&bare).expect("insert"), Inserted::New);
    assert!(store.contains(&bare.id()).expect("contains"));
    assert_eq!(store.event(&bare.id()).expect("get"), Some(bare.clone()));
    assert_eq!(store.insert(&bare).expect("insert"), Inserted::AlreadyHad);
    assert_eq!(
        store.insert(&events[0]).expect("insert"),
        Inserted::PayloadFilled
    );
    assert_eq!(
        store.event(&bare.id()).expect("get"),
        Some(events[0].clone())
    );
    assert_eq!(
        store.insert(&events[0]).expect("insert"),
        Inserted::AlreadyHad
    );
    assert_eq!(store.event(&events[1].id()).expect("get"), None);
    assert!(!store.contains(&events[1].id()).expect("contains"));
    let counts = store.counts().expect("counts");
    assert_eq!((counts.events, counts.authors, counts.payloads), (1, 1, 1));
}

fn log_order_gaps_and_state<S: Store>(store: &mut S) {
    let events = chain(2, 6, 1000);
    let author = events[0].author();
    assert_eq!(
        store.log_state(&author).expect("state"),
        LogState::default()
    );
    // Arrive out of order with seq 4 missing.
    for i in [5usize, 0, 2, 1, 4] {
        store.insert(&events[i]).expect("insert");
    }
    assert_eq!(
        store.log_state(&author).expect("state"),
        LogState {
            contiguous: 3,
            highest: 6
        }
    );
    let seqs: Vec<u64> = store
        .log(&author, 1, 100)
        .expect("log")
        .iter()
        .map(VerifiedEvent::seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 5, 6]);
    let page: Vec<u64> = store
        .log(&author, 2, 2)
        .expect("log")
        .iter()
        .map(VerifiedEvent::seq)
        .collect();
    assert_eq!(page, vec![2, 3]);
    store.insert(&events[3]).expect("insert");
    assert_eq!(
        store.log_state(&author).expect("state"),
        LogState {
            contiguous: 6,
            highest: 6
        }
    );
    assert_eq!(store.authors().expect("authors"), vec![author]);
    assert_eq!(store.ids_at(&author, 4).expect("ids"), vec![events[3].id()]);
}

fn forks_keep_both_events<S: Store>(store: &mut S) {
    let k = key(3);
    let a = sign_next(&k, None, Timestamp(1), &post("a")).expect("valid");
    let b = sign_next(&k, None, Timestamp(1), &post("b")).expect("valid");
    store.insert(&a).expect("insert");
    match store.insert(&b).expect("insert") {
        Inserted::Fork(evidence) => {
            assert_eq!(evidence.first.id(), a.id());
            assert_eq!(evidence.second.id(), b.id());
        }
        other => panic!("expected a fork, got {other:?}"),
    }
    assert_eq!(
        store.ids_at(&k.author(), 1).expect("ids"),
        vec![a.id(), b.id()]
    );
    assert_eq!(store.forks().expect("forks"), vec![(k.author(), 1)]);
    assert_eq!(store.log(&k.author(), 1, 10).expect("log"), vec![a.clone()]);
    assert!(store.event(&b.id()).expect("get").is_some());
}

fn erase_and_remove<S: Store>(store: &mut S) {
    let events = chain(4, 3, 1000);
    let author = events[0].author();
    for e in &events {
        store.insert(e).expect("insert");
    }
    assert!(store.erase_payload(&events[1].id()).expect("erase"));
    assert!(!store.erase_payload(&events[1].id()).expect("erase again"));
    let erased = store
        .event(&events[1].id())
        .expect("get")
        .expect("header stays");
    assert_eq!(erased.payload_bytes(), None);
    assert_eq!(erased.header(), events[1].header());
    assert_eq!(store.counts().expect("counts").payloads, 2);
    assert!(store.remove(&events[1].id()).expect("remove"));
    assert!(!store.remove(&events[1].id()).expect("remove again"));
    assert_eq!(
        store.log_state(&author).expect("state"),
        LogState {
            contiguous: 1,
            highest: 3
        }
    );
    let ids: Vec<EventId> = store
        .timeline(&|_| true, None, 10)
        .expect("timeline")
        .iter()
        .map(VerifiedEvent::id)
        .collect();
    assert_eq!(ids, vec![events[2].id(), events[0].id()]);
}

fn tombstones<S: Store>(store: &mut S) {
    let id = EventId([7; 32]);
    let author = AuthorId([8; 32]);
    let stranger = AuthorId([9; 32]);
    assert!(!store.is_deleted(&id, &author).expect("read"));
    store.add_tombstone(&id, &author).expect("add");
    // A second deleter is recorded beside the first and never displaces it.
    store.add_tombstone(&id, &stranger).expect("add");
    store.add_tombstone(&id, &author).expect("add again");
    assert!(store.is_deleted(&id, &author).expect("read"));
    assert!(store.is_deleted(&id, &stranger).expect("read"));
    assert!(!store.is_deleted(&EventId([6; 32]), &author).expect("read"));
}

fn timeline_pages_newest_first<S: Store>(store: &mut S) {
    let a = chain(5, 4, 1000);
    let b = chain(6, 4, 1000); // same times: ties broken by id
    for e in a.iter().chain(&b) {
        store.insert(e).expect("insert");
    }
    let k = key(5);
    let repost = sign_next(
        &k,
        Some(&a[3].head()),
        Timestamp(5000),
        &Payload::Repost(Repost {
            target: EventRef {
                author: b[0].author(),
                id: b[0].id(),
            },
        }),
    )
    .expect("valid");
    let follow = sign_next(
        &k,
        Some(&repost.head()),
        Timestamp(6000),
        &Payload::Follow(crate::payload::Follow {
            author: b[0].author(),
        }),
    )
    .expect("valid");
    store.insert(&repost).expect("insert");
    store.insert(&follow).expect("insert");

    let all = store.timeline(&|_| true, None, 100).expect("timeline");
    assert_eq!(all.len(), 9, "posts and reposts only");
    assert_eq!(all[0].id(), repost.id());
    let keys: Vec<(Timestamp, EventId)> = all
        .iter()
        .map(|e| (e.header().created_at, e.id()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(keys, sorted, "newest first, ties by id descending");

    let first = store.timeline(&|_| true, None, 4).expect("page 1");
    let last = first.last().expect("four items");
    let cursor = TimelineCursor {
        created_at: last.header().created_at,
        id: last.id(),
    };
    let second = store
        .timeline(&|_| true, Some(cursor), 100)
        .expect("page 2");
    assert_eq!(first.len() + second.len(), 9);
    assert!(second.iter().all(|e| !first.contains(e)));

    let only_a = a[0].author();
    let filtered = store
        .timeline(&|x| *x == only_a, None, 100)
        .expect("filtered");
    assert_eq!(filtered.len(), 5);
    assert!(filtered.iter().all(|e| e.author() == only_a));
}

fn replies_in_order<S: Store>(store: &mut S) {
    let root = chain(7, 1, 1000).remove(0);
    let r = EventRef {
        author: root.author(),
        id: root.id(),
    };
    store.insert(&root).expect("insert");
    let mut ids = Vec::new();
    for (i, seed) in [8u8, 9, 10].iter().enumerate() {
        let reply = sign_next(
            &key(*seed),
            None,
            Timestamp(2000 + i as u64),
            &Payload::Post(Post {
                text: format!("reply {i}"),
                reply: Some(ReplyRef { root: r, parent: r }),
                ..Post::default()
            }),
        )
        .expect("valid");
        ids.push(reply.id());
        // A reply that first arrives without its payload is indexed once the payload comes.
        store.insert(&reply.without_payload()).expect("insert");
        store.insert(&reply).expect("insert");
    }
    assert_eq!(store.replies(&root.id()).expect("replies"), ids);
    assert!(store.replies(&ids[0]).expect("replies").is_empty());
}

fn settings_round_trip<S: Store>(store: &mut S) {
    assert_eq!(store.setting("follows").expect("get"), None);
    store.put_setting("follows", b"[1,2]").expect("put");
    store.put_setting("follows", b"[3]").expect("put");
    assert_eq!(
        store.setting("follows").expect("get"),
        Some(b"[3]".to_vec())
    );
    store.flush().expect("flush");
}
