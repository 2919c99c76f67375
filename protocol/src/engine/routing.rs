//! Routing: the gossip topics an event travels on, decided from its bytes alone.
//!
//! An event is published on its author's topic and on the topic of every author it names
//! (replied to, quoted, mentioned, reposted, reacted to, followed, or named by a delete), so
//! the people concerned receive it without following its author. Because the rule needs
//! nothing but the event, every node can check that a gossip message came on a topic it
//! belongs to ([`route`]) and refuse the rest: a stranger cannot push events onto someone's
//! topic that do not concern them.
//!
//! Changing the rule later: a topic name carries the protocol version (`handbill/1/author/…`).
//! A new routing rule for a *known* kind would make old nodes reject honest messages, so it
//! comes with a new topic version that new nodes publish on alongside the old one until old
//! nodes are gone. A new *kind* needs no new version: old nodes cannot decode it, so they
//! ignore it on other authors' topics without penalty (see [`Route::Unknowable`]).

use crate::id::AuthorId;
use crate::payload::Payload;
use crate::validate::VerifiedEvent;

/// The authors on whose topics an event is published: its author, then everyone it refers to.
pub fn topics_for(event: &VerifiedEvent) -> Vec<AuthorId> {
    topics_of(event.author(), event.content())
}

/// [`topics_for`] from an author and a decoded payload (the payload may be absent, as in a
/// header-only copy; then only the author's topic is known).
pub fn topics_of(author: AuthorId, content: Option<&Payload>) -> Vec<AuthorId> {
    let mut topics = vec![author];
    let mut add = |a: AuthorId| {
        if !topics.contains(&a) {
            topics.push(a);
        }
    };
    match content {
        Some(Payload::Post(p)) => {
            if let Some(reply) = &p.reply {
                add(reply.parent.author);
                add(reply.root.author);
            }
            if let Some(quote) = &p.quote {
                add(quote.author);
            }
            for m in &p.mentions {
                add(*m);
            }
        }
        Some(Payload::Repost(r)) => add(r.target.author),
        Some(Payload::Reaction(r)) => add(r.target.author),
        // The followed author learns of new followers (and of their leaving).
        Some(Payload::Follow(f)) => add(f.author),
        Some(Payload::Unfollow(f)) => add(f.author),
        // An edit reaches everyone the post reached: the post's author is its own author (the
        // rule of validity), the rest it names.
        Some(Payload::Edit(e)) => {
            for a in &e.topics {
                add(*a);
            }
        }
        Some(Payload::Delete(d) | Payload::DeleteV1(d)) => {
            for target in &d.targets {
                for a in &target.topics {
                    add(*a);
                }
            }
        }
        _ => {}
    }
    topics
}

/// Whether a gossip message belongs on the topic it arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The event's routing includes the topic's author.
    OnTopic,
    /// A known kind whose routing does not include the topic's author: the sender broke the
    /// protocol (or forwarded for someone who did).
    OffTopic,
    /// Not decidable here: an unknown kind, or a header without its payload, on a topic other
    /// than its author's. Never grounds for a penalty, since a newer node may route it there.
    Unknowable,
}

/// Decides whether an event by `author` with `content` (`None` when the payload is absent or
/// of a kind this build does not know) belongs on `topic`.
pub fn route(topic: &AuthorId, author: AuthorId, content: Option<&Payload>) -> Route {
    if *topic == author {
        return Route::OnTopic;
    }
    match content {
        None | Some(Payload::Unknown(_)) => Route::Unknowable,
        Some(_) if topics_of(author, content).contains(topic) => Route::OnTopic,
        Some(_) => Route::OffTopic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::EventId;
    use crate::payload::{Delete, DeleteTarget, EventRef, Follow, Kind, Post, ReplyRef};

    const ALICE: AuthorId = AuthorId([1; 32]);
    const BOB: AuthorId = AuthorId([2; 32]);
    const CAROL: AuthorId = AuthorId([3; 32]);

    fn reply_to(author: AuthorId) -> Payload {
        let r = EventRef {
            author,
            id: EventId([9; 32]),
        };
        Payload::Post(Post {
            text: "hi".into(),
            reply: Some(ReplyRef { root: r, parent: r }),
            ..Post::default()
        })
    }

    #[test]
    fn an_event_belongs_on_its_authors_topic_and_on_those_it_names() {
        let reply = reply_to(ALICE);
        assert_eq!(route(&BOB, BOB, Some(&reply)), Route::OnTopic);
        assert_eq!(route(&ALICE, BOB, Some(&reply)), Route::OnTopic);
        assert_eq!(route(&CAROL, BOB, Some(&reply)), Route::OffTopic);
    }

    #[test]
    fn follows_and_deletes_travel_to_the_authors_they_name() {
        let follow = Payload::Follow(Follow { author: ALICE });
        assert_eq!(route(&ALICE, BOB, Some(&follow)), Route::OnTopic);
        let delete = Payload::Delete(Delete {
            targets: vec![DeleteTarget {
                id: EventId([9; 32]),
                topics: vec![ALICE],
            }],
        });
        assert_eq!(topics_of(BOB, Some(&delete)), vec![BOB, ALICE]);
        assert_eq!(route(&CAROL, BOB, Some(&delete)), Route::OffTopic);
    }

    #[test]
    fn unknown_kinds_and_bare_headers_are_never_judged_off_topic() {
        let unknown = Payload::Unknown(Kind(999));
        assert_eq!(route(&ALICE, BOB, Some(&unknown)), Route::Unknowable);
        assert_eq!(route(&ALICE, BOB, None), Route::Unknowable);
        assert_eq!(route(&BOB, BOB, None), Route::OnTopic);
    }
}
