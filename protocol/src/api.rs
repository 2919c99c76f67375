//! The local HTTP API's request and response bodies, as plain serde data.
//!
//! They live in the protocol crate so the CLI can speak to the daemon without compiling libp2p
//! or sled. Every path is under [`API_PREFIX`]; errors are [`ApiError`] with a stable `code`.

use crate::id::{AuthorId, EventId, ListId, TypedId};
use crate::moderation::Verdict;
use crate::moderation::labels::{LabelState, LabelSubject};
use crate::payload::{Action, LabelDefinition, LabelTarget, ListPurpose, Payload};
use crate::reachability::{AddressKind, Reachability};
use crate::store::StoreCounts;
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod social;
mod web;

pub use social::*;
pub use web::*;

/// The version prefix of every API path.
pub const API_PREFIX: &str = "/v1";

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong.
    pub error: ApiErrorBody,
}

/// A stable error code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable snake_case code (`unauthorized`, `not_found`, `bad_request`, …).
    pub code: String,
    /// What happened and what to do.
    pub message: String,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// This node's author.
    pub author: AuthorId,
    /// This node's libp2p peer id.
    pub peer_id: String,
    /// Addresses the node listens on (with `/p2p/PEER_ID`, ready to share).
    pub listen_addrs: Vec<String>,
    /// Connected peers.
    pub peers: Vec<String>,
    /// Connected peers with their gossipsub scores (negative: they sent invalid data).
    pub peer_scores: Vec<PeerScore>,
    /// Authors whose logs were seen to fork, and where.
    pub forks: Vec<ForkView>,
    /// What is stored.
    pub counts: StoreCounts,
    /// Authors hosted (own, followed, feeds, list owners).
    pub hosted_authors: u64,
    /// Followed authors.
    pub following: u64,
    /// Per hosted author: how much of their log is held.
    pub sync: Vec<SyncState>,
    /// The daemon's version.
    pub version: String,
    /// Whether other nodes can reach this one, as AutoNAT found.
    #[serde(default)]
    pub reachability: ReachabilityView,
    /// Addresses others can use to reach this node, best first (confirmed public, relayed,
    /// unconfirmed, LAN, loopback), each with `/p2p/PEER_ID`.
    #[serde(default)]
    pub addresses: Vec<AddressView>,
}

/// This node's reachability: the verdict and what it rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachabilityView {
    /// `public`, `behind_nat` or `unknown`.
    pub state: Reachability,
    /// When the verdict was reached (absent while unknown).
    pub since: Option<Timestamp>,
    /// Addresses an AutoNAT dial-back confirmed.
    pub confirmed: Vec<String>,
    /// Relays holding a reservation for this node (peer ids).
    pub relays: Vec<String>,
    /// Whether this node offers circuit relay to others (only ever while it is public).
    pub relay_service: bool,
}

impl Default for ReachabilityView {
    fn default() -> Self {
        ReachabilityView {
            state: Reachability::Unknown,
            since: None,
            confirmed: Vec::new(),
            relays: Vec::new(),
            relay_service: false,
        }
    }
}

/// An address of this node and what kind it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressView {
    /// The multiaddr, ending in `/p2p/PEER_ID`.
    pub addr: String,
    /// How useful it is to others.
    pub kind: AddressKind,
}

/// How this node is connected to a peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// At least one direct connection.
    #[default]
    Direct,
    /// Only through a relay (limited in bytes and time by the relay).
    Relayed,
}

/// A connected peer and how gossipsub scores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerScore {
    /// The peer.
    pub peer_id: String,
    /// Its gossipsub score, if scored yet.
    pub gossip_score: Option<f64>,
    /// Direct or only relayed.
    #[serde(default)]
    pub connection: ConnectionKind,
    /// The remote address of the connection in use (a `/p2p-circuit` address when relayed).
    #[serde(default)]
    pub address: Option<String>,
}

/// A fork: the author signed two different events at this seq.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkView {
    /// The author.
    pub author: AuthorId,
    /// The contested position.
    pub seq: u64,
}

