//! What a person typed, turned into ids: full ids, short ids and prefixes among the ids the
//! node holds (see [`crate::resolve`]), and `@name`s through the profiles it holds.

use super::{CommandError, Engine};
use crate::id::{AuthorId, EventId};
use crate::payload::{Kind, Payload, Profile};
use crate::resolve::{CANDIDATES_LISTED_MAX, ResolveError, resolve};
use crate::store::{Store, StoreError};

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// The event `text` names: a full id (held or not), or a unique prefix of a held one.
    pub fn resolve_event(&self, text: &str) -> Result<EventId, CommandError> {
        resolve(text, |prefix| {
            let (low, high) = prefix.range();
            Ok(self
                .store
                .event_ids_in(&EventId(low), &EventId(high), CANDIDATES_LISTED_MAX + 1)?)
        })
    }

    /// The author `text` names: a full id, a unique prefix of a known author's id (one with
    /// events held, followed, or a subscribed feed), or `@name` / a bare name through profiles.
    pub fn resolve_author(&self, text: &str) -> Result<AuthorId, CommandError> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix('@') {
            return self
                .resolve_author_id(name)
                .or_else(|_| self.author_named(name));
        }
        let by_id = self.resolve_author_id(text);
        if let Err(CommandError::Resolve(
            ResolveError::NotAnId { .. } | ResolveError::NotFound { .. },
        )) = &by_id
        {
            return match self.author_named(text) {
                // The id error says more to someone who typed an id.
                Err(CommandError::Resolve(ResolveError::NoSuchName { .. })) => by_id,
                by_name => by_name,
            };
        }
        by_id
    }

    fn resolve_author_id(&self, text: &str) -> Result<AuthorId, CommandError> {
        resolve(text, |_| Ok(self.known_authors()?))
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

    /// `author`'s newest profile held, if any.
    pub fn profile(&self, author: &AuthorId) -> Result<Option<Profile>, StoreError> {
        let Some(id) = self.store.latest_of_kind(author, Kind::PROFILE)? else {
            return Ok(None);
        };
        Ok(self.store.event(&id)?.and_then(|e| match e.content() {
            Some(Payload::Profile(p)) => Some(p.clone()),
            _ => None,
        }))
    }

    /// The display name of `author`'s newest profile held, if any (empty names count as none).
    pub fn display_name(&self, author: &AuthorId) -> Result<Option<String>, StoreError> {
        Ok(self
            .profile(author)?
            .map(|p| p.name)
            .filter(|name| !name.trim().is_empty()))
    }
}
