//! Notifications, followers and search for the node's own author: what concerns me, who
//! follows me as far as this node has seen, and what the node holds that matches a query.

use super::{CommandError, Engine, Output};
use crate::api::{Follower, Followers, Notification, Notifications, SearchResults};
use crate::id::{AuthorId, EventId};
use crate::payload::{Action, Payload};
use crate::relations::{NotificationKind, notification_of};
use crate::search::{Query, author_term, tag_term, words};
use crate::store::{NOTIFICATIONS_MAX, Store, StoreError, TimelineCursor};
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;
use std::collections::{BTreeMap, BTreeSet};

/// The store setting holding the newest notification position marked read.
const NOTIFICATIONS_READ_SETTING: &str = "notifications_read";

/// Journal entries read per store call.
const JOURNAL_PAGE: usize = 256;

/// Unread notifications counted at most (a count above reads as "this many or more").
pub const UNREAD_COUNTED_MAX: u64 = 1_000;

/// Rounds of index reads one search page may take to fill up past hidden or superseded hits.
const SEARCH_ROUNDS_MAX: usize = 16;

/// What the followers list says about itself.
pub const FOLLOWERS_NOTE: &str = "These are the follows of you this node has received. A \
    peer-to-peer node sees only the part of the network it is connected to, so others may \
    follow you without this node knowing.";

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// Records a notification if `event` concerns this node's author (called once per event,
    /// when its payload is first stored).
    pub(super) fn notify(&mut self, event: &VerifiedEvent) -> Result<(), StoreError> {
        let feeds = &self.settings.moderation.feeds;
        if notification_of(event, &self.me, |a| feeds.contains_key(a)).is_some() {
            let position = self.store.add_notification(&event.id())?;
            self.push(Output::Notified {
                position,
                id: event.id(),
            });
        }
        Ok(())
    }

    /// Why the event notifies, if it is shown now: held, still concerning this node's author,
    /// not only a followers update, and not hidden by moderation.
    fn shown_reason(
        &self,
        id: &EventId,
        now: Timestamp,
    ) -> Result<Option<(VerifiedEvent, NotificationKind)>, StoreError> {
        let Some(event) = self.store.event(id)? else {
            return Ok(None);
        };
        let feeds = &self.settings.moderation.feeds;
        let Some(reason) =
            notification_of(&event, &self.me, |a| feeds.contains_key(a)).filter(|k| k.is_shown())
        else {
            return Ok(None);
        };
        if self.verdict(&event, now).action == Action::Hide {
            return Ok(None);
        }
        Ok(Some((event, reason)))
    }

    /// The notification at `position` as shown now, or `None` if it is not shown (its event
    /// is gone, moderation hides it, or it only updates followers).
    pub fn notification(
        &self,
        position: u64,
        id: &EventId,
        now: Timestamp,
    ) -> Result<Option<Notification>, StoreError> {
        self.notification_read_at(position, id, self.notifications_read()?, now)
    }

    /// [`Engine::notification`] with the read mark already at hand.
    fn notification_read_at(
        &self,
        position: u64,
        id: &EventId,
        read: u64,
        now: Timestamp,
    ) -> Result<Option<Notification>, StoreError> {
        let Some((event, reason)) = self.shown_reason(id, now)? else {
            return Ok(None);
        };
        Ok(Some(Notification {
            position,
            reason,
            unread: position > read,
            item: self.item(&event, now)?,
        }))
    }

    /// Notifications newest first below `before`: only unread ones unless `all`.
    pub fn notifications(
        &self,
        all: bool,
        before: Option<u64>,
        limit: usize,
        now: Timestamp,
    ) -> Result<Notifications, StoreError> {
        let read = self.notifications_read()?;
        let mut items = Vec::new();
        let mut cursor = before;
        let mut exhausted = false;
        'pages: while items.len() < limit {
            let page = self.store.notifications(cursor, JOURNAL_PAGE)?;
            if page.is_empty() {
                exhausted = true;
                break;
            }
            for (position, id) in page {
                cursor = Some(position);
                if !all && position <= read {
                    exhausted = true;
                    break 'pages;
                }
                if let Some(n) = self.notification_read_at(position, &id, read, now)? {
                    items.push(n);
                    if items.len() == limit {
                        break 'pages;
                    }
                }
            }
        }
        let next = if exhausted {
            None
        } else {
            items.last().map(|n| n.position)
        };
        Ok(Notifications {
            items,
            unread: self.unread_count(read, now)?,
            next,
        })
    }

    /// Unread notifications shown, counting at most [`UNREAD_COUNTED_MAX`].
    fn unread_count(&self, read: u64, now: Timestamp) -> Result<u64, StoreError> {
        let mut count = 0;
        let mut cursor = None;
        loop {
            let page = self.store.notifications(cursor, JOURNAL_PAGE)?;
            let Some(last) = page.last() else {
                return Ok(count);
            };
            cursor = Some(last.0);
            for (position, id) in &page {
                if *position <= read || count >= UNREAD_COUNTED_MAX {
                    return Ok(count);
                }
                if self.shown_reason(id, now)?.is_some() {
                    count += 1;
                }
            }
        }
    }

    /// The newest notification position marked read (0 before any).
    pub fn notifications_read(&self) -> Result<u64, StoreError> {
        Ok(self
            .store
            .setting(NOTIFICATIONS_READ_SETTING)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Marks notifications up to `position` (default: the newest) read. Returns the mark.
    pub fn mark_notifications_read(&mut self, position: Option<u64>) -> Result<u64, StoreError> {
        let newest = self
            .store
            .notifications(None, 1)?
            .first()
            .map_or(0, |n| n.0);
        let mark = position
            .unwrap_or(newest)
            .min(newest)
            .max(self.notifications_read()?);
        self.store
            .put_setting(NOTIFICATIONS_READ_SETTING, &mark.to_be_bytes())?;
        self.store.flush()?;
        Ok(mark)
    }

    /// Who follows this node's author, from the follow and unfollow events it has received
    /// (the newest of each author's decides), newest first.
    pub fn followers(&self) -> Result<Followers, StoreError> {
        let mut newest: BTreeMap<AuthorId, (u64, Option<Follower>)> = BTreeMap::new();
        let mut cursor = None;
        let mut read = 0;
        while read < NOTIFICATIONS_MAX as usize {
            let page = self.store.notifications(cursor, JOURNAL_PAGE)?;
            let Some(last) = page.last() else { break };
            cursor = Some(last.0);
            read += page.len();
            for (_, id) in page {
                let Some(event) = self.store.event(&id)? else {
                    continue;
                };
                let follower = match notification_of(&event, &self.me, |_| false) {
                    Some(NotificationKind::Follow) => Some(Follower {
                        author: event.author(),
                        name: self.display_name(&event.author())?,
                        event: event.id(),
                        since: event.header().created_at,
                    }),
                    Some(NotificationKind::Unfollow) => None,
                    _ => continue,
                };
                let entry = newest.entry(event.author()).or_insert((0, None));
                if event.seq() >= entry.0 {
                    *entry = (event.seq(), follower);
                }
            }
        }
        let mut followers: Vec<Follower> = newest.into_values().filter_map(|(_, f)| f).collect();
        followers.sort_by_key(|f| std::cmp::Reverse((f.since, f.event)));
        Ok(Followers {
            followers,
            note: FOLLOWERS_NOTE.into(),
        })
    }

    /// Held posts matching `query` (words, `#tags`, `from:AUTHOR`), newest first, strictly
    /// older than `before`, moderation applied (hidden posts are left out). A post matches by
    /// its current text: the newest edit's, or its own if never edited.
    pub fn search(
        &self,
        query: &str,
        before: Option<TimelineCursor>,
        limit: usize,
        now: Timestamp,
    ) -> Result<SearchResults, CommandError> {
        let query = Query::parse(query)?;
        let mut terms = query.terms;
        for from in &query.from {
            terms.push(author_term(&self.resolve_author(from)?));
        }
        let mut items = Vec::new();
        let mut seen = BTreeSet::new();
        let mut cursor = before;
        let mut exhausted = false;
        for _ in 0..SEARCH_ROUNDS_MAX {
            let hits = self.store.search(&terms, cursor, limit)?;
            if hits.len() < limit {
                exhausted = true;
            }
            for hit in hits {
                cursor = Some(hit);
                let Some(post) = self.post_of_hit(&hit.id)? else {
                    continue;
                };
                if seen.contains(&post.id()) || !self.current_text_matches(&post, &terms)? {
                    continue;
                }
                seen.insert(post.id());
                let item = self.item(&post, now)?;
                if item.moderation.action != Action::Hide {
                    items.push(item);
                    if items.len() == limit {
                        break;
                    }
                }
            }
            if exhausted || items.len() == limit {
                break;
            }
        }
        let next = (!exhausted || items.len() == limit)
            .then(|| cursor.map(|c| format!("{}:{}", c.created_at.0, c.id)))
            .flatten();
        Ok(SearchResults { items, next })
    }

    /// The post a search hit stands for: the post itself, or the post an edit by its own
    /// author edits (if its text is held).
    fn post_of_hit(&self, id: &EventId) -> Result<Option<VerifiedEvent>, StoreError> {
        let Some(event) = self.store.event(id)? else {
            return Ok(None);
        };
        Ok(match event.content() {
            Some(Payload::Post(_)) => Some(event),
            Some(Payload::Edit(edit)) => self
                .store
                .event(&edit.target.id)?
                .filter(|post| post.author() == event.author() && post.content().is_some()),
            _ => None,
        })
    }

    /// Whether every query term is in the post as readers see it now: the current text's
    /// words (the newest edit's, or its own), its tags and its author. An edit keeps the
    /// post's tags, so a tag still finds an edited post, and words only an older version had
    /// find nothing.
    fn current_text_matches(
        &self,
        post: &VerifiedEvent,
        terms: &[String],
    ) -> Result<bool, StoreError> {
        let Some(Payload::Post(p)) = post.content() else {
            return Ok(false);
        };
        let text = match self.newest_edit(post)? {
            Some(edit) => edit.text,
            None => p.text.clone(),
        };
        let mut present: BTreeSet<String> = words(&text).into_iter().collect();
        present.extend(p.tags.iter().map(|t| tag_term(t)));
        present.insert(author_term(&post.author()));
        Ok(terms.iter().all(|t| present.contains(t)))
    }
}
