//! What a person typed, turned into ids: full ids, short ids and prefixes among the ids the
//! node holds (see [`crate::resolve`]), and `@name`s through the profiles it holds.

use super::{CommandError, Engine};
use crate::id::{AuthorId, EventId, TypedId};
use crate::payload::{Kind, Payload};
use crate::resolve::{CANDIDATES_LISTED_MAX, IdPrefix, ResolveError, pick};
use crate::store::{Store, StoreError};

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// The event `text` names: a full id (held or not), or a unique prefix of a held one.
    pub fn resolve_event(&self, text: &str) -> Result<EventId, CommandError> {
        if let Ok(id) = EventId::parse(text) {
            return Ok(id);
        }
        let prefix = IdPrefix::parse::<EventId>(text)?;
        let (low, high) = prefix.range();
        let held =
            self.store
                .event_ids_in(&EventId(low), &EventId(high), CANDIDATES_LISTED_MAX + 1)?;
        Ok(pick(text, &prefix, held)?)
    }

    /// The author `text` names: a full id, a unique prefix of a known author's id (one with
    /// events held, followed, or a subscribed feed), or `@name` / a bare name through profiles.
    pub fn resolve_author(&self, text: &str) -> Result<AuthorId, CommandError> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix('@') {
            return match AuthorId::parse(name) {
                Ok(id) => Ok(id),
                Err(_) => self
                    .resolve_author_id(name)
                    .or_else(|_| self.author_named(name)),
            };
        }
        match self.resolve_author_id(text) {
            Err(CommandError::Resolve(
                ResolveError::NotAnId { .. } | ResolveError::NotFound { .. },
            )) => self.author_named(text).map_err(|e| match e {
                CommandError::Resolve(ResolveError::NoSuchName { .. }) => {
                    // The id error says more to someone who typed an id.
                    self.resolve_author_id(text).err().unwrap_or(e)
                }
                other => other,
            }),
            other => other,
        }
    }

    fn resolve_author_id(&self, text: &str) -> Result<AuthorId, CommandError> {
        if let Ok(id) = AuthorId::parse(text) {
            return Ok(id);
        }
        let prefix = IdPrefix::parse::<AuthorId>(text)?;
        Ok(pick(text, &prefix, self.known_authors()?)?)
    }

    /// Every author the node knows: with events held, followed, or a subscribed feed.
    fn known_authors(&self) -> Result<Vec<AuthorId>, StoreError> {
        let mut known = self.store.authors()?;
        known.extend(self.settings.follows.iter().copied());
        known.extend(self.settings.moderation.feeds.keys().copied());
        known.push(self.me);
        Ok(known)
    }

    /// The author whose newest profile has display name `name` (case-insensitive). Followed
    /// authors and this node's own author come first: when one of them has the name, a
    /// stranger who took the same name is not considered, so `@alice` means the Alice you
    /// follow. Several matches among the same rank are an error that lists them.
    pub fn author_named(&self, name: &str) -> Result<AuthorId, CommandError> {
        let mut trusted = Vec::new();
        let mut others = Vec::new();
        for author in self.store.authors()? {
            if self
                .display_name(&author)?
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
            {
                if author == self.me || self.settings.follows.contains(&author) {
                    trusted.push(author);
                } else {
                    others.push(author);
                }
            }
        }
        let matches = if trusted.is_empty() { others } else { trusted };
        match matches.as_slice() {
            [] => Err(ResolveError::NoSuchName { name: name.into() }.into()),
            [one] => Ok(*one),
            many => Err(ResolveError::AmbiguousName {
                name: name.into(),
                candidates: many
                    .iter()
                    .take(CANDIDATES_LISTED_MAX)
                    .map(ToString::to_string)
                    .collect(),
            }
            .into()),
        }
    }

    /// The display name of `author`'s newest profile held, if any (empty names count as none).
    pub fn display_name(&self, author: &AuthorId) -> Result<Option<String>, StoreError> {
        let Some(id) = self.store.latest_of_kind(author, Kind::PROFILE)? else {
            return Ok(None);
        };
        Ok(self.store.event(&id)?.and_then(|e| match e.content() {
            Some(Payload::Profile(p)) if !p.name.trim().is_empty() => Some(p.name.clone()),
            _ => None,
        }))
    }
}
