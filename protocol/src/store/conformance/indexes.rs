//! Conformance of the indexes behind the social features: references (counts, quotes, edit
//! history), search postings, the notification journal and id-prefix ranges.

use super::{chain, key};
use crate::id::EventId;
use crate::payload::{Edit, EventRef, Payload, Post, Reaction, ReplyRef};
use crate::relations::Relation;
use crate::search::{Query, author_term};
use crate::store::{NOTIFICATIONS_MAX, Store, TimelineCursor};
use crate::time::Timestamp;
use crate::validate::{VerifiedEvent, sign_next};

/// Runs the index checks.
pub fn run_all<S: Store>(make: impl Fn() -> S) {
    references_follow_payloads(&mut make());
    search_finds_held_text_only(&mut make());
    notifications_are_a_bounded_journal(&mut make());
    id_ranges_list_held_events(&mut make());
}

fn reference(e: &VerifiedEvent) -> EventRef {
    EventRef {
        author: e.author(),
        id: e.id(),
    }
}

fn references_follow_payloads<S: Store>(store: &mut S) {
    let posts = chain(21, 1, 1000);
    let target = reference(&posts[0]);
    let bob = key(22);
    let reply = sign_next(
        &bob,
        None,
        Timestamp(2000),
        &Payload::Post(Post {
            text: "re".into(),
            reply: Some(ReplyRef {
                root: target,
                parent: target,
            }),
            quote: Some(target),
            ..Post::default()
        }),
    )
    .expect("valid");
    let reaction = sign_next(
        &bob,
        Some(&reply.head()),
        Timestamp(2001),
        &Payload::Reaction(Reaction {
            target,
            reaction: "+1".into(),
        }),
    )
    .expect("valid");
    let edit = sign_next(
        &key(21),
        Some(&posts[0].head()),
        Timestamp(2002),
        &Payload::Edit(Edit {
            target,
            text: "better".into(),
            topics: Vec::new(),
        }),
    )
    .expect("valid");
    let edit2 = sign_next(
        &key(21),
        Some(&edit.head()),
        Timestamp(2003),
        &Payload::Edit(Edit {
            target,
            text: "best".into(),
            topics: Vec::new(),
        }),
    )
    .expect("valid");
    // A header alone refers to nothing; its payload, once filled, does.
    store.insert(&reply.without_payload()).expect("insert");
    assert_eq!(store.reference_count(&target.id, Relation::Reply), Ok(0));
    for e in [&posts[0], &reply, &reaction, &edit, &edit2] {
        store.insert(e).expect("insert");
    }
    let count = |s: &S, r| s.reference_count(&target.id, r).expect("count");
    assert_eq!(count(store, Relation::Reply), 1);
    assert_eq!(count(store, Relation::Quote), 1);
    assert_eq!(count(store, Relation::Reaction), 1);
    assert_eq!(count(store, Relation::Repost), 0);
    assert_eq!(
        store.references_by(&target.id, Relation::Edit, &target.author, 10),
        Ok(vec![edit2.id(), edit.id()]),
        "newest first"
    );
    // By author: Bob's events refer to the post too, but not as Alice's.
    assert_eq!(
        store.references_by(&target.id, Relation::Reply, &target.author, 10),
        Ok(Vec::new())
    );
    assert_eq!(
        store.references_by(&target.id, Relation::Reply, &bob.author(), 10),
        Ok(vec![reply.id()])
    );
    store.erase_payload(&reply.id()).expect("erase");
    assert_eq!(count(store, Relation::Reply), 0);
    assert_eq!(count(store, Relation::Quote), 0);
    store.remove(&reaction.id()).expect("remove");
    assert_eq!(count(store, Relation::Reaction), 0);
}

