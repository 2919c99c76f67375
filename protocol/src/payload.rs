//! Payload kinds: what an event says, in its canonical encoding.
//!
//! A payload is encoded with postcard (varint integers, length-prefixed strings and sequences,
//! fixed 32-byte ids) and must be canonical: decoding and re-encoding gives the same bytes, so
//! there is exactly one encoding of every payload and its hash is a stable name for it. Counts are
//! checked against [`crate::limits`] while decoding, before anything is allocated for them.

use crate::id::{AuthorId, EventId};
use crate::limits::*;
use crate::time::Timestamp;
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::marker::PhantomData;

/// The kind of an event, as carried in its header. Unknown kinds are kept and relayed, not shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Kind(pub u16);

impl Kind {
    /// A post: text with optional reply, quote, tags, mentions and self-labels.
    pub const POST: Kind = Kind(1);
    /// A repost of another event.
    pub const REPOST: Kind = Kind(2);
    /// A reaction to another event.
    pub const REACTION: Kind = Kind(3);
    /// Start following an author.
    pub const FOLLOW: Kind = Kind(4);
    /// Stop following an author.
    pub const UNFOLLOW: Kind = Kind(5);
    /// The author's profile; the newest one wins.
    pub const PROFILE: Kind = Kind(6);
    /// Delete some of the author's own earlier events, naming no topics: the first version of
    /// delete, still valid and honoured (stores and the network hold such events), no longer
    /// published. It travels only on its author's topic.
    pub const DELETE_V1: Kind = Kind(7);
    /// A moderation label on an event or an author.
    pub const LABEL: Kind = Kind(8);
    /// Declares the author a moderation feed and defines its labels.
    pub const LABELER_DECLARATION: Kind = Kind(9);
    /// A named list of authors that others can subscribe to.
    pub const LIST: Kind = Kind(10);
    /// Delete some of the author's own earlier events, naming for each the topics it travelled
    /// on, so the delete reaches every reader the event reached.
    pub const DELETE: Kind = Kind(11);
    /// A new text for one of the author's own posts; the post keeps its id, and readers see
    /// the newest edit's text.
    pub const EDIT: Kind = Kind(12);

    /// Whether this build knows how to decode and show this kind.
    pub fn is_known(self) -> bool {
        (1..=12).contains(&self.0)
    }

    /// The kind's name in APIs and logs (`post`, `label`…), or `unknown` for an unknown kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::POST => "post",
            Kind::REPOST => "repost",
            Kind::REACTION => "reaction",
            Kind::FOLLOW => "follow",
            Kind::UNFOLLOW => "unfollow",
            Kind::PROFILE => "profile",
            Kind::DELETE | Kind::DELETE_V1 => "delete",
            Kind::LABEL => "label",
            Kind::LABELER_DECLARATION => "labeler_declaration",
            Kind::LIST => "list",
            Kind::EDIT => "edit",
            _ => "unknown",
        }
    }
}

/// A reference to another event, carrying its author so the reference can be routed (a reply is
/// published on the parent author's topic) before the referenced event is at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventRef {
    /// Author of the referenced event.
    pub author: AuthorId,
    /// The referenced event.
    pub id: EventId,
}

/// Where a reply sits in a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRef {
    /// The post that started the thread.
    pub root: EventRef,
    /// The post replied to directly (equal to `root` for a top-level reply).
    pub parent: EventRef,
}

/// A post.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// The text, at most [`POST_TEXT_BYTES_MAX`] bytes of UTF-8.
    pub text: String,
    /// Set when this post replies to another.
    pub reply: Option<ReplyRef>,
    /// Set when this post quotes another.
    pub quote: Option<EventRef>,
    /// Hashtags, without the `#`.
    #[serde(deserialize_with = "tags")]
    pub tags: Vec<String>,
    /// Authors mentioned; the post is also published on their topics.
    #[serde(deserialize_with = "mentions")]
    pub mentions: Vec<AuthorId>,
    /// The author's own labels, e.g. a content warning (`spoiler`, `nsfw`).
    #[serde(deserialize_with = "self_labels")]
    pub self_labels: Vec<String>,
}

