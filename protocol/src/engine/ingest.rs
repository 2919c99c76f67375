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
use crate::id::AuthorId;
use crate::log::{ChainError, check_successor};
use crate::moderation::host::HostDecision;
use crate::payload::{LabelTarget, Payload};
use crate::store::{Inserted, Store, StoreError};
use crate::time::Timestamp;
use crate::validate::{CheckedEvent, EventError, ValidationError, VerifiedEvent};
use crate::wire::Envelope;

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
        let checked = match SignedEvent::decode(data)
            .map_err(EventError::from)
            .and_then(|e| CheckedEvent::check(e, now).map_err(EventError::from))
        {
            Ok(checked) => checked,
            // Our clock may be the one that is wrong; do not punish the sender for it.
            Err(EventError::Invalid(ValidationError::FromTheFuture { .. })) => {
                return Acceptance::Ignore;
            }
            Err(e) => return self.reject(from, Misbehaviour::InvalidGossip(e), now),
        };
        // Honest nodes only ever gossip whole events (a deleted one is not forwarded at all);
        // a bare header could only stand in for the real message, so it is never taken.
        if !checked.has_payload() {
            return Acceptance::Ignore;
        }
        let author = checked.header().author;
        match route(topic, author, checked.content()) {
            Route::OnTopic => {}
            Route::OffTopic => return self.reject(from, Misbehaviour::OffTopic(checked.id()), now),
            // A newer node may route it here; we cannot tell, so we neither keep nor punish.
            Route::Unknowable => return Acceptance::Ignore,
        }
        if !self.hosted.contains(topic) {
            return Acceptance::Ignore;
        }
        match self.store.event(&checked.id()) {
            // Already held whole: not forwarded again. Gossipsub's duplicate cache forgets after
            // minutes, the store does not, so accepting would let anyone replaying old events
            // make every node forward them again (an amplification attack).
            Ok(Some(held)) if held.payload_bytes().is_some() => return Acceptance::Ignore,
            Ok(_) => {}
            Err(_) => return Acceptance::Ignore,
        }
        let decision = self
            .settings
            .host_policy
            .decide(checked.id(), author, &self.labels, now);
        if decision != HostDecision::Carry && author != self.me {
            return Acceptance::Ignore;
        }
        let verified = match checked.verify_with(&mut self.keys) {
            Ok(verified) => verified,
            Err(e) => return self.reject(from, Misbehaviour::InvalidGossip(e.into()), now),
        };
        if !self.hosted.contains(&author) && !self.admit_stranger(topic, &verified, now) {
            return Acceptance::Ignore;
        }
        match self.ingest_verified(verified, Origin::Gossip, now) {
            Ok(true) => Acceptance::Accept,
            // Nothing new (a replay of a deleted event comes back without its payload and adds
            // nothing): not forwarded.
            Ok(false) | Err(_) => Acceptance::Ignore,
        }
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
                        // A store failure here is retried on the next heads round.
                        let _ = self.ingest_verified(event, Origin::Backfill, now);
                    }
                }
                Err(_) => invalid += 1,
            }
        }
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
        let author = event.author();
        // A deletion by the event's own author is final, whatever arrives later and however:
        // the original bytes replayed by gossip or served in a range come back without payload.
        let event = if self.store.is_deleted(&event.id(), &author)? {
            event.without_payload()
        } else {
            event
        };
        let inserted = self.store.insert(&event)?;
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
        self.check_links(&event)?;
        self.apply_effects(&event, now)?;
        self.push(Output::Stored {
            id: event.id(),
            author,
            kind: event.kind(),
            origin,
        });
        Ok(true)
    }

    /// Checks the event against its held neighbours; a broken link is evidence, not a rejection.
    pub(super) fn check_links(&mut self, event: &VerifiedEvent) -> Result<(), StoreError> {
        let author = event.author();
        let mut problems: Vec<(u64, ChainError)> = Vec::new();
        if event.seq() > 1
            && let Some(prev_id) = self.store.ids_at(&author, event.seq() - 1)?.first()
            && let Some(prev) = self.store.event(prev_id)?
            && let Err(e) = check_successor(&prev, event.header())
        {
            problems.push((event.seq(), e));
        }
        if let Some(next_id) = self.store.ids_at(&author, event.seq() + 1)?.first()
            && let Some(next) = self.store.event(next_id)?
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

/// A header-only arrival adds nothing to an event already held.
fn checked_without_payload(checked: &CheckedEvent) -> bool {
    !checked.has_payload()
}
