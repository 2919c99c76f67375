//! Attacks by a hostile peer on real daemons, each of which must fail: invalid gossip gets the
//! sender banned while honest delivery goes on; off-topic events are neither stored nor
//! forwarded; deletions hold against replays and strangers; moderation never forks the own
//! log; a deleted reply or label stops showing at once; strangers are capped.

use handbill_node::home::Home;
use handbill_node::network::topic;
use handbill_protocol::api::{PublishRequest, TargetId, Thread};
use handbill_protocol::payload::{Delete, DeleteTarget, EventRef, Payload, Post, ReplyRef};
use handbill_protocol::{AuthorId, AuthorKey, EventId, Timestamp, VerifiedEvent, sign_next};
use handbill_tests::hostile::HostilePeer;
use handbill_tests::{Node, handbill_ok, wait_for};
use libp2p::{Multiaddr, PeerId};
use std::path::Path;
use std::time::Duration;

fn now() -> Timestamp {
    handbill_node::daemon::now()
}

fn text(t: &str) -> Payload {
    Payload::Post(Post {
        text: t.into(),
        ..Post::default()
    })
}

fn reply_to(author: AuthorId, id: EventId, t: &str) -> Payload {
    let r = EventRef { author, id };
    Payload::Post(Post {
        text: t.into(),
        reply: Some(ReplyRef { root: r, parent: r }),
        ..Post::default()
    })
}

fn stranger(seed: u8) -> AuthorKey {
    AuthorKey::from_secret_bytes(&[seed; 32])
}

fn peer_id(node: &Node) -> PeerId {
    node.status().peer_id.parse().expect("peer id")
}

fn addr(node: &Node) -> Multiaddr {
    node.addr().parse().expect("multiaddr")
}

/// Connects the hostile peer to `node` and waits until both share `author`'s topic.
fn join(hostile: &HostilePeer, node: &Node, author: &AuthorId) {
    hostile.dial(&addr(node));
    assert!(
        hostile.join(&topic(author), peer_id(node)),
        "{} never joined the topic",
        node.home.display()
    );
}

fn send(hostile: &HostilePeer, author: &AuthorId, data: Vec<u8>) {
    hostile
        .publish(&topic(author), data)
        .expect("hostile publish");
}

fn text_of(node: &Node, id: &EventId) -> Option<String> {
    node.event(id).and_then(|item| item.text)
}

/// A node whose home exists before it starts, so the test can sign as its author.
fn node_with_key(dir: &Path, name: &str, args: &[&str]) -> (Node, AuthorKey) {
    let home = dir.join(name);
    Home::at(&home).init().expect("init home");
    let key = Home::at(&home).read_author_key().expect("author key");
    let node = Node::start_with(home, args.iter().map(|a| a.to_string()).collect());
    (node, key)
}

#[test]
fn invalid_gossip_gets_the_sender_banned_until_the_ban_ends_while_honest_delivery_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let victim = Node::start_with(
        dir.path().join("victim"),
        vec!["--ban-secs".into(), "15".into()],
    );
    let honest = Node::start(dir.path(), "honest");
    victim.connect(&honest);
    victim.follow(honest.author());
    let author = honest.author();

    let hostile = HostilePeer::start();
    join(&hostile, &victim, &author);
    let genuine = sign_next(&stranger(3), None, now(), &text("forged below")).unwrap();
    let mut forged = genuine.encode();
    let sig_at = handbill_protocol::event::HEADER_BYTES_MAX + 7;
    forged[sig_at] ^= 0x40;
    let oversized = vec![7u8; 200 * 1024];
    let garbage = b"\x01\x02 definitely not an event".to_vec();
    for message in [garbage, forged, oversized] {
        send(&hostile, &author, message);
    }
    let victim_peer = peer_id(&victim);
    wait_for("the hostile peer to be banned and cut off", || {
        (victim.log().contains("banning peer") && !hostile.connected(victim_peer)).then_some(())
    });
    assert!(victim.log().contains("peer misbehaved"));
    assert_eq!(victim.event(&genuine.id()), None);

    // Honest delivery goes on.
    let post = honest.post_text("still here");
    victim.wait_for_event(&post);

    // The banned peer cannot come back while the ban lasts…
    let hostile_id = hostile.peer_id.to_string();
    for _ in 0..5 {
        hostile.dial(&addr(&victim));
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !victim.status().peers.contains(&hostile_id),
            "a banned peer reconnected"
        );
    }
    // …and can once it is over.
    wait_for("the ban to end and the peer to reconnect", || {
        hostile.dial(&addr(&victim));
        victim.status().peers.contains(&hostile_id).then_some(())
    });
}

