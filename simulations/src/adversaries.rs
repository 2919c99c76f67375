//! The adversaries that attack promises rather than delivery (a replayed deleted post,
//! off-topic spam), and what their checks count on honest nodes.

use crate::gossipsub::NodeId;
use crate::world::{Role, World, timestamp};
use handbill_protocol::Payload;
use handbill_protocol::engine::Engine;
use handbill_protocol::payload::{Delete, Post};
use handbill_protocol::store::{MemoryStore, Store};

impl World {
    /// The first author posts and deletes a post before anything else, so every follower
    /// holds its header without its payload, and spammers have original bytes to replay.
    pub(crate) fn prepare_deleted_post(&mut self) {
        let home = self.authors[0].home;
        let Some(engine) = self.nodes[home as usize].engine.as_mut() else {
            return;
        };
        let post = Payload::Post(Post {
            text: "deleted before the spam".into(),
            ..Post::default()
        });
        if let Ok(event) = engine.publish(&post, timestamp(0))
            && let Ok(delete) =
                engine.publish(&Payload::Delete(Delete::of([event.id()])), timestamp(0))
        {
            self.authors[0].highest = delete.seq();
            self.deleted = Some((event.id(), event.encode().into()));
        }
    }

    /// Off-topic spam events stored, summed over honest online nodes (must be 0).
    pub(crate) fn off_topic_stored(&self) -> u64 {
        self.honest_online_engines()
            .map(|engine| {
                self.off_topic
                    .iter()
                    .filter(|id| engine.store().contains(id).unwrap_or(false))
                    .count() as u64
            })
            .sum()
    }

    /// For the replayed deleted post: honest online nodes holding its header, and those
    /// holding its payload (which must be none).
    pub(crate) fn deleted_held_and_restored(&self) -> Option<(u64, u64)> {
        let (id, _) = self.deleted.as_ref()?;
        let mut held = 0;
        let mut restored = 0;
        for engine in self.honest_online_engines() {
            if let Ok(Some(event)) = engine.store().event(id) {
                held += 1;
                if event.payload_bytes().is_some() {
                    restored += 1;
                }
            }
        }
        Some((held, restored))
    }

    fn honest_online_engines(&self) -> impl Iterator<Item = &Engine<MemoryStore, NodeId>> {
        self.nodes
            .iter()
            .filter(|n| n.role == Role::Honest && n.online())
            .filter_map(|n| n.engine.as_ref())
    }
}
