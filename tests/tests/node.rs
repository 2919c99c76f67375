//! The daemon end to end: real `handbilld` processes talking libp2p over 127.0.0.1.

use handbill_protocol::EventId;
use handbill_protocol::api::*;
use handbill_tests::{Node, wait_for};
use std::os::unix::fs::PermissionsExt;

#[test]
fn three_nodes_gossip_a_post_to_followers() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(dir.path(), "a");
    let b = Node::start(dir.path(), "b");
    let c = Node::start(dir.path(), "c");
    b.connect(&a);
    c.connect(&a);
    b.follow(a.author());
    c.follow(a.author());
    // Give the gossip mesh a moment to form, measured by a first post arriving.
    let warmup = a.post_text("warming up");
    b.wait_for_event(&warmup);
    c.wait_for_event(&warmup);
    let id = a.post_text("hello, followers");
    let at_b = b.wait_for_event(&id);
    let at_c = c.wait_for_event(&id);
    assert_eq!(at_b.text.as_deref(), Some("hello, followers"));
    assert_eq!(at_c.author, a.author());
    let timeline: Timeline = b.get("/v1/timeline?limit=10");
    assert_eq!(timeline.items[0].id, id, "newest first");
}

#[test]
fn posts_survive_their_authors_node_going_away() {
    // The seed scenario: A posts 50 events and is killed for good; D never met A, follows A,
    // connects only to B, and ends up with all 50, verified.
    let dir = tempfile::tempdir().unwrap();
    let mut a = Node::start(dir.path(), "a");
    let b = Node::start(dir.path(), "b");
    let author = a.author();
    let ids: Vec<EventId> = (0..50).map(|i| a.post_text(&format!("post {i}"))).collect();
    b.connect(&a);
    b.follow(author);
    wait_for("B to hold all 50", || {
        (b.log_of(&author) == (50, 50)).then_some(())
    });
    a.kill();
    let d = Node::start(dir.path(), "d");
    d.follow(author);
    d.connect(&b);
    wait_for("D to hold all 50", || {
        (d.log_of(&author) == (50, 50)).then_some(())
    });
    for (i, id) in ids.iter().enumerate() {
        let item = d.event(id).expect("stored on D");
        assert_eq!(item.text, Some(format!("post {i}")));
        assert_eq!(item.seq, i as u64 + 1);
    }
}

#[test]
fn a_restarted_node_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(dir.path(), "a");
    let mut c = Node::start(dir.path(), "c");
    let author = a.author();
    c.connect(&a);
    c.follow(author);
    let first = a.post_text("before the outage");
    c.wait_for_event(&first);
    c.stop();
    for i in 0..20 {
        a.post_text(&format!("while C was away {i}"));
    }
    // No --bootstrap: the node reconnects to the peers it knew.
    c.restart(Vec::new());
    wait_for("C to catch up on all 21", || {
        (c.log_of(&author) == (21, 21)).then_some(())
    });
}

#[test]
fn a_strangers_reply_reaches_the_author_and_followers() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(dir.path(), "a");
    let b = Node::start(dir.path(), "b");
    let e = Node::start(dir.path(), "e");
    b.connect(&a);
    e.connect(&b);
    b.follow(a.author());
    e.follow(a.author());
    let post = a.post_text("what do you think?");
    e.wait_for_event(&post);
    b.wait_for_event(&post);
    let reply = e.publish(&PublishRequest::Post {
        text: "a stranger's reply".into(),
        reply_to: Some(post),
        quote: None,
        tags: Vec::new(),
        mentions: Vec::new(),
        self_labels: Vec::new(),
    });
    let at_b = b.wait_for_event(&reply);
    assert_eq!(at_b.reply_to, Some(post));
    // A follows nobody, yet the reply reaches it on its own topic (through B).
    a.wait_for_event(&reply);
    let thread: Thread = a.get(&format!("/v1/events/{post}/thread"));
    assert_eq!(thread.replies.len(), 1);
    assert_eq!(thread.replies[0].id, reply);
}

