//! Moderation a user chooses: what their client shows, warns about or hides, and why.
//!
//! [`evaluate`] is a pure function of an event, the user's [`Preferences`], the [`LabelIndex`] of
//! their subscribed feeds, and the time. It never decides whether the network carries an event;
//! hidden items stay stored and can be shown on request. The node operator's separate decision,
//! what their node refuses to store or relay, is [`host::HostPolicy`].
//!
//! Rules:
//! - every matching mute, list, label and self-label contributes a [`Reason`] with its action;
//! - a label's action is the subscriber's override for that value, else the feed's declared
//!   default, else `warn` (a feed using a value it never declared still gets attention, not a
//!   silent hide);
//! - the strictest action wins (`hide` > `warn` > `show`);
//! - with "always show people I follow", a `hide` that comes from someone else's judgement (a
//!   feed's label or a subscribed list) is softened to `warn` for followed authors and for the
//!   viewer's own posts; the user's own mutes still hide.

pub mod host;
pub mod labels;

use crate::id::{AuthorId, EventId, ListId};
use crate::payload::{Action, LabelerDeclaration, ListPurpose, Payload};
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;
pub use labels::{Applied, LabelIndex, LabelState, LabelSubject};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The action applied to self-labels the user has not mapped: the author asked for a warning.
pub const SELF_LABEL_DEFAULT_ACTION: Action = Action::Warn;

/// The action for a label value a feed uses without declaring it.
pub const UNDECLARED_LABEL_ACTION: Action = Action::Warn;

/// A subscription to one moderation feed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSubscription {
    /// The feed's newest declaration, once known (it supplies names and default actions).
    pub declaration: Option<LabelerDeclaration>,
    /// The subscriber's own action per label value, overriding the feed's defaults.
    pub overrides: BTreeMap<String, Action>,
}

impl FeedSubscription {
    /// What this subscriber does with `value` from this feed.
    pub fn action_for(&self, value: &str) -> Action {
        if let Some(action) = self.overrides.get(value) {
            return *action;
        }
        self.declaration
            .as_ref()
            .and_then(|d| d.labels.iter().find(|l| l.value == value))
            .map_or(UNDECLARED_LABEL_ACTION, |l| l.default_action)
    }
}

/// A published list the user subscribed to (or one of their own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribedList {
    /// The list's id.
    pub id: ListId,
    /// Who publishes it.
    pub owner: AuthorId,
    /// Its name.
    pub name: String,
    /// What it is for; only mute and block lists filter.
    pub purpose: ListPurpose,
    /// Its current members.
    pub members: BTreeSet<AuthorId>,
}

impl SubscribedList {
    /// The list an event publishes, if it is a list event with its payload.
    pub fn from_event(event: &VerifiedEvent) -> Option<SubscribedList> {
        match event.content()? {
            Payload::List(list) => Some(SubscribedList {
                id: ListId::derive(&event.author(), &list.name),
                owner: event.author(),
                name: list.name.clone(),
                purpose: list.purpose,
                members: list.members.iter().copied().collect(),
            }),
            _ => None,
        }
    }
}

/// Everything a user chose about what they see.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// The viewer's own author id; their own posts are never hidden by others' judgement.
    pub viewer: Option<AuthorId>,
    /// Authors the viewer follows.
    pub follows: BTreeSet<AuthorId>,
    /// Soften hides from feeds and lists to warnings for followed authors.
    pub always_show_followed: bool,
    /// Subscribed moderation feeds, by feed author.
    pub feeds: BTreeMap<AuthorId, FeedSubscription>,
    /// Subscribed lists, by id.
    pub lists: BTreeMap<ListId, SubscribedList>,
    /// Authors the viewer muted.
    pub muted_authors: BTreeSet<AuthorId>,
    /// Words and phrases the viewer muted, matched case-insensitively on word boundaries.
    pub muted_words: BTreeSet<String>,
    /// Tags the viewer muted, matched case-insensitively, without `#`.
    pub muted_tags: BTreeSet<String>,
    /// The viewer's action per self-label value; unmapped ones get [`SELF_LABEL_DEFAULT_ACTION`].
    pub self_label_actions: BTreeMap<String, Action>,
}

/// One thing a viewer mutes, normalised (words and tags lowercase, tags without `#`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mute {
    /// Every event by this author.
    Author(AuthorId),
    /// Posts containing this word or phrase.
    Word(String),
    /// Posts with this tag.
    Tag(String),
}

