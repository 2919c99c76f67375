//! The engine's rules against a hostile peer: topic binding, deletion that holds, the own log,
//! the stranger budget, and what misbehaviour costs.

use super::{Net, T0, net_author};
use crate::engine::{
    Acceptance, CommandError, Engine, EngineConfig, Misbehaviour, Output, StrangerLimits,
};
use crate::moderation::host::HostPolicy;
use crate::payload::{Action, Delete, EventRef, Kind, Payload, Post, ReplyRef};
use crate::signature::AuthorKey;
use crate::store::{MemoryStore, Store};
use crate::validate::{VerifiedEvent, sign_next, sign_raw};
use crate::wire::{Envelope, Request, Response};

fn stranger(seed: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[seed; 32])
}

fn text(t: &str) -> Payload {
    Payload::Post(Post {
        text: t.into(),
        ..Post::default()
    })
}

fn reply_to(parent: &VerifiedEvent, t: &str) -> Payload {
    let r = EventRef {
        author: parent.author(),
        id: parent.id(),
    };
    Payload::Post(Post {
        text: t.into(),
        reply: Some(ReplyRef { root: r, parent: r }),
        ..Post::default()
    })
}

/// A node with these stranger limits and one post of its own for strangers to reply to.
fn popular_node(limits: StrangerLimits) -> (Engine<MemoryStore, usize>, VerifiedEvent) {
    let config = EngineConfig {
        strangers: limits,
        ..EngineConfig::default()
    };
    let mut node = Engine::new(stranger(1), MemoryStore::new(), config, T0).expect("engine");
    let post = node.publish(&text("popular"), T0).expect("post");
    (node, post)
}

fn drain(engine: &mut Engine<MemoryStore, usize>) -> Vec<Output<usize>> {
    std::iter::from_fn(|| engine.poll_output()).collect()
}

#[test]
fn an_event_on_a_topic_it_does_not_belong_to_is_rejected_and_not_stored() {
    let mut net = Net::new(2);
    net.follow(1, net.author(0));
    drain(&mut net.nodes[1]);
    let off_topic = sign_next(&stranger(9), None, T0, &text("not about you")).expect("sign");
    assert_eq!(
        net.nodes[1].handle_gossip(&0, &net_author(0), &off_topic.encode(), T0),
        Acceptance::Reject
    );
    assert!(!net.has(1, &off_topic.id()));
    let outputs = drain(&mut net.nodes[1]);
    assert!(outputs.iter().any(|o| matches!(
        o,
        Output::Misbehaved { peer: 0, reason: Misbehaviour::OffTopic(id), score }
            if *id == off_topic.id() && *score < 0.0
    )));
}

#[test]
fn an_unknown_kind_on_another_authors_topic_is_ignored_without_penalty() {
    let mut net = Net::new(2);
    net.follow(1, net.author(0));
    drain(&mut net.nodes[1]);
    let future = sign_raw(&stranger(9), None, T0, Kind(999), b"new".to_vec()).expect("sign");
    assert_eq!(
        net.nodes[1].handle_gossip(&0, &net_author(0), &future.encode(), T0),
        Acceptance::Ignore
    );
    assert!(!net.has(1, &future.id()));
    assert!(
        !drain(&mut net.nodes[1])
            .iter()
            .any(|o| matches!(o, Output::Misbehaved { .. })),
        "no penalty"
    );
}

#[test]
fn a_reply_from_a_stranger_is_kept_by_the_replied_author_and_follows_reach_the_followed() {
    let mut net = Net::new(2);
    net.connect(0, 1);
    let post = net.post(0, "hello");
    // Node 1 hosts only itself; its reply and its follow travel to node 0's topic too.
    let reply = net.nodes[1]
        .publish(&reply_to(&post, "hi back"), T0)
        .expect("reply");
    net.pump();
    assert!(net.payload(0, &reply.id()).is_some(), "reply kept");
    let follow = net.nodes[1].follow(net_author(0), T0).expect("follow");
    net.pump();
    assert!(
        net.has(0, &follow.id()),
        "the followed author sees the follow"
    );
}

#[test]
fn a_replayed_deleted_event_never_gets_its_payload_back_anywhere() {
    let mut net = Net::new(2);
    net.connect(0, 1);
    net.follow(1, net.author(0));
    let post = net.post(0, "regret");
    net.nodes[0]
        .publish(&Payload::Delete(Delete::of([post.id()])), T0)
        .expect("delete");
    net.pump();
    let topic = net.author(0);
    for node in 0..2 {
        assert_eq!(
            net.nodes[node].handle_gossip(&9, &topic, &post.encode(), T0),
            Acceptance::Ignore,
            "replay on node {node}"
        );
        assert_eq!(net.payload(node, &post.id()), None, "node {node}");
    }
    // The same bytes in a range response.
    let request = Request::Range {
        author: topic,
        from_seq: 1,
        limit: 10,
    };
    net.nodes[1].handle_connected(9, T0);
    net.nodes[1].handle_response(
        &9,
        &request,
        Response::Events {
            author: topic,
            events: vec![Envelope(post.encode())],
            more: false,
        },
        T0,
    );
    assert_eq!(net.payload(1, &post.id()), None, "range replay");
}

