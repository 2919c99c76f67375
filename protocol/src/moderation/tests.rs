//! Evaluation rules, one behaviour per test.

use super::*;
use crate::payload::{
    EventRef, Label, LabelDefinition, LabelTarget, LabelerDeclaration, Post, Severity,
};
use crate::signature::AuthorKey;
use crate::validate::sign_next;

const NOW: Timestamp = Timestamp(1_750_000_000_000);

struct World {
    author: AuthorKey,
    feed: AuthorKey,
    labels: LabelIndex,
    feed_seq: u64,
}

impl World {
    fn new() -> World {
        World {
            author: AuthorKey::from_secret_bytes(&[1; 32]),
            feed: AuthorKey::from_secret_bytes(&[2; 32]),
            labels: LabelIndex::new(),
            feed_seq: 0,
        }
    }

    fn post(&self, text: &str, tags: &[&str], self_labels: &[&str]) -> VerifiedEvent {
        let post = Post {
            text: text.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            self_labels: self_labels.iter().map(|t| t.to_string()).collect(),
            ..Post::default()
        };
        sign_next(&self.author, None, NOW, &Payload::Post(post)).unwrap()
    }

    fn label(&mut self, target: LabelTarget, value: &str, negate: bool) {
        self.feed_seq += 1;
        let label = Label {
            target,
            value: value.into(),
            reason: Some("because".into()),
            expires_at: None,
            negate,
        };
        self.labels.apply(
            self.feed.author(),
            self.feed_seq,
            EventId([self.feed_seq as u8; 32]),
            &label,
        );
    }

    fn label_post(&mut self, event: &VerifiedEvent, value: &str) {
        let target = LabelTarget::Event(EventRef {
            author: event.author(),
            id: event.id(),
        });
        self.label(target, value, false);
    }

    fn subscribed(&self) -> Preferences {
        let mut prefs = Preferences::default();
        prefs.feeds.insert(
            self.feed.author(),
            FeedSubscription {
                declaration: Some(LabelerDeclaration {
                    name: "Safety".into(),
                    description: String::new(),
                    labels: vec![
                        LabelDefinition {
                            value: "violence".into(),
                            severity: Severity::High,
                            default_action: Action::Hide,
                            description: String::new(),
                        },
                        LabelDefinition {
                            value: "satire".into(),
                            severity: Severity::Low,
                            default_action: Action::Show,
                            description: String::new(),
                        },
                    ],
                }),
                overrides: BTreeMap::new(),
            },
        );
        prefs
    }
}

#[test]
fn nothing_applies_shows() {
    let w = World::new();
    let v = evaluate(&w.post("hi", &[], &[]), &w.subscribed(), &w.labels, NOW);
    assert_eq!(v, Verdict::show());
}

#[test]
fn feed_default_hides_and_names_feed_and_label() {
    let mut w = World::new();
    let post = w.post("hi", &[], &[]);
    w.label_post(&post, "violence");
    let v = evaluate(&post, &w.subscribed(), &w.labels, NOW);
    assert_eq!(v.action, Action::Hide);
    match &v.reasons[..] {
        [
            Reason::Label {
                feed,
                feed_name,
                value,
                scope,
                action,
                ..
            },
        ] => {
            assert_eq!(*feed, w.feed.author());
            assert_eq!(feed_name.as_deref(), Some("Safety"));
            assert_eq!(value, "violence");
            assert_eq!(*scope, LabelScope::Event);
            assert_eq!(*action, Action::Hide);
        }
        other => panic!("unexpected reasons {other:?}"),
    }
    assert!(v.reasons[0].describe().contains("Safety"));
}

#[test]
fn unsubscribed_viewer_sees_it() {
    let mut w = World::new();
    let post = w.post("hi", &[], &[]);
    w.label_post(&post, "violence");
    assert_eq!(
        evaluate(&post, &Preferences::default(), &w.labels, NOW),
        Verdict::show()
    );
}

#[test]
fn subscriber_override_beats_feed_default() {
    let mut w = World::new();
    let post = w.post("hi", &[], &[]);
    w.label_post(&post, "violence");
    w.label_post(&post, "satire");
    let mut prefs = w.subscribed();
    let sub = prefs.feeds.get_mut(&w.feed.author()).unwrap();
    sub.overrides.insert("violence".into(), Action::Warn);
    sub.overrides.insert("satire".into(), Action::Hide);
    let v = evaluate(&post, &prefs, &w.labels, NOW);
    assert_eq!(v.action, Action::Hide);
    let actions: Vec<_> = v.reasons.iter().map(Reason::action).collect();
    assert_eq!(actions, vec![Action::Hide, Action::Warn]); // satire, violence: sorted by value
}

