//! Publish requests as clients send them (`api::PublishRequest`), turned into payloads: the
//! events they refer to looked up (their authors route the new event), a reply's root found,
//! tags normalised. Every client (CLI, browser, scripts) gets the same rules.

use super::{CommandError, Engine};
use crate::api::{PublishRequest, TargetId};
use crate::id::EventId;
use crate::payload::{
    Delete, EventRef, Label, LabelTarget, LabelerDeclaration, List, Payload, Post, Profile,
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
            } => Payload::Post(Post {
                text,
                reply: reply_to.map(|id| self.reply_to(id)).transpose()?,
                quote: quote.map(|id| self.reference(id)).transpose()?,
                tags: tags
                    .into_iter()
                    .map(|t| t.trim_start_matches('#').to_string())
                    .collect(),
                mentions,
                self_labels,
            }),
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
