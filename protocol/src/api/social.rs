//! API bodies of the social features: counts, notifications, followers, edit history, search,
//! id resolution and lists.

use super::FeedItem;
use crate::id::{AuthorId, EventId, ListId};
use crate::payload::ListPurpose;
use crate::relations::NotificationKind;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How many held events refer to an event, by relation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Direct replies.
    pub replies: u64,
    /// Reposts.
    pub reposts: u64,
    /// Reactions.
    pub reactions: u64,
    /// Quotes.
    pub quotes: u64,
}

/// The viewer's own reactions and reposts of a post, newest first (a few at most), so a client
/// shows them as done and undoes them by deleting these events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mine {
    /// The viewer's reaction events on the post.
    pub reactions: Vec<EventId>,
    /// The viewer's reposts of the post.
    pub reposts: Vec<EventId>,
}

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Its position in the node's journal (newer is higher).
    pub position: u64,
    /// Why it notifies.
    pub reason: NotificationKind,
    /// Not yet marked read.
    pub unread: bool,
    /// The event that notifies.
    pub item: FeedItem,
}

/// `GET /v1/notifications`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    /// Newest first.
    pub items: Vec<Notification>,
    /// Unread notifications held in all (moderation applied).
    pub unread: u64,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<u64>,
}

/// `POST /v1/notifications/read`: everything up to `position` (default: all) is read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    /// The newest position read.
    #[serde(default)]
    pub position: Option<u64>,
}

/// One author who follows this node's author, as far as this node has seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follower {
    /// The follower.
    pub author: AuthorId,
    /// Their display name, if a profile is held.
    pub name: Option<String>,
    /// Their follow event.
    pub event: EventId,
    /// When they followed.
    pub since: Timestamp,
}

/// `GET /v1/followers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Followers {
    /// Newest follow first.
    pub followers: Vec<Follower>,
    /// What the list can and cannot know.
    pub note: String,
}

/// One version of a post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The post (first version) or the edit event.
    pub id: EventId,
    /// When it was written.
    pub created_at: Timestamp,
    /// Its text (absent when erased by a delete).
    pub text: Option<String>,
    /// Whether readers see this version.
    pub current: bool,
}

/// `GET /v1/events/{id}/history`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The post.
    pub post: EventId,
    /// Oldest first: the post, then its edits.
    pub versions: Vec<Version>,
}

/// `GET /v1/search`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Newest first, moderation applied (hidden posts left out).
    pub items: Vec<FeedItem>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// What kind of id to resolve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// An event.
    Event,
    /// An author (also by `@name`).
    Author,
}

/// `GET /v1/resolve?kind=…&id=…`: the full id that typed text names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The full id.
    pub id: String,
}

/// A list as last published by its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListView {
    /// The list's id (what others subscribe to, with the owner).
    pub id: ListId,
    /// The owner.
    pub owner: AuthorId,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// How subscribers use it.
    pub purpose: ListPurpose,
    /// Its members.
    pub members: Vec<NamedAuthor>,
}

impl super::OwnList {
    /// One of `owner`'s lists as last published.
    pub fn of(owner: AuthorId, list: crate::payload::List) -> super::OwnList {
        super::OwnList {
            id: ListId::derive(&owner, &list.name),
            owner,
            name: list.name,
            description: list.description,
            purpose: list.purpose,
            members: list.members,
        }
    }
}

/// An author with the name the node knows for them: a list member, someone followed
/// (`GET /v1/following`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedAuthor {
    /// The author.
    pub author: AuthorId,
    /// Their display name, if a profile is held.
    pub name: Option<String>,
}

/// One item of `GET /v1/stream` (server-sent events named by [`StreamEvent::name`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StreamEvent {
    /// An event was stored (`stored`).
    Stored(FeedItem),
    /// Something concerns this node's author (`notification`).
    Notification(Notification),
}

impl StreamEvent {
    /// The server-sent event's name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Stored(_) => "stored",
            StreamEvent::Notification(_) => "notification",
        }
    }
}
