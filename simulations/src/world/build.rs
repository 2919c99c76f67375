//! Building the world at time zero: regions, authors and roles, follows, presync, overlay,
//! and the schedule of workload and adversities.

use super::{
    Author, Ev, Node, PostRecord, Presence, Role, World, random_regular, secret_for, timestamp,
};
use crate::gossipsub::NodeId;
use crate::queue::{Micros, millis, seconds};
use crate::scenario::Model;
use handbill_protocol::payload::{Action, LabelDefinition, LabelerDeclaration, Severity};
use handbill_protocol::store::Store;
use handbill_protocol::wire::{Request, Response};
use handbill_protocol::{AuthorId, AuthorKey, Payload};
use rand::Rng;
use rand::seq::SliceRandom;
use std::collections::BTreeMap;

impl World {
    fn region_for(&mut self) -> u8 {
        let shares = &self.sc.network.region_shares;
        let sum: f64 = shares.iter().sum();
        let mut x = self.rng.r#gen::<f64>() * sum;
        for (i, s) in shares.iter().enumerate() {
            if x < *s {
                return i as u8;
            }
            x -= s;
        }
        (shares.len() - 1) as u8
    }

    pub(super) fn build(&mut self, total: usize) {
        let sc = self.sc.clone();
        let base = sc.nodes;
        for _ in 0..total {
            let region = self.region_for();
            self.nodes.push(Node::new(Role::Honest, region));
        }
        // Authors are drawn from the ordinary (non-bootstrap) nodes.
        let mut ordinary: Vec<NodeId> = (sc.overlay.bootstrap as NodeId..base as NodeId).collect();
        ordinary.shuffle(&mut self.rng);
        for (a, node) in ordinary.iter().take(sc.workload.authors).enumerate() {
            let secret = secret_for(sc.seed, u64::from(*node));
            let id = AuthorKey::from_secret_bytes(&secret).author();
            self.authors.push(Author {
                id,
                secret,
                home: *node,
                highest: 0,
            });
            self.nodes[*node as usize].author_of = Some(a);
        }
        let others: Vec<NodeId> = ordinary[sc.workload.authors..].to_vec();
        // Roles among the ordinary non-author nodes.
        let mut next_extra = base as NodeId;
        let mut take_extra = |count: usize| -> Vec<NodeId> {
            let ids = (next_extra..next_extra + count as NodeId).collect();
            next_extra += count as NodeId;
            ids
        };
        if let Some(c) = &sc.censor {
            let count = (c.share * others.len() as f64).round() as usize;
            for n in others.iter().take(count) {
                self.nodes[*n as usize].role = Role::Censor;
            }
        }
        if let Some(e) = &sc.eclipse {
            self.sybils = take_extra(e.sybils);
            for s in &self.sybils {
                self.nodes[*s as usize].role = Role::Sybil;
            }
            self.eclipse_target = others.last().copied();
        }
        let spammers = sc
            .spam
            .as_ref()
            .map_or(Vec::new(), |s| take_extra(s.spammers));
        for s in &spammers {
            self.nodes[*s as usize].role = Role::Spammer;
        }
        if let Some(d) = &sc.deplatform {
            self.joiners = take_extra(d.joiners);
            if d.rehome_after_s >= 0.0 {
                self.rehomed = take_extra(1).first().copied();
            }
        }
        if let Some(m) = &sc.moderation {
            let honest: Vec<NodeId> = others
                .iter()
                .copied()
                .filter(|n| self.nodes[*n as usize].role == Role::Honest)
                .collect();
            self.labelers = honest.iter().take(m.labelers).copied().collect();
            for n in honest.iter().skip(m.labelers) {
                if self.rng.r#gen::<f64>() < m.subscriber_share {
                    self.subscribers.insert(*n);
                }
            }
        }

        // Engines for every honest or censoring node present at the start.
        for n in 0..base {
            let secret = secret_for(sc.seed, n as u64);
            self.nodes[n].engine = Some(self.engine_for(&secret));
            self.nodes[n].presence = Presence::Online;
            self.online_count += 1;
        }
        for s in self
            .sybils
            .clone()
            .into_iter()
            .chain(spammers.iter().copied())
        {
            let node = &mut self.nodes[s as usize];
            node.presence = Presence::Online;
            self.online_count += 1;
            if node.role == Role::Spammer {
                let key = AuthorKey::from_secret_bytes(&secret_for(sc.seed, u64::from(s)));
                node.spam = Some((key, None));
            }
        }
        for n in 0..base as NodeId {
            self.drain(n);
        }

