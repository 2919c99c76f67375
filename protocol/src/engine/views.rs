//! What clients are shown: events as feed items (with names, edits, counts and the quoted
//! post), edit history, lists and their timelines. Every client gets the same view, built
//! here from the store.

use super::Engine;
use crate::api::{Counts, FeedItem, History, ListView, Mine, NamedAuthor, Version};
use crate::id::{AuthorId, EventId, ListId};
use crate::payload::{Edit, List, Payload};
use crate::relations::Relation;
use crate::store::{LogPages, Store, StoreError, TimelineCursor};
use crate::time::Timestamp;
use crate::validate::VerifiedEvent;

/// Most edits of one post read (for its newest text and its history).
pub const EDITS_READ_MAX: usize = 1_000;

/// Newest edits read to find a post's current text.
const NEWEST_EDIT_CANDIDATES: usize = 8;

/// Most of the viewer's own reactions (and reposts) of one post listed on its item.
const MINE_MAX: usize = 8;

/// Most events of an author's log scanned to find their lists.
pub const LIST_LOG_SCAN_MAX: usize = 100_000;

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// The client view of a held event: verdict, author name, newest edit, counts, and the
    /// quoted or reposted event when held.
    pub fn item(&self, event: &VerifiedEvent, now: Timestamp) -> Result<FeedItem, StoreError> {
        let mut item = self.plain_item(event, now)?;
        if let Some(target) = item.target
            && matches!(item.kind.as_str(), "post" | "repost")
            && let Some(quoted) = self.store.event(&target)?
        {
            item.quoted = Some(Box::new(self.plain_item(&quoted, now)?));
        }
        Ok(item)
    }

    /// [`Engine::item`] without the quoted event.
    fn plain_item(&self, event: &VerifiedEvent, now: Timestamp) -> Result<FeedItem, StoreError> {
        let mut item = FeedItem::of(event, self.verdict(event, now));
        item.author_name = self.display_name(&event.author())?;
        item.in_timeline =
            crate::store::in_timeline(event) && self.is_timeline_author(&event.author());
        if let Some(Payload::Post(_)) = event.content() {
            if let Some(edit) = self.newest_edit(event)? {
                item.text = Some(edit.text);
                item.edited = true;
            }
            let count = |relation| self.store.reference_count(&event.id(), relation);
            item.counts = Counts {
                replies: count(Relation::Reply)?,
                reposts: count(Relation::Repost)?,
                reactions: count(Relation::Reaction)?,
                quotes: count(Relation::Quote)?,
            };
            let me = self.author();
            let mine = |relation| {
                self.store
                    .references_by(&event.id(), relation, &me, MINE_MAX)
            };
            item.mine = Mine {
                reactions: mine(Relation::Reaction)?,
                reposts: mine(Relation::Repost)?,
            };
        }
        Ok(item)
    }

    /// The held edits of `post` by its author, oldest first by log position (at most the
    /// newest [`EDITS_READ_MAX`]). Edits by anyone else name a post that is not theirs and are
    /// never read, so no number of them can crowd out the author's. A post its author deleted
    /// has no edits to show, whatever is still on disk.
    fn edits_of(&self, post: &VerifiedEvent) -> Result<Vec<VerifiedEvent>, StoreError> {
        self.edits_limited(post, EDITS_READ_MAX)
    }

    fn edits_limited(
        &self,
        post: &VerifiedEvent,
        limit: usize,
    ) -> Result<Vec<VerifiedEvent>, StoreError> {
        let author = post.author();
        if self.store.is_deleted(&post.id(), &author)? {
            return Ok(Vec::new());
        }
        let mut edits = Vec::new();
        for id in self
            .store
            .references_by(&post.id(), Relation::Edit, &author, limit)?
        {
            if let Some(edit) = self.store.event(&id)?
                && edit.author() == author
            {
                edits.push(edit);
            }
        }
        edits.sort_by_key(|e| (e.seq(), e.id()));
        Ok(edits)
    }

    /// The newest edit of `post` whose text is held. Reads the few newest by time and picks the
    /// highest log position among them (the two orders agree for an honest author).
    pub(super) fn newest_edit(&self, post: &VerifiedEvent) -> Result<Option<Edit>, StoreError> {
        Ok(self
            .edits_limited(post, NEWEST_EDIT_CANDIDATES)?
            .iter()
            .rev()
            .find_map(|e| match e.content() {
                Some(Payload::Edit(edit)) => Some(edit.clone()),
                _ => None,
            }))
    }

    /// Every version of a post held, oldest first; `id` may name the post or one of its edits.
    pub fn history(&self, id: &EventId) -> Result<Option<History>, StoreError> {
        let Some(mut post) = self.store.event(id)? else {
            return Ok(None);
        };
        if let Some(Payload::Edit(edit)) = post.content() {
            match self.store.event(&edit.target.id)? {
                Some(target) => post = target,
                None => return Ok(None),
            }
        }
        let text_of = |e: &VerifiedEvent| match e.content() {
            Some(Payload::Post(p)) => Some(p.text.clone()),
            Some(Payload::Edit(edit)) => Some(edit.text.clone()),
            _ => None,
        };
        let mut versions = vec![Version {
            id: post.id(),
            created_at: post.header().created_at,
            text: text_of(&post),
            current: false,
        }];
        for edit in self.edits_of(&post)? {
            versions.push(Version {
                id: edit.id(),
                created_at: edit.header().created_at,
                text: text_of(&edit),
                current: false,
            });
        }
        if let Some(current) = versions.iter_mut().rev().find(|v| v.text.is_some()) {
            current.current = true;
        }
        Ok(Some(History {
            post: post.id(),
            versions,
        }))
    }

    /// The lists `owner` has published, each as last published, in name order. Scans up to
    /// [`LIST_LOG_SCAN_MAX`] events of the owner's log.
    pub fn published_lists(&self, owner: &AuthorId) -> Result<Vec<List>, StoreError> {
        let mut newest: std::collections::BTreeMap<String, List> = Default::default();
        let mut pages = LogPages::new(*owner);
        let mut scanned = 0;
        while scanned < LIST_LOG_SCAN_MAX {
            let Some(page) = pages.next_page(&self.store)? else {
                break;
            };
            scanned += page.len();
            for e in &page {
                if let Some(Payload::List(l)) = e.content() {
                    newest.insert(l.name.clone(), l.clone());
                }
            }
        }
        Ok(newest.into_values().collect())
    }

    /// `author` with the display name this node knows for them.
    pub fn named(&self, author: &AuthorId) -> Result<NamedAuthor, StoreError> {
        Ok(NamedAuthor {
            author: *author,
            name: self.display_name(author)?,
        })
    }

    /// Who this node follows, with their names.
    pub fn following(&self) -> Result<Vec<NamedAuthor>, StoreError> {
        self.settings()
            .follows
            .iter()
            .map(|a| self.named(a))
            .collect()
    }

    /// [`Engine::published_lists`] for people: members with the names the node knows.
    pub fn lists_of(&self, owner: &AuthorId) -> Result<Vec<ListView>, StoreError> {
        self.published_lists(owner)?
            .into_iter()
            .map(|l| {
                let members = l
                    .members
                    .iter()
                    .map(|a| self.named(a))
                    .collect::<Result<_, StoreError>>()?;
                Ok(ListView {
                    id: ListId::derive(owner, &l.name),
                    owner: *owner,
                    name: l.name,
                    description: l.description,
                    purpose: l.purpose,
                    members,
                })
            })
            .collect()
    }

    /// `owner`'s list named `name` (exact, then case-insensitive), as last published.
    pub fn list_named(&self, owner: &AuthorId, name: &str) -> Result<Option<ListView>, StoreError> {
        let lists = self.lists_of(owner)?;
        Ok(lists
            .iter()
            .find(|l| l.name == name)
            .or_else(|| lists.iter().find(|l| l.name.eq_ignore_ascii_case(name)))
            .cloned())
    }

    /// Newest-first posts and reposts by the members of `list`, each with its verdict.
    pub fn list_timeline(
        &self,
        list: &ListView,
        before: Option<TimelineCursor>,
        limit: usize,
        now: Timestamp,
    ) -> Result<Vec<FeedItem>, StoreError> {
        let members: std::collections::BTreeSet<AuthorId> =
            list.members.iter().map(|m| m.author).collect();
        let page = self
            .store
            .timeline(&|a| members.contains(a), before, limit)?;
        page.iter().map(|e| self.item(e, now)).collect()
    }
}