/// How much of one hosted author's log is held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The author.
    pub author: AuthorId,
    /// Events 1..=contiguous are held.
    pub contiguous: u64,
    /// Highest seq held.
    pub highest: u64,
}

/// `POST /v1/connect`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRequest {
    /// A multiaddr, usually ending in `/p2p/PEER_ID`.
    pub addr: String,
}

/// A label target given by id: an event or an author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetId {
    /// An event.
    Event(EventId),
    /// An author.
    Author(AuthorId),
}

impl TargetId {
    /// Parses `hbevent1…` or `hbauthor1…`.
    pub fn parse(text: &str) -> Result<TargetId, crate::id::IdParseError> {
        let trimmed = text.trim();
        if trimmed.to_lowercase().starts_with(AuthorId::PREFIX) {
            AuthorId::parse(trimmed).map(TargetId::Author)
        } else {
            EventId::parse(trimmed).map(TargetId::Event)
        }
    }
}

impl std::fmt::Display for TargetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetId::Event(id) => id.fmt(f),
            TargetId::Author(a) => a.fmt(f),
        }
    }
}

impl Serialize for TargetId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TargetId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        TargetId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `POST /v1/events`: what to publish. Referenced events must be stored on the node (it needs
/// their authors to route the new event to them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PublishRequest {
    /// A post.
    Post {
        /// The text.
        text: String,
        /// The event replied to.
        #[serde(default)]
        reply_to: Option<EventId>,
        /// The event quoted.
        #[serde(default)]
        quote: Option<EventId>,
        /// Tags without `#`.
        #[serde(default)]
        tags: Vec<String>,
        /// Mentioned authors.
        #[serde(default)]
        mentions: Vec<AuthorId>,
        /// Content warnings.
        #[serde(default)]
        self_labels: Vec<String>,
    },
    /// A repost.
    Repost {
        /// What to repost.
        target: EventId,
    },
    /// A reaction.
    Reaction {
        /// What to react to.
        target: EventId,
        /// The emoji or word.
        reaction: String,
    },
    /// A profile update.
    Profile {
        /// Display name.
        name: String,
        /// Bio.
        #[serde(default)]
        bio: String,
    },
    /// Delete own events.
    Delete {
        /// The events.
        targets: Vec<EventId>,
    },
    /// A moderation label (or its negation).
    Label {
        /// An event or author id.
        target: TargetId,
        /// The label value.
        value: String,
        /// Why.
        #[serde(default)]
        reason: Option<String>,
        /// When it stops applying.
        #[serde(default)]
        expires_at: Option<Timestamp>,
        /// Retract instead of apply.
        #[serde(default)]
        negate: bool,
    },
    /// Declare this author a moderation feed.
    LabelerDeclaration {
        /// The feed's name.
        name: String,
        /// What it labels.
        #[serde(default)]
        description: String,
        /// Its labels.
        labels: Vec<LabelDefinition>,
    },
    /// A new text for one of this node's own posts.
    Edit {
        /// The post (or any earlier edit of it).
        target: EventId,
        /// The new text.
        text: String,
    },
    /// Publish or replace a list.
    List {
        /// The list's name.
        name: String,
        /// What it is.
        #[serde(default)]
        description: String,
        /// How subscribers use it.
        purpose: ListPurpose,
        /// Its members.
        members: Vec<AuthorId>,
    },
}

/// The answer to a publish, follow or unfollow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The new event.
    pub id: EventId,
    /// Its position in this node's author log.
    pub seq: u64,
}

impl Published {
    /// The answer for a newly published event.
    pub fn of(event: &VerifiedEvent) -> Published {
        Published {
            id: event.id(),
            seq: event.seq(),
        }
    }
}

/// `POST /v1/follows`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowRequest {
    /// Who to follow.
    pub author: AuthorId,
}

