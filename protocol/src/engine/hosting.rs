//! Which authors the node hosts, and the moderation state (labels, declarations, lists) rebuilt
//! from their logs; host policy applied to what is already stored.

use super::{Engine, Output, TOMBSTONES_BACKFILLED_SETTING};
use crate::id::AuthorId;
use crate::moderation::host::HostDecision;
use crate::moderation::{LabelIndex, SubscribedList};
use crate::payload::Payload;
use crate::store::{LogPages, Store, StoreError};
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;
use std::collections::BTreeSet;

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// Recomputes which authors this node hosts, emitting subscription changes.
    pub(super) fn refresh_hosted(&mut self) {
        let mut wanted: BTreeSet<AuthorId> = BTreeSet::new();
        wanted.insert(self.me);
        wanted.extend(self.settings.follows.iter().copied());
        wanted.extend(self.settings.moderation.feeds.keys().copied());
        wanted.extend(self.settings.moderation.lists.values().map(|l| l.owner));
        wanted.extend(
            self.settings
                .host_policy
                .refused_labels
                .iter()
                .map(|(f, _)| *f),
        );
        wanted.extend(
            self.settings
                .list_subscriptions
                .iter()
                .map(|(owner, _)| *owner),
        );
        let added: Vec<AuthorId> = wanted.difference(&self.hosted).copied().collect();
        let removed: Vec<AuthorId> = self.hosted.difference(&wanted).copied().collect();
        for author in added {
            self.push(Output::Subscribe(author));
            self.push(Output::StartProviding(author));
        }
        for author in removed {
            self.push(Output::Unsubscribe(author));
            self.push(Output::StopProviding(author));
        }
        self.hosted = wanted;
        let hosted = &self.hosted;
        self.strangers.retain_topics(|t| hosted.contains(t));
    }

    /// Rebuilds the label index, feed declarations and subscribed lists from stored logs.
    pub(super) fn rebuild_moderation(&mut self) -> Result<(), StoreError> {
        // The newest-seen seqs are derived from the logs replayed below; keeping old ones would
        // make a feed or list that was unsubscribed and subscribed again skip its own events.
        self.settings.declaration_seqs.clear();
        self.settings.list_seqs.clear();
        // So is what they declared: a feed whose only declaration was deleted has none, and a
        // list whose every version was deleted is gone, exactly as the logs now say.
        for sub in self.settings.moderation.feeds.values_mut() {
            sub.declaration = None;
        }
        self.settings.moderation.lists.clear();
        self.settings.moderation.viewer = Some(self.me);
        self.settings.moderation.follows = self.settings.follows.clone();
        let mut feeds: BTreeSet<AuthorId> =
            self.settings.moderation.feeds.keys().copied().collect();
        feeds.extend(
            self.settings
                .host_policy
                .refused_labels
                .iter()
                .map(|(f, _)| *f),
        );
        let owners: BTreeSet<AuthorId> = self
            .settings
            .list_subscriptions
            .iter()
            .map(|(o, _)| *o)
            .collect();
        self.labels = LabelIndex::new();
        for author in feeds.iter().chain(owners.iter()) {
            let mut pages = LogPages::new(*author);
            while let Some(page) = pages.next_page(&self.store)? {
                for event in &page {
                    self.apply_moderation_event(event);
                }
            }
        }
        Ok(())
    }

    /// Whether `author`'s labels, declarations or lists act on this node (a subscribed feed, a
    /// feed whose labels the host policy refuses, or the owner of a subscribed list).
    pub(super) fn is_moderation_source(&self, author: &AuthorId) -> bool {
        self.settings.moderation.feeds.contains_key(author)
            || self
                .settings
                .host_policy
                .refused_labels
                .iter()
                .any(|(f, _)| f == author)
            || self
                .settings
                .list_subscriptions
                .iter()
                .any(|(o, _)| o == author)
    }

    /// Records a tombstone for every target of every delete held, once per store: the first
    /// store layout erased a held target's payload without one, so a replay of such an event
    /// would otherwise get its text back after an upgrade.
    pub(super) fn backfill_tombstones(&mut self) -> Result<(), StoreError> {
        if self.store.setting(TOMBSTONES_BACKFILLED_SETTING)?.is_some() {
            return Ok(());
        }
        for author in self.store.authors()? {
            let mut pages = LogPages::new(author);
            while let Some(page) = pages.next_page(&self.store)? {
                for event in &page {
                    if let Some(delete) = event.content().and_then(Payload::as_delete) {
                        for id in delete.ids() {
                            self.store.add_tombstone(&id, &author)?;
                        }
                    }
                }
            }
        }
        self.store
            .put_setting(TOMBSTONES_BACKFILLED_SETTING, &[1])?;
        self.store.flush()
    }

    /// Folds a label, declaration or list event into the moderation state, if relevant.
    pub(super) fn apply_moderation_event(&mut self, event: &VerifiedEvent) {
        let author = event.author();
        match event.content() {
            Some(Payload::Label(_)) => {
                let relevant = self.settings.moderation.feeds.contains_key(&author)
                    || self
                        .settings
                        .host_policy
                        .refused_labels
                        .iter()
                        .any(|(f, _)| *f == author);
                if relevant {
                    self.labels.ingest(event);
                }
            }
            Some(Payload::LabelerDeclaration(declaration)) => {
                let seq = event.seq();
                if let Some(sub) = self.settings.moderation.feeds.get_mut(&author) {
                    let newer = self
                        .settings
                        .declaration_seqs
                        .get(&author)
                        .is_none_or(|s| *s < seq);
                    if newer {
                        sub.declaration = Some(declaration.clone());
                        self.settings.declaration_seqs.insert(author, seq);
                    }
                }
            }
            Some(Payload::List(_)) => {
                if let Some(list) = SubscribedList::from_event(event) {
                    let subscribed = self
                        .settings
                        .list_subscriptions
                        .contains(&(author, list.id));
                    let newer = self
                        .settings
                        .list_seqs
                        .get(&list.id)
                        .is_none_or(|s| *s < event.seq());
                    if subscribed && newer {
                        self.settings.list_seqs.insert(list.id, event.seq());
                        self.settings.moderation.lists.insert(list.id, list);
                    }
                }
            }
            _ => {}
        }
    }

    /// Drops stored events that the host policy now refuses.
    pub(super) fn enforce_host_policy(&mut self, now: Timestamp) -> Result<(), StoreError> {
        let policy = self.settings.host_policy.clone();
        // The own log is never removed, whatever the policy says: see `remove_author`.
        let me = self.me;
        for author in policy.blocked_authors.iter().filter(|a| **a != me) {
            self.remove_author(author)?;
        }
        if policy.refused_labels.is_empty() {
            return Ok(());
        }
        for author in self.store.authors()? {
            if author == self.me {
                continue;
            }
            let mut pages = LogPages::new(author);
            while let Some(page) = pages.next_page(&self.store)? {
                for event in page {
                    if policy.decide(event.id(), author, &self.labels, now) != HostDecision::Carry {
                        self.store.remove(&event.id())?;
                    }
                }
            }
        }
        self.store.flush()
    }

    pub(super) fn remove_author(&mut self, author: &AuthorId) -> Result<(), StoreError> {
        // Removing the own log would make the node sign again at seqs it already used: every
        // follower would record a fork against an honest author.
        if *author == self.me {
            return Ok(());
        }
        loop {
            let batch = self.store.log(author, 1, 512)?;
            if batch.is_empty() {
                return Ok(());
            }
            for event in batch {
                for id in self.store.ids_at(author, event.seq())? {
                    self.store.remove(&id)?;
                }
            }
        }
    }
}