#[test]
fn deletion_erases_the_payload_everywhere_and_keeps_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(dir.path(), "a");
    let b = Node::start(dir.path(), "b");
    b.connect(&a);
    b.follow(a.author());
    let post = a.post_text("I will regret this");
    b.wait_for_event(&post);
    a.publish(&PublishRequest::Delete {
        targets: vec![post],
    });
    for node in [&a, &b] {
        let item = wait_for("the deletion", || node.event(&post).filter(|i| i.deleted));
        assert_eq!(item.text, None);
        assert_eq!(item.seq, 1, "the header stays");
    }
}

#[test]
fn the_api_demands_a_token_and_refuses_browsers() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(dir.path(), "a");
    let none = a.call_with("GET", "/v1/status", None::<&()>, &[]);
    assert_eq!(none.status, 401);
    assert_eq!(none.body["error"]["code"], "unauthorized");
    let wrong = a.call_with(
        "GET",
        "/v1/status",
        None::<&()>,
        &[("Authorization", "Bearer nope")],
    );
    assert_eq!(wrong.status, 401);
    let token = std::fs::read_to_string(a.home.join("api.token")).unwrap();
    let bearer = format!("Bearer {token}");
    let browser = a.call_with(
        "GET",
        "/v1/status",
        None::<&()>,
        &[
            ("Authorization", &bearer),
            ("Origin", "https://example.invalid"),
        ],
    );
    assert_eq!(browser.status, 403);
    let rebinding = a.call_with(
        "GET",
        "/v1/status",
        None::<&()>,
        &[("Authorization", &bearer), ("Host", "attacker.invalid:80")],
    );
    assert_eq!(rebinding.status, 403);
    // Text after a bracketed address is not a port: not loopback.
    let smuggled = a.call_with(
        "GET",
        "/v1/status",
        None::<&()>,
        &[("Authorization", &bearer), ("Host", "[::1]evil.example")],
    );
    assert_eq!(smuggled.status, 403);
    assert_eq!(smuggled.body["error"]["code"], "forbidden_host");
    // Bodies the API cannot read get the API's error shape, not plain text.
    for (content_type, body, status, code) in [
        (None, "", 415, "unsupported_media_type"),
        (Some("application/json"), "{not json", 400, "bad_request"),
        (
            Some("application/json"),
            r#"{"kind":"nonsense"}"#,
            422,
            "invalid_request",
        ),
    ] {
        let reply = a.post_raw("/v1/events", content_type, body);
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], code, "{body}");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    for file in ["api.token", "author.key", "node.key"] {
        let mode = std::fs::metadata(a.home.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    let missing = a.call("GET", "/v1/events/hbevent1qqqq", None::<&()>);
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["error"]["code"], "bad_request");
}

#[test]
fn a_second_daemon_on_the_same_home_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(dir.path(), "a");
    let output = std::process::Command::new(handbill_tests::bin_dir().join("handbilld"))
        .arg("--home")
        .arg(&a.home)
        .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    // The running daemon is unharmed.
    assert_eq!(a.status().counts.events, 0);
}

#[test]
fn a_second_daemon_on_a_taken_port_exits_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(dir.path(), "a");
    let taken = a.addr();
    let listen = taken.split("/p2p/").next().unwrap().to_string();
    let b_home = dir.path().join("b");
    let daemon = handbill_tests::bin_dir().join("handbilld");
    let init = std::process::Command::new(&daemon)
        .arg("--home")
        .arg(&b_home)
        .arg("--init")
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    let output = std::process::Command::new(&daemon)
        .arg("--home")
        .arg(&b_home)
        .args(["--listen", &listen])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in use"), "{stderr}");
    assert_eq!(a.status().counts.events, 0, "the first daemon is unharmed");
}

#[test]
fn a_world_readable_key_stops_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Node::start(dir.path(), "a");
    a.stop();
    let key = a.home.join("author.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = std::process::Command::new(handbill_tests::bin_dir().join("handbilld"))
        .arg("--home")
        .arg(&a.home)
        .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("readable by others"), "{stderr}");
}