/// A mute request that names nothing to mute, or more than one thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MuteError {
    /// Not exactly one of author, word and tag was given.
    #[error("give exactly one of author, word, tag")]
    NotExactlyOne,
}

impl Preferences {
    /// Adds a mute.
    pub fn mute(&mut self, mute: Mute) {
        match mute {
            Mute::Author(a) => self.muted_authors.insert(a),
            Mute::Word(w) => self.muted_words.insert(w),
            Mute::Tag(t) => self.muted_tags.insert(t),
        };
    }

    /// Removes a mute, if set.
    pub fn unmute(&mut self, mute: &Mute) {
        match mute {
            Mute::Author(a) => self.muted_authors.remove(a),
            Mute::Word(w) => self.muted_words.remove(w),
            Mute::Tag(t) => self.muted_tags.remove(t),
        };
    }
}

/// Whether a label was on the event itself or on its author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelScope {
    /// The label names this event.
    Event,
    /// The label names the event's author.
    Author,
}

/// One reason behind a verdict, with the action it asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reason {
    /// A subscribed feed labelled the event or its author.
    Label {
        /// The feed.
        feed: AuthorId,
        /// The feed's declared name, if known.
        feed_name: Option<String>,
        /// The label value.
        value: String,
        /// On the event or on its author.
        scope: LabelScope,
        /// The feed's stated reason.
        reason: Option<String>,
        /// The label event that decided it.
        label_event: EventId,
        /// What this label asks for.
        action: Action,
    },
    /// The author labelled their own post (a content warning).
    SelfLabel {
        /// The label value.
        value: String,
        /// What this label asks for.
        action: Action,
    },
    /// The viewer muted the author.
    MutedAuthor {
        /// The muted author.
        author: AuthorId,
        /// Always `hide`.
        action: Action,
    },
    /// The text contains a muted word or phrase.
    MutedWord {
        /// The muted word.
        word: String,
        /// Always `hide`.
        action: Action,
    },
    /// The post carries a muted tag.
    MutedTag {
        /// The muted tag.
        tag: String,
        /// Always `hide`.
        action: Action,
    },
    /// The author is on a subscribed mute or block list.
    List {
        /// The list.
        list: ListId,
        /// Its name.
        name: String,
        /// Its owner.
        owner: AuthorId,
        /// What it asks for.
        action: Action,
    },
    /// A hide from feeds or lists was softened because the viewer follows the author.
    FollowedOverride {
        /// The followed author.
        author: AuthorId,
        /// What the item would otherwise have been.
        instead_of: Action,
        /// What it is instead.
        action: Action,
    },
}

impl Reason {
    /// The action this reason asks for.
    pub fn action(&self) -> Action {
        match self {
            Reason::Label { action, .. }
            | Reason::SelfLabel { action, .. }
            | Reason::MutedAuthor { action, .. }
            | Reason::MutedWord { action, .. }
            | Reason::MutedTag { action, .. }
            | Reason::List { action, .. }
            | Reason::FollowedOverride { action, .. } => *action,
        }
    }

    /// One line a person can read, e.g. `label "violence" from feed "Safety" on this post: hide`.
    pub fn describe(&self) -> String {
        match self {
            Reason::Label {
                feed,
                feed_name,
                value,
                scope,
                reason,
                action,
                ..
            } => {
                let from = feed_name
                    .as_ref()
                    .map_or_else(|| feed.to_string(), |n| format!("{n:?} ({})", feed));
                let on = match scope {
                    LabelScope::Event => "this post",
                    LabelScope::Author => "its author",
                };
                let why = reason.as_ref().map_or(String::new(), |r| format!(" ({r})"));
                format!(
                    "label {value:?} from feed {from} on {on}{why}: {}",
                    action.name()
                )
            }
            Reason::SelfLabel { value, action } => {
                format!("author's own label {value:?}: {}", action.name())
            }
            Reason::MutedAuthor { author, .. } => format!("you muted the author {author}: hide"),
            Reason::MutedWord { word, .. } => format!("you muted the word {word:?}: hide"),
            Reason::MutedTag { tag, .. } => format!("you muted the tag #{tag}: hide"),
            Reason::List {
                name,
                owner,
                action,
                ..
            } => format!("author is on list {name:?} by {owner}: {}", action.name()),
            Reason::FollowedOverride {
                instead_of, action, ..
            } => format!(
                "you follow the author, so {} became {}",
                instead_of.name(),
                action.name()
            ),
        }
    }
}