#[test]
fn a_strangers_delete_neither_deletes_nor_cancels_the_authors_delete() {
    let mut net = Net::new(3);
    net.follow(1, net.author(0));
    net.follow(2, net.author(0));
    let post = net.post(0, "mine");
    let own_delete = net.nodes[0]
        .publish(&Payload::Delete(Delete::of([post.id()])), T0)
        .expect("delete");
    let rogue = sign_next(
        &stranger(9),
        None,
        T0,
        &Payload::Delete(Delete::of([post.id()])),
    )
    .expect("sign");
    let topic = net.author(0);
    // Node 1: the author's delete, then the stranger's, then the event: the text stays gone.
    net.nodes[1].handle_gossip(&0, &topic, &own_delete.encode(), T0);
    net.nodes[1].handle_gossip(&0, &topic, &rogue.encode(), T0);
    net.nodes[1].handle_gossip(&0, &topic, &post.encode(), T0);
    assert!(net.has(1, &post.id()));
    assert_eq!(net.payload(1, &post.id()), None);
    // Node 2: only the stranger's delete: the text is kept.
    net.nodes[2].handle_gossip(&0, &topic, &rogue.encode(), T0);
    net.nodes[2].handle_gossip(&0, &topic, &post.encode(), T0);
    assert!(net.payload(2, &post.id()).is_some());
}

#[test]
fn a_deleted_reply_disappears_from_the_replied_authors_node() {
    let mut net = Net::new(2);
    net.connect(0, 1);
    let post = net.post(0, "what do you think?");
    let reply = net.nodes[1]
        .publish(&reply_to(&post, "something I regret"), T0)
        .expect("reply");
    net.pump();
    assert!(net.payload(0, &reply.id()).is_some());
    let delete = net.nodes[1]
        .publish(&Payload::Delete(Delete::of([reply.id()])), T0)
        .expect("delete");
    match delete.content() {
        Some(Payload::Delete(d)) => assert_eq!(d.targets[0].topics, vec![net.author(0)]),
        other => panic!("not a delete: {other:?}"),
    }
    net.pump();
    assert_eq!(
        net.payload(0, &reply.id()),
        None,
        "erased on the parent's node"
    );
}

#[test]
fn host_policy_never_removes_the_own_log_and_the_node_never_forks() {
    let mut net = Net::new(3);
    let (alice, follower, feed) = (0, 1, 2);
    net.connect(alice, follower);
    net.connect(alice, feed);
    net.follow(follower, net.author(alice));
    let feed_author = net.author(feed);
    net.nodes[alice]
        .update_settings(
            |s| {
                s.host_policy = HostPolicy {
                    refused_labels: [(feed_author, "violence".to_string())].into(),
                    blocked_authors: [net_author(0)].into(),
                }
            },
            T0,
        )
        .expect("policy");
    net.pump();
    let first = net.post(alice, "an honest post");
    net.label(feed, &first, "violence");
    net.pump();
    assert!(net.payload(alice, &first.id()).is_some(), "own post kept");
    let second = net.post(alice, "next");
    assert_eq!(second.seq(), 2);
    assert!(
        net.nodes[follower]
            .store()
            .forks()
            .expect("forks")
            .is_empty(),
        "no fork anywhere"
    );
}

#[test]
fn a_node_refuses_to_sign_below_what_it_already_signed() {
    let mut store = MemoryStore::new();
    store
        .put_setting(super::super::SIGNED_SEQ_SETTING, &5u64.to_be_bytes())
        .expect("setting");
    let mut engine: Engine<MemoryStore, usize> =
        Engine::new(stranger(1), store, EngineConfig::default(), T0).expect("engine");
    let err = engine.publish(&text("would fork"), T0).unwrap_err();
    assert_eq!(err, CommandError::WouldFork { signed: 5, held: 0 });
}

#[test]
fn strangers_are_bounded_per_author_and_per_topic() {
    let limits = StrangerLimits {
        per_author: 3,
        per_topic: 5,
    };
    let (mut node, post) = popular_node(limits);
    let me = node.author();
    let mut stored = 0;
    // One stranger sends ten replies: three are kept.
    let mut head = None;
    for i in 0..10 {
        let reply = sign_next(
            &stranger(50),
            head.as_ref(),
            T0,
            &reply_to(&post, &i.to_string()),
        )
        .expect("sign");
        head = Some(reply.head());
        if node.handle_gossip(&7, &me, &reply.encode(), T0) == Acceptance::Accept {
            stored += 1;
        }
    }
    assert_eq!(stored, 3);
    // Others share the topic's total of five.
    for seed in 60..70 {
        let reply = sign_next(&stranger(seed), None, T0, &reply_to(&post, "me too")).expect("sign");
        if node.handle_gossip(&7, &me, &reply.encode(), T0) == Acceptance::Accept {
            stored += 1;
        }
    }
    assert_eq!(stored, 5);
    assert_eq!(node.store().counts().expect("counts").events, 1 + 5);
}

