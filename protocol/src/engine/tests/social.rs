//! Notifications, inline mentions, edits, search and id resolution across engines.

use super::*;
use crate::api::{Mine, PublishRequest, TargetId};
use crate::moderation::Mute;
use crate::relations::NotificationKind;
use crate::resolve::ResolveError;

fn post_request(text: &str) -> PublishRequest {
    PublishRequest::Post {
        text: text.into(),
        reply_to: None,
        quote: None,
        tags: Vec::new(),
        mentions: Vec::new(),
        self_labels: Vec::new(),
    }
}

fn publish(net: &mut Net, i: usize, request: PublishRequest) -> VerifiedEvent {
    let e = net.nodes[i]
        .publish_request(request, T0)
        .expect("publish request");
    net.pump();
    e
}

fn profile(net: &mut Net, i: usize, name: &str) {
    publish(
        net,
        i,
        PublishRequest::Profile {
            name: name.into(),
            bio: String::new(),
        },
    );
}

fn reasons(net: &Net, i: usize) -> Vec<NotificationKind> {
    net.nodes[i]
        .notifications(false, None, 50, T0)
        .expect("notifications")
        .items
        .iter()
        .map(|n| n.reason)
        .collect()
}

#[test]
fn replies_mentions_reactions_and_follows_notify_until_read() {
    let mut net = Net::new(2);
    let (alice, bob) = (0, 1);
    net.connect(alice, bob);
    profile(&mut net, alice, "alice");
    net.follow(bob, net.author(alice));
    let post = net.post(alice, "hello");
    publish(
        &mut net,
        bob,
        PublishRequest::Post {
            text: "hi back".into(),
            reply_to: Some(post.id()),
            quote: None,
            tags: Vec::new(),
            mentions: Vec::new(),
            self_labels: Vec::new(),
        },
    );
    // The name is resolved from the profile Bob holds; the mention routes to Alice's topic.
    let mention = publish(&mut net, bob, post_request("thanks @alice, see #rust"));
    match mention.content() {
        Some(Payload::Post(p)) => {
            assert_eq!(p.mentions, vec![net.author(alice)]);
            assert_eq!(p.tags, vec!["rust".to_string()]);
        }
        other => panic!("not a post: {other:?}"),
    }
    publish(
        &mut net,
        bob,
        PublishRequest::Reaction {
            target: post.id(),
            reaction: "+1".into(),
        },
    );
    assert_eq!(
        reasons(&net, alice),
        vec![
            NotificationKind::Reaction,
            NotificationKind::Mention,
            NotificationKind::Reply,
            NotificationKind::Follow,
        ]
    );
    let all = net.nodes[alice].notifications(false, None, 50, T0).unwrap();
    assert_eq!(all.unread, 4);
    assert!(all.items.iter().all(|n| n.unread));
    assert!(reasons(&net, bob).is_empty(), "nobody notifies themselves");
    // Read: nothing unread, everything still listed with --all.
    net.nodes[alice].mark_notifications_read(None).unwrap();
    assert!(reasons(&net, alice).is_empty());
    let everything = net.nodes[alice].notifications(true, None, 50, T0).unwrap();
    assert_eq!((everything.items.len(), everything.unread), (4, 0));
    // A muted author notifies nobody, whatever is stored.
    let bob_id = net.author(bob);
    net.nodes[alice]
        .update_settings(|s| s.moderation.mute(Mute::Author(bob_id)), T0)
        .unwrap();
    assert!(
        net.nodes[alice]
            .notifications(true, None, 50, T0)
            .unwrap()
            .items
            .is_empty()
    );
    let followers = net.nodes[alice].followers().unwrap();
    assert_eq!(followers.followers.len(), 1);
    assert_eq!(followers.followers[0].author, bob_id);
    let alice_id = net.author(alice);
    net.nodes[bob].unfollow(alice_id, T0).unwrap();
    net.pump();
    assert!(net.nodes[alice].followers().unwrap().followers.is_empty());
}

#[test]
fn unknown_and_ambiguous_names_are_errors_that_say_so() {
    let mut net = Net::new(3);
    net.connect(0, 1);
    net.connect(0, 2);
    profile(&mut net, 1, "sam");
    profile(&mut net, 2, "Sam");
    net.follow(0, net.author(1));
    net.follow(0, net.author(2));
    let err = net.nodes[0]
        .publish_request(post_request("hi @sam"), T0)
        .expect_err("ambiguous");
    assert!(
        matches!(&err, CommandError::Resolve(ResolveError::AmbiguousName { candidates, .. }) if candidates.len() == 2),
        "{err}"
    );
    let err = net.nodes[0]
        .publish_request(post_request("hi @nobody"), T0)
        .expect_err("unknown");
    assert!(matches!(
        err,
        CommandError::Resolve(ResolveError::NoSuchName { .. })
    ));
    // Plain ids and prefixes mention directly.
    let full = net.author(1).to_string();
    let e = net.nodes[0]
        .publish_request(post_request(&format!("hi @{}", &full[..17])), T0)
        .expect("a prefix mention");
    assert!(matches!(e.content(), Some(Payload::Post(p)) if p.mentions == vec![net.author(1)]));
}