#[test]
fn an_off_topic_event_is_neither_stored_nor_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Node::start(dir.path(), "alice");
    let follower = Node::start(dir.path(), "follower");
    follower.connect(&alice);
    follower.follow(alice.author());
    let a = alice.author();
    let hello = alice.post_text("hello");
    follower.wait_for_event(&hello);

    let hostile = HostilePeer::start();
    join(&hostile, &alice, &a);
    // A stranger's posts that concern nobody, pushed onto Alice's topic (two: a third offence
    // would get the sender banned before the marker below arrives).
    let off_topic: Vec<VerifiedEvent> = (0..2)
        .map(|i| sign_next(&stranger(40 + i), None, now(), &text("spam")).unwrap())
        .collect();
    for event in &off_topic {
        send(&hostile, &a, event.encode());
    }
    // A stranger's reply to Alice does belong there; once it is everywhere, so are the above.
    let reply = sign_next(&stranger(50), None, now(), &reply_to(a, hello, "hi")).unwrap();
    send(&hostile, &a, reply.encode());
    alice.wait_for_event(&reply.id());
    follower.wait_for_event(&reply.id());
    for event in &off_topic {
        assert_eq!(alice.event(&event.id()), None, "stored by Alice");
        assert_eq!(
            follower.event(&event.id()),
            None,
            "forwarded to the follower"
        );
    }
    assert!(
        alice
            .log()
            .contains("sent on a topic it does not belong to")
    );
}

#[test]
fn a_deleted_post_replayed_after_the_duplicate_cache_expires_stays_deleted_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let short_cache = ["--gossip-duplicate-cache-secs", "2"];
    let (alice, alice_key) = node_with_key(dir.path(), "alice", &short_cache);
    let follower = Node::start_with(
        dir.path().join("follower"),
        short_cache.iter().map(|a| a.to_string()).collect(),
    );
    follower.connect(&alice);
    follower.follow(alice.author());
    let a = alice.author();

    // The attacker has P's original bytes (here: made with Alice's key, then posted by her node).
    let p = sign_next(&alice_key, None, now(), &text("I will regret this")).unwrap();
    let hostile = HostilePeer::start();
    join(&hostile, &alice, &a);
    join(&hostile, &follower, &a);
    send(&hostile, &a, p.encode());
    follower.wait_for_event(&p.id());
    alice.wait_for_event(&p.id());
    alice.publish(&PublishRequest::Delete {
        targets: vec![p.id()],
    });
    for node in [&alice, &follower] {
        wait_for("the deletion", || {
            text_of(node, &p.id()).is_none().then_some(())
        });
    }

    // Gossip forgets what it has seen after the (shortened) duplicate cache time; only then
    // does a replay reach validation at all.
    std::thread::sleep(Duration::from_secs(4));
    // Another attacker who captured the bytes replays them.
    let replayer = HostilePeer::start();
    join(&replayer, &alice, &a);
    join(&replayer, &follower, &a);
    send(&replayer, &a, p.encode());
    // A fresh, valid message behind the replay: once it arrives, the replay has been handled.
    let marker = sign_next(&stranger(51), None, now(), &reply_to(a, p.id(), "marker")).unwrap();
    send(&replayer, &a, marker.encode());
    for node in [&alice, &follower] {
        node.wait_for_event(&marker.id());
        assert_eq!(
            text_of(node, &p.id()),
            None,
            "replay restored the text on {}",
            node.home.display()
        );
    }
}

#[test]
fn a_strangers_delete_neither_deletes_nor_cancels_the_authors_delete() {
    let dir = tempfile::tempdir().unwrap();
    let alice = stranger(60);
    let a = alice.author();
    let p = sign_next(&alice, None, now(), &text("mine")).unwrap();
    let own_delete = sign_next(
        &alice,
        Some(&p.head()),
        now(),
        &Payload::Delete(Delete::of([p.id()])),
    )
    .unwrap();
    // A stranger "deletes" Alice's post, routed to her topic.
    let rogue = sign_next(
        &stranger(61),
        None,
        now(),
        &Payload::Delete(Delete {
            targets: vec![DeleteTarget {
                id: p.id(),
                topics: vec![a],
            }],
        }),
    )
    .unwrap();

    let reader = Node::start(dir.path(), "reader");
    reader.follow(a);
    let other = Node::start(dir.path(), "other");
    other.follow(a);
    // One hostile peer per node, so each node gets exactly the sequence meant for it.
    let to_reader = HostilePeer::start();
    let to_other = HostilePeer::start();
    join(&to_reader, &reader, &a);
    join(&to_other, &other, &a);
    // The reader gets Alice's delete, then the stranger's, then the post: the text stays gone.
    send(&to_reader, &a, own_delete.encode());
    reader.wait_for_event(&own_delete.id());
    send(&to_reader, &a, rogue.encode());
    send(&to_reader, &a, p.encode());
    reader.wait_for_event(&p.id());
    // The other node gets only the stranger's delete and the post: the text stays.
    send(&to_other, &a, rogue.encode());
    send(&to_other, &a, p.encode());
    other.wait_for_event(&p.id());
    assert_eq!(text_of(&reader, &p.id()), None);
    assert_eq!(text_of(&other, &p.id()).as_deref(), Some("mine"));
}