#[test]
fn repeated_misbehaviour_bans_the_peer_until_the_ban_ends() {
    let mut net = Net::new(1);
    let me = net.author(0);
    drain(&mut net.nodes[0]);
    let mut until = None;
    for _ in 0..10 {
        assert_eq!(
            net.nodes[0].handle_gossip(&4, &me, b"garbage", T0),
            Acceptance::Reject
        );
        for output in drain(&mut net.nodes[0]) {
            if let Output::Ban { peer: 4, until: u } = output {
                until = until.or(Some(u));
            }
        }
    }
    let until = until.expect("banned");
    assert!(net.nodes[0].poll_timeout().is_some_and(|t| t <= until));
    net.nodes[0].handle_timeout(until);
    assert!(drain(&mut net.nodes[0]).contains(&Output::Unban(4)));
}

#[test]
fn a_deleted_label_stops_acting_at_once() {
    let mut net = Net::new(3);
    let (author, viewer, moderator) = (0, 1, 2);
    net.connect(author, viewer);
    net.connect(viewer, moderator);
    net.follow(viewer, net.author(author));
    let feed = net.author(moderator);
    net.nodes[viewer]
        .subscribe_feed(feed, [("violence".to_string(), Action::Hide)].into(), T0)
        .expect("subscribe");
    net.pump();
    let post = net.post(author, "contested");
    let label = net.label(moderator, &post, "violence");
    net.pump();
    let action = |net: &Net| {
        let event = net.nodes[viewer]
            .store()
            .event(&post.id())
            .expect("store")
            .expect("held");
        net.nodes[viewer].verdict(&event, T0).action
    };
    assert_eq!(action(&net), Action::Hide);
    net.nodes[moderator]
        .publish(&Payload::Delete(Delete::of([label.id()])), T0)
        .expect("delete");
    net.pump();
    assert_eq!(action(&net), Action::Show);
}

#[test]
fn deletes_of_already_deleted_events_are_charged_to_the_strangers_budget() {
    let limits = StrangerLimits {
        per_author: 2,
        per_topic: 100,
    };
    let (mut node, post) = popular_node(limits);
    let me = node.author();
    let spammer = stranger(80);
    let reply = sign_next(&spammer, None, T0, &reply_to(&post, "one")).expect("sign");
    assert_eq!(
        node.handle_gossip(&7, &me, &reply.encode(), T0),
        Acceptance::Accept
    );
    let mut head = Some(reply.head());
    let mut accepted = 0;
    // The first delete removes held text and is always admitted; the rest name an event with
    // no text left and must fit the budget like anything else.
    for _ in 0..10 {
        let delete = sign_next(
            &spammer,
            head.as_ref(),
            T0,
            &Payload::Delete(Delete {
                targets: vec![crate::payload::DeleteTarget {
                    id: reply.id(),
                    topics: vec![me],
                }],
            }),
        )
        .expect("sign");
        head = Some(delete.head());
        if node.handle_gossip(&7, &me, &delete.encode(), T0) == Acceptance::Accept {
            accepted += 1;
        }
    }
    assert_eq!(
        accepted, 2,
        "the free delete, then one more within the budget of two"
    );
}

#[test]
fn a_bare_header_is_never_taken_from_gossip() {
    let mut net = Net::new(2);
    net.follow(1, net.author(0));
    let post = net.nodes[0].publish(&text("whole"), T0).expect("post");
    let bare = post.without_payload();
    assert_eq!(
        net.nodes[1].handle_gossip(&0, &net_author(0), &bare.encode(), T0),
        Acceptance::Ignore
    );
    assert!(!net.has(1, &post.id()));
}

#[test]
fn a_deleted_declaration_stops_acting_at_once() {
    let mut net = Net::new(2);
    let (viewer, feed) = (0, 1);
    net.connect(viewer, feed);
    let declaration = net.nodes[feed]
        .publish(
            &Payload::LabelerDeclaration(crate::payload::LabelerDeclaration {
                name: "desk".into(),
                description: String::new(),
                labels: Vec::new(),
            }),
            T0,
        )
        .expect("declare");
    net.nodes[viewer]
        .subscribe_feed(net_author(1), Default::default(), T0)
        .expect("subscribe");
    net.pump();
    let declared = |net: &Net| {
        net.nodes[viewer].settings().moderation.feeds[&net_author(1)]
            .declaration
            .is_some()
    };
    assert!(declared(&net));
    net.nodes[feed]
        .publish(&Payload::Delete(Delete::of([declaration.id()])), T0)
        .expect("delete");
    net.pump();
    assert!(!declared(&net));
}