#[test]
fn an_edit_shows_everywhere_and_a_delete_erases_every_version() {
    let mut net = Net::new(2);
    let (alice, bob) = (0, 1);
    net.connect(alice, bob);
    net.follow(bob, net.author(alice));
    let post = net.post(alice, "frist post");
    let edit = publish(
        &mut net,
        alice,
        PublishRequest::Edit {
            target: post.id(),
            text: "first post".into(),
        },
    );
    let seen = net.nodes[bob].item(&post, T0).unwrap();
    assert_eq!(
        (seen.text.as_deref(), seen.edited),
        (Some("first post"), true)
    );
    let history = net.nodes[bob].history(&edit.id()).unwrap().expect("held");
    assert_eq!(history.post, post.id());
    let texts: Vec<_> = history.versions.iter().map(|v| v.text.clone()).collect();
    assert_eq!(
        texts,
        vec![Some("frist post".into()), Some("first post".into())]
    );
    assert!(history.versions[1].current);
    // Search matches the current text only.
    let found = |net: &Net, i: usize, q: &str| -> Vec<EventId> {
        net.nodes[i]
            .search(q, None, 10, T0)
            .unwrap()
            .items
            .iter()
            .map(|i| i.id)
            .collect()
    };
    assert_eq!(found(&net, bob, "first"), vec![post.id()]);
    assert!(found(&net, bob, "frist").is_empty());
    // Bob cannot edit Alice's post.
    assert!(matches!(
        net.nodes[bob].publish_request(
            PublishRequest::Edit {
                target: post.id(),
                text: "mine now".into()
            },
            T0
        ),
        Err(CommandError::NotYourEvent(_))
    ));
    publish(
        &mut net,
        alice,
        PublishRequest::Delete {
            targets: vec![post.id()],
        },
    );
    for node in [alice, bob] {
        assert_eq!(net.payload(node, &post.id()), None);
        assert_eq!(net.payload(node, &edit.id()), None, "node {node}");
        assert!(found(&net, node, "first").is_empty());
    }
    // The edit replayed later (a peer that missed the delete) comes back without its text.
    let topic = net.author(alice);
    net.nodes[bob].handle_gossip(&alice, &topic, &edit.encode(), T0);
    assert_eq!(net.payload(bob, &edit.id()), None);
}

#[test]
fn an_edit_naming_the_wrong_author_changes_nothing() {
    let mut net = Net::new(2);
    let (alice, mallory) = (0, 1);
    net.connect(alice, mallory);
    net.follow(mallory, net.author(alice));
    net.follow(alice, net.author(mallory));
    let post = net.post(alice, "original");
    let claimed = net.author(mallory);
    // Valid bytes (Mallory names herself as the author) but the post is Alice's.
    let forged = net.nodes[mallory]
        .publish(
            &Payload::Edit(crate::payload::Edit {
                target: EventRef {
                    author: claimed,
                    id: post.id(),
                },
                text: "forged".into(),
                topics: Vec::new(),
            }),
            T0,
        )
        .expect("publish");
    net.pump();
    assert!(net.has(alice, &forged.id()));
    let seen = net.nodes[alice].item(&post, T0).unwrap();
    assert_eq!(
        (seen.text.as_deref(), seen.edited),
        (Some("original"), false)
    );
}

#[test]
fn short_ids_resolve_among_held_events() {
    let mut net = Net::new(1);
    let post = net.post(0, "hello");
    let text = post.id().to_string();
    let short = &text[8..16];
    assert_eq!(net.nodes[0].resolve_event(short), Ok(post.id()));
    assert_eq!(net.nodes[0].resolve_event(&text[..16]), Ok(post.id()));
    assert!(matches!(
        net.nodes[0].resolve_event("qqqqqqqq"),
        Err(CommandError::Resolve(ResolveError::NotFound { .. }))
    ));
}