/// What to do with an item, and every reason for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The action to take.
    pub action: Action,
    /// Every reason that applied, in a stable order: mutes, lists, labels, self-labels, override.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// Nothing applied.
    pub fn show() -> Verdict {
        Verdict {
            action: Action::Show,
            reasons: Vec::new(),
        }
    }
}

/// Decides what the viewer sees of `event` at time `now`.
pub fn evaluate(
    event: &VerifiedEvent,
    prefs: &Preferences,
    labels: &LabelIndex,
    now: Timestamp,
) -> Verdict {
    let author = event.author();
    let mut reasons = Vec::new();

    // The viewer's own mutes: their decision, never softened.
    if prefs.muted_authors.contains(&author) {
        reasons.push(Reason::MutedAuthor {
            author,
            action: Action::Hide,
        });
    }
    let (text, tags, self_labels) = match event.content() {
        Some(Payload::Post(p)) => (p.text.as_str(), p.tags.as_slice(), p.self_labels.as_slice()),
        Some(Payload::Reaction(r)) => (r.reaction.as_str(), &[][..], &[][..]),
        _ => ("", &[][..], &[][..]),
    };
    if !prefs.muted_words.is_empty() && !text.is_empty() {
        let lower = text.to_lowercase();
        for word in &prefs.muted_words {
            if contains_word(&lower, &word.to_lowercase()) {
                reasons.push(Reason::MutedWord {
                    word: word.clone(),
                    action: Action::Hide,
                });
            }
        }
    }
    for tag in &prefs.muted_tags {
        if tags.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            reasons.push(Reason::MutedTag {
                tag: tag.clone(),
                action: Action::Hide,
            });
        }
    }
    let own_max = reasons.iter().map(Reason::action).max();

    // Others' judgement: subscribed lists and feeds.
    let others_start = reasons.len();
    for list in prefs.lists.values() {
        let filters = matches!(list.purpose, ListPurpose::Mute | ListPurpose::Block);
        if filters && list.members.contains(&author) {
            reasons.push(Reason::List {
                list: list.id,
                name: list.name.clone(),
                owner: list.owner,
                action: Action::Hide,
            });
        }
    }
    if !prefs.feeds.is_empty() {
        let subjects = [
            (LabelSubject::Event(event.id()), LabelScope::Event),
            (LabelSubject::Author(author), LabelScope::Author),
        ];
        for (subject, scope) in subjects {
            for state in labels.on(&subject) {
                let Some(subscription) = prefs.feeds.get(&state.feed) else {
                    continue;
                };
                if !state.in_force(now) {
                    continue;
                }
                reasons.push(Reason::Label {
                    feed: state.feed,
                    feed_name: subscription.declaration.as_ref().map(|d| d.name.clone()),
                    value: state.value.clone(),
                    scope,
                    reason: state.reason.clone(),
                    label_event: state.event,
                    action: subscription.action_for(&state.value),
                });
            }
        }
    }
    let others_max = reasons[others_start..].iter().map(Reason::action).max();

    // The author's own content warnings, mapped by the viewer.
    let mut self_max = None;
    for value in self_labels {
        let action = prefs
            .self_label_actions
            .get(value)
            .copied()
            .unwrap_or(SELF_LABEL_DEFAULT_ACTION);
        self_max = self_max.max(Some(action));
        reasons.push(Reason::SelfLabel {
            value: value.clone(),
            action,
        });
    }

    let trusted = prefs.viewer == Some(author)
        || (prefs.always_show_followed && prefs.follows.contains(&author));
    let mut others = others_max.unwrap_or(Action::Show);
    if trusted && others == Action::Hide {
        others = Action::Warn;
        reasons.push(Reason::FollowedOverride {
            author,
            instead_of: Action::Hide,
            action: Action::Warn,
        });
    }
    let action = [own_max, Some(others), self_max]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(Action::Show);
    Verdict { action, reasons }
}

/// Whether `needle` occurs in `haystack` with no letter or digit directly before or after it.
/// Both are expected lowercase.
fn contains_word(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(found) = haystack[from..].find(needle) {
        let start = from + found;
        let end = start + needle.len();
        let before_ok = haystack[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after_ok = haystack[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            return true;
        }
        // Step past the first character of this occurrence, on a char boundary.
        from = start + haystack[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests;