/// One event as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedItem {
    /// Its id.
    pub id: EventId,
    /// Its author.
    pub author: AuthorId,
    /// Position in the author's log.
    pub seq: u64,
    /// When it was made (ms since the epoch).
    pub created_at: Timestamp,
    /// `post`, `repost`, `label`, …
    pub kind: String,
    /// Text of a post (or a reaction).
    pub text: Option<String>,
    /// The event replied to.
    pub reply_to: Option<EventId>,
    /// The thread's root.
    pub root: Option<EventId>,
    /// The event quoted, reposted or reacted to.
    pub target: Option<EventId>,
    /// Tags.
    pub tags: Vec<String>,
    /// Self-labels.
    pub self_labels: Vec<String>,
    /// The payload was erased by its author's deletion (or is not yet fetched).
    pub deleted: bool,
    /// The viewer's moderation verdict.
    pub moderation: Verdict,
    /// The author's display name from their newest profile held (a name alone proves nothing:
    /// show it next to the author id).
    #[serde(default)]
    pub author_name: Option<String>,
    /// The text is from the author's newest edit of the post.
    #[serde(default)]
    pub edited: bool,
    /// Replies, reposts, reactions and quotes this node holds.
    #[serde(default)]
    pub counts: Counts,
    /// The quoted or reposted event, when held (absent with `target` set: not held here).
    #[serde(default)]
    pub quoted: Option<Box<FeedItem>>,
    /// Whether the event belongs in the viewer's timeline (a post or repost by the viewer or
    /// someone they follow).
    #[serde(default)]
    pub in_timeline: bool,
    /// The viewer's own reactions and reposts of this post.
    #[serde(default)]
    pub mine: Mine,
    /// For a label: the author it concerns (the labelled author, or the labelled event's
    /// author; `target` names the event), so a client can re-check what it shows.
    #[serde(default)]
    pub labelled_author: Option<AuthorId>,
}

impl FeedItem {
    /// The client view of a stored event with its verdict.
    pub fn of(event: &VerifiedEvent, moderation: Verdict) -> FeedItem {
        let mut item = FeedItem {
            id: event.id(),
            author: event.author(),
            seq: event.seq(),
            created_at: event.header().created_at,
            kind: event.kind().name().to_string(),
            text: None,
            reply_to: None,
            root: None,
            target: None,
            tags: Vec::new(),
            self_labels: Vec::new(),
            deleted: event.content().is_none(),
            moderation,
            author_name: None,
            edited: false,
            counts: Counts::default(),
            quoted: None,
            in_timeline: false,
            labelled_author: None,
            mine: Mine::default(),
        };
        match event.content() {
            Some(Payload::Post(p)) => {
                item.text = Some(p.text.clone());
                item.reply_to = p.reply.map(|r| r.parent.id);
                item.root = p.reply.map(|r| r.root.id);
                item.target = p.quote.map(|q| q.id);
                item.tags = p.tags.clone();
                item.self_labels = p.self_labels.clone();
            }
            Some(Payload::Repost(r)) => item.target = Some(r.target.id),
            Some(Payload::Reaction(r)) => {
                item.target = Some(r.target.id);
                item.text = Some(r.reaction.clone());
            }
            Some(Payload::Label(l)) => {
                item.labelled_author = Some(l.target.author());
                if let LabelTarget::Event(e) = &l.target {
                    item.target = Some(e.id);
                }
            }
            _ => {}
        }
        item
    }
}

/// `GET /v1/timeline`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// Newest first.
    pub items: Vec<FeedItem>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// `GET /v1/events/{id}/thread`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The event asked for.
    pub event: FeedItem,
    /// Its ancestors held on this node, root first.
    pub ancestors: Vec<FeedItem>,
    /// Replies held, depth-first, oldest first at each level.
    pub replies: Vec<FeedItem>,
}

/// `GET /v1/authors/{author}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorView {
    /// The author.
    pub author: AuthorId,
    /// Newest profile's name.
    pub name: Option<String>,
    /// Newest profile's bio.
    pub bio: Option<String>,
    /// Whether this node follows them.
    pub followed: bool,
    /// How much of their log is held.
    pub contiguous: u64,
    /// Highest seq held.
    pub highest: u64,
    /// Their posts and reposts, newest first.
    pub posts: Vec<FeedItem>,
}

