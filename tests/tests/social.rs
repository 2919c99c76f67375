//! The social features end to end, through the real `handbill` CLI and real daemons:
//! notifications, inline mentions, names and short ids, edits and their history, search,
//! curated lists, and the stumbles a first trial hit.

use handbill_protocol::{AuthorKey, TypedId};
use handbill_tests::{Node, handbill, handbill_ok, wait_for};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn cli_node(dir: &Path, name: &str) -> Node {
    let home = dir.join(name);
    handbill_ok(&home, &["init"]);
    Node::start_with(home, Vec::new())
}

fn json(home: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(handbill_ok(home, &all).trim()).expect("one JSON object")
}

fn lines(home: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = handbill(home, &all);
    assert_eq!(run.code, 0, "handbill {args:?}: {}", run.stderr);
    run.json_lines()
}

fn connect(a: &Node, b: &Node) {
    handbill_ok(&a.home, &["connect", &b.addr()]);
    let peer = b.status().peer_id;
    wait_for("the connection", || {
        a.status().peers.contains(&peer).then_some(())
    });
}

fn short(id: &str) -> String {
    // The short form output shows: the first 8 characters after `hbevent1`/`hbauthor1`.
    let data = id.split_once('1').expect("a bech32 id").1;
    data[..8].to_string()
}

fn publish(home: &Path, args: &[&str]) -> String {
    handbill_ok(home, args).trim().to_string()
}

