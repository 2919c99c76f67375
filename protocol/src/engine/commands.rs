//! Commands from the local user: publish, follow, settings changes, and the reads the API serves.

use super::{CommandError, Engine, NodeSettings, Origin, Output, SIGNED_SEQ_SETTING, topics_for};
use crate::id::AuthorId;
use crate::moderation::{FeedSubscription, Verdict, evaluate};
use crate::payload::{Delete, DeleteTarget, Payload};
use crate::store::{Store, StoreError, TimelineCursor};
use crate::time::Timestamp;
use crate::validate::{VerifiedEvent, sign_next};
use std::collections::BTreeMap;

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// Signs `content` as the next event of this node's author, stores it durably, and queues it
    /// for gossip. Returns only after the store has flushed.
    ///
    /// A delete is completed with the topics each held target travelled on, so it reaches
    /// every reader the target reached (a reply's delete reaches the replied-to author).
    pub fn publish(
        &mut self,
        content: &Payload,
        now: Timestamp,
    ) -> Result<VerifiedEvent, CommandError> {
        let routed;
        let content = match content {
            Payload::Delete(delete) | Payload::DeleteV1(delete) => {
                routed = Payload::Delete(self.route_delete(delete)?);
                &routed
            }
            other => other,
        };
        let held = self.store.log_state(&self.me)?.highest;
        let signed = self.signed_seq()?;
        if signed > held {
            return Err(CommandError::WouldFork { signed, held });
        }
        let head = self.own_head()?;
        let event = sign_next(&self.key, head.as_ref(), now, content)?;
        self.ingest_verified(event.clone(), Origin::Local, now)?;
        // Written after the event and made durable by the same flush, before anything is
        // published: from then on this node never signs at this seq again, whatever happens to
        // the store's copy of its log. (Written first, a crash could keep the record but lose
        // the unpublished event, and the node would refuse to post ever again.)
        self.store
            .put_setting(SIGNED_SEQ_SETTING, &event.seq().to_be_bytes())?;
        self.store.flush()?;
        self.push(Output::Publish {
            id: event.id(),
            topics: topics_for(&event),
            data: event.encode(),
        });
        Ok(event)
    }

    /// Checks that every held target of a delete is our own, and names for each the topics it
    /// was published on besides ours.
    fn route_delete(&self, delete: &Delete) -> Result<Delete, CommandError> {
        let mut targets = Vec::with_capacity(delete.targets.len());
        for target in &delete.targets {
            let mut topics = target.topics.clone();
            if let Some(held) = self.store.event(&target.id)? {
                if held.author() != self.me {
                    return Err(CommandError::NotYourEvent(target.id));
                }
                for author in topics_for(&held).into_iter().skip(1) {
                    if !topics.contains(&author) {
                        topics.push(author);
                    }
                }
            }
            targets.push(DeleteTarget {
                id: target.id,
                topics,
            });
        }
        Ok(Delete { targets })
    }

    /// The highest seq this node has ever signed (0 before its first event).
    pub(super) fn signed_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .store
            .setting(SIGNED_SEQ_SETTING)?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    pub(super) fn own_head(&self) -> Result<Option<crate::validate::LogHead>, StoreError> {
        let state = self.store.log_state(&self.me)?;
        if state.highest == 0 {
            return Ok(None);
        }
        let id = self.store.ids_at(&self.me, state.highest)?;
        match id.first() {
            Some(id) => Ok(self.store.event(id)?.map(|e| e.head())),
            None => Ok(None),
        }
    }

    /// Follows an author: keep and serve their log, subscribe, backfill from peers that hold
    /// it, and find who hosts it through the DHT when no connected peer does.
    /// Also publishes a `Follow` event, so the follow is part of this author's public log.
    pub fn follow(
        &mut self,
        author: AuthorId,
        now: Timestamp,
    ) -> Result<VerifiedEvent, CommandError> {
        if author == self.me {
            return Err(CommandError::FollowSelf);
        }
        if self.settings.follows.contains(&author) {
            // No second follow event: the log already says so. Still a nudge to fetch.
            self.ask_heads_for(&[author]);
            return Err(CommandError::AlreadyFollowing(author));
        }
        self.settings.follows.insert(author);
        self.settings.moderation.follows.insert(author);
        self.save_settings()?;
        // Subscribed first, so the follow (published on the followed author's topic too) goes
        // out to whoever already carries that topic.
        self.refresh_hosted();
        let event = self.publish(&Payload::Follow(crate::payload::Follow { author }), now)?;
        // Ask the peers we have first: the DHT is searched (and providers dialled) only if none
        // of them serves the author, which `look_up_unserved` decides when their heads arrive.
        // Dialling providers of every followed author regardless would multiply connections.
        if self.peers.is_empty() {
            self.look_up_unserved(now);
        } else {
            self.ask_heads_for(&[author]);
        }
        Ok(event)
    }

    /// Stops following an author; their events stay stored until removed.
    pub fn unfollow(
        &mut self,
        author: AuthorId,
        now: Timestamp,
    ) -> Result<VerifiedEvent, CommandError> {
        self.settings.follows.remove(&author);
        self.settings.moderation.follows.remove(&author);
        self.save_settings()?;
        let event = self.publish(&Payload::Unfollow(crate::payload::Unfollow { author }), now)?;
        self.refresh_hosted();
        Ok(event)
    }

    /// Replaces the node's settings (moderation preferences, host policy) after a user change,
    /// re-applying host policy to what is stored and re-hosting feeds and lists as needed.
    pub fn update_settings(
        &mut self,
        change: impl FnOnce(&mut NodeSettings),
        now: Timestamp,
    ) -> Result<(), CommandError> {
        change(&mut self.settings);
        self.settings.moderation.viewer = Some(self.me);
        self.settings.moderation.follows = self.settings.follows.clone();
        self.save_settings()?;
        self.rebuild_moderation()?;
        self.refresh_hosted();
        self.enforce_host_policy(now)?;
        let fresh: Vec<AuthorId> = self.hosted.iter().copied().collect();
        self.ask_heads_for(&fresh);
        Ok(())
    }

    /// The viewer's verdict on an event now.
    pub fn verdict(&self, event: &VerifiedEvent, now: Timestamp) -> Verdict {
        evaluate(event, &self.settings.moderation, &self.labels, now)
    }

    /// Whether `author`'s posts belong in the timeline: this node's own and followed authors'.
    pub fn is_timeline_author(&self, author: &AuthorId) -> bool {
        *author == self.me || self.settings.follows.contains(author)
    }

    /// The timeline (followed authors and own), newest first, each with its verdict.
    pub fn timeline(
        &self,
        before: Option<TimelineCursor>,
        limit: usize,
        now: Timestamp,
    ) -> Result<Vec<(VerifiedEvent, Verdict)>, StoreError> {
        Ok(self
            .store
            .timeline(&|a| self.is_timeline_author(a), before, limit)?
            .into_iter()
            .map(|e| {
                let v = self.verdict(&e, now);
                (e, v)
            })
            .collect())
    }

    pub(super) fn save_settings(&mut self) -> Result<(), StoreError> {
        self.settings.save(&mut self.store)?;
        self.store.flush()
    }

    /// Subscribes to a moderation feed with per-label overrides.
    pub fn subscribe_feed(
        &mut self,
        feed: AuthorId,
        overrides: BTreeMap<String, crate::payload::Action>,
        now: Timestamp,
    ) -> Result<(), CommandError> {
        self.update_settings(
            |s| {
                let sub = s
                    .moderation
                    .feeds
                    .entry(feed)
                    .or_insert_with(FeedSubscription::default);
                sub.overrides.extend(overrides);
            },
            now,
        )
    }
}
