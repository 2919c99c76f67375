//! The `handbill` CLI end to end, against real daemons: the flows a new user goes through.

use handbill_tests::{Node, handbill, handbill_ok, wait_for};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn feed_ids(home: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--json", "feed", "--limit", "100"];
    args.extend_from_slice(extra);
    handbill(home, &args)
        .json_lines()
        .iter()
        .map(|v| v["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn show(home: &Path, id: &str) -> Option<Value> {
    let run = handbill(home, &["--json", "show", id]);
    match run.code {
        0 => Some(serde_json::from_str(&run.stdout).expect("json")),
        3 => None,
        other => panic!("show exited {other}: {}", run.stderr),
    }
}

fn wait_show(home: &Path, id: &str) -> Value {
    wait_for(&format!("{id} on {}", home.display()), || show(home, id))
}

fn post(home: &Path, args: &[&str]) -> String {
    let mut all = vec!["post"];
    all.extend_from_slice(args);
    handbill_ok(home, &all).trim().to_string()
}

fn cli_node(dir: &Path, name: &str) -> Node {
    let home = dir.join(name);
    let out = handbill_ok(&home, &["init"]);
    assert!(
        out.trim().starts_with("hbauthor1"),
        "init prints the author id: {out}"
    );
    let again = handbill(&home, &["init"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("refusing to overwrite"),
        "{}",
        again.stderr
    );
    Node::start_with(home, Vec::new())
}

/// A daemon that finds nobody by itself (no DHT): it talks only to peers it is told to
/// connect to, and to those that connect to it.
fn isolated_node(dir: &Path, name: &str) -> Node {
    let home = dir.join(name);
    handbill_ok(&home, &["init"]);
    Node::start_with(home, vec!["--no-discover".into()])
}

fn author(node: &Node) -> String {
    let id: Value = serde_json::from_str(&handbill_ok(&node.home, &["--json", "id"])).unwrap();
    assert!(id["peer_id"].is_string() && id["listen_addrs"].is_array());
    id["author"].as_str().unwrap().to_string()
}

fn connect(a: &Node, b: &Node) {
    handbill_ok(&a.home, &["connect", &b.addr()]);
    let peer = b.status().peer_id;
    wait_for("the connection", || {
        a.status().peers.contains(&peer).then_some(())
    });
}

#[test]
fn two_users_post_follow_reply_react_repost_delete() {
    let dir = tempfile::tempdir().unwrap();
    let alice = cli_node(dir.path(), "alice");
    let bob = cli_node(dir.path(), "bob");
    let (a, b) = (author(&alice), author(&bob));
    connect(&bob, &alice);
    handbill_ok(&bob.home, &["follow", &a]);
    handbill_ok(&alice.home, &["follow", &b]);
    let following = handbill_ok(&bob.home, &["following"]);
    assert!(following.contains(&a));

    let hello = post(&alice.home, &["Hello from Alice", "--tag", "intro"]);
    let item = wait_show(&bob.home, &hello);
    assert_eq!(item["text"], "Hello from Alice");
    assert_eq!(item["tags"][0], "intro");
    assert!(feed_ids(&bob.home, &[]).contains(&hello));

    let reply = post(&bob.home, &["Welcome!", "--reply-to", &hello]);
    let at_alice = wait_show(&alice.home, &reply);
    assert_eq!(at_alice["reply_to"], hello.as_str());
    let thread: Value =
        serde_json::from_str(&handbill_ok(&alice.home, &["--json", "thread", &hello])).unwrap();
    assert_eq!(thread["replies"][0]["id"], reply.as_str());

    let reaction = handbill_ok(&alice.home, &["react", &reply, "🎉"])
        .trim()
        .to_string();
    let r = wait_show(&bob.home, &reaction);
    assert_eq!(
        (r["kind"].as_str(), r["target"].as_str()),
        (Some("reaction"), Some(reply.as_str()))
    );
    let repost = handbill_ok(&bob.home, &["repost", &hello])
        .trim()
        .to_string();
    let rp = wait_show(&alice.home, &repost);
    assert_eq!(rp["kind"], "repost");

    handbill_ok(&alice.home, &["delete", &hello]);
    for home in [&alice.home, &bob.home] {
        let gone = wait_for("the deletion", || {
            show(home, &hello).filter(|v| v["deleted"] == true)
        });
        assert!(gone["text"].is_null());
    }
    // Human output is readable: relative time and short id.
    let human = handbill_ok(&bob.home, &["feed"]);
    assert!(human.contains("ago"), "{human}");
    handbill_ok(
        &alice.home,
        &["profile", "set", "--name", "Alice", "--bio", "hi"],
    );
    let view: Value =
        serde_json::from_str(&handbill_ok(&alice.home, &["--json", "author", &a])).unwrap();
    assert_eq!(view["name"], "Alice");
}

#[test]
fn moderation_feeds_hide_for_subscribers_only() {
    let dir = tempfile::tempdir().unwrap();
    let alice = cli_node(dir.path(), "alice");
    let moderator = cli_node(dir.path(), "moderator");
    let bob = cli_node(dir.path(), "bob");
    let carol = cli_node(dir.path(), "carol");
    let (a, m) = (author(&alice), author(&moderator));
    for n in [&moderator, &bob, &carol] {
        connect(n, &alice);
        handbill_ok(&n.home, &["follow", &a]);
    }
    connect(&bob, &moderator);
    handbill_ok(
        &moderator.home,
        &[
            "labeler",
            "declare",
            "--name",
            "Safety Desk",
            "--label",
            "violence:high:hide",
            "--label",
            "satire:low:show",
        ],
    );
    handbill_ok(
        &bob.home,
        &["moderation", "subscribe", &m, "--hide", "violence"],
    );
    let labels = wait_for("the feed's declaration at Bob", || {
        let run = handbill(&bob.home, &["--json", "moderation", "labels", &m]);
        (run.code == 0).then_some(run.stdout)
    });
    assert!(labels.contains("Safety Desk"));

    let bad = post(&alice.home, &["something violent"]);
    let fine = post(&alice.home, &["something fine"]);
    wait_show(&moderator.home, &bad);
    wait_show(&bob.home, &fine);
    wait_show(&carol.home, &bad);
    handbill_ok(
        &moderator.home,
        &["label", &bad, "violence", "--reason", "threat"],
    );

    wait_for("Bob's feed to hide it", || {
        (!feed_ids(&bob.home, &[]).contains(&bad)).then_some(())
    });
    assert!(feed_ids(&bob.home, &[]).contains(&fine));
    assert!(feed_ids(&bob.home, &["--show-hidden"]).contains(&bad));
    let human = handbill(&bob.home, &["feed"]);
    assert!(
        human.stderr.contains("1 hidden by your moderation choices"),
        "{}",
        human.stderr
    );
    let why = handbill_ok(&bob.home, &["why", &bad]);
    assert!(
        why.contains("hide") && why.contains("violence") && why.contains("Safety Desk"),
        "{why}"
    );
    let why_json: Value =
        serde_json::from_str(&handbill_ok(&bob.home, &["--json", "why", &bad])).unwrap();
    assert_eq!(why_json["action"], "hide");
    assert_eq!(why_json["reasons"][0]["feed"], m.as_str());
    // Carol did not subscribe: she still sees it.
    assert!(feed_ids(&carol.home, &[]).contains(&bad));

    // Override: people Bob follows stay visible, with a warning.
    handbill_ok(
        &bob.home,
        &["moderation", "options", "--always-show-followed"],
    );
    let item = wait_for("the override", || {
        show(&bob.home, &bad).filter(|v| v["moderation"]["action"] == "warn")
    });
    assert_eq!(
        item["moderation"]["reasons"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["type"],
        "followed_override"
    );
    assert!(feed_ids(&bob.home, &[]).contains(&bad));
    handbill_ok(&bob.home, &["moderation", "options"]);

    handbill_ok(&moderator.home, &["unlabel", &bad, "violence"]);
    wait_for("the unlabel to restore it", || {
        feed_ids(&bob.home, &[]).contains(&bad).then_some(())
    });
}

#[test]
fn mutes_and_lists_hide_what_they_should_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let alice = cli_node(dir.path(), "alice");
    let dave = cli_node(dir.path(), "dave");
    let bob = cli_node(dir.path(), "bob");
    let (a, d) = (author(&alice), author(&dave));
    for n in [&alice, &dave] {
        connect(&bob, n);
    }
    handbill_ok(&bob.home, &["follow", &a]);
    handbill_ok(&bob.home, &["follow", &d]);
    let spoiler = post(&alice.home, &["The butler did it"]);
    let tagged = post(&alice.home, &["Election news", "--tag", "politics"]);
    let plain = post(&alice.home, &["Nice weather"]);
    let by_dave = post(&dave.home, &["Dave here"]);
    for id in [&spoiler, &tagged, &plain, &by_dave] {
        wait_show(&bob.home, id);
    }
    handbill_ok(&bob.home, &["mute", "--word", "butler"]);
    handbill_ok(&bob.home, &["mute", "--tag", "politics"]);
    let ids = feed_ids(&bob.home, &[]);
    assert!(!ids.contains(&spoiler) && !ids.contains(&tagged));
    assert!(ids.contains(&plain) && ids.contains(&by_dave));
    handbill_ok(&bob.home, &["unmute", "--word", "butler"]);
    assert!(feed_ids(&bob.home, &[]).contains(&spoiler));

    // Alice publishes a mute list with Dave on it; Bob subscribes.
    let list = handbill_ok(
        &alice.home,
        &["list", "create", "noisy", "--purpose", "mute"],
    )
    .trim()
    .to_string();
    handbill_ok(&alice.home, &["list", "add", "noisy", &d]);
    let mine = handbill_ok(&alice.home, &["--json", "list", "mine"]);
    assert!(mine.contains(&d));
    handbill_ok(&bob.home, &["list", "subscribe", &list, "--owner", &a]);
    wait_for("the list to hide Dave", || {
        (!feed_ids(&bob.home, &[]).contains(&by_dave)).then_some(())
    });
    let ids = feed_ids(&bob.home, &[]);
    assert!(ids.contains(&plain) && ids.contains(&spoiler));
    let why = handbill_ok(&bob.home, &["why", &by_dave]);
    assert!(why.contains("noisy"), "{why}");
}

#[test]
fn host_policy_stops_storing_and_relaying_labelled_posts() {
    let dir = tempfile::tempdir().unwrap();
    // The leaf reaches the network only through the relay. Nobody discovers anybody: with the
    // DHT on, Alice or the moderator found the leaf through the relay's routing table, dialled
    // it, and the leaf backfilled the refused post from them directly (a flaky failure).
    let alice = isolated_node(dir.path(), "alice");
    let moderator = isolated_node(dir.path(), "moderator");
    let relay = isolated_node(dir.path(), "relay");
    let leaf = isolated_node(dir.path(), "leaf");
    let (a, m) = (author(&alice), author(&moderator));
    connect(&moderator, &alice);
    handbill_ok(&moderator.home, &["follow", &a]);
    let first = post(&alice.home, &["hello"]);
    let bad = post(&alice.home, &["violent"]);
    wait_show(&moderator.home, &bad);
    handbill_ok(&moderator.home, &["label", &bad, "violence"]);

    handbill_ok(&relay.home, &["host-policy", "refuse", &m, "violence"]);
    let shown = handbill_ok(&relay.home, &["--json", "host-policy", "show"]);
    assert!(shown.contains("violence"));
    connect(&relay, &moderator);
    connect(&relay, &alice);
    handbill_ok(&relay.home, &["follow", &a]);
    wait_for("the relay to know the label", || {
        relay
            .get::<Vec<Value>>(&format!("/v1/labels/{bad}"))
            .first()
            .cloned()
    });
    wait_for("the relay to hold Alice's log but not the post", || {
        (show(&relay.home, &first).is_some() && show(&relay.home, &bad).is_none()).then_some(())
    });

    connect(&leaf, &relay);
    handbill_ok(&leaf.home, &["follow", &a]);
    let good = post(&alice.home, &["peaceful"]);
    wait_show(&relay.home, &good);
    wait_show(&leaf.home, &good);
    assert!(
        show(&leaf.home, &bad).is_none(),
        "the refused post reached a node behind the relay"
    );
    assert!(show(&relay.home, &bad).is_none());
}

#[test]
fn errors_are_one_clear_line_and_a_useful_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    let quick = |run: &handbill_tests::CliRun| {
        assert!(run.took < Duration::from_secs(2), "took {:?}", run.took);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "one line: {}",
            run.stderr
        );
    };
    let missing = handbill(&home, &["status"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("handbill init"),
        "{}",
        missing.stderr
    );
    quick(&missing);

    handbill_ok(&home, &["init"]);
    let stopped = handbill(&home, &["feed"]);
    assert_eq!(stopped.code, 1);
    assert!(
        stopped.stderr.contains("not running") && stopped.stderr.contains("handbilld --home"),
        "{}",
        stopped.stderr
    );
    quick(&stopped);

    // A stale address: nothing listens there any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(home.join("api.addr"), format!("http://127.0.0.1:{port}\n")).unwrap();
    std::fs::write(home.join("api.token"), "x").unwrap();
    let stale = handbill(&home, &["status"]);
    assert_eq!(stale.code, 1);
    assert!(stale.stderr.contains("stale"), "{}", stale.stderr);
    quick(&stale);

    let node = Node::start_with(home.clone(), Vec::new());
    std::fs::write(home.join("api.token"), "wrong").unwrap();
    let refused = handbill(&home, &["status"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("token"), "{}", refused.stderr);
    quick(&refused);
    drop(node);

    let node = Node::start_with(home.clone(), Vec::new());
    let malformed = handbill(&home, &["show", "hbauthor1notanevent"]);
    assert_eq!(malformed.code, 2);
    assert!(
        malformed.stderr.contains("event id"),
        "{}",
        malformed.stderr
    );
    let unknown = handbill(&home, &["frobnicate"]);
    assert_eq!(unknown.code, 2);
    let absent = handbill(
        &home,
        &["show", &handbill_protocol::EventId([0; 32]).to_string()],
    );
    assert_eq!(absent.code, 3, "{}", absent.stderr);
    assert!(absent.stderr.contains("not stored"), "{}", absent.stderr);
    quick(&absent);
    let reply_to_unknown = handbill(
        &home,
        &[
            "post",
            "hi",
            "--reply-to",
            &handbill_protocol::EventId([1; 32]).to_string(),
        ],
    );
    assert_ne!(reply_to_unknown.code, 0);
    assert!(
        reply_to_unknown.stderr.contains("not stored"),
        "{}",
        reply_to_unknown.stderr
    );
    let completions = handbill_ok(&home, &["completions", "bash"]);
    assert!(completions.contains("handbill"));
    let man = handbill_ok(&home, &["man"]);
    assert!(man.contains(".TH"));
    drop(node);
}
