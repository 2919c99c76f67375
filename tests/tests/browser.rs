//! The web app in a real browser against real daemons: sign-in, following, replying, live
//! updates, moderation, and the refusals that keep other pages and stale links out (the
//! browser side is tests/js/browser.mjs; see its header for the steps).
//!
//! Needs Chromium (`apt install chromium`), Node.js and `npm ci --prefix tests/js`; `.ci/run`
//! installs what is missing.

use handbill_protocol::api::{FeedItem, PublishRequest};
use handbill_protocol::payload::{Action, LabelDefinition, Severity};
use handbill_tests::browser::{chromium, output_dir, run_script};
use handbill_tests::*;

fn origin_of(node: &Node) -> String {
    node.api().0.trim_end_matches('/').to_string()
}

#[test]
fn a_person_signs_in_follows_replies_and_moderates_in_the_browser() {
    let chromium = chromium();
    let start = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let alice = Node::start(dir.path(), "alice");
    let bob = Node::start(dir.path(), "bob");
    let moderator = Node::start(dir.path(), "moderator");
    eprintln!("{:?}: daemons up", start.elapsed());
    bob.connect(&alice);
    moderator.connect(&alice);
    bob.connect(&moderator);
    handbill_ok(&alice.home, &["profile", "set", "--name", "alice"]);
    handbill_ok(&bob.home, &["profile", "set", "--name", "bob"]);

    eprintln!("{:?}: connected, profiles set", start.elapsed());
    moderator.follow(alice.author());
    moderator.publish(&PublishRequest::LabelerDeclaration {
        name: "Safety Desk".into(),
        description: "Labels threats".into(),
        labels: vec![LabelDefinition {
            value: "violence".into(),
            severity: Severity::High,
            default_action: Action::Warn,
            description: "Threats of violence".into(),
        }],
    });
    let hello = alice.post_text("Hello from Alice");
    let labelled_text = "A post the moderator labels";
    let labelled = alice.post_text(labelled_text);
    eprintln!("{:?}: daemons up, posted", start.elapsed());
    moderator.wait_for_event(&labelled);
    eprintln!("{:?}: the moderator holds the post", start.elapsed());
    moderator.publish(&PublishRequest::Label {
        target: handbill_protocol::api::TargetId::Event(labelled),
        value: "violence".into(),
        reason: Some("threat".into()),
        expires_at: None,
        negate: false,
    });

    let sign_in = |node: &Node| {
        handbill_ok(&node.home, &["open", "--print"])
            .trim()
            .to_string()
    };
    let out = output_dir(env!("CARGO_TARGET_TMPDIR"), "browser");
    let config = serde_json::json!({
        "chromium": chromium,
        "handbill": bin_dir().join("handbill"),
        "out": out,
        "alice": {
            "url": sign_in(&alice),
            "origin": origin_of(&alice),
            "token": alice.api().1,
            "author": alice.author().to_string(),
        },
        "bob": {
            "url": sign_in(&bob),
            "origin": origin_of(&bob),
            "token": bob.api().1,
            "home": bob.home,
            "author": bob.author().to_string(),
        },
        "moderator": moderator.author().to_string(),
        "moderator_api": {
            "origin": origin_of(&moderator),
            "token": moderator.api().1,
        },
        "hello": hello.to_string(),
        "labelled": labelled.to_string(),
        "labelled_text": labelled_text,
    });
    eprintln!("{:?}: browser steps", start.elapsed());
    run_script("browser.mjs", &config, dir.path());

    // What the browser did happened on the daemons, and nothing the other page forged did.
    let reply: FeedItem = wait_for("Bob's reply from the browser at Alice's node", || {
        let thread: handbill_protocol::api::Thread =
            alice.get(&format!("/v1/events/{hello}/thread"));
        thread
            .replies
            .into_iter()
            .find(|r| r.author == bob.author())
    });
    // Bob edited his reply in the browser; Alice's node shows the newest text.
    let edited = "Welcome to the web, Alice! (edited in the browser) #browser";
    let reply = wait_for("Bob's edit at Alice's node", || {
        let item: FeedItem = alice.get(&format!("/v1/events/{}", reply.id));
        (item.text.as_deref() == Some(edited)).then_some(item)
    });
    assert!(reply.edited);
    let bobs: handbill_protocol::api::AuthorView =
        bob.get(&format!("/v1/authors/{}?limit=100", bob.author()));
    assert!(
        bobs.posts
            .iter()
            .all(|p| !p.text.as_deref().unwrap_or("").contains("forged")),
        "a page on another port published through Bob's session: {:?}",
        bobs.posts
    );
    let sessions = handbill(&bob.home, &["--json", "sessions"]);
    assert!(
        sessions.stdout.trim().is_empty(),
        "the revoked session is gone: {}",
        sessions.stdout
    );
    for screen in [
        "timeline",
        "thread",
        "notifications",
        "moderation",
        "timeline-moderated",
        "timeline-labelled-live",
        "author",
        "edit-history",
        "lists",
        "list-timeline",
        "search",
        "host-policy",
        "node",
    ] {
        assert!(
            out.join(format!("{screen}.png")).exists(),
            "screenshot of {screen}"
        );
    }
}