/// A repost of another event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repost {
    /// The reposted event.
    pub target: EventRef,
}

/// A reaction (an emoji or short word) to another event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The event reacted to.
    pub target: EventRef,
    /// The reaction, at most [`REACTION_BYTES_MAX`] bytes.
    pub reaction: String,
}

/// Start following an author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follow {
    /// The author followed.
    pub author: AuthorId,
}

/// Stop following an author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfollow {
    /// The author no longer followed.
    pub author: AuthorId,
}

/// The author's profile. The newest profile event replaces earlier ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Display name.
    pub name: String,
    /// Free-form self description.
    pub bio: String,
}

/// Delete some of the author's own earlier events. Nodes honour it by erasing the targets'
/// payloads and keeping their headers, so the log still verifies and the gap is explained, and
/// by keeping a tombstone so the payload never comes back. A target by another author is
/// ignored: nobody can delete someone else's event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delete {
    /// The events to delete, at most [`DELETE_TARGETS_MAX`].
    #[serde(deserialize_with = "delete_targets")]
    pub targets: Vec<DeleteTarget>,
}

impl Delete {
    /// A delete of `ids` that names no other topics (for events published only on the
    /// author's own topic).
    pub fn of(ids: impl IntoIterator<Item = EventId>) -> Delete {
        Delete {
            targets: ids
                .into_iter()
                .map(|id| DeleteTarget {
                    id,
                    topics: Vec::new(),
                })
                .collect(),
        }
    }

    /// The ids of the deleted events.
    pub fn ids(&self) -> impl Iterator<Item = EventId> + '_ {
        self.targets.iter().map(|t| t.id)
    }
}

/// The encoding of a [`Kind::DELETE_V1`] payload.
#[derive(Serialize, Deserialize)]
struct DeleteV1 {
    #[serde(deserialize_with = "delete_v1_targets")]
    targets: Vec<EventId>,
}

/// One event a [`Delete`] removes, with the authors other than its own on whose topics it was
/// published (the replied-to, quoted, mentioned…), so the delete reaches every reader the event
/// reached. Routing is decided from the delete's bytes alone, like every other event's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteTarget {
    /// The event deleted.
    pub id: EventId,
    /// Authors whose topics also carried it, at most [`DELETE_TARGET_TOPICS_MAX`].
    #[serde(deserialize_with = "delete_target_topics")]
    pub topics: Vec<AuthorId>,
}

/// A new text for one of the author's own posts. Valid only when it is signed by the post's
/// author (`target.author`, checked from the bytes when the event is validated); readers apply
/// an edit only to a held post by that same author, so a wrong `target.author` edits nothing.
/// It travels on the post's author's topic and on `topics`, the other topics the post was
/// published on, so it reaches every reader the post reached. Deleting the post erases every
/// edit of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// The post edited (its first version, whatever edits came before).
    pub target: EventRef,
    /// The post's new text, at most [`POST_TEXT_BYTES_MAX`] bytes.
    pub text: String,
    /// Authors other than the post's whose topics carried it, at most
    /// [`DELETE_TARGET_TOPICS_MAX`].
    #[serde(deserialize_with = "delete_target_topics")]
    pub topics: Vec<AuthorId>,
}

/// What a label is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LabelTarget {
    /// One event.
    Event(EventRef),
    /// Everything an author posts.
    Author(AuthorId),
}

impl LabelTarget {
    /// The author the label is about, directly or through their event.
    pub fn author(&self) -> AuthorId {
        match self {
            LabelTarget::Event(r) => r.author,
            LabelTarget::Author(a) => *a,
        }
    }
}

