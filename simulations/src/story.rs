//! What a scenario is about, for its charts and checks: the moments its events happen
//! (takedown, re-homing, partition and heal, spam, the first labels) and the groups it compares
//! (the censored author's posts against the others', the eclipse target against everyone else,
//! nodes that joined after a takedown against the original ones).

use crate::gossipsub::NodeId;
use crate::plot::Marker;
use crate::queue::Micros;
use crate::world::World;

/// A set of (node, post) pairs whose delivery a scenario compares with the rest.
#[derive(Clone, Debug)]
pub struct Group {
    /// Name in CSV columns and checks, e.g. `censor_target`.
    pub name: &'static str,
    /// Legend text, e.g. "censored author's posts".
    pub label: &'static str,
    which: Which,
}

#[derive(Clone, Debug)]
enum Which {
    /// Posts of the first author (the one censored, deplatformed or spammed).
    FirstAuthor,
    /// Posts of every other author.
    OtherAuthors,
    /// Deliveries to these nodes.
    Nodes(Vec<NodeId>),
    /// Deliveries to every node but these.
    NotNodes(Vec<NodeId>),
}

impl Group {
    /// Whether the pair (node `node`, a post by author `author`) belongs to the group.
    pub fn holds(&self, author: usize, node: usize) -> bool {
        let node = node as NodeId;
        match &self.which {
            Which::FirstAuthor => author == 0,
            Which::OtherAuthors => author != 0,
            Which::Nodes(ns) => ns.contains(&node),
            Which::NotNodes(ns) => !ns.contains(&node),
        }
    }
}

/// The groups `w`'s scenario compares, in legend order.
pub fn groups(w: &World) -> Vec<Group> {
    let mut out = Vec::new();
    if w.sc.censor.is_some() {
        out.push(Group {
            name: "censor_target",
            label: "censored author's posts",
            which: Which::FirstAuthor,
        });
        out.push(Group {
            name: "censor_others",
            label: "other authors' posts",
            which: Which::OtherAuthors,
        });
    }
    if let Some(t) = w.eclipse_target {
        out.push(Group {
            name: "eclipse_target",
            label: "eclipse target",
            which: Which::Nodes(vec![t]),
        });
        out.push(Group {
            name: "eclipse_others",
            label: "other honest nodes",
            which: Which::NotNodes(vec![t]),
        });
    }
    if w.sc.deplatform.is_some() && !w.joiners.is_empty() {
        out.push(Group {
            name: "deplatform_joiners",
            label: "nodes joined after the takedown",
            which: Which::Nodes(w.joiners.clone()),
        });
        let mut newcomers = w.joiners.clone();
        newcomers.extend(w.rehomed);
        out.push(Group {
            name: "deplatform_original",
            label: "original nodes",
            which: Which::NotNodes(newcomers),
        });
    }
    out
}

/// The scenario's events, in time order.
pub fn markers(w: &World) -> Vec<Marker> {
    let mut out = Vec::new();
    let mut at = |at_s: f64, label: String| out.push(Marker { at_s, label });
    if let Some(d) = &w.sc.deplatform {
        at(d.at_s, format!("takedown ({} nodes)", w.providers.len()));
        if d.rehome_after_s >= 0.0 {
            at(d.at_s + d.rehome_after_s, "author re-homed".into());
        }
    }
    for p in &w.sc.partitions {
        at(p.at_s, "partition".into());
        at(p.heal_s, "heal".into());
    }
    if let Some(s) = &w.sc.spam {
        at(s.start_s, format!("spam starts ({} spammers)", s.spammers));
    }
    let micros_to_s = |t: Micros| t as f64 / 1e6;
    if let Some(first) = w.labels.iter().map(|l| l.published).min() {
        at(micros_to_s(first), "first label".into());
    }
    out.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    out
}