        // Every author has a profile, so anyone following them has something to be served.
        for a in 0..self.authors.len() {
            let home = self.authors[a].home;
            if let Some(engine) = self.nodes[home as usize].engine.as_mut() {
                let profile = Payload::Profile(handbill_protocol::payload::Profile {
                    name: format!("author {a}"),
                    bio: "a simulated author".into(),
                });
                if let Ok(event) = engine.publish(&profile, timestamp(0)) {
                    self.authors[a].highest = event.seq();
                }
            }
            self.drain(home);
        }
        // Follows: each node follows each author with probability follow_fraction.
        let author_ids: Vec<AuthorId> = self.authors.iter().map(|a| a.id).collect();
        for n in 0..base as NodeId {
            for (a, author) in author_ids.iter().enumerate() {
                let is_author = self.nodes[n as usize].author_of.is_some();
                if is_author && !sc.workload.authors_follow {
                    continue;
                }
                let own = self.nodes[n as usize].author_of == Some(a);
                let censor = self.nodes[n as usize].role == Role::Censor && a == 0;
                if !own && (censor || self.rng.r#gen::<f64>() < sc.workload.follow_fraction) {
                    self.follow(n, a, *author);
                }
            }
        }
        if let Some(m) = sc.moderation.clone() {
            self.set_up_moderation(&m);
        }
        self.presync(base);
        for n in 0..base as NodeId {
            if self.nodes[n as usize].role == Role::Censor
                && let Some(engine) = self.nodes[n as usize].engine.as_mut()
            {
                let censored = author_ids[0];
                let _ = engine.update_settings(
                    |s| {
                        s.host_policy.blocked_authors.insert(censored);
                    },
                    timestamp(0),
                );
            }
            self.drain(n);
        }
        self.writing_history = false;

        if sc.spam.as_ref().is_some_and(|x| x.replay_share > 0.0) {
            self.prepare_deleted_post();
        }

        // The overlay: a random regular graph over the initial nodes.
        let edges = random_regular(base, sc.overlay.degree, &mut self.rng);
        let target = self.eclipse_target;
        let mut kept_honest = 0usize;
        let honest_links = sc.eclipse.as_ref().map_or(usize::MAX, |e| e.honest_links);
        for (a, b) in edges {
            if target.is_some_and(|t| t == a || t == b) {
                if kept_honest >= honest_links {
                    continue;
                }
                kept_honest += 1;
            }
            self.remember(a, b);
            self.remember(b, a);
            self.connect(a, b);
        }
        if let Some(t) = target {
            for s in self.sybils.clone() {
                self.nodes[t as usize].known.push(s);
                self.nodes[s as usize].known.push(t);
                self.connect(t, s);
            }
        }
        for s in spammers.iter().copied() {
            for _ in 0..sc.overlay.degree {
                let peer = self.rng.gen_range(0..base) as NodeId;
                self.nodes[s as usize].known.push(peer);
                self.connect(s, peer);
            }
            let start = seconds(sc.spam.as_ref().map_or(0.0, |x| x.start_s));
            self.queue.push(start, Ev::Spam(s));
        }

        // Periodic work, with random phases so nodes do not tick in lockstep.
        let heartbeat = millis(sc.dissemination.heartbeat_ms);
        let maintenance = millis(sc.overlay.maintenance_ms);
        for n in 0..self.nodes.len() as NodeId {
            if self.nodes[n as usize].online() {
                self.start_periodic(n, heartbeat, maintenance);
            }
        }

        // The workload.
        for k in 0..sc.workload.posts {
            let at = seconds(sc.workload.start_s) + millis(sc.workload.interval_ms * k as f64);
            self.posts.push(PostRecord {
                author: k % self.authors.len(),
                id: None,
                published: 0,
                labelled: false,
                stored_at: Vec::new(),
                by_backfill: Vec::new(),
                missed_live: Vec::new(),
            });
            self.queue.push(at, Ev::Post(k as u32));
        }