/// A moderation label published by a feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// What is labelled.
    pub target: LabelTarget,
    /// The label value, e.g. `violence` (lowercase letters, digits and `-`).
    pub value: String,
    /// Why, in the labeller's words.
    pub reason: Option<String>,
    /// After this time the label no longer applies.
    pub expires_at: Option<Timestamp>,
    /// A negation retracts an earlier label with the same target and value.
    pub negate: bool,
}

/// How serious a label is, as its feed declares it; clients use it for presentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational (e.g. `satire`).
    Low,
    /// Worth a warning (e.g. `spoiler`, `graphic`).
    Medium,
    /// Serious (e.g. `violence`, `scam`).
    High,
}

/// What a viewer's client does with an item: the order is strictness, so `max` is "strictest".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Show the item normally.
    Show,
    /// Show the item behind a warning.
    Warn,
    /// Leave the item out (it stays stored and can be shown on request).
    Hide,
}

impl Action {
    /// The action's name in APIs (`show`, `warn`, `hide`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Show => "show",
            Action::Warn => "warn",
            Action::Hide => "hide",
        }
    }
}

/// One label a feed defines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelDefinition {
    /// The label value, as used in [`Label::value`].
    pub value: String,
    /// How serious it is.
    pub severity: Severity,
    /// What subscribers' clients do unless the subscriber chose otherwise.
    pub default_action: Action,
    /// What the label means.
    pub description: String,
}

/// Declares the author a moderation feed. The newest declaration replaces earlier ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelerDeclaration {
    /// The feed's name.
    pub name: String,
    /// What the feed labels and by what policy.
    pub description: String,
    /// The labels it uses, at most [`LABEL_DEFINITIONS_MAX`].
    #[serde(deserialize_with = "label_definitions")]
    pub labels: Vec<LabelDefinition>,
}

/// What a list is meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListPurpose {
    /// Subscribers hide these authors' posts.
    Mute,
    /// Subscribers hide these authors' posts and interactions.
    Block,
    /// A curated set of authors to read, not a filter.
    Curate,
}

/// A named list of authors. Its id is derived from the owner and name, and the newest list event
/// with that name replaces the earlier membership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    /// The list's name, unique per owner.
    pub name: String,
    /// What the list is for.
    pub description: String,
    /// How subscribers use it.
    pub purpose: ListPurpose,
    /// Members, at most [`LIST_MEMBERS_MAX`].
    #[serde(deserialize_with = "list_members")]
    pub members: Vec<AuthorId>,
}

/// A decoded payload of any kind this build knows, or the marker of one it does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// See [`Post`].
    Post(Post),
    /// See [`Repost`].
    Repost(Repost),
    /// See [`Reaction`].
    Reaction(Reaction),
    /// See [`Follow`].
    Follow(Follow),
    /// See [`Unfollow`].
    Unfollow(Unfollow),
    /// See [`Profile`].
    Profile(Profile),
    /// See [`Delete`].
    Delete(Delete),
    /// A first-version delete ([`Kind::DELETE_V1`]): its targets, with no topics named.
    DeleteV1(Delete),
    /// See [`Label`].
    Label(Label),
    /// See [`LabelerDeclaration`].
    LabelerDeclaration(LabelerDeclaration),
    /// See [`List`].
    List(List),
    /// See [`Edit`].
    Edit(Edit),
    /// A kind this build does not know: kept and relayed as opaque bytes, never shown.
    Unknown(Kind),
}

/// Why payload bytes are not a valid payload of their kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The bytes do not decode as the kind's structure (truncated, bad UTF-8, bad tag, too many
    /// items, or trailing bytes).
    #[error("payload does not decode as {kind}: {reason}")]
    Malformed {
        /// The kind's name.
        kind: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The bytes decode but are not the canonical encoding (e.g. an overlong varint).
    #[error("payload is not canonically encoded")]
    NotCanonical,
    /// A field breaks a limit or a format rule.
    #[error("payload field {field} is invalid: {rule}")]
    FieldInvalid {
        /// Which field.
        field: &'static str,
        /// The rule it breaks.
        rule: String,
    },
}