#[test]
fn the_apps_origin_and_sessions_survive_a_restart_and_a_session_cannot_manage_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(dir.path(), "home");
    let origin = origin_of(&node);
    let port = origin.rsplit(':').next().unwrap().to_string();
    let config = std::fs::read_to_string(node.home.join("config.toml")).unwrap();
    assert!(
        config.contains(&format!("\napi_port = {port}\n")),
        "the first start records its API port: {config}"
    );

    let url = handbill_ok(&node.home, &["open", "--print"])
        .trim()
        .to_string();
    assert!(url.starts_with(&format!("{origin}/signin?code=")), "{url}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let signed_in = agent.get(&url).call().unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    let location = signed_in.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let key = location
        .strip_prefix("/#key=")
        .unwrap_or_else(|| panic!("the key travels in the fragment: {location}"))
        .to_string();
    let set_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let csp = signed_in.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");

    node.restart(Vec::new());
    assert_eq!(
        origin_of(&node),
        origin,
        "the app's origin survives a restart"
    );
    let session = node.call_with(
        "GET",
        "/v1/session",
        None::<&()>,
        &[("Cookie", &cookie), ("X-Handbill-Key", &key)],
    );
    assert_eq!(
        session.status, 200,
        "the session survives a restart: {:?}",
        session.body
    );
    let cookie_only = node.call_with("GET", "/v1/session", None::<&()>, &[("Cookie", &cookie)]);
    assert_eq!(
        (
            cookie_only.status,
            cookie_only.body["error"]["code"].as_str()
        ),
        (403, Some("session_key")),
        "the cookie alone (which every local port receives) opens nothing"
    );

    let post = serde_json::json!({"kind": "post", "text": "from the app"});
    let as_app = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
    let no_key = node.call_with("POST", "/v1/events", Some(&post), &as_app);
    assert_eq!(
        (no_key.status, no_key.body["error"]["code"].as_str()),
        (403, Some("session_key"))
    );
    let with_key = [
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
        ("X-Handbill-Key", key.as_str()),
    ];
    let posted = node.call_with("POST", "/v1/events", Some(&post), &with_key);
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    let elsewhere = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://127.0.0.1:1"),
        ("X-Handbill-Key", key.as_str()),
    ];
    let forged = node.call_with("POST", "/v1/events", Some(&post), &elsewhere);
    assert_eq!(
        (forged.status, forged.body["error"]["code"].as_str()),
        (403, Some("forbidden_origin"))
    );
    let no_origin = node.call_with(
        "POST",
        "/v1/events",
        Some(&post),
        &[
            ("Cookie", cookie.as_str()),
            ("X-Handbill-Key", key.as_str()),
        ],
    );
    assert_eq!(no_origin.status, 403, "a change needs the app's Origin");

    for (method, path) in [("POST", "/v1/sessions/code"), ("GET", "/v1/sessions")] {
        let body = serde_json::json!({});
        let reply = node.call_with(method, path, (method == "POST").then_some(&body), &with_key);
        assert_eq!(
            (reply.status, reply.body["error"]["code"].as_str()),
            (403, Some("owner_only")),
            "{method} {path} with a browser session"
        );
    }
    let token = format!("Bearer {}", node.api().1);
    let token_from_page = node.call_with(
        "GET",
        "/v1/status",
        None::<&()>,
        &[
            ("Authorization", token.as_str()),
            ("Origin", origin.as_str()),
        ],
    );
    assert_eq!(
        token_from_page.status, 403,
        "the token is refused from any page"
    );
}
