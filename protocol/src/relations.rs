//! How events point at other events and at people: the references a store indexes (for counts,
//! quotes and edit history) and the events that notify the node's own author.

use crate::id::{AuthorId, EventId};
use crate::payload::{LabelTarget, Payload};
use crate::validate::VerifiedEvent;
use serde::{Deserialize, Serialize};

/// How one event refers to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// A post replying to it (its direct parent).
    Reply,
    /// A post quoting it.
    Quote,
    /// A repost of it.
    Repost,
    /// A reaction to it.
    Reaction,
    /// An edit of it (valid only when by its author: see [`crate::payload::Edit`]).
    Edit,
}

impl Relation {
    /// Every relation, in code order.
    pub const ALL: [Relation; 5] = [
        Relation::Reply,
        Relation::Quote,
        Relation::Repost,
        Relation::Reaction,
        Relation::Edit,
    ];

    /// A one-byte code for store keys. Stable: stores on disk hold it.
    pub fn code(self) -> u8 {
        match self {
            Relation::Reply => 1,
            Relation::Quote => 2,
            Relation::Repost => 3,
            Relation::Reaction => 4,
            Relation::Edit => 5,
        }
    }
}

/// The events `event` refers to, each with how. Only a held payload refers to anything.
pub fn references_of(event: &VerifiedEvent) -> Vec<(Relation, EventId)> {
    let mut refs = Vec::new();
    match event.content() {
        Some(Payload::Post(p)) => {
            if let Some(reply) = p.reply {
                refs.push((Relation::Reply, reply.parent.id));
            }
            if let Some(quote) = p.quote {
                refs.push((Relation::Quote, quote.id));
            }
        }
        Some(Payload::Repost(r)) => refs.push((Relation::Repost, r.target.id)),
        Some(Payload::Reaction(r)) => refs.push((Relation::Reaction, r.target.id)),
        Some(Payload::Edit(e)) => refs.push((Relation::Edit, e.target.id)),
        _ => {}
    }
    refs
}

/// Why an event notifies the node's author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A reply to one of my posts (or in a thread I started).
    Reply,
    /// A post that mentions me.
    Mention,
    /// A post that quotes mine.
    Quote,
    /// A repost of mine.
    Repost,
    /// A reaction to mine.
    Reaction,
    /// Someone followed me.
    Follow,
    /// Someone stopped following me (kept for the followers list, not shown as a notification).
    Unfollow,
    /// A feed I subscribe to labelled me or one of my events.
    Label,
}

impl NotificationKind {
    /// Whether this kind is shown among notifications (an unfollow only updates followers).
    pub fn is_shown(self) -> bool {
        self != NotificationKind::Unfollow
    }
}

/// Whether `event` notifies `me`, and why. Nobody notifies themselves. A label notifies only
/// when `is_subscribed_feed` says its author is a feed I subscribe to.
pub fn notification_of(
    event: &VerifiedEvent,
    me: &AuthorId,
    is_subscribed_feed: impl Fn(&AuthorId) -> bool,
) -> Option<NotificationKind> {
    if event.author() == *me {
        return None;
    }
    match event.content()? {
        Payload::Post(p) => {
            if p.reply
                .is_some_and(|r| r.parent.author == *me || r.root.author == *me)
            {
                Some(NotificationKind::Reply)
            } else if p.mentions.contains(me) {
                Some(NotificationKind::Mention)
            } else if p.quote.is_some_and(|q| q.author == *me) {
                Some(NotificationKind::Quote)
            } else {
                None
            }
        }
        Payload::Repost(r) => (r.target.author == *me).then_some(NotificationKind::Repost),
        Payload::Reaction(r) => (r.target.author == *me).then_some(NotificationKind::Reaction),
        Payload::Follow(f) => (f.author == *me).then_some(NotificationKind::Follow),
        Payload::Unfollow(f) => (f.author == *me).then_some(NotificationKind::Unfollow),
        Payload::Label(l) => {
            let about_me = match l.target {
                LabelTarget::Event(r) => r.author == *me,
                LabelTarget::Author(a) => a == *me,
            };
            (about_me && !l.negate && is_subscribed_feed(&event.author()))
                .then_some(NotificationKind::Label)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{EventRef, Follow, Post, Reaction, ReplyRef};
    use crate::signature::AuthorKey;
    use crate::time::Timestamp;
    use crate::validate::sign_next;

    fn event(key: &AuthorKey, payload: Payload) -> VerifiedEvent {
        sign_next(key, None, Timestamp(1), &payload).expect("a valid event")
    }

    #[test]
    fn replies_mentions_reactions_and_follows_notify_their_subject_only() {
        let me = AuthorKey::from_secret_bytes(&[1; 32]);
        let bob = AuthorKey::from_secret_bytes(&[2; 32]);
        let mine = EventRef {
            author: me.author(),
            id: EventId([9; 32]),
        };
        let reply = event(
            &bob,
            Payload::Post(Post {
                text: "hi".into(),
                reply: Some(ReplyRef {
                    root: mine,
                    parent: mine,
                }),
                ..Post::default()
            }),
        );
        let mention = event(
            &bob,
            Payload::Post(Post {
                text: "hi".into(),
                mentions: vec![me.author()],
                ..Post::default()
            }),
        );
        let reaction = event(
            &bob,
            Payload::Reaction(Reaction {
                target: mine,
                reaction: "+1".into(),
            }),
        );
        let follow = event(
            &bob,
            Payload::Follow(Follow {
                author: me.author(),
            }),
        );
        let no = |_: &AuthorId| false;
        let me_id = me.author();
        assert_eq!(
            notification_of(&reply, &me_id, no),
            Some(NotificationKind::Reply)
        );
        assert_eq!(
            notification_of(&mention, &me_id, no),
            Some(NotificationKind::Mention)
        );
        assert_eq!(
            notification_of(&reaction, &me_id, no),
            Some(NotificationKind::Reaction)
        );
        assert_eq!(
            notification_of(&follow, &me_id, no),
            Some(NotificationKind::Follow)
        );
        // Bob is not notified by his own events, nor a third party by any of them.
        let carol = AuthorKey::from_secret_bytes(&[3; 32]).author();
        for e in [&reply, &mention, &reaction, &follow] {
            assert_eq!(notification_of(e, &bob.author(), no), None);
            assert_eq!(notification_of(e, &carol, no), None);
        }
        assert_eq!(
            references_of(&reply),
            vec![(Relation::Reply, EventId([9; 32]))]
        );
        assert_eq!(
            references_of(&reaction),
            vec![(Relation::Reaction, EventId([9; 32]))]
        );
    }

    #[test]
    fn labels_notify_only_from_subscribed_feeds_and_not_when_negated() {
        use crate::payload::Label;
        let me = AuthorKey::from_secret_bytes(&[1; 32]).author();
        let feed = AuthorKey::from_secret_bytes(&[4; 32]);
        let label = |negate| {
            event(
                &feed,
                Payload::Label(Label {
                    target: LabelTarget::Event(EventRef {
                        author: me,
                        id: EventId([9; 32]),
                    }),
                    value: "spoiler".into(),
                    reason: None,
                    expires_at: None,
                    negate,
                }),
            )
        };
        let subscribed = |a: &AuthorId| *a == feed.author();
        assert_eq!(
            notification_of(&label(false), &me, subscribed),
            Some(NotificationKind::Label)
        );
        assert_eq!(notification_of(&label(false), &me, |_| false), None);
        assert_eq!(notification_of(&label(true), &me, subscribed), None);
    }
}