#[test]
fn a_refused_label_on_the_own_post_neither_removes_it_nor_forks_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Node::start(dir.path(), "alice");
    let moderator = Node::start(dir.path(), "moderator");
    let follower = Node::start(dir.path(), "follower");
    moderator.connect(&alice);
    follower.connect(&alice);
    moderator.follow(alice.author());
    follower.follow(alice.author());
    let m = moderator.author().to_string();
    handbill_ok(&alice.home, &["host-policy", "refuse", &m, "violence"]);
    let first = alice.post_text("an honest post");
    moderator.wait_for_event(&first);
    let label = moderator.publish(&PublishRequest::Label {
        target: TargetId::Event(first),
        value: "violence".into(),
        reason: None,
        expires_at: None,
        negate: false,
    });
    alice.wait_for_event(&label);
    assert_eq!(
        text_of(&alice, &first).as_deref(),
        Some("an honest post"),
        "own post removed"
    );
    let second = alice.post_text("next");
    follower.wait_for_event(&second);
    assert_eq!(follower.event(&second).unwrap().seq, 2);
    assert!(follower.status().forks.is_empty(), "fork recorded");
}

#[test]
fn a_deleted_reply_disappears_from_the_thread_of_the_replied_author() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Node::start(dir.path(), "alice");
    let bob = Node::start(dir.path(), "bob");
    bob.connect(&alice);
    bob.follow(alice.author());
    let post = alice.post_text("what do you think?");
    bob.wait_for_event(&post);
    let reply = bob.publish(&PublishRequest::Post {
        text: "something I regret".into(),
        reply_to: Some(post),
        quote: None,
        tags: Vec::new(),
        mentions: Vec::new(),
        self_labels: Vec::new(),
    });
    alice.wait_for_event(&reply);
    bob.publish(&PublishRequest::Delete {
        targets: vec![reply],
    });
    wait_for("the reply's text to go from Alice's thread", || {
        let thread: Thread = alice.get(&format!("/v1/events/{post}/thread"));
        thread
            .replies
            .iter()
            .all(|r| r.id != reply || r.text.is_none())
            .then_some(())
    });
}

#[test]
fn a_deleted_label_stops_acting_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Node::start(dir.path(), "alice");
    let moderator = Node::start(dir.path(), "moderator");
    let viewer = Node::start(dir.path(), "viewer");
    moderator.connect(&alice);
    viewer.connect(&alice);
    viewer.connect(&moderator);
    moderator.follow(alice.author());
    viewer.follow(alice.author());
    let m = moderator.author().to_string();
    handbill_ok(
        &viewer.home,
        &["moderation", "subscribe", &m, "--hide", "violence"],
    );
    let post = alice.post_text("contested");
    moderator.wait_for_event(&post);
    viewer.wait_for_event(&post);
    let label = moderator.publish(&PublishRequest::Label {
        target: TargetId::Event(post),
        value: "violence".into(),
        reason: None,
        expires_at: None,
        negate: false,
    });
    let action = || {
        viewer
            .event(&post)
            .map(|item| item.moderation.action)
            .unwrap()
    };
    wait_for("the label to hide the post", || {
        (action() == handbill_protocol::payload::Action::Hide).then_some(())
    });
    moderator.publish(&PublishRequest::Delete {
        targets: vec![label],
    });
    wait_for("the deleted label to stop hiding the post", || {
        (action() == handbill_protocol::payload::Action::Show).then_some(())
    });
}

#[test]
fn a_stranger_over_the_cap_is_not_stored_while_honest_replies_within_it_are() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("alice");
    Home::at(&home).init().expect("init");
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    std::fs::write(
        home.join("config.toml"),
        config.replace(
            "stranger_events_per_author_per_hour = 60",
            "stranger_events_per_author_per_hour = 3",
        ),
    )
    .unwrap();
    let alice = Node::start_with(home, Vec::new());
    let bob = Node::start(dir.path(), "bob");
    bob.connect(&alice);
    let a = alice.author();
    bob.follow(a);
    let post = alice.post_text("popular");
    bob.wait_for_event(&post);

    let hostile = HostilePeer::start();
    join(&hostile, &alice, &a);
    let spammer = stranger(70);
    let mut head = None;
    let mut spam = Vec::new();
    for i in 0..10 {
        let reply = sign_next(
            &spammer,
            head.as_ref(),
            now(),
            &reply_to(a, post, &format!("spam {i}")),
        )
        .unwrap();
        head = Some(reply.head());
        send(&hostile, &a, reply.encode());
        spam.push(reply);
    }
    // Bob, also a stranger to Alice's node, replies twice within his own budget.
    let honest: Vec<EventId> = ["first", "second"]
        .iter()
        .map(|t| {
            bob.publish(&PublishRequest::Post {
                text: (*t).into(),
                reply_to: Some(post),
                quote: None,
                tags: Vec::new(),
                mentions: Vec::new(),
                self_labels: Vec::new(),
            })
        })
        .collect();
    for id in &honest {
        alice.wait_for_event(id);
    }
    wait_for("the spammer's first three replies", || {
        spam[..3]
            .iter()
            .all(|e| alice.event(&e.id()).is_some())
            .then_some(())
    });
    let kept = spam
        .iter()
        .filter(|e| alice.event(&e.id()).is_some())
        .count();
    assert_eq!(kept, 3, "only the cap is stored");
}