impl PayloadError {
    /// A stable snake_case name for logs, APIs and conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            PayloadError::Malformed { .. } => "payload_malformed",
            PayloadError::NotCanonical => "payload_not_canonical",
            PayloadError::FieldInvalid { .. } => "payload_field_invalid",
        }
    }
}

impl Payload {
    /// The delete this payload is, of either version.
    pub fn as_delete(&self) -> Option<&Delete> {
        match self {
            Payload::Delete(d) | Payload::DeleteV1(d) => Some(d),
            _ => None,
        }
    }

    /// The kind this payload is carried under.
    pub fn kind(&self) -> Kind {
        match self {
            Payload::Post(_) => Kind::POST,
            Payload::Repost(_) => Kind::REPOST,
            Payload::Reaction(_) => Kind::REACTION,
            Payload::Follow(_) => Kind::FOLLOW,
            Payload::Unfollow(_) => Kind::UNFOLLOW,
            Payload::Profile(_) => Kind::PROFILE,
            Payload::Delete(_) => Kind::DELETE,
            Payload::DeleteV1(_) => Kind::DELETE_V1,
            Payload::Label(_) => Kind::LABEL,
            Payload::LabelerDeclaration(_) => Kind::LABELER_DECLARATION,
            Payload::List(_) => Kind::LIST,
            Payload::Edit(_) => Kind::EDIT,
            Payload::Unknown(kind) => *kind,
        }
    }

    /// The canonical bytes of a known payload. An [`Payload::Unknown`] marker has no bytes of its
    /// own; its event carries them.
    pub fn encode(&self) -> Vec<u8> {
        fn enc<T: Serialize>(value: &T) -> Vec<u8> {
            // Postcard into a Vec fails only on serializer errors our plain types cannot raise.
            postcard::to_allocvec(value).expect("postcard encodes plain data into a Vec")
        }
        match self {
            Payload::Post(p) => enc(p),
            Payload::Repost(p) => enc(p),
            Payload::Reaction(p) => enc(p),
            Payload::Follow(p) => enc(p),
            Payload::Unfollow(p) => enc(p),
            Payload::Profile(p) => enc(p),
            Payload::Delete(p) => enc(p),
            Payload::DeleteV1(p) => enc(&DeleteV1 {
                targets: p.ids().collect(),
            }),
            Payload::Label(p) => enc(p),
            Payload::LabelerDeclaration(p) => enc(p),
            Payload::List(p) => enc(p),
            Payload::Edit(p) => enc(p),
            Payload::Unknown(_) => Vec::new(),
        }
    }

    /// Decodes and checks the payload of an event of `kind`. Unknown kinds decode to the marker.
    pub fn decode(kind: Kind, bytes: &[u8]) -> Result<Payload, PayloadError> {
        let payload = match kind {
            Kind::POST => Payload::Post(canonical(kind, bytes)?),
            Kind::REPOST => Payload::Repost(canonical(kind, bytes)?),
            Kind::REACTION => Payload::Reaction(canonical(kind, bytes)?),
            Kind::FOLLOW => Payload::Follow(canonical(kind, bytes)?),
            Kind::UNFOLLOW => Payload::Unfollow(canonical(kind, bytes)?),
            Kind::PROFILE => Payload::Profile(canonical(kind, bytes)?),
            Kind::DELETE => Payload::Delete(canonical(kind, bytes)?),
            Kind::DELETE_V1 => {
                let legacy: DeleteV1 = canonical(kind, bytes)?;
                Payload::DeleteV1(Delete::of(legacy.targets))
            }
            Kind::LABEL => Payload::Label(canonical(kind, bytes)?),
            Kind::LABELER_DECLARATION => Payload::LabelerDeclaration(canonical(kind, bytes)?),
            Kind::LIST => Payload::List(canonical(kind, bytes)?),
            Kind::EDIT => Payload::Edit(canonical(kind, bytes)?),
            other => return Ok(Payload::Unknown(other)),
        };
        payload.check_fields()?;
        Ok(payload)
    }

