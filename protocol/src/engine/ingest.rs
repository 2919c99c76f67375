//! The one ingest path for every source (gossip, backfill, local): decode, check, verify, store,
//! and the effects an event has (deletions, labels, declarations, lists).
//!
//! What a node stores is bounded by what it hosts: its own log, the logs of hosted authors
//! (follows, feeds, list owners), and events by strangers that arrive on a hosted author's topic
//! because they concern that author, within the stranger budget. Gossip on a topic the event
//! does not belong to is rejected and costs the sender.

use super::routing::{Route, route};
use super::{Acceptance, Engine, Inconsistency, Misbehaviour, Origin, Output};
use crate::event::SignedEvent;
use crate::id::{AuthorId, EventId};
use crate::log::{ChainError, check_successor};
use crate::moderation::host::HostDecision;
use crate::payload::{LabelTarget, Payload};
use crate::relations::Relation;
use crate::store::{Inserted, Store, StoreError};
use crate::time::Timestamp;
use crate::validate::{CheckedEvent, EventError, ValidationError, VerifiedEvent};
use crate::wire::Envelope;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// A gossip message arrived from `from` on `topic` (the author whose topic carried it).
    /// Returns the validation result for gossipsub; a rejection also costs `from` reputation.
    pub fn handle_gossip(
        &mut self,
        from: &P,
        topic: &AuthorId,
        data: &[u8],
        now: Timestamp,
    ) -> Acceptance {
        let message = GossipMessage {
            from: from.clone(),
            topic: *topic,
            data,
        };
        self.handle_gossip_batch(&[message], now)
            .pop()
            .unwrap_or(Acceptance::Ignore)
    }

    /// Gossip messages that arrived together, judged exactly as [`Engine::handle_gossip`] would
    /// one by one in this order, but verified in one batch and stored in one store transaction
    /// (group commit): the per-event cost of both is what limits ingest. Returns one result
    /// per message, in order.
    pub fn handle_gossip_batch(
        &mut self,
        messages: &[GossipMessage<'_, P>],
        now: Timestamp,
    ) -> Vec<Acceptance> {
        let mut results = vec![Acceptance::Ignore; messages.len()];
        let mut next = 0;
        while next < messages.len() {
            // A segment ends after an event with effects (a label may change what the host
            // policy carries), so every message is screened after the effects of those before.
            let mut segment = Vec::new();
            while let Some(message) = messages.get(next) {
                let i = next;
                next += 1;
                match self.screen_gossip(message, now) {
                    Ok(event) => {
                        let ends_segment = has_effects(event.content());
                        segment.push((i, event));
                        if ends_segment {
                            break;
                        }
                    }
                    Err(acceptance) => results[i] = acceptance,
                }
            }
            self.verify_and_ingest_gossip(messages, segment, &mut results, now);
        }
        results
    }

    /// Verifies screened gossip in one batch and stores what is valid and admitted.
    fn verify_and_ingest_gossip(
        &mut self,
        messages: &[GossipMessage<'_, P>],
        segment: Vec<(usize, CheckedEvent)>,
        results: &mut [Acceptance],
        now: Timestamp,
    ) {
        let (positions, checked): (Vec<usize>, Vec<CheckedEvent>) = segment.into_iter().unzip();
        let mut admitted = Vec::new();
        let mut admitted_positions = Vec::new();
        let mut ids = BTreeSet::new();
        let verified = crate::validate::verify_batch_with(checked, &mut self.keys);
        for (result, i) in verified.into_iter().zip(positions) {
            let message = &messages[i];
            match result {
                // The same event twice in one segment (after verification, so a forged copy
                // sent first cannot shadow the real one): the second adds nothing and costs
                // no stranger budget, as it would not one by one.
                Ok(event) if !ids.insert(event.id()) => {}
                Ok(event) => {
                    if self.hosted.contains(&event.author())
                        || self.admit_stranger(&message.topic, &event, now)
                    {
                        admitted.push(event);
                        admitted_positions.push(i);
                    }
                }
                Err(e) => {
                    results[i] =
                        self.reject(&message.from, Misbehaviour::InvalidGossip(e.into()), now);
                }
            }
        }
        let stored = self.ingest_verified_batch(admitted, Origin::Gossip, now);
        for (outcome, i) in stored.into_iter().zip(admitted_positions) {
            // Nothing new (a replay of a deleted event comes back without its payload and adds
            // nothing): not forwarded.
            if let Ok(true) = outcome {
                results[i] = Acceptance::Accept;
            }
        }
    }

    /// Everything about a gossip message that needs no signature check: decoding, limits,
    /// routing, whether it is wanted and new here. `Err` carries the verdict when it ends here.
    fn screen_gossip(
        &mut self,
        message: &GossipMessage<'_, P>,
        now: Timestamp,
    ) -> Result<CheckedEvent, Acceptance> {
        let (from, topic) = (&message.from, &message.topic);
        let checked = match SignedEvent::decode(message.data)
            .map_err(EventError::from)
            .and_then(|e| CheckedEvent::check(e, now).map_err(EventError::from))
        {
            Ok(checked) => checked,
            // Our clock may be the one that is wrong; do not punish the sender for it.
            Err(EventError::Invalid(ValidationError::FromTheFuture { .. })) => {
                return Err(Acceptance::Ignore);
            }
            Err(e) => return Err(self.reject(from, Misbehaviour::InvalidGossip(e), now)),
        };
        // Honest nodes only ever gossip whole events (a deleted one is not forwarded at all);
        // a bare header could only stand in for the real message, so it is never taken.
        if !checked.has_payload() {
            return Err(Acceptance::Ignore);
        }
        let author = checked.header().author;
        match route(topic, author, checked.content()) {
            Route::OnTopic => {}
            Route::OffTopic => {
                return Err(self.reject(from, Misbehaviour::OffTopic(checked.id()), now));
            }
            // A newer node may route it here; we cannot tell, so we neither keep nor punish.
            Route::Unknowable => return Err(Acceptance::Ignore),
        }
        if !self.hosted.contains(topic) {
            return Err(Acceptance::Ignore);
        }
        match self.store.event(&checked.id()) {
            // Already held whole: not forwarded again. Gossipsub's duplicate cache forgets after
            // minutes, the store does not, so accepting would let anyone replaying old events
            // make every node forward them again (an amplification attack).
            Ok(Some(held)) if held.payload_bytes().is_some() => return Err(Acceptance::Ignore),
            Ok(_) => {}
            Err(_) => return Err(Acceptance::Ignore),
        }
        let decision = self
            .settings
            .host_policy
            .decide(checked.id(), author, &self.labels, now);
        if decision != HostDecision::Carry && author != self.me {
            return Err(Acceptance::Ignore);
        }
        Ok(checked)
    }

    /// Whether an event by a stranger (an author not hosted) fits the budget of `topic`. A
    /// stranger's delete of an event of theirs whose text the node still holds always fits:
    /// removing what is stored must never be refused. (Only while the text is there: otherwise
    /// deletes naming an already deleted event would be a free way past the budget.)
    fn admit_stranger(&mut self, topic: &AuthorId, event: &VerifiedEvent, now: Timestamp) -> bool {
        if let Some(delete) = event.content().and_then(Payload::as_delete) {
            let author = event.author();
            let deletes_held = delete.ids().any(|id| {
                matches!(
                    self.store.event(&id),
                    Ok(Some(held)) if held.author() == author && held.payload_bytes().is_some()
                )
            });
            if deletes_held {
                return true;
            }
        }
        self.strangers.admit(*topic, event.author(), now)
    }

    /// Reports a rejected gossip message as the sender's offence.
    fn reject(&mut self, from: &P, reason: Misbehaviour, now: Timestamp) -> Acceptance {
        self.misbehaved(from, reason, now);
        Acceptance::Reject
    }

    /// Decodes, checks and batch-verifies a range response, storing what is valid.
    pub(super) fn ingest_batch(
        &mut self,
        peer: &P,
        author: &AuthorId,
        envelopes: Vec<Envelope>,
        now: Timestamp,
    ) {
        let mut checked = Vec::with_capacity(envelopes.len());
        let mut invalid = 0usize;
        for Envelope(bytes) in envelopes {
            let event = SignedEvent::decode(&bytes)
                .map_err(EventError::from)
                .and_then(|e| CheckedEvent::check(e, now).map_err(EventError::from));
            match event {
                // Our clock may be behind theirs: skipped, not charged (it comes again later).
                Err(EventError::Invalid(ValidationError::FromTheFuture { .. })) => {}
                Ok(c) if c.header().author == *author => {
                    if !self.already_complete(&c) {
                        checked.push(c);
                    }
                }
                _ => invalid += 1,
            }
        }
        let mut carried = Vec::with_capacity(checked.len());
        for result in crate::validate::verify_batch_with(checked, &mut self.keys) {
            match result {
                Ok(event) => {
                    let decision = self.settings.host_policy.decide(
                        event.id(),
                        event.author(),
                        &self.labels,
                        now,
                    );
                    if decision == HostDecision::Carry || event.author() == self.me {
                        carried.push(event);
                    }
                }
                Err(_) => invalid += 1,
            }
        }
        // A store failure here is retried on the next heads round.
        let _ = self.ingest_verified_batch(carried, Origin::Backfill, now);
        if invalid > 0 {
            self.misbehaved(peer, Misbehaviour::InvalidEvents(invalid), now);
        }
    }

    pub(super) fn already_complete(&self, checked: &CheckedEvent) -> bool {
        match self.store.event(&checked.id()) {
            Ok(Some(held)) => held.payload_bytes().is_some() || checked_without_payload(checked),
            _ => false,
        }
    }

    /// The one ingest path for verified events: tombstones, store, log checks, effects, notify.
    /// Returns whether anything new was stored.
    pub(super) fn ingest_verified(
        &mut self,
        event: VerifiedEvent,
        origin: Origin,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let event = self.without_deleted_payload(event)?;
        let inserted = self.store.insert(&event)?;
        self.after_insert(&event, inserted, origin, &Near::new(), now)
    }

    /// [`Engine::ingest_verified`] for many events, in order, with one store transaction per
    /// run of events that change nothing beyond themselves. An event with effects (a delete,
    /// label, declaration or list) ends the run before it and is ingested on its own, so
    /// every event sees the effects of those before it, as one by one.
    pub(super) fn ingest_verified_batch(
        &mut self,
        events: Vec<VerifiedEvent>,
        origin: Origin,
        now: Timestamp,
    ) -> Vec<Result<bool, StoreError>> {
        let mut results = Vec::with_capacity(events.len());
        let mut run = Vec::new();
        for event in events {
            if has_effects(event.content()) {
                results.extend(self.ingest_run(std::mem::take(&mut run), origin, now));
                results.push(self.ingest_verified(event, origin, now));
            } else {
                run.push(event);
            }
        }
        results.extend(self.ingest_run(run, origin, now));
        results
    }

    /// Stores a run of events without effects in one transaction. A store failure fails the
    /// whole run (nothing of it is stored; gossip is dropped, backfill retries next round).
    fn ingest_run(
        &mut self,
        run: Vec<VerifiedEvent>,
        origin: Origin,
        now: Timestamp,
    ) -> Vec<Result<bool, StoreError>> {
        let count = run.len();
        let stored = run
            .into_iter()
            .map(|event| self.without_deleted_payload(event))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|batch| {
                let inserted = self.store.insert_batch(&batch)?;
                if inserted.len() == batch.len() {
                    Ok((batch, inserted))
                } else {
                    Err(StoreError::Backend(
                        "the store answered a batch of the wrong size".into(),
                    ))
                }
            });
        let (batch, inserted) = match stored {
            Ok(stored) => stored,
            Err(e) => return vec![Err(e); count],
        };
        // What the batch placed first at a log position is what the store would read back.
        let near: Near<'_> = batch
            .iter()
            .zip(&inserted)
            .filter(|(_, inserted)| **inserted == Inserted::New)
            .map(|(event, _)| ((event.author(), event.seq()), event))
            .collect();
        batch
            .iter()
            .zip(inserted)
            .map(|(event, inserted)| self.after_insert(event, inserted, origin, &near, now))
            .collect()
    }

    /// A deletion by the event's own author is final, whatever arrives later and however: the
    /// original bytes replayed by gossip or served in a range come back without payload.
    /// The same holds for an edit of a post its author deleted: every version goes.
    fn without_deleted_payload(&self, event: VerifiedEvent) -> Result<VerifiedEvent, StoreError> {
        let edited_post_deleted = match event.content() {
            Some(Payload::Edit(edit)) => self.store.is_deleted(&edit.target.id, &event.author())?,
            _ => false,
        };
        Ok(
            if edited_post_deleted || self.store.is_deleted(&event.id(), &event.author())? {
                event.without_payload()
            } else {
                event
            },
        )
    }

    /// What follows storing an event: fork evidence, log checks, effects, the notification.
    fn after_insert(
        &mut self,
        event: &VerifiedEvent,
        inserted: Inserted,
        origin: Origin,
        near: &Near<'_>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let author = event.author();
        match &inserted {
            Inserted::AlreadyHad => return Ok(false),
            Inserted::Fork(evidence) => self.push(Output::LogInconsistent {
                author,
                seq: evidence.seq,
                problem: Inconsistency::Fork {
                    first: evidence.first.id(),
                    second: evidence.second.id(),
                },
            }),
            Inserted::New | Inserted::PayloadFilled => {}
        }
        self.check_links(event, near)?;
        self.apply_effects(event, now)?;
        if event.content().is_some() {
            self.notify(event)?;
        }
        self.push(Output::Stored {
            id: event.id(),
            author,
            kind: event.kind(),
            origin,
        });
        Ok(true)
    }

    /// Checks the event against its held neighbours; a broken link is evidence, not a rejection.
    /// `near` holds neighbours just stored in the same batch, found without a store read.
    pub(super) fn check_links(
        &mut self,
        event: &VerifiedEvent,
        near: &Near<'_>,
    ) -> Result<(), StoreError> {
        let author = event.author();
        let mut problems: Vec<(u64, ChainError)> = Vec::new();
        if event.seq() > 1
            && let Some(prev) = self.first_held_at(near, &author, event.seq() - 1)?
            && let Err(e) = check_successor(&prev, event.header())
        {
            problems.push((event.seq(), e));
        }
        if let Some(next) = self.first_held_at(near, &author, event.seq() + 1)?
            && let Err(e) = check_successor(event, next.header())
        {
            problems.push((next.seq(), e));
        }
        for (seq, problem) in problems {
            self.push(Output::LogInconsistent {
                author,
                seq,
                problem: problem.into(),
            });
        }
        Ok(())
    }

    /// The first event held at a log position, from the batch if it is there.
    fn first_held_at<'a>(
        &self,
        near: &Near<'a>,
        author: &AuthorId,
        seq: u64,
    ) -> Result<Option<Cow<'a, VerifiedEvent>>, StoreError> {
        if let Some(event) = near.get(&(*author, seq)) {
            return Ok(Some(Cow::Borrowed(*event)));
        }
        Ok(match self.store.ids_at(author, seq)?.first() {
            Some(id) => self.store.event(id)?.map(Cow::Owned),
            None => None,
        })
    }

    pub(super) fn apply_effects(
        &mut self,
        event: &VerifiedEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let author = event.author();
        match event.content() {
            Some(Payload::Delete(delete) | Payload::DeleteV1(delete)) => {
                let mut moderation_changed = false;
                for target in delete.ids() {
                    // Recorded per deleter: only the deleter's own event is ever affected by it,
                    // so a stranger's delete of the same id changes nothing.
                    self.store.add_tombstone(&target, &author)?;
                    // Every edit goes too, held post or not: an edit can arrive before its
                    // post, and none of its text may outlive the delete.
                    self.erase_edits(&target, &author)?;
                    if let Some(held) = self.store.event(&target)?
                        && held.author() == author
                    {
                        moderation_changed |= self.is_moderation_source(&author)
                            && matches!(
                                held.content(),
                                Some(
                                    Payload::Label(_)
                                        | Payload::LabelerDeclaration(_)
                                        | Payload::List(_)
                                )
                            );
                        self.store.erase_payload(&target)?;
                    }
                }
                if moderation_changed {
                    // A deleted label, declaration or list stops acting at once, exactly as
                    // after a restart (which rebuilds this state from the logs).
                    self.rebuild_moderation()?;
                    self.save_settings()?;
                }
            }
            Some(Payload::Label(label)) => {
                self.apply_moderation_event(event);
                let policy = &self.settings.host_policy;
                if policy
                    .refused_labels
                    .contains(&(author, label.value.clone()))
                    && !label.negate
                {
                    match label.target {
                        // Judge the held event by its real author, not the labeller's claim.
                        // The own log is never removed: that would make this node sign a
                        // second event at a position it already used (a fork).
                        LabelTarget::Event(r) => {
                            if let Some(held) = self.store.event(&r.id)?
                                && held.author() != self.me
                                && policy.decide(r.id, held.author(), &self.labels, now)
                                    != HostDecision::Carry
                            {
                                self.store.remove(&r.id)?;
                            }
                        }
                        LabelTarget::Author(a) => {
                            if a != self.me
                                && policy.decide_author(a, &self.labels, now) != HostDecision::Carry
                            {
                                self.remove_author(&a)?;
                            }
                        }
                    }
                }
            }
            Some(Payload::LabelerDeclaration(_)) | Some(Payload::List(_)) => {
                self.apply_moderation_event(event);
                self.save_settings()?;
            }
            _ => {}
        }
        Ok(())
    }
}