/// One label in force on a target, from a subscribed feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelView {
    /// The feed.
    pub feed: AuthorId,
    /// The value.
    pub value: String,
    /// The feed's reason.
    pub reason: Option<String>,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// The deciding label event.
    pub event: EventId,
}

impl From<TargetId> for LabelSubject {
    fn from(target: TargetId) -> LabelSubject {
        match target {
            TargetId::Event(id) => LabelSubject::Event(id),
            TargetId::Author(a) => LabelSubject::Author(a),
        }
    }
}

impl From<LabelSubject> for TargetId {
    fn from(subject: LabelSubject) -> TargetId {
        match subject {
            LabelSubject::Event(id) => TargetId::Event(id),
            LabelSubject::Author(a) => TargetId::Author(a),
        }
    }
}

impl LabelView {
    /// A label in force on a target, as clients see it.
    pub fn of(state: &LabelState) -> LabelView {
        LabelView {
            feed: state.feed,
            value: state.value.clone(),
            reason: state.reason.clone(),
            expires_at: state.expires_at,
            event: state.event,
        }
    }
}

/// `GET /v1/feeds/{feed}/labels`: one label a feed has in force, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedLabel {
    /// What it labels: an event or an author.
    pub target: TargetId,
    /// The value.
    pub value: String,
    /// The feed's reason.
    pub reason: Option<String>,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// The deciding label event.
    pub event: EventId,
}

impl IssuedLabel {
    /// A feed's label on `subject`, as clients see it.
    pub fn of(subject: LabelSubject, state: &LabelState) -> IssuedLabel {
        IssuedLabel {
            target: subject.into(),
            value: state.value.clone(),
            reason: state.reason.clone(),
            expires_at: state.expires_at,
            event: state.event,
        }
    }
}

/// `GET /v1/lists`: one of this node's own published lists, as last published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnList {
    /// The list's id (what others subscribe to, with the owner).
    pub id: ListId,
    /// The owner (this node's author).
    pub owner: AuthorId,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// How subscribers use it.
    pub purpose: ListPurpose,
    /// Its members.
    pub members: Vec<AuthorId>,
}

/// `POST /v1/moderation/feeds`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSubscribeRequest {
    /// The feed.
    pub feed: AuthorId,
    /// Per-label actions overriding the feed's defaults.
    #[serde(default)]
    pub overrides: BTreeMap<String, Action>,
}

/// `POST /v1/mutes` and `DELETE /v1/mutes`: exactly one field set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteRequest {
    /// An author.
    #[serde(default)]
    pub author: Option<AuthorId>,
    /// A word or phrase.
    #[serde(default)]
    pub word: Option<String>,
    /// A tag.
    #[serde(default)]
    pub tag: Option<String>,
}

impl MuteRequest {
    /// What the request mutes, normalised as muting compares it; exactly one field must be set.
    pub fn target(&self) -> Result<crate::moderation::Mute, crate::moderation::MuteError> {
        use crate::moderation::{Mute, MuteError};
        match (&self.author, &self.word, &self.tag) {
            (Some(author), None, None) => Ok(Mute::Author(*author)),
            (None, Some(word), None) => Ok(Mute::Word(word.to_lowercase())),
            (None, None, Some(tag)) => Ok(Mute::Tag(tag.trim_start_matches('#').to_lowercase())),
            _ => Err(MuteError::NotExactlyOne),
        }
    }
}

/// `POST /v1/lists/subscriptions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSubscribeRequest {
    /// The list's owner.
    pub owner: AuthorId,
    /// The list's id.
    pub list: ListId,
}

/// `PUT /v1/moderation/options`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationOptions {
    /// Soften feed and list hides to warnings for followed authors.
    pub always_show_followed: bool,
}

/// `POST /v1/host-policy/refuse` and `/block`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPolicyChange {
    /// With `label`: the feed whose label is refused.
    #[serde(default)]
    pub feed: Option<AuthorId>,
    /// The refused label value.
    #[serde(default)]
    pub label: Option<String>,
    /// An author to block.
    #[serde(default)]
    pub author: Option<AuthorId>,
}
