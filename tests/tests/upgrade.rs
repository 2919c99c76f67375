//! A node upgraded in place keeps its data: a home written by the code before the store had a
//! format version (commit 18a793d; how the fixture was made is in tests/fixtures/README.md)
//! opens, migrates, and behaves as it did, deletions included.

use handbill_node::network::topic;
use handbill_protocol::api::AuthorView;
use handbill_protocol::payload::{Delete, Follow, Post};
use handbill_protocol::{AuthorKey, Payload, Timestamp, sign_next};
use handbill_tests::hostile::HostilePeer;
use handbill_tests::{Node, wait_for};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn post(text: &str) -> Payload {
    Payload::Post(Post {
        text: text.into(),
        ..Post::default()
    })
}

fn unpack_fixture(into: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/home-v1.tar.gz");
    std::fs::create_dir_all(into).unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&fixture)
        .arg("-C")
        .arg(into)
        .status()
        .expect("running tar");
    assert!(status.success(), "unpacking {}", fixture.display());
    std::fs::set_permissions(
        into.join("author.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(into, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_store_written_before_format_versions_opens_migrates_and_keeps_its_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("alice");
    unpack_fixture(&home);
    let alice = Node::start_with(home, vec!["--no-discover".into()]);

    // The same keys, clock and contents as the fixture's generator, so the ids match.
    let alice_key = AuthorKey::from_secret_bytes(&[0xA1; 32]);
    let bob = AuthorKey::from_secret_bytes(&[0xB0; 32]);
    let t = Timestamp(1_767_225_600_000);
    assert_eq!(alice.author(), alice_key.author());
    let regret = sign_next(&bob, None, t, &post("bob's regret")).unwrap();
    let bob_delete = sign_next(
        &bob,
        Some(&regret.head()),
        t,
        &Payload::DeleteV1(Delete::of([regret.id()])),
    )
    .unwrap();
    let kept = sign_next(&bob, Some(&bob_delete.head()), t, &post("bob stays")).unwrap();
    let follow = sign_next(
        &alice_key,
        None,
        t,
        &Payload::Follow(Follow {
            author: bob.author(),
        }),
    )
    .unwrap();
    let first = sign_next(&alice_key, Some(&follow.head()), t, &post("first")).unwrap();

    // Everything the old node held is there: its own log of four, Bob's two.
    let own: AuthorView = alice.get(&format!("/v1/authors/{}", alice.author()));
    assert_eq!((own.contiguous, own.highest), (4, 4));
    assert_eq!(
        alice.event(&kept.id()).and_then(|i| i.text).as_deref(),
        Some("bob stays")
    );
    assert!(alice.event(&bob_delete.id()).is_some());

    // Bob's delete arrived before his post; the old tombstone still holds after migration.
    let hostile = HostilePeer::start();
    hostile.dial(&alice.addr().parse().unwrap());
    assert!(hostile.join(
        &topic(&bob.author()),
        alice.status().peer_id.parse().unwrap()
    ));
    hostile
        .publish(&topic(&bob.author()), regret.encode())
        .unwrap();
    let item = alice.wait_for_event(&regret.id());
    assert_eq!(item.text, None, "a migrated tombstone let the text back");
    // Alice's own "first" was deleted while held, which the old layout recorded nowhere but
    // in the delete event itself: its replay must not bring the text back either.
    assert_eq!(alice.event(&first.id()).map(|i| i.text), Some(None));
    assert!(hostile.join(
        &topic(&alice.author()),
        alice.status().peer_id.parse().unwrap()
    ));
    hostile
        .publish(&topic(&alice.author()), first.encode())
        .unwrap();
    // A fresh event behind the replay marks when it has been handled.
    let marker = sign_next(&bob, Some(&kept.head()), t, &post("marker")).unwrap();
    hostile
        .publish(&topic(&bob.author()), marker.encode())
        .unwrap();
    alice.wait_for_event(&marker.id());
    assert_eq!(
        alice.event(&first.id()).map(|i| i.text),
        Some(None),
        "the replay restored a deleted post"
    );

    // The node goes on from where its log ends.
    let next = alice.post_text("after the upgrade");
    let item = alice.wait_for_event(&next);
    assert_eq!(item.seq, 5);
    wait_for("a clean status", || {
        alice.status().forks.is_empty().then_some(())
    });
}