#[test]
fn undeclared_label_warns() {
    let mut w = World::new();
    let post = w.post("hi", &[], &[]);
    w.label_post(&post, "misleading");
    assert_eq!(
        evaluate(&post, &w.subscribed(), &w.labels, NOW).action,
        Action::Warn
    );
}

#[test]
fn negation_and_expiry_lift_labels() {
    let mut w = World::new();
    let post = w.post("hi", &[], &[]);
    let target = LabelTarget::Event(EventRef {
        author: post.author(),
        id: post.id(),
    });
    w.label(target, "violence", false);
    w.label(target, "violence", true);
    assert_eq!(
        evaluate(&post, &w.subscribed(), &w.labels, NOW),
        Verdict::show()
    );

    let mut w = World::new();
    let post = w.post("hi", &[], &[]);
    let label = Label {
        target: LabelTarget::Event(EventRef {
            author: post.author(),
            id: post.id(),
        }),
        value: "violence".into(),
        reason: None,
        expires_at: Some(NOW),
        negate: false,
    };
    w.labels.apply(w.feed.author(), 1, EventId([1; 32]), &label);
    let before = Timestamp(NOW.0 - 1);
    assert_eq!(
        evaluate(&post, &w.subscribed(), &w.labels, before).action,
        Action::Hide
    );
    assert_eq!(
        evaluate(&post, &w.subscribed(), &w.labels, NOW).action,
        Action::Show
    );
}

#[test]
fn author_labels_apply_to_every_post() {
    let mut w = World::new();
    let post = w.post("hi", &[], &[]);
    w.label(LabelTarget::Author(w.author.author()), "violence", false);
    let v = evaluate(&post, &w.subscribed(), &w.labels, NOW);
    assert_eq!(v.action, Action::Hide);
    assert!(matches!(
        v.reasons[0],
        Reason::Label {
            scope: LabelScope::Author,
            ..
        }
    ));
}

#[test]
fn followed_override_softens_feed_hides_but_not_own_mutes() {
    let mut w = World::new();
    let post = w.post("a bad word here", &[], &[]);
    w.label_post(&post, "violence");
    let mut prefs = w.subscribed();
    prefs.follows.insert(w.author.author());
    prefs.always_show_followed = true;
    let v = evaluate(&post, &prefs, &w.labels, NOW);
    assert_eq!(v.action, Action::Warn);
    assert!(matches!(
        v.reasons.last(),
        Some(Reason::FollowedOverride { .. })
    ));

    prefs.muted_words.insert("BAD".into());
    assert_eq!(evaluate(&post, &prefs, &w.labels, NOW).action, Action::Hide);

    prefs.muted_words.clear();
    prefs.always_show_followed = false;
    assert_eq!(evaluate(&post, &prefs, &w.labels, NOW).action, Action::Hide);
}

#[test]
fn own_posts_are_never_hidden_by_others() {
    let mut w = World::new();
    let post = w.post("hi", &[], &[]);
    w.label_post(&post, "violence");
    let mut prefs = w.subscribed();
    prefs.viewer = Some(w.author.author());
    assert_eq!(evaluate(&post, &prefs, &w.labels, NOW).action, Action::Warn);
}

#[test]
fn muted_words_match_whole_words_case_insensitively() {
    let w = World::new();
    let mut prefs = Preferences::default();
    prefs.muted_words.insert("Spoiler".into());
    let hit = w.post("big SPOILER: it ends", &[], &[]);
    let miss = w.post("spoilers are fine, spoilerific too", &[], &[]);
    let v = evaluate(&hit, &prefs, &w.labels, NOW);
    assert_eq!(v.action, Action::Hide);
    assert_eq!(
        v.reasons,
        vec![Reason::MutedWord {
            word: "Spoiler".into(),
            action: Action::Hide
        }]
    );
    assert_eq!(evaluate(&miss, &prefs, &w.labels, NOW), Verdict::show());
    prefs.muted_words.insert("ends".into());
    assert_eq!(evaluate(&miss, &prefs, &w.labels, NOW), Verdict::show());
}

