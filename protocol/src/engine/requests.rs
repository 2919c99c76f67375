//! Publish requests as clients send them (`api::PublishRequest`), turned into payloads: the
//! events they refer to looked up (their authors route the new event), a reply's root found,
//! tags normalised, inline `@mentions` and `#tags` in a post's text added to its own. Every
//! client (CLI, browser, scripts) gets the same rules.

use super::{CommandError, Engine};
use crate::api::{PublishRequest, TargetId};
use crate::id::EventId;
use crate::inline::MentionText;
use crate::payload::{
    Delete, Edit, EventRef, Label, LabelTarget, LabelerDeclaration, List, Payload, Post, Profile,
    Reaction, ReplyRef, Repost,
};
use crate::store::Store;
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// Builds the payload `request` asks for and publishes it (see [`Engine::publish`]).
    pub fn publish_request(
        &mut self,
        request: PublishRequest,
        now: Timestamp,
    ) -> Result<VerifiedEvent, CommandError> {
        let payload = self.payload_for(request)?;
        self.publish(&payload, now)
    }

    /// The payload a request asks for, with its references resolved against the store.
    pub fn payload_for(&self, request: PublishRequest) -> Result<Payload, CommandError> {
        Ok(match request {
            PublishRequest::Post {
                text,
                reply_to,
                quote,
                tags,
                mentions,
                self_labels,
            } => {
                let inline = crate::inline::parse(&text);
                let mut tags: Vec<String> = tags
                    .into_iter()
                    .map(|t| t.trim_start_matches('#').to_string())
                    .collect();
                // Inline tags fill up to the limit; the text keeps the rest as written.
                for tag in inline.tags {
                    if tags.len() < crate::limits::POST_TAGS_MAX
                        && !tags.iter().any(|t| t.eq_ignore_ascii_case(&tag))
                    {
                        tags.push(tag);
                    }
                }
                let mut mentions = mentions;
                for written in &inline.mentions {
                    let author = match written {
                        MentionText::Name(name) => self.author_named(name)?,
                        MentionText::Id(text) => self.resolve_author(text)?,
                    };
                    if author != self.me && !mentions.contains(&author) {
                        mentions.push(author);
                    }
                }
                Payload::Post(Post {
                    text,
                    reply: reply_to.map(|id| self.reply_to(id)).transpose()?,
                    quote: quote.map(|id| self.reference(id)).transpose()?,
                    tags,
                    mentions,
                    self_labels,
                })
            }
            PublishRequest::Edit { target, text } => Payload::Edit(self.edit_of(target, text)?),
            PublishRequest::Repost { target } => Payload::Repost(Repost {
                target: self.reference(target)?,
            }),
            PublishRequest::Reaction { target, reaction } => Payload::Reaction(Reaction {
                target: self.reference(target)?,
                reaction,
            }),
            PublishRequest::Profile { name, bio } => Payload::Profile(Profile { name, bio }),
            PublishRequest::Delete { targets } => Payload::Delete(Delete::of(targets)),
            PublishRequest::Label {
                target,
                value,
                reason,
                expires_at,
                negate,
            } => Payload::Label(Label {
                target: match target {
                    TargetId::Author(a) => LabelTarget::Author(a),
                    TargetId::Event(id) => LabelTarget::Event(self.reference(id)?),
                },
                value,
                reason,
                expires_at,
                negate,
            }),
            PublishRequest::LabelerDeclaration {
                name,
                description,
                labels,
            } => Payload::LabelerDeclaration(LabelerDeclaration {
                name,
                description,
                labels,
            }),
            PublishRequest::List {
                name,
                description,
                purpose,
                members,
            } => Payload::List(List {
                name,
                description,
                purpose,
                members,
            }),
        })
    }

    /// An edit of one of this node's own posts (given by the post or by any edit of it): the
    /// edit names the post itself and travels on every topic the post did.
    fn edit_of(&self, target: EventId, text: String) -> Result<Edit, CommandError> {
        let held = self
            .store
            .event(&target)?
            .ok_or(CommandError::NotHeld(target))?;
        if held.author() != self.me {
            return Err(CommandError::NotYourEvent(target));
        }
        let post = match held.content() {
            Some(Payload::Edit(e)) => self
                .store
                .event(&e.target.id)?
                .ok_or(CommandError::NotHeld(e.target.id))?,
            Some(Payload::Post(_)) => held,
            Some(_) => return Err(CommandError::NotAPost(target)),
            None => return Err(CommandError::Deleted(target)),
        };
        if post.content().is_none() {
            return Err(CommandError::Deleted(post.id()));
        }
        Ok(Edit {
            target: EventRef {
                author: self.me,
                id: post.id(),
            },
            text,
            topics: super::topics_for(&post).into_iter().skip(1).collect(),
        })
    }

    /// A reference to a held event: its author is needed to route the new event.
    fn reference(&self, id: EventId) -> Result<EventRef, CommandError> {
        match self.store.event(&id)? {
            Some(event) => Ok(EventRef {
                author: event.author(),
                id,
            }),
            None => Err(CommandError::NotHeld(id)),
        }
    }

    /// A reply to `parent`: its root is the parent's root, or the parent if it is not a reply.
    fn reply_to(&self, parent: EventId) -> Result<ReplyRef, CommandError> {
        let parent_ref = self.reference(parent)?;
        let root = match self
            .store
            .event(&parent)?
            .and_then(|e| e.content().cloned())
        {
            Some(Payload::Post(p)) => p.reply.map_or(parent_ref, |r| r.root),
            _ => parent_ref,
        };
        Ok(ReplyRef {
            root,
            parent: parent_ref,
        })
    }
}