#[test]
fn acknowledged_posts_survive_kill_9() {
    // Crash while posts are being acknowledged, restart, and find every acknowledged post.
    let cycles: usize = std::env::var("HANDBILL_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(dir.path(), "crash");
    let mut acknowledged: Vec<EventId> = Vec::new();
    for cycle in 0..cycles {
        let api = std::fs::read_to_string(node.home.join("api.addr")).unwrap();
        let token = std::fs::read_to_string(node.home.join("api.token")).unwrap();
        let writer = std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(std::time::Duration::from_secs(5)))
                .build()
                .into();
            let mut acked = Vec::new();
            for i in 0.. {
                let body =
                    serde_json::json!({"kind": "post", "text": format!("crash {cycle} {i}")});
                match agent
                    .post(format!("{}/v1/events", api.trim()))
                    .header("Authorization", &format!("Bearer {token}"))
                    .send_json(&body)
                {
                    Ok(mut r) if r.status().as_u16() == 201 => {
                        let p: Published = r.body_mut().read_json().expect("published");
                        acked.push(p.id);
                    }
                    _ => break,
                }
            }
            acked
        });
        // Let a few posts land, then crash mid-stream.
        let target = acknowledged.len() as u64 + 3 + (cycle as u64 % 5);
        wait_for("posts to be acknowledged", || {
            (node.status().counts.events >= target).then_some(())
        });
        node.kill();
        acknowledged.extend(writer.join().unwrap());
        node.restart(Vec::new());
        for id in &acknowledged {
            assert!(
                node.event(id).is_some(),
                "cycle {cycle}: acknowledged {id} lost"
            );
        }
    }
    assert!(acknowledged.len() >= cycles * 3);
}

#[test]
fn following_finds_the_authors_hosts_through_the_dht() {
    // B does not follow A, so it holds none of A's posts; C knows only B. C's follow looks up
    // who hosts A in the DHT (through B), dials A, and backfills from A directly.
    let dir = tempfile::tempdir().unwrap();
    let a = Node::start(dir.path(), "a");
    let b = Node::start(dir.path(), "b");
    let c = Node::start(dir.path(), "c");
    let ids: Vec<EventId> = (0..5).map(|i| a.post_text(&format!("post {i}"))).collect();
    b.connect(&a);
    c.connect(&b);
    // A's provider record reaches B once A's announcement runs with B in its routing table.
    let a_peer = a.status().peer_id;
    c.follow(a.author());
    wait_for("C to find and backfill from A", || {
        (c.log_of(&a.author()).0 == 5).then_some(())
    });
    assert!(
        c.status().peers.contains(&a_peer),
        "C connected to A itself"
    );
    assert_eq!(b.log_of(&a.author()), (0, 0), "B never hosted A");
    assert_eq!(
        c.event(&ids[4]).and_then(|i| i.text).as_deref(),
        Some("post 4")
    );
}

/// A peer on many topics says so in one large first message; a daemon that dropped it (as
/// gossipsub's 16 KiB default does beyond about 90 topics) would never send that peer gossip.
#[test]
fn a_peer_on_hundreds_of_topics_is_sent_gossip() {
    use handbill_node::network::topic;
    use handbill_protocol::AuthorKey;
    let dir = tempfile::tempdir().unwrap();
    let alice = Node::start(dir.path(), "alice");
    let peer = handbill_tests::hostile::HostilePeer::start();
    let mut topics: Vec<_> = (0..300u16)
        .map(|i| {
            let mut secret = [7u8; 32];
            secret[..2].copy_from_slice(&i.to_be_bytes());
            topic(&AuthorKey::from_secret_bytes(&secret).author())
        })
        .collect();
    topics.push(topic(&alice.author()));
    peer.subscribe(topics);
    let addr: libp2p::Multiaddr = alice.addr().parse().unwrap();
    peer.dial(&addr);
    let alice_peer = handbill_node::daemon::peer_of(&addr).unwrap();
    wait_for("the peer to connect", || {
        peer.connected(alice_peer).then_some(())
    });
    // Posted again on every poll: the first may go out before Alice has read the peer's hello.
    wait_for("a post to reach the peer by gossip", || {
        alice.post_text("to everyone on my topic");
        peer.received()
            .iter()
            .any(|data| {
                handbill_protocol::SignedEvent::decode(data)
                    .is_ok_and(|e| e.header.author == alice.author())
            })
            .then_some(())
    });
}