    /// Checks the rules that depend on who signed the payload: an edit must be signed by the
    /// author of the post it edits.
    pub fn check_signer(&self, author: &AuthorId) -> Result<(), PayloadError> {
        match self {
            Payload::Edit(e) if e.target.author != *author => Err(invalid(
                "target",
                "an edit must be signed by the author of the post it edits",
            )),
            _ => Ok(()),
        }
    }

    /// Checks every field against its limit and format rule.
    pub fn check_fields(&self) -> Result<(), PayloadError> {
        match self {
            Payload::Post(p) => {
                max_bytes("text", &p.text, POST_TEXT_BYTES_MAX)?;
                count("tags", p.tags.len(), POST_TAGS_MAX)?;
                for tag in &p.tags {
                    token("tags", tag)?;
                }
                count("mentions", p.mentions.len(), POST_MENTIONS_MAX)?;
                count("self_labels", p.self_labels.len(), POST_SELF_LABELS_MAX)?;
                for label in &p.self_labels {
                    label_value("self_labels", label)?;
                }
                if p.text.is_empty() && p.quote.is_none() {
                    return Err(invalid("text", "a post needs text or a quote"));
                }
                Ok(())
            }
            Payload::Edit(e) => {
                max_bytes("text", &e.text, POST_TEXT_BYTES_MAX)?;
                if e.text.trim().is_empty() {
                    return Err(invalid(
                        "text",
                        "an edit needs text (delete the post instead)",
                    ));
                }
                Ok(())
            }
            Payload::Reaction(r) => {
                max_bytes("reaction", &r.reaction, REACTION_BYTES_MAX)?;
                if r.reaction.trim().is_empty() {
                    return Err(invalid("reaction", "must not be empty"));
                }
                Ok(())
            }
            Payload::Profile(p) => {
                max_bytes("name", &p.name, NAME_BYTES_MAX)?;
                max_bytes("bio", &p.bio, DESCRIPTION_BYTES_MAX)
            }
            Payload::Delete(d) | Payload::DeleteV1(d) => {
                count("targets", d.targets.len(), DELETE_TARGETS_MAX)?;
                if d.targets.is_empty() {
                    return Err(invalid("targets", "a delete needs at least one target"));
                }
                Ok(())
            }
            Payload::Label(l) => {
                label_value("value", &l.value)?;
                if let Some(reason) = &l.reason {
                    max_bytes("reason", reason, DESCRIPTION_BYTES_MAX)?;
                }
                Ok(())
            }
            Payload::LabelerDeclaration(d) => {
                max_bytes("name", &d.name, NAME_BYTES_MAX)?;
                max_bytes("description", &d.description, DESCRIPTION_BYTES_MAX)?;
                count("labels", d.labels.len(), LABEL_DEFINITIONS_MAX)?;
                for (i, def) in d.labels.iter().enumerate() {
                    label_value("labels.value", &def.value)?;
                    max_bytes(
                        "labels.description",
                        &def.description,
                        DESCRIPTION_BYTES_MAX,
                    )?;
                    if d.labels[..i]
                        .iter()
                        .any(|earlier| earlier.value == def.value)
                    {
                        return Err(invalid("labels.value", "each label is defined once"));
                    }
                }
                Ok(())
            }
            Payload::List(l) => {
                max_bytes("name", &l.name, NAME_BYTES_MAX)?;
                if l.name.trim().is_empty() {
                    return Err(invalid("name", "must not be empty"));
                }
                max_bytes("description", &l.description, DESCRIPTION_BYTES_MAX)?;
                count("members", l.members.len(), LIST_MEMBERS_MAX)
            }
            Payload::Repost(_)
            | Payload::Follow(_)
            | Payload::Unfollow(_)
            | Payload::Unknown(_) => Ok(()),
        }
    }
}