#[test]
fn muted_tags_and_authors_hide() {
    let w = World::new();
    let mut prefs = Preferences::default();
    prefs.muted_tags.insert("Politics".into());
    assert_eq!(
        evaluate(&w.post("x", &["politics"], &[]), &prefs, &w.labels, NOW).action,
        Action::Hide
    );
    assert_eq!(
        evaluate(&w.post("x", &["rust"], &[]), &prefs, &w.labels, NOW).action,
        Action::Show
    );
    prefs.muted_authors.insert(w.author.author());
    let v = evaluate(&w.post("x", &["rust"], &[]), &prefs, &w.labels, NOW);
    assert_eq!(
        v.reasons,
        vec![Reason::MutedAuthor {
            author: w.author.author(),
            action: Action::Hide
        }]
    );
}

#[test]
fn mute_and_block_lists_hide_curate_lists_do_not() {
    let w = World::new();
    let owner = AuthorId([7; 32]);
    let mut prefs = Preferences::default();
    let mut list = SubscribedList {
        id: ListId::derive(&owner, "reads"),
        owner,
        name: "reads".into(),
        purpose: ListPurpose::Curate,
        members: [w.author.author()].into(),
    };
    prefs.lists.insert(list.id, list.clone());
    let post = w.post("x", &[], &[]);
    assert_eq!(evaluate(&post, &prefs, &w.labels, NOW), Verdict::show());
    list.purpose = ListPurpose::Mute;
    prefs.lists.insert(list.id, list);
    let v = evaluate(&post, &prefs, &w.labels, NOW);
    assert_eq!(v.action, Action::Hide);
    assert!(matches!(&v.reasons[0], Reason::List { name, .. } if name == "reads"));
}

#[test]
fn self_labels_warn_by_default_and_follow_the_viewers_mapping() {
    let w = World::new();
    let post = w.post("x", &[], &["spoiler"]);
    let mut prefs = Preferences::default();
    assert_eq!(evaluate(&post, &prefs, &w.labels, NOW).action, Action::Warn);
    prefs
        .self_label_actions
        .insert("spoiler".into(), Action::Show);
    let v = evaluate(&post, &prefs, &w.labels, NOW);
    assert_eq!(v.action, Action::Show);
    assert_eq!(v.reasons.len(), 1);
}

#[test]
fn list_from_event_derives_its_id() {
    let owner = AuthorKey::from_secret_bytes(&[3; 32]);
    let event = sign_next(
        &owner,
        None,
        NOW,
        &Payload::List(crate::payload::List {
            name: "spam".into(),
            description: String::new(),
            purpose: ListPurpose::Block,
            members: vec![AuthorId([1; 32])],
        }),
    )
    .unwrap();
    let list = SubscribedList::from_event(&event).unwrap();
    assert_eq!(list.id, ListId::derive(&owner.author(), "spam"));
    assert!(list.members.contains(&AuthorId([1; 32])));
}

#[test]
fn verdict_serializes_for_clients() {
    let v = Verdict {
        action: Action::Warn,
        reasons: vec![Reason::SelfLabel {
            value: "nsfw".into(),
            action: Action::Warn,
        }],
    };
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["action"], "warn");
    assert_eq!(json["reasons"][0]["type"], "self_label");
}

#[test]
fn a_mute_request_names_exactly_one_thing_normalised_as_matching_compares() {
    use crate::api::MuteRequest;
    use crate::moderation::{Mute, MuteError};
    let tag = MuteRequest {
        tag: Some("#Spoilers".into()),
        ..MuteRequest::default()
    };
    assert_eq!(tag.target(), Ok(Mute::Tag("spoilers".into())));
    let word = MuteRequest {
        word: Some("Ends".into()),
        ..MuteRequest::default()
    };
    assert_eq!(word.target(), Ok(Mute::Word("ends".into())));
    let mut prefs = Preferences::default();
    prefs.mute(tag.target().unwrap());
    assert!(prefs.muted_tags.contains("spoilers"));
    prefs.unmute(&tag.target().unwrap());
    assert!(prefs.muted_tags.is_empty());
    assert_eq!(
        MuteRequest::default().target(),
        Err(MuteError::NotExactlyOne)
    );
    let both = MuteRequest {
        word: Some("a".into()),
        tag: Some("b".into()),
        ..MuteRequest::default()
    };
    assert_eq!(both.target(), Err(MuteError::NotExactlyOne));
}