        // Adversities.
        if sc.churn.share > 0.0 {
            let churners: Vec<NodeId> = others
                .iter()
                .copied()
                .filter(|n| self.nodes[*n as usize].role == Role::Honest)
                .collect();
            for n in churners {
                if self.rng.r#gen::<f64>() < sc.churn.share {
                    let session = self.sample_churn(sc.churn.session_mean_s);
                    self.queue.push(session, Ev::Down(n));
                }
            }
        }
        for (i, p) in sc.partitions.iter().enumerate() {
            self.queue.push(seconds(p.at_s), Ev::PartitionStart(i));
            self.queue.push(seconds(p.heal_s), Ev::PartitionHeal);
        }
        if let Some(d) = &sc.deplatform {
            let share = (d.share * base as f64).round() as usize;
            let mut providers: Vec<NodeId> = vec![self.authors[0].home];
            providers.extend(0..sc.overlay.bootstrap as NodeId);
            let mut rest: Vec<NodeId> = (0..base as NodeId)
                .filter(|n| !providers.contains(n))
                .collect();
            rest.shuffle(&mut self.rng);
            let room = share.saturating_sub(providers.len());
            providers.extend(rest.into_iter().take(room));
            providers.sort_unstable();
            self.providers = providers;
            self.queue.push(seconds(d.at_s), Ev::Takedown);
            if d.rehome_after_s >= 0.0 {
                self.queue
                    .push(seconds(d.at_s + d.rehome_after_s), Ev::Rehome);
            }
            for j in self.joiners.clone() {
                let at = seconds(d.at_s + self.rng.r#gen::<f64>() * d.join_spread_s);
                self.queue.push(at, Ev::Join(j));
            }
        }
    }

    /// The network exists before time zero: every follower already holds the logs it follows
    /// up to now (the authors' follow events, a labeller's declaration), handed to its engine
    /// as a range response, so through the real ingest path. Without this every node would
    /// start empty, find no peer serving anyone, and dial providers for every follow at once:
    /// a cold-start stampede no running network sees.
    fn presync(&mut self, base: usize) {
        use handbill_protocol::wire::Envelope;
        let now = timestamp(self.now);
        let mut logs: BTreeMap<AuthorId, (NodeId, Vec<Envelope>)> = BTreeMap::new();
        let publishers = self
            .authors
            .iter()
            .map(|a| a.home)
            .chain(self.labelers.iter().copied());
        for n in publishers {
            let Some(engine) = self.nodes[n as usize].engine.as_ref() else {
                continue;
            };
            let me = engine.author();
            let events = engine
                .store()
                .log(&me, 1, usize::MAX)
                .unwrap_or_default()
                .into_iter()
                .map(|e| Envelope(e.encode()))
                .collect();
            logs.insert(me, (n, events));
        }
        for n in 0..base as NodeId {
            let Some(engine) = self.nodes[n as usize].engine.as_mut() else {
                continue;
            };
            let hosted: Vec<AuthorId> = engine.hosted().iter().copied().collect();
            for author in hosted {
                let Some((home, events)) = logs.get(&author) else {
                    continue;
                };
                if *home == n || events.is_empty() {
                    continue;
                }
                let request = Request::Range {
                    author,
                    from_seq: 1,
                    limit: events.len() as u32,
                };
                let response = Response::Events {
                    author,
                    events: events.clone(),
                    more: false,
                };
                engine.handle_response(home, &request, response, now);
            }
            self.drain(n);
        }
    }

    fn set_up_moderation(&mut self, m: &crate::scenario::Moderation) {
        let declaration = Payload::LabelerDeclaration(LabelerDeclaration {
            name: "sim feed".into(),
            description: "labels posts in a simulation".into(),
            labels: vec![LabelDefinition {
                value: m.label.clone(),
                severity: Severity::Medium,
                default_action: Action::Hide,
                description: "simulated label".into(),
            }],
        });
        let mut feeds = Vec::new();
        for l in self.labelers.clone() {
            if let Some(engine) = self.nodes[l as usize].engine.as_mut() {
                feeds.push(engine.author());
                let _ = engine.publish(&declaration, timestamp(0));
            }
            self.drain(l);
        }
        let mut subscribers: Vec<NodeId> = self.subscribers.iter().copied().collect();
        subscribers.sort_unstable();
        for s in subscribers {
            for feed in &feeds {
                if let Some(engine) = self.nodes[s as usize].engine.as_mut() {
                    let overrides = BTreeMap::from([(m.label.clone(), Action::Hide)]);
                    let _ = engine.subscribe_feed(*feed, overrides, timestamp(0));
                }
            }
            self.drain(s);
        }
    }

    pub(super) fn follow(&mut self, n: NodeId, a: usize, author: AuthorId) {
        if let Some(engine) = self.nodes[n as usize].engine.as_mut() {
            let _ = engine.follow(author, timestamp(self.now));
            self.nodes[n as usize].follows.push(a);
        }
        self.drain(n);
    }

    pub(super) fn start_periodic(&mut self, n: NodeId, heartbeat: Micros, maintenance: Micros) {
        let epoch = self.nodes[n as usize].epoch;
        if self.sc.dissemination.model == Model::Gossipsub {
            let phase = self.rng.gen_range(0..heartbeat.max(1));
            self.queue.push(self.now + phase, Ev::Heartbeat(n, epoch));
        }
        let phase = self.rng.gen_range(0..maintenance.max(1));
        self.queue.push(self.now + phase, Ev::Maintain(n, epoch));
        let walk = seconds(self.sc.overlay.random_walk_s).max(1);
        self.nodes[n as usize].next_walk = self.now + self.rng.gen_range(0..walk);
        self.schedule_timer(n);
    }
}