/// Decodes `bytes` as `T` and insists that re-encoding reproduces them exactly.
fn canonical<'de, T>(kind: Kind, bytes: &'de [u8]) -> Result<T, PayloadError>
where
    T: Deserialize<'de> + Serialize,
{
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| PayloadError::Malformed {
            kind: kind.name(),
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(PayloadError::Malformed {
            kind: kind.name(),
            reason: format!("{} trailing bytes", rest.len()),
        });
    }
    let again = postcard::to_allocvec(&value).map_err(|_| PayloadError::NotCanonical)?;
    if again != bytes {
        return Err(PayloadError::NotCanonical);
    }
    Ok(value)
}

fn invalid(field: &'static str, rule: impl Into<String>) -> PayloadError {
    PayloadError::FieldInvalid {
        field,
        rule: rule.into(),
    }
}

fn max_bytes(field: &'static str, value: &str, max: usize) -> Result<(), PayloadError> {
    if value.len() > max {
        return Err(invalid(
            field,
            format!("{} bytes, at most {max}", value.len()),
        ));
    }
    Ok(())
}

fn count(field: &'static str, n: usize, max: usize) -> Result<(), PayloadError> {
    if n > max {
        return Err(invalid(field, format!("{n} items, at most {max}")));
    }
    Ok(())
}

/// A tag: 1 to [`TAG_BYTES_MAX`] bytes, no whitespace, no leading `#`.
fn token(field: &'static str, value: &str) -> Result<(), PayloadError> {
    max_bytes(field, value, TAG_BYTES_MAX)?;
    if value.is_empty() || value.starts_with('#') || value.chars().any(char::is_whitespace) {
        return Err(invalid(
            field,
            format!("{value:?} must be non-empty, without whitespace or a leading #"),
        ));
    }
    Ok(())
}

/// A label value: 1 to [`TAG_BYTES_MAX`] bytes of `a-z`, `0-9` and `-`.
fn label_value(field: &'static str, value: &str) -> Result<(), PayloadError> {
    max_bytes(field, value, TAG_BYTES_MAX)?;
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(invalid(
            field,
            format!("{value:?} must be lowercase letters, digits and -"),
        ));
    }
    Ok(())
}

/// Whether `value` is a well-formed label value (`a-z`, `0-9`, `-`, at most 64 bytes).
pub fn is_label_value(value: &str) -> bool {
    label_value("value", value).is_ok()
}

/// Deserializes a sequence, refusing one that declares or holds more than `max` items before
/// allocating for them.
pub(crate) fn bounded_vec<'de, D, T>(deserializer: D, max: usize) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T> {
        max: usize,
        item: PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "at most {} items", self.max)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let declared = seq.size_hint().unwrap_or(0);
            if declared > self.max {
                return Err(A::Error::invalid_length(declared, &self));
            }
            let mut items = Vec::with_capacity(declared);
            while let Some(item) = seq.next_element()? {
                if items.len() == self.max {
                    return Err(A::Error::invalid_length(self.max + 1, &self));
                }
                items.push(item);
            }
            Ok(items)
        }
    }
    deserializer.deserialize_seq(Bounded {
        max,
        item: PhantomData,
    })
}

macro_rules! bounded_field {
    ($name:ident, $item:ty, $max:expr) => {
        fn $name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<$item>, D::Error> {
            bounded_vec(deserializer, $max)
        }
    };
}

bounded_field!(tags, String, POST_TAGS_MAX);
bounded_field!(mentions, AuthorId, POST_MENTIONS_MAX);
bounded_field!(self_labels, String, POST_SELF_LABELS_MAX);
bounded_field!(delete_targets, DeleteTarget, DELETE_TARGETS_MAX);
bounded_field!(delete_v1_targets, EventId, DELETE_TARGETS_MAX);
bounded_field!(delete_target_topics, AuthorId, DELETE_TARGET_TOPICS_MAX);
bounded_field!(label_definitions, LabelDefinition, LABEL_DEFINITIONS_MAX);
bounded_field!(list_members, AuthorId, LIST_MEMBERS_MAX);