impl<S: Store, P: Ord + Clone> Engine<S, P> {
    /// Erases every held edit of a post its author deleted, with a tombstone each, so no
    /// version of the text survives the delete (and none comes back by gossip or backfill).
    fn erase_edits(&mut self, post: &EventId, author: &AuthorId) -> Result<(), StoreError> {
        loop {
            let edits =
                self.store
                    .references_by(post, Relation::Edit, author, super::EDITS_READ_MAX)?;
            let mut erased = false;
            for edit in edits {
                self.store.add_tombstone(&edit, author)?;
                // Erasing drops the edit's references and postings with its text.
                erased |= self.store.erase_payload(&edit)?;
            }
            if !erased {
                return Ok(());
            }
        }
    }
}

/// Events just stored in a batch by log position (only those now first at their position).
type Near<'a> = HashMap<(AuthorId, u64), &'a VerifiedEvent>;

/// Whether ingesting the event changes state beyond the event itself (see `apply_effects`).
fn has_effects(content: Option<&Payload>) -> bool {
    matches!(
        content,
        Some(
            Payload::Delete(_)
                | Payload::DeleteV1(_)
                | Payload::Label(_)
                | Payload::LabelerDeclaration(_)
                | Payload::List(_)
        )
    )
}

/// A gossip message as gossipsub hands it over, for [`Engine::handle_gossip_batch`].
#[derive(Clone, Debug)]
pub struct GossipMessage<'a, P> {
    /// The peer that sent it (not necessarily its author).
    pub from: P,
    /// The author whose topic carried it.
    pub topic: AuthorId,
    /// The message's bytes.
    pub data: &'a [u8],
}

/// A header-only arrival adds nothing to an event already held.
fn checked_without_payload(checked: &CheckedEvent) -> bool {
    !checked.has_payload()
}