fn reasons(home: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["notifications"];
    args.extend_from_slice(extra);
    lines(home, &args)
        .iter()
        .map(|n| n["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn notifications_mentions_names_and_short_ids() {
    let dir = tempfile::tempdir().unwrap();
    let alice = cli_node(dir.path(), "alice");
    let bob = cli_node(dir.path(), "bob");
    let a = alice.author().to_string();
    connect(&bob, &alice);
    handbill_ok(&alice.home, &["profile", "set", "--name", "alice"]);
    let hello = publish(&alice.home, &["post", "hello everyone"]);

    // Bob follows Alice (by her full id: a short one names only ids a node already holds),
    // and gets her profile and post.
    handbill_ok(&bob.home, &["follow", &a]);
    wait_for("Alice's post at Bob", || bob.event(&parse_event(&hello)));
    wait_for("Alice's profile at Bob", || {
        let item = json(&bob.home, &["show", &short(&hello)]);
        (item["author_name"] == "alice").then_some(())
    });
    // A reply by short id, an inline mention by name, a reaction by a longer prefix.
    handbill_ok(
        &bob.home,
        &["post", "welcome!", "--reply-to", &short(&hello)],
    );
    let mention = publish(&bob.home, &["post", "thanks @alice for #handbill"]);
    let shown = json(&bob.home, &["show", &mention]);
    assert_eq!(shown["tags"][0], "handbill");
    handbill_ok(&bob.home, &["react", &hello[..20], "🎉"]);

    let expected = ["reaction", "mention", "reply", "follow"];
    wait_for("Alice's four notifications", || {
        (reasons(&alice.home, &[]) == expected).then_some(())
    });
    let first = &lines(&alice.home, &["notifications"])[0];
    assert_eq!(first["unread"], true);
    assert_eq!(first["item"]["author"], bob.author().to_string());
    // Read once with --mark-read: nothing unread after, everything with --all.
    handbill_ok(&alice.home, &["notifications", "--mark-read"]);
    assert!(reasons(&alice.home, &[]).is_empty());
    assert_eq!(reasons(&alice.home, &["--all"]), expected);
    let human = handbill_ok(&alice.home, &["notifications", "--all"]);
    assert!(human.contains("mentioned you"), "{human}");

    // Followers: Bob, with the honest note.
    let followers = handbill(&alice.home, &["followers"]);
    assert!(followers.stdout.contains(&bob.author().to_string()));
    assert!(
        followers.stderr.contains("sees only the part"),
        "{}",
        followers.stderr
    );

    // Names next to short ids in the feed, and counts.
    let feed = handbill_ok(&bob.home, &["feed"]);
    assert!(
        feed.contains(&format!("alice ({})", short(&a))),
        "the feed names Alice beside her short id: {feed}"
    );
    let item = json(&bob.home, &["show", &hello]);
    assert_eq!(
        (
            item["counts"]["replies"].as_u64(),
            item["counts"]["reactions"].as_u64()
        ),
        (Some(1), Some(1))
    );

    // A muted author notifies nobody.
    handbill_ok(&alice.home, &["mute", &short(&bob.author().to_string())]);
    assert!(reasons(&alice.home, &["--all"]).is_empty());
    handbill_ok(&alice.home, &["unmute", &bob.author().to_string()]);

    // Live: a notification arrives on the stream without polling the list.
    let mut stream = Command::new(handbill_tests::bin_dir().join("handbill"))
        .args(["--home"])
        .arg(&alice.home)
        .args(["--json", "notifications", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("notifications --follow");
    let mut out = BufReader::new(stream.stdout.take().expect("stdout"));
    let mut line = String::new();
    // The listing comes first (nothing unread), then the stream: wait until it is open by
    // posting until a line arrives.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        while out.read_line(&mut line).is_ok_and(|n| n > 0) {
            let _ = tx.send(std::mem::take(&mut line));
        }
    });
    let got = wait_for("a streamed notification", || {
        handbill_ok(&bob.home, &["post", "again @alice"]);
        rx.recv_timeout(std::time::Duration::from_secs(2)).ok()
    });
    let n: Value = serde_json::from_str(got.trim()).expect("a JSON notification");
    assert_eq!(n["reason"], "mention");
    let _ = stream.kill();
    let _ = stream.wait();
}

fn parse_event(text: &str) -> handbill_protocol::EventId {
    handbill_protocol::EventId::parse(text).expect("an event id")
}

/// Two secrets whose authors' ids share their first 30 bits (6 bech32 characters), found by
/// a birthday search over `[i as 8 little-endian bytes, then 7s]`.
fn colliding_keys() -> (AuthorKey, AuthorKey) {
    let key = |i: u64| {
        let mut secret = [7u8; 32];
        secret[..8].copy_from_slice(&i.to_le_bytes());
        AuthorKey::from_secret_bytes(&secret)
    };
    (key(6604), key(51453))
}

fn home_with_key(dir: &Path, name: &str, key: &AuthorKey) -> std::path::PathBuf {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = home.join("author.key");
    std::fs::write(&path, format!("{}\n", hex::encode(key.secret_bytes()))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    home
}

#[test]
fn prefixes_resolve_when_unique_and_list_candidates_when_not() {
    let (k1, k2) = colliding_keys();
    let (t1, t2) = (k1.author().to_string(), k2.author().to_string());
    assert_eq!(short(&t1)[..6], short(&t2)[..6], "the fixture collides");
    assert_ne!(short(&t1), short(&t2));
    let dir = tempfile::tempdir().unwrap();
    let one = Node::start_with(home_with_key(dir.path(), "one", &k1), Vec::new());
    let two = Node::start_with(home_with_key(dir.path(), "two", &k2), Vec::new());
    connect(&one, &two);
    handbill_ok(&two.home, &["post", "hi"]);
    handbill_ok(&one.home, &["follow", &t2]);
    wait_for("two's log at one", || {
        (one.log_of(&k2.author()).0 > 0).then_some(())
    });

    // Six shared characters: ambiguous, and the error lists both.
    let ambiguous = handbill(&one.home, &["author", &short(&t1)[..6]]);
    assert_eq!(ambiguous.code, 1, "{}", ambiguous.stderr);
    assert!(
        ambiguous.stderr.contains(&t1) && ambiguous.stderr.contains(&t2),
        "{}",
        ambiguous.stderr
    );
    let as_json = handbill(&one.home, &["--json", "author", &short(&t1)[..6]]);
    let error: Value = serde_json::from_str(as_json.stderr.trim()).expect("a JSON error");
    assert_eq!(error["error"]["code"], "ambiguous");
    // Eight: unique, with or without the prefix.
    for typed in [short(&t2), format!("hbauthor1{}", short(&t2))] {
        let view = json(&one.home, &["author", &typed]);
        assert_eq!(view["author"], t2.as_str());
    }
    // Too short is bad usage; unknown is "not found".
    assert_eq!(handbill(&one.home, &["author", "qqq"]).code, 2);
    assert_eq!(handbill(&one.home, &["show", "qqqqqqqqqq"]).code, 3);
}

#[test]
fn edits_show_everywhere_and_one_delete_erases_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let alice = cli_node(dir.path(), "alice");
    let bob = cli_node(dir.path(), "bob");
    connect(&bob, &alice);
    handbill_ok(&bob.home, &["follow", &alice.author().to_string()]);
    let post = publish(&alice.home, &["post", "teh quick fox"]);
    wait_for("the post at Bob", || bob.event(&parse_event(&post)));
    let edit = publish(&alice.home, &["edit", &short(&post), "the quick fox"]);
    wait_for("the edit at Bob", || bob.event(&parse_event(&edit)));
    let seen = json(&bob.home, &["show", &post]);
    assert_eq!(
        (seen["text"].as_str(), seen["edited"].as_bool()),
        (Some("the quick fox"), Some(true))
    );
    assert!(handbill_ok(&bob.home, &["show", &post]).contains("(edited)"));
    let versions = lines(&bob.home, &["history", &short(&post)]);
    let texts: Vec<&str> = versions
        .iter()
        .map(|v| v["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(texts, ["teh quick fox", "the quick fox"]);
    assert_eq!(versions[1]["current"], true);
    // Search finds the current text, not the typo.
    let hits = |home: &Path, q: &str| lines(home, &["search", q]).len();
    assert_eq!(hits(&bob.home, "quick"), 1);
    assert_eq!(hits(&bob.home, "teh"), 0);
    // Bob cannot edit Alice's post.
    let refused = handbill(&bob.home, &["edit", &post, "mine"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("only its author"),
        "{}",
        refused.stderr
    );

    handbill_ok(&alice.home, &["delete", &post]);
    for node in [&alice, &bob] {
        wait_for("every version erased", || {
            let versions = lines(&node.home, &["history", &post]);
            versions.iter().all(|v| v["text"].is_null()).then_some(())
        });
        assert_eq!(hits(&node.home, "quick"), 0);
    }
}

#[test]
fn search_finds_words_tags_and_authors_and_forgets_deleted_posts_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut alice = cli_node(dir.path(), "alice");
    let bob = cli_node(dir.path(), "bob");
    connect(&bob, &alice);
    handbill_ok(&bob.home, &["follow", &alice.author().to_string()]);
    handbill_ok(&alice.home, &["profile", "set", "--name", "alice"]);
    let red = publish(&alice.home, &["post", "A red apple", "--tag", "fruit"]);
    let green = publish(&alice.home, &["post", "a green apple #Fruit"]);
    let mine = publish(&bob.home, &["post", "my own apple"]);
    wait_for("Alice's posts at Bob", || bob.event(&parse_event(&green)));
    let ids = |home: &Path, q: &[&str]| -> Vec<String> {
        let mut args = vec!["search"];
        args.extend_from_slice(q);
        lines(home, &args)
            .iter()
            .map(|v| v["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        ids(&bob.home, &["apple"]),
        [mine.clone(), green.clone(), red.clone()]
    );
    assert_eq!(ids(&bob.home, &["red", "apple"]), vec![red.clone()]);
    assert_eq!(ids(&bob.home, &["#fruit"]), [green.clone(), red.clone()]);
    assert_eq!(
        ids(&bob.home, &["apple", "from:@alice"]),
        [green.clone(), red.clone()]
    );
    assert_eq!(
        ids(&bob.home, &["--limit", "1", "apple"]),
        vec![mine.clone()]
    );
    let human = handbill_ok(&bob.home, &["search", "--limit", "1", "apple"]);
    assert!(human.contains("more: handbill search"), "{human}");
    // Deleted: gone from results at once, and still gone after kill -9 and a restart.
    handbill_ok(&alice.home, &["delete", &red]);
    assert_eq!(ids(&alice.home, &["red"]), Vec::<String>::new());
    alice.kill();
    alice.restart(Vec::new());
    assert_eq!(ids(&alice.home, &["red"]), Vec::<String>::new());
    assert_eq!(ids(&alice.home, &["apple"]), vec![green.clone()]);
    wait_for("the delete at Bob", || {
        ids(&bob.home, &["red"]).is_empty().then_some(())
    });
}

#[test]
fn curated_lists_have_a_timeline_and_can_be_shown() {
    let dir = tempfile::tempdir().unwrap();
    let alice = cli_node(dir.path(), "alice");
    let bob = cli_node(dir.path(), "bob");
    connect(&alice, &bob);
    let b = bob.author().to_string();
    handbill_ok(&bob.home, &["profile", "set", "--name", "bob"]);
    handbill_ok(&alice.home, &["follow", &b]);
    // Bob follows Alice too, so her list (published on her topic) reaches him.
    handbill_ok(&bob.home, &["follow", &alice.author().to_string()]);
    let from_bob = publish(&bob.home, &["post", "bob's news"]);
    let from_alice = publish(&alice.home, &["post", "alice's own"]);
    wait_for("Bob's post at Alice", || {
        alice.event(&parse_event(&from_bob))
    });
    wait_for("Bob's profile at Alice", || {
        (json(&alice.home, &["show", &from_bob])["author_name"] == "bob").then_some(())
    });
    let created = handbill(
        &alice.home,
        &["list", "create", "friends", "--purpose", "curate"],
    );
    assert_eq!(created.code, 0);
    assert!(
        created.stderr.contains("curated list"),
        "{}",
        created.stderr
    );
    handbill_ok(&alice.home, &["list", "add", "friends", "@bob"]);
    let feed: Vec<String> = lines(&alice.home, &["feed", "--list", "friends"])
        .iter()
        .map(|v| v["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(feed, vec![from_bob.clone()]);
    assert!(!feed.contains(&from_alice));
    let shown = handbill_ok(&alice.home, &["list", "show", "friends"]);
    assert!(shown.contains("bob (") && shown.contains(&b), "{shown}");
    // Bob reads Alice's list by its owner.
    wait_for("Alice's list at Bob", || {
        let run = handbill(
            &bob.home,
            &[
                "--json",
                "list",
                "show",
                "friends",
                "--owner",
                &alice.author().to_string(),
            ],
        );
        (run.code == 0).then_some(())
    });
    // Creating it again keeps its members (it used to wipe them).
    handbill_ok(&alice.home, &["list", "create", "friends"]);
    let again = json(&alice.home, &["list", "show", "friends"]);
    assert_eq!(again["members"][0]["author"], b.as_str());
    assert_eq!(again["purpose"], "curate");
}

#[test]
fn the_first_trials_stumbles_are_fixed() {
    let dir = tempfile::tempdir().unwrap();
    // init --listen is recorded and used by a plain start.
    let home = dir.path().join("n");
    handbill_ok(&home, &["init", "--listen", "/ip4/127.0.0.1/tcp/0"]);
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(
        config.contains("listen = [\"/ip4/127.0.0.1/tcp/0\"]"),
        "{config}"
    );
    let node = Node::start_with(home.clone(), Vec::new());
    let other = cli_node(dir.path(), "other");
    connect(&node, &other);

    // Daemon logs carry no colour codes when redirected to a file.
    let log = node.log();
    assert!(!log.is_empty() && !log.contains('\u{1b}'), "{log}");

    // moderation options without a flag shows and changes nothing; --no-… turns it off.
    handbill_ok(&home, &["moderation", "options", "--always-show-followed"]);
    let shown = json(&home, &["moderation", "options"]);
    assert_eq!(shown["always_show_followed"], true);
    assert_eq!(
        json(&home, &["moderation", "options"])["always_show_followed"],
        true
    );
    handbill_ok(
        &home,
        &["moderation", "options", "--no-always-show-followed"],
    );
    assert_eq!(
        json(&home, &["moderation", "options"])["always_show_followed"],
        false
    );

    // list create says what it made.
    let created = handbill(&home, &["list", "create", "noisy"]);
    assert!(created.stderr.contains("mute list"), "{}", created.stderr);

    // Re-following publishes nothing.
    let o = other.author().to_string();
    handbill_ok(&home, &["follow", &o]);
    let seq = node.log_of(&node.author()).1;
    let again = handbill(&home, &["follow", &o]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("already following"),
        "{}",
        again.stdout
    );
    assert_eq!(node.log_of(&node.author()).1, seq, "no second follow event");

    // Following someone nobody serves says so at once on a terminal (it waited 30 s and said
    // "still fetching (0 so far)"). `script` gives the CLI a terminal.
    let nobody = AuthorKey::from_secret_bytes(&[42; 32]).author().to_string();
    let on_terminal = Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{} --home {} follow {nobody}",
            handbill_tests::bin_dir().join("handbill").display(),
            home.display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux");
    let said = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(
        said.contains("none of your peers has posts by them yet"),
        "{said}"
    );

    // Listings are JSON lines; errors under --json are one JSON object on stderr.
    let following = lines(&home, &["following"]);
    assert!(
        following.iter().any(|f| f["author"] == o.as_str()),
        "{following:?}"
    );
    let error = handbill(
        &home,
        &[
            "--json",
            "show",
            &handbill_protocol::EventId([0; 32]).to_string(),
        ],
    );
    assert_eq!(error.code, 3);
    let body: Value = serde_json::from_str(error.stderr.trim()).expect("a JSON error");
    assert_eq!(body["error"]["code"], "not_found");

    // status says what it hosts, not only whom it follows.
    let status = handbill_ok(&home, &["status"]);
    assert!(
        status.contains("following  2") && status.contains("hosting"),
        "{status}"
    );
    // unmute's help speaks of unmuting.
    let help = handbill_ok(&home, &["unmute", "--help"]);
    assert!(help.contains("An author to unmute"), "{help}");

    // `man` and `completions` into a pipe closed early end quietly (exit 0). The read end is
    // closed before the child writes (the manual is smaller than a pipe's buffer, so reading a
    // line first would let it finish before the reader goes).
    for args in [vec!["man"], vec!["completions", "bash"]] {
        let mut child = Command::new(handbill_tests::bin_dir().join("handbill"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("handbill");
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("wait");
        assert!(
            output.status.success(),
            "{args:?} exited {:?}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let roff = handbill_ok(&home, &["man"]);
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH"),
        "{}",
        &roff[..roff.len().min(200)]
    );
    // Every page the manual names exists when written out.
    let pages = dir.path().join("man");
    handbill_ok(&home, &["man", "--dir", pages.to_str().unwrap()]);
    for name in ["handbill.1", "handbill-search.1", "handbill-list-show.1"] {
        assert!(pages.join(name).exists(), "{name}");
    }
}
