//! What nodes publish: the workload's posts, labellers' labels, and spammers' events.

use super::{Ev, LabelRecord, Msg, World, timestamp};
use crate::gossipsub::NodeId;
use crate::queue::{Micros, seconds};
use handbill_protocol::payload::{EventRef, Label, LabelTarget, Post};
use handbill_protocol::store::Store;
use handbill_protocol::{Payload, sign_next};
use rand::Rng;
use std::rc::Rc;

impl World {
    pub(super) fn publish_post(&mut self, k: u32) {
        let a = self.posts[k as usize].author;
        let home = self.authors[a].home;
        let ready = self.nodes[home as usize].online()
            && self.nodes[home as usize].engine.as_ref().is_some_and(|e| {
                e.store()
                    .log_state(&self.authors[a].id)
                    .is_ok_and(|s| s.contiguous >= self.authors[a].highest)
            });
        if !ready {
            // The author is offline, or re-homed and still restoring their log: try again soon.
            self.queue.push(self.now + seconds(1.0), Ev::Post(k));
            return;
        }
        let text = post_text(k, self.sc.workload.text_bytes);
        let labelled = self
            .sc
            .moderation
            .as_ref()
            .is_some_and(|m| self.rng.r#gen::<f64>() < m.label_share);
        let now = timestamp(self.now);
        let Some(engine) = self.nodes[home as usize].engine.as_mut() else {
            return;
        };
        let Ok(event) = engine.publish(
            &Payload::Post(Post {
                text,
                ..Post::default()
            }),
            now,
        ) else {
            return;
        };
        self.authors[a].highest = event.seq();
        let total = self.nodes.len();
        let record = &mut self.posts[k as usize];
        record.id = Some(event.id());
        record.published = self.now;
        record.labelled = labelled;
        record.stored_at = vec![Micros::MAX; total];
        record.by_backfill = vec![false; total];
        record.missed_live = self.nodes.iter().map(|n| !n.online()).collect();
        self.post_by_id.insert(event.id(), k);
        self.drain(home);
    }

    pub(super) fn publish_label(&mut self, labeler: NodeId, post: u32) {
        let (Some(id), a) = (
            self.posts[post as usize].id,
            self.posts[post as usize].author,
        ) else {
            return;
        };
        let Some(m) = self.sc.moderation.clone() else {
            return;
        };
        let author = self.authors[a].id;
        let now = timestamp(self.now);
        let Some(engine) = self.nodes[labeler as usize].engine.as_mut() else {
            return;
        };
        let label = Payload::Label(Label {
            target: LabelTarget::Event(EventRef { author, id }),
            value: m.label,
            reason: None,
            expires_at: None,
            negate: false,
        });
        if let Ok(event) = engine.publish(&label, now) {
            self.label_by_id
                .insert(event.id(), self.labels.len() as u32);
            self.labels.push(LabelRecord {
                published: self.now,
                stored_at: Vec::new(),
            });
        }
        self.drain(labeler);
    }

    pub(super) fn spam(&mut self, n: NodeId) {
        let Some(cfg) = self.sc.spam.clone() else {
            return;
        };
        if !self.nodes[n as usize].online() {
            return;
        }
        self.queue.push(
            self.now + seconds(1.0 / cfg.rate_per_s.max(0.001)),
            Ev::Spam(n),
        );
        let target = self.authors[0].id;
        let topic = self.topic_of(target);
        if self.rng.r#gen::<f64>() < cfg.replay_share
            && let Some((id, data)) = self.deleted.clone()
        {
            let msg = self.intern(id, topic, &data);
            for peer in self.connected_subscribers(n, topic, NodeId::MAX) {
                self.send(n, peer, Msg::Gossip { msg, hops: 1 });
            }
            return;
        }
        let invalid = self.rng.r#gen::<f64>() < cfg.invalid_share;
        let off_topic = !invalid && self.rng.r#gen::<f64>() < cfg.off_topic_share;
        let now = timestamp(self.now);
        let Some((key, head)) = self.nodes[n as usize].spam.as_mut() else {
            return;
        };
        let content = Payload::Post(Post {
            text: format!("buy now {}", self.tally.events),
            // Off-topic spam names nobody, yet is pushed onto the author's topic below.
            mentions: if off_topic { Vec::new() } else { vec![target] },
            ..Post::default()
        });
        let Ok(event) = sign_next(key, head.as_ref(), now, &content) else {
            return;
        };
        let mut data = event.encode();
        if invalid {
            // Corrupt the signature's R, so the event fails verification and nothing else.
            let at = event.header().encode().len() + 5;
            data[at] ^= 0x55;
        } else {
            *head = Some(event.head());
        }
        if off_topic {
            self.off_topic.insert(event.id());
        }
        let data: Rc<[u8]> = data.into();
        let msg = self.intern(event.id(), topic, &data);
        let targets = self.connected_subscribers(n, topic, NodeId::MAX);
        for peer in targets {
            self.send(n, peer, Msg::Gossip { msg, hops: 1 });
        }
    }
}

fn post_text(k: u32, bytes: usize) -> String {
    let mut text = format!("post {k} ");
    while text.len() < bytes {
        text.push_str("lorem ipsum ");
    }
    text.truncate(bytes.max(1));
    text
}