#[cfg(test)]
mod tests {
    use super::*;

    fn post(text: &str) -> Payload {
        Payload::Post(Post {
            text: text.into(),
            tags: vec!["rust".into()],
            ..Post::default()
        })
    }

    #[test]
    fn round_trip_every_known_kind() {
        let r = EventRef {
            author: AuthorId([1; 32]),
            id: EventId([2; 32]),
        };
        let samples = vec![
            post("hello"),
            Payload::Repost(Repost { target: r }),
            Payload::Reaction(Reaction {
                target: r,
                reaction: "👍".into(),
            }),
            Payload::Follow(Follow { author: r.author }),
            Payload::Unfollow(Unfollow { author: r.author }),
            Payload::Profile(Profile {
                name: "ann".into(),
                bio: "hi".into(),
            }),
            Payload::Delete(Delete {
                targets: vec![DeleteTarget {
                    id: r.id,
                    topics: vec![AuthorId([3; 32])],
                }],
            }),
            Payload::DeleteV1(Delete::of([r.id])),
            Payload::Label(Label {
                target: LabelTarget::Event(r),
                value: "violence".into(),
                reason: Some("threat".into()),
                expires_at: Some(Timestamp(5)),
                negate: false,
            }),
            Payload::LabelerDeclaration(LabelerDeclaration {
                name: "feed".into(),
                description: String::new(),
                labels: vec![LabelDefinition {
                    value: "violence".into(),
                    severity: Severity::High,
                    default_action: Action::Hide,
                    description: String::new(),
                }],
            }),
            Payload::List(List {
                name: "spammers".into(),
                description: String::new(),
                purpose: ListPurpose::Mute,
                members: vec![r.author],
            }),
        ];
        for payload in samples {
            let bytes = payload.encode();
            assert_eq!(Payload::decode(payload.kind(), &bytes), Ok(payload));
        }
    }

    #[test]
    fn unknown_kind_is_kept_as_a_marker() {
        assert_eq!(
            Payload::decode(Kind(999), b"anything"),
            Ok(Payload::Unknown(Kind(999)))
        );
    }

    #[test]
    fn overlong_varint_is_not_canonical() {
        // Text length 1 written as the two-byte varint 0x81 0x00.
        let mut bytes = vec![0x81, 0x00, b'a'];
        bytes.extend_from_slice(&[0, 0, 0, 0, 0]); // reply, quote, tags, mentions, self_labels
        assert_eq!(
            Payload::decode(Kind::POST, &bytes),
            Err(PayloadError::NotCanonical)
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = post("x").encode();
        bytes.push(0);
        assert!(matches!(
            Payload::decode(Kind::POST, &bytes),
            Err(PayloadError::Malformed { .. })
        ));
    }

    #[test]
    fn a_huge_declared_count_is_refused_before_allocating() {
        // Text "a", no reply, no quote, then a tag count of u32::MAX.
        let bytes = vec![1, b'a', 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(
            Payload::decode(Kind::POST, &bytes),
            Err(PayloadError::Malformed { .. })
        ));
    }

    #[test]
    fn limits_are_enforced() {
        let long = "x".repeat(POST_TEXT_BYTES_MAX + 1);
        let bytes = post(&long).encode();
        assert!(matches!(
            Payload::decode(Kind::POST, &bytes),
            Err(PayloadError::FieldInvalid { field: "text", .. })
        ));
        let bad_label = Payload::Label(Label {
            target: LabelTarget::Author(AuthorId([1; 32])),
            value: "Not OK".into(),
            reason: None,
            expires_at: None,
            negate: false,
        });
        assert!(matches!(
            Payload::decode(Kind::LABEL, &bad_label.encode()),
            Err(PayloadError::FieldInvalid { field: "value", .. })
        ));
    }

    #[test]
    fn action_order_is_strictness() {
        assert!(Action::Hide > Action::Warn && Action::Warn > Action::Show);
    }
}