fn search_finds_held_text_only<S: Store>(store: &mut S) {
    let k = key(23);
    let texts = [
        "red apple",
        "green apple pie",
        "red car",
        "Red APPLE pie",
        "apple",
    ];
    let mut events: Vec<VerifiedEvent> = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let head = events.last().map(VerifiedEvent::head);
        let payload = Payload::Post(Post {
            text: (*text).into(),
            tags: if i == 2 {
                vec!["Cars".into()]
            } else {
                Vec::new()
            },
            ..Post::default()
        });
        events.push(
            sign_next(&k, head.as_ref(), Timestamp(100 + i as u64), &payload).expect("valid"),
        );
    }
    store.insert_batch(&events).expect("insert");
    let find = |s: &S, q: &str| -> Vec<EventId> {
        let terms = Query::parse(q).expect("a query").terms;
        s.search(&terms, None, 10)
            .expect("search")
            .iter()
            .map(|c| c.id)
            .collect()
    };
    let ids = |is: &[usize]| -> Vec<EventId> { is.iter().map(|i| events[*i].id()).collect() };
    assert_eq!(find(store, "apple red"), ids(&[3, 0]));
    assert_eq!(find(store, "#cars"), ids(&[2]));
    assert_eq!(find(store, "pie"), ids(&[3, 1]));
    let by_author = store
        .search(&[author_term(&k.author())], None, 2)
        .expect("search");
    assert_eq!(
        by_author.iter().map(|c| c.id).collect::<Vec<_>>(),
        ids(&[4, 3])
    );
    let page2 = store
        .search(
            &[author_term(&k.author())],
            Some(TimelineCursor {
                created_at: events[3].header().created_at,
                id: events[3].id(),
            }),
            10,
        )
        .expect("search");
    assert_eq!(page2.len(), 3);
    // Erased and removed text is gone from the index with the payload.
    store.erase_payload(&events[3].id()).expect("erase");
    store.remove(&events[0].id()).expect("remove");
    assert_eq!(find(store, "apple red"), Vec::<EventId>::new());
    assert_eq!(find(store, "pie"), ids(&[1]));
    // A header-only copy adds nothing, its payload filled adds its terms.
    store.remove(&events[1].id()).expect("remove");
    store.insert(&events[1].without_payload()).expect("insert");
    assert_eq!(find(store, "pie"), Vec::<EventId>::new());
    store.insert(&events[1]).expect("insert");
    assert_eq!(find(store, "pie"), ids(&[1]));
}

fn notifications_are_a_bounded_journal<S: Store>(store: &mut S) {
    let a = EventId([1; 32]);
    let b = EventId([2; 32]);
    assert_eq!(store.notifications(None, 10), Ok(Vec::new()));
    let pa = store.add_notification(&a).expect("add");
    let pb = store.add_notification(&b).expect("add");
    assert!(pb > pa);
    assert_eq!(store.notifications(None, 10), Ok(vec![(pb, b), (pa, a)]));
    assert_eq!(store.notifications(Some(pb), 10), Ok(vec![(pa, a)]));
    for i in 0..NOTIFICATIONS_MAX {
        store
            .add_notification(&EventId([(i % 200) as u8; 32]))
            .expect("add");
    }
    let all = store
        .notifications(None, NOTIFICATIONS_MAX as usize + 10)
        .expect("list");
    assert!(all.len() as u64 <= NOTIFICATIONS_MAX);
    assert!(!all.iter().any(|(p, _)| *p == pa), "the oldest went first");
}

fn id_ranges_list_held_events<S: Store>(store: &mut S) {
    let events = chain(24, 20, 5000);
    store.insert_batch(&events).expect("insert");
    let mut ids: Vec<EventId> = events.iter().map(VerifiedEvent::id).collect();
    ids.sort();
    assert_eq!(
        store.event_ids_in(&EventId([0; 32]), &EventId([0xff; 32]), 100),
        Ok(ids.clone())
    );
    assert_eq!(
        store.event_ids_in(&ids[3], &ids[5], 100),
        Ok(ids[3..=5].to_vec())
    );
    assert_eq!(
        store.event_ids_in(&ids[3], &ids[9], 2),
        Ok(ids[3..5].to_vec())
    );
}