#[test]
fn a_strangers_forged_edits_cannot_crowd_out_the_authors() {
    let mut net = Net::new(2);
    let (alice, mallory) = (0, 1);
    net.connect(alice, mallory);
    net.follow(alice, net.author(mallory));
    net.follow(mallory, net.author(alice));
    let post = net.post(alice, "original");
    publish(
        &mut net,
        alice,
        PublishRequest::Edit {
            target: post.id(),
            text: "the real edit".into(),
        },
    );
    let claimed = net.author(mallory);
    let alice_topic = net.author(alice);
    for i in 0..EDITS_READ_MAX + 5 {
        net.nodes[mallory]
            .publish(
                &Payload::Edit(crate::payload::Edit {
                    target: EventRef {
                        author: claimed,
                        id: post.id(),
                    },
                    text: format!("forged {i}"),
                    topics: vec![alice_topic],
                }),
                T0,
            )
            .expect("publish");
    }
    net.pump();
    let seen = net.nodes[alice].item(&post, T0).unwrap();
    assert_eq!(
        (seen.text.as_deref(), seen.edited),
        (Some("the real edit"), true)
    );
    let history = net.nodes[alice].history(&post.id()).unwrap().unwrap();
    assert_eq!(history.versions.len(), 2);
}

#[test]
fn a_delete_erases_edits_of_a_post_not_held() {
    let mut net = Net::new(2);
    let (alice, carol) = (0, 1);
    let post = net.post(alice, "old post");
    let edit = publish(
        &mut net,
        alice,
        PublishRequest::Edit {
            target: post.id(),
            text: "old post, edited".into(),
        },
    );
    let delete = publish(
        &mut net,
        alice,
        PublishRequest::Delete {
            targets: vec![post.id()],
        },
    );
    // Carol follows Alice but is not connected: she hears the edit and then the delete
    // (as gossip relayed by someone), and never held the post.
    let topic = net.author(alice);
    net.follow(carol, topic);
    for e in [&edit, &delete] {
        net.nodes[carol].handle_gossip(&alice, &topic, &e.encode(), T0);
    }
    assert!(net.has(carol, &edit.id()));
    assert_eq!(net.payload(carol, &edit.id()), None);
}

#[test]
fn an_edited_post_is_still_found_by_its_tags_and_not_by_old_words() {
    let mut net = Net::new(1);
    let post = publish(&mut net, 0, post_request("teh #rust news"));
    publish(
        &mut net,
        0,
        PublishRequest::Edit {
            target: post.id(),
            text: "the news".into(),
        },
    );
    let found = |q: &str| net.nodes[0].search(q, None, 10, T0).unwrap().items.len();
    assert_eq!(found("#rust"), 1);
    assert_eq!(found("news"), 1);
    assert_eq!(found("teh"), 0);
}

#[test]
fn a_label_item_names_what_it_labels_so_a_client_can_recheck_it() {
    let mut net = Net::new(1);
    let post = net.post(0, "a post");
    let label = net.label(0, &post, "spam");
    let item = net.nodes[0].item(&label, T0).unwrap();
    assert_eq!(
        (item.kind.as_str(), item.target, item.labelled_author),
        ("label", Some(post.id()), Some(post.author()))
    );
    let whole_author = publish(
        &mut net,
        0,
        PublishRequest::Label {
            target: TargetId::Author(post.author()),
            value: "spam".into(),
            reason: None,
            expires_at: None,
            negate: false,
        },
    );
    let item = net.nodes[0].item(&whole_author, T0).unwrap();
    assert_eq!(
        (item.target, item.labelled_author),
        (None, Some(post.author()))
    );
    let post_item = net.nodes[0].item(&post, T0).unwrap();
    assert_eq!(post_item.labelled_author, None);
}

#[test]
fn an_item_names_the_viewers_own_reactions_and_reposts_until_they_are_deleted() {
    let mut net = Net::new(2);
    let (alice, bob) = (0, 1);
    net.connect(alice, bob);
    net.follow(bob, net.author(alice));
    let post = net.post(alice, "like me");
    let reaction = publish(
        &mut net,
        bob,
        PublishRequest::Reaction {
            target: post.id(),
            reaction: "❤️".into(),
        },
    );
    let repost = publish(&mut net, bob, PublishRequest::Repost { target: post.id() });
    let seen = net.nodes[bob].item(&post, T0).unwrap();
    assert_eq!(
        (seen.mine.reactions.clone(), seen.mine.reposts.clone()),
        (vec![reaction.id()], vec![repost.id()])
    );
    assert_eq!(
        net.nodes[alice].item(&post, T0).unwrap().mine,
        Mine::default(),
        "Bob's reactions are not Alice's"
    );
    publish(
        &mut net,
        bob,
        PublishRequest::Delete {
            targets: vec![reaction.id()],
        },
    );
    let seen = net.nodes[bob].item(&post, T0).unwrap();
    assert_eq!((seen.mine.reactions.len(), seen.mine.reposts.len()), (0, 1));
    assert_eq!(seen.counts.reactions, 0);
}
