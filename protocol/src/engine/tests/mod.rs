//! Engine behaviour through exact inputs: a tiny in-test network delivers outputs instantly.

mod batch;
mod hostile;
mod social;

use super::*;
use crate::id::{AuthorId, EventId};
use crate::moderation::host::HostPolicy;
use crate::payload::{Action, Delete, EventRef, Label, LabelTarget, Payload, Post, ReplyRef};
use crate::signature::AuthorKey;
use crate::store::{MemoryStore, Store};
use crate::time::Timestamp;
use crate::validate::{VerifiedEvent, sign_next};
use crate::wire::{BACKFILL_BATCH_EVENTS_MAX, Response};
use std::collections::BTreeSet;

const T0: Timestamp = Timestamp(1_767_225_600_000);

/// Engines indexed by position; peers are `usize`. Connections are symmetric.
struct Net {
    nodes: Vec<Engine<MemoryStore, usize>>,
    links: BTreeSet<(usize, usize)>,
    stored: Vec<(usize, EventId, Origin)>,
    problems: Vec<(usize, String)>,
}

impl Net {
    fn new(n: u8) -> Net {
        let nodes = (0..n)
            .map(|i| {
                let key = AuthorKey::from_secret_bytes(&[i + 1; 32]);
                // The tests connect nodes themselves; upkeep has its own tests.
                let config = EngineConfig {
                    upkeep: None,
                    ..EngineConfig::default()
                };
                Engine::new(key, MemoryStore::new(), config, T0).expect("engine")
            })
            .collect();
        Net {
            nodes,
            links: BTreeSet::new(),
            stored: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn author(&self, i: usize) -> AuthorId {
        self.nodes[i].author()
    }

    fn connect(&mut self, a: usize, b: usize) {
        self.links.insert((a.min(b), a.max(b)));
        self.nodes[a].handle_connected(b, T0);
        self.nodes[b].handle_connected(a, T0);
        self.pump();
    }

    fn disconnect(&mut self, a: usize, b: usize) {
        self.links.remove(&(a.min(b), a.max(b)));
        self.nodes[a].handle_disconnected(&b, T0);
        self.nodes[b].handle_disconnected(&a, T0);
        self.pump();
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        self.links.contains(&(a.min(b), a.max(b)))
    }

    /// Delivers outputs until every engine is quiet. Gossip floods to linked peers that host
    /// one of the topics (a stand-in for gossipsub's mesh).
    fn pump(&mut self) {
        for _round in 0..10_000 {
            let mut busy = false;
            for i in 0..self.nodes.len() {
                while let Some(output) = self.nodes[i].poll_output() {
                    busy = true;
                    self.deliver(i, output);
                }
            }
            if !busy {
                return;
            }
        }
        panic!("network did not settle");
    }

    fn deliver(&mut self, from: usize, output: Output<usize>) {
        match output {
            Output::Publish { id, topics, data } => {
                // Flood along links to nodes hosting a topic; each node relays what is new to it.
                let mut queue = vec![from];
                while let Some(at) = queue.pop() {
                    for to in 0..self.nodes.len() {
                        let hosted = topics.iter().find(|t| self.nodes[to].hosted().contains(t));
                        let Some(topic) = hosted.copied() else {
                            continue;
                        };
                        if to == at || !self.linked(at, to) {
                            continue;
                        }
                        let new = !self.nodes[to].store().contains(&id).unwrap_or(true);
                        let acceptance = self.nodes[to].handle_gossip(&at, &topic, &data, T0);
                        if new && acceptance == Acceptance::Accept {
                            queue.push(to);
                        }
                    }
                }
            }
            Output::SendRequest { peer, request } => {
                if self.linked(from, peer) {
                    let response = self.nodes[peer].handle_request(&from, request.clone(), T0);
                    // Through the wire encoding, as the daemon does.
                    let response = Response::decode(&response.encode()).expect("decodes");
                    self.nodes[from].handle_response(&peer, &request, response, T0);
                } else {
                    self.nodes[from].handle_request_failed(&peer, &request, T0);
                }
            }
            Output::Stored { id, origin, .. } => self.stored.push((from, id, origin)),
            Output::LogInconsistent { problem, .. } => {
                self.problems.push((from, problem.to_string()))
            }
            Output::Misbehaved { reason, .. } => self.problems.push((from, reason.to_string())),
            _ => {}
        }
    }

    fn post(&mut self, i: usize, text: &str) -> VerifiedEvent {
        let e = self.nodes[i]
            .publish(
                &Payload::Post(Post {
                    text: text.into(),
                    ..Post::default()
                }),
                T0,
            )
            .expect("publish");
        self.pump();
        e
    }

    /// Node `i` labels `event` with `value` (as a moderation feed).
    fn label(&mut self, i: usize, event: &VerifiedEvent, value: &str) -> VerifiedEvent {
        let label = Payload::Label(Label {
            target: LabelTarget::Event(EventRef {
                author: event.author(),
                id: event.id(),
            }),
            value: value.into(),
            reason: None,
            expires_at: None,
            negate: false,
        });
        let e = self.nodes[i].publish(&label, T0).expect("label");
        self.pump();
        e
    }

    fn follow(&mut self, i: usize, author: AuthorId) {
        self.nodes[i].follow(author, T0).expect("follow");
        self.pump();
    }

    fn has(&self, i: usize, id: &EventId) -> bool {
        self.nodes[i].store().contains(id).expect("store")
    }

    fn payload(&self, i: usize, id: &EventId) -> Option<Vec<u8>> {
        self.nodes[i]
            .store()
            .event(id)
            .expect("store")
            .and_then(|e| e.payload_bytes().map(<[u8]>::to_vec))
    }
}

#[test]
fn publish_chains_stores_and_queues_gossip() {
    let mut net = Net::new(1);
    // Startup announces the node's own author.
    let startup: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    let me = net.author(0);
    assert!(startup.contains(&Output::Subscribe(me)));
    assert!(startup.contains(&Output::StartProviding(me)));
    let a = net.nodes[0]
        .publish(
            &Payload::Post(Post {
                text: "one".into(),
                ..Post::default()
            }),
            T0,
        )
        .expect("publish");
    let b = net.nodes[0]
        .publish(
            &Payload::Post(Post {
                text: "two".into(),
                ..Post::default()
            }),
            T0,
        )
        .expect("publish");
    assert_eq!(b.seq(), 2);
    assert_eq!(b.header().prev, Some(a.id()));
    let outputs: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    let published: Vec<EventId> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Publish { id, topics, .. } => {
                assert_eq!(topics, &vec![me]);
                Some(*id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(published, vec![a.id(), b.id()]);
}

#[test]
fn followers_receive_posts_by_gossip() {
    let mut net = Net::new(3);
    net.connect(0, 1);
    net.connect(0, 2);
    let a = net.author(0);
    net.follow(1, a);
    net.follow(2, a);
    let post = net.post(0, "hello followers");
    assert!(net.has(1, &post.id()));
    assert!(net.has(2, &post.id()));
    assert!(net.stored.contains(&(1, post.id(), Origin::Gossip)));
}

#[test]
fn seed_scenario_posts_survive_their_authors_node() {
    // A posts 50, B follows and backfills, A disappears; D never met A, follows A, connects only
    // to B, and ends up with all 50.
    let mut net = Net::new(4);
    let (a, b, d) = (0, 1, 3);
    let ids: Vec<EventId> = (0..50)
        .map(|i| net.post(a, &format!("post {i}")).id())
        .collect();
    net.connect(a, b);
    net.follow(b, net.author(a));
    assert!(ids.iter().all(|id| net.has(b, id)), "B backfilled from A");
    net.disconnect(a, b);
    net.follow(d, net.author(a));
    net.connect(d, b);
    assert!(
        ids.iter().all(|id| net.has(d, id)),
        "D backfilled from B alone"
    );
    let state = net.nodes[d]
        .store()
        .log_state(&net.author(a))
        .expect("state");
    assert_eq!((state.contiguous, state.highest), (50, 50));
    assert!(
        net.stored
            .iter()
            .any(|(n, _, o)| *n == d && *o == Origin::Backfill)
    );
}

#[test]
fn offline_node_catches_up_on_reconnect() {
    let mut net = Net::new(3);
    let (a, c) = (0, 2);
    net.connect(a, c);
    net.follow(c, net.author(a));
    net.post(a, "before");
    net.disconnect(a, c);
    let missed: Vec<EventId> = (0..20)
        .map(|i| net.post(a, &format!("missed {i}")).id())
        .collect();
    assert!(!net.has(c, &missed[0]));
    net.connect(a, c);
    assert!(missed.iter().all(|id| net.has(c, id)));
}

#[test]
fn large_logs_backfill_in_bounded_batches() {
    let mut net = Net::new(2);
    let n = BACKFILL_BATCH_EVENTS_MAX as usize * 2 + 10;
    for i in 0..n {
        net.nodes[0]
            .publish(
                &Payload::Post(Post {
                    text: format!("{i}"),
                    ..Post::default()
                }),
                T0,
            )
            .expect("publish");
    }
    net.pump();
    net.connect(0, 1);
    net.follow(1, net.author(0));
    let state = net.nodes[1]
        .store()
        .log_state(&net.author(0))
        .expect("state");
    assert_eq!(state.contiguous, n as u64);
}

#[test]
fn a_strangers_reply_reaches_the_author_and_followers() {
    let mut net = Net::new(3);
    let (a, b, e) = (0, 1, 2);
    net.connect(a, b);
    net.connect(b, e);
    net.follow(b, net.author(a));
    let post = net.post(a, "original");
    let r = EventRef {
        author: net.author(a),
        id: post.id(),
    };
    let reply = net.nodes[e]
        .publish(
            &Payload::Post(Post {
                text: "a reply from a stranger".into(),
                reply: Some(ReplyRef { root: r, parent: r }),
                ..Post::default()
            }),
            T0,
        )
        .expect("publish");
    net.pump();
    assert!(net.has(b, &reply.id()), "follower B got it on A's topic");
    net.connect(a, e);
    let direct = net.nodes[e]
        .publish(
            &Payload::Post(Post {
                text: "second reply".into(),
                reply: Some(ReplyRef { root: r, parent: r }),
                ..Post::default()
            }),
            T0,
        )
        .expect("publish");
    net.pump();
    assert!(net.has(a, &direct.id()), "A got the reply on its own topic");
    let mut expected = vec![reply.id(), direct.id()];
    expected.sort();
    assert_eq!(
        net.nodes[b].store().replies(&post.id()).expect("replies"),
        expected
    );
}

#[test]
fn invalid_gossip_is_rejected_and_unwanted_is_ignored() {
    let mut net = Net::new(2);
    net.follow(1, net.author(0));
    let good = net.nodes[0]
        .publish(
            &Payload::Post(Post {
                text: "x".into(),
                ..Post::default()
            }),
            T0,
        )
        .expect("publish");
    let node = &mut net.nodes[1];
    assert_eq!(
        node.handle_gossip(&0, &net_author(0), b"garbage", T0),
        Acceptance::Reject
    );
    let mut forged = good.encode();
    let sig_at = crate::event::HEADER_BYTES_MIN + 3;
    forged[sig_at] ^= 1;
    assert_eq!(
        node.handle_gossip(&0, &net_author(0), &forged, T0),
        Acceptance::Reject
    );
    let mut tampered = good.encode();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        node.handle_gossip(&0, &net_author(0), &tampered, T0),
        Acceptance::Reject
    );
    assert_eq!(
        node.handle_gossip(&0, &net_author(0), &vec![0u8; 70_000], T0),
        Acceptance::Reject
    );
    let early = Timestamp(T0.0 - 3_600_000);
    assert_eq!(
        node.handle_gossip(&0, &net_author(0), &good.encode(), early),
        Acceptance::Ignore
    );
    assert!(!node.store().contains(&good.id()).expect("store"));

    node.update_settings(
        |s| {
            s.host_policy = HostPolicy {
                blocked_authors: [good.author()].into(),
                ..HostPolicy::default()
            }
        },
        T0,
    )
    .expect("settings");
    assert_eq!(
        node.handle_gossip(&0, &net_author(0), &good.encode(), T0),
        Acceptance::Ignore
    );
    assert!(!node.store().contains(&good.id()).expect("store"));
    assert_eq!(
        node.store().counts().expect("counts").events,
        1,
        "only its own follow"
    );
}

#[test]
fn deletion_erases_payloads_everywhere_and_keeps_headers() {
    let mut net = Net::new(2);
    net.connect(0, 1);
    net.follow(1, net.author(0));
    let post = net.post(0, "regret");
    assert!(net.payload(1, &post.id()).is_some());
    net.nodes[0]
        .publish(&Payload::Delete(Delete::of([post.id()])), T0)
        .expect("delete");
    net.pump();
    for node in 0..2 {
        assert!(net.has(node, &post.id()), "header stays on node {node}");
        assert_eq!(
            net.payload(node, &post.id()),
            None,
            "payload gone on node {node}"
        );
    }
}

#[test]
fn deletion_arriving_first_leaves_a_tombstone() {
    let mut net = Net::new(2);
    net.follow(1, net.author(0));
    let post = net.post(0, "regret");
    let delete = net.nodes[0]
        .publish(&Payload::Delete(Delete::of([post.id()])), T0)
        .expect("delete");
    net.pump();
    // Node 1 sees the deletion before the post (gossip order), then the post by backfill.
    assert_eq!(
        net.nodes[1].handle_gossip(&0, &net_author(0), &delete.encode(), T0),
        Acceptance::Accept
    );
    // A replay of what it now holds is not forwarded again.
    assert_eq!(
        net.nodes[1].handle_gossip(&0, &net_author(0), &delete.encode(), T0),
        Acceptance::Ignore
    );
    net.nodes[1].handle_gossip(&0, &net_author(0), &post.encode(), T0);
    assert!(net.has(1, &post.id()));
    assert_eq!(net.payload(1, &post.id()), None);
}

#[test]
fn nobody_deletes_someone_elses_event() {
    let mut net = Net::new(2);
    net.connect(0, 1);
    net.follow(1, net.author(0));
    let post = net.post(0, "mine");
    let err = net.nodes[1]
        .publish(&Payload::Delete(Delete::of([post.id()])), T0)
        .unwrap_err();
    assert!(matches!(err, CommandError::NotYourEvent(_)));
    // A forged-by-construction delete (made without the check) is ignored on ingest.
    let key = AuthorKey::from_secret_bytes(&[2; 32]);
    let rogue =
        sign_next(&key, None, T0, &Payload::Delete(Delete::of([post.id()]))).expect("signs");
    net.nodes[0].handle_gossip(&1, &net_author(0), &rogue.encode(), T0);
    assert!(net.payload(0, &post.id()).is_some());
}

#[test]
fn forks_are_kept_as_evidence_and_reported() {
    let mut net = Net::new(2);
    net.follow(1, net.author(0));
    let key = AuthorKey::from_secret_bytes(&[1; 32]); // node 0's author key
    let a = sign_next(
        &key,
        None,
        T0,
        &Payload::Post(Post {
            text: "a".into(),
            ..Post::default()
        }),
    )
    .expect("a");
    let b = sign_next(
        &key,
        None,
        T0,
        &Payload::Post(Post {
            text: "b".into(),
            ..Post::default()
        }),
    )
    .expect("b");
    assert_eq!(
        net.nodes[1].handle_gossip(&0, &net_author(0), &a.encode(), T0),
        Acceptance::Accept
    );
    assert_eq!(
        net.nodes[1].handle_gossip(&0, &net_author(0), &b.encode(), T0),
        Acceptance::Accept
    );
    net.pump();
    assert!(net.has(1, &a.id()) && net.has(1, &b.id()));
    assert_eq!(
        net.nodes[1].store().forks().expect("forks"),
        vec![(a.author(), 1)]
    );
    assert!(
        net.problems
            .iter()
            .any(|(n, p)| *n == 1 && p.contains("fork"))
    );
}

#[test]
fn moderation_feed_hides_for_subscribers_only_and_host_policy_refuses() {
    let mut net = Net::new(4);
    let (author, viewer, moderator, bystander) = (0, 1, 2, 3);
    for other in [viewer, moderator, bystander] {
        net.connect(author, other);
    }
    net.connect(viewer, moderator);
    net.follow(viewer, net.author(author));
    net.follow(bystander, net.author(author));
    let feed = net.author(moderator);
    net.nodes[viewer]
        .subscribe_feed(feed, [("violence".to_string(), Action::Hide)].into(), T0)
        .expect("subscribe");
    net.pump();
    let post = net.post(author, "something violent");
    net.label(moderator, &post, "violence");
    net.pump();
    let verdict = |net: &Net, node: usize| {
        let timeline = net.nodes[node].timeline(None, 10, T0).expect("timeline");
        timeline
            .iter()
            .find(|(e, _)| e.id() == post.id())
            .map(|(_, v)| v.action)
    };
    assert_eq!(verdict(&net, viewer), Some(Action::Hide));
    assert_eq!(verdict(&net, bystander), Some(Action::Show));

    // The bystander's operator refuses the label: the stored post is dropped.
    net.connect(bystander, moderator);
    net.nodes[bystander]
        .update_settings(
            |s| {
                s.host_policy
                    .refused_labels
                    .insert((net_author(2), "violence".into()));
            },
            T0,
        )
        .expect("policy");
    net.pump();
    assert!(!net.has(bystander, &post.id()), "refused post dropped");
    assert_eq!(
        net.nodes[bystander].handle_gossip(&author, &net_author(0), &post.encode(), T0),
        Acceptance::Ignore
    );
}

fn net_author(i: u8) -> AuthorId {
    AuthorKey::from_secret_bytes(&[i + 1; 32]).author()
}

#[test]
fn serving_ranges_respects_bounds() {
    let mut net = Net::new(1);
    for i in 0..10 {
        net.nodes[0]
            .publish(
                &Payload::Post(Post {
                    text: format!("{i}"),
                    ..Post::default()
                }),
                T0,
            )
            .expect("publish");
    }
    let author = net.author(0);
    match net.nodes[0].handle_request(
        &9,
        Request::Range {
            author,
            from_seq: 4,
            limit: 3,
        },
        T0,
    ) {
        Response::Events { events, more, .. } => {
            assert_eq!(events.len(), 3);
            assert!(more);
        }
        other => panic!("unexpected {other:?}"),
    }
    match net.nodes[0].handle_request(
        &9,
        Request::Range {
            author,
            from_seq: 9,
            limit: 100,
        },
        T0,
    ) {
        Response::Events { events, more, .. } => {
            assert_eq!(events.len(), 2);
            assert!(!more);
        }
        other => panic!("unexpected {other:?}"),
    }
    match net.nodes[0].handle_request(
        &9,
        Request::Heads {
            authors: vec![author, AuthorId([0; 32])],
        },
        T0,
    ) {
        Response::Heads { heads } => {
            assert_eq!(
                heads,
                vec![Head {
                    author,
                    contiguous: 10,
                    highest: 10
                }]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unserved_follows_are_looked_up_again_after_the_interval() {
    let mut net = Net::new(2);
    let stranger = AuthorId([9; 32]);
    net.nodes[0].follow(stranger, T0).expect("follow");
    let lookups = |outputs: &[Output<usize>]| {
        outputs
            .iter()
            .filter(|o| **o == Output::FindProviders(stranger))
            .count()
    };
    let first: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    assert_eq!(lookups(&first), 1);
    let interval = EngineConfig::default().provider_lookup_interval_ms;
    net.nodes[0].handle_timeout(Timestamp(T0.0 + 1));
    // The heads round is now far off, so the next timeout is the lookup retry.
    assert_eq!(
        net.nodes[0].poll_timeout(),
        Some(T0.saturating_add_millis(interval))
    );
    let early: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    assert_eq!(lookups(&early), 0, "not before the interval");
    net.nodes[0].handle_timeout(T0.saturating_add_millis(interval));
    let later: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    assert_eq!(lookups(&later), 1, "again after it");
}

#[test]
fn resubscribing_to_a_feed_restores_its_declaration() {
    let mut net = Net::new(2);
    let (moderator, viewer) = (0, 1);
    net.connect(moderator, viewer);
    let feed = net.author(moderator);
    let declaration = crate::payload::LabelerDeclaration {
        name: "Safety Desk".into(),
        description: String::new(),
        labels: vec![crate::payload::LabelDefinition {
            value: "violence".into(),
            severity: crate::payload::Severity::High,
            default_action: Action::Hide,
            description: String::new(),
        }],
    };
    net.nodes[moderator]
        .publish(&Payload::LabelerDeclaration(declaration.clone()), T0)
        .expect("declare");
    net.pump();
    let declared = |net: &Net| {
        net.nodes[viewer]
            .settings()
            .moderation
            .feeds
            .get(&feed)
            .and_then(|f| f.declaration.clone())
    };
    for round in 0..2 {
        net.nodes[viewer]
            .subscribe_feed(feed, BTreeMap::new(), T0)
            .expect("subscribe");
        net.pump();
        assert_eq!(declared(&net), Some(declaration.clone()), "round {round}");
        net.nodes[viewer]
            .update_settings(
                |s| {
                    s.moderation.feeds.remove(&feed);
                },
                T0,
            )
            .expect("unsubscribe");
        net.pump();
    }
}

#[test]
fn a_follow_served_only_by_a_stale_peer_is_looked_up_anyway() {
    // The author's only connected host is stale: it holds an old part of the log and will
    // never hear more. One serving peer is not enough to stop looking for others.
    let mut net = Net::new(3);
    let (author, stale, reader) = (0, 1, 2);
    net.connect(author, stale);
    net.follow(stale, net.author(author));
    net.post(author, "old news");
    net.disconnect(author, stale);
    net.connect(stale, reader);
    let target = net.author(author);
    // Deliver the reader's outputs by hand (heads exchange, backfill), counting lookups.
    let drain = |net: &mut Net| {
        let mut lookups = 0;
        while let Some(output) = net.nodes[reader].poll_output() {
            if output == Output::FindProviders(target) {
                lookups += 1;
            } else {
                net.deliver(reader, output);
            }
        }
        lookups
    };
    net.nodes[reader].follow(target, T0).expect("follow");
    let lookups = drain(&mut net);
    assert!(
        net.nodes[reader]
            .store()
            .log_state(&target)
            .expect("state")
            .highest
            > 0
    );
    assert_eq!(
        lookups, 1,
        "looked up although a (stale) peer serves the author"
    );
    let refresh = EngineConfig::default().provider_refresh_interval_ms;
    let lookups_at = |net: &mut Net, ms: u64| {
        net.nodes[reader].handle_timeout(T0.saturating_add_millis(ms));
        drain(net)
    };
    assert_eq!(
        lookups_at(&mut net, refresh / 2),
        0,
        "not before the refresh interval"
    );
    assert_eq!(lookups_at(&mut net, refresh), 1, "again after it");
}

#[test]
fn a_moderation_feed_nobody_serves_is_looked_up_like_a_follow() {
    let mut net = Net::new(1);
    let feed = AuthorId([7; 32]);
    net.nodes[0]
        .subscribe_feed(feed, BTreeMap::new(), T0)
        .expect("subscribe");
    let outputs: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    assert!(outputs.contains(&Output::Subscribe(feed)));
    net.nodes[0].handle_timeout(T0);
    let outputs: Vec<_> = std::iter::from_fn(|| net.nodes[0].poll_output()).collect();
    assert!(
        outputs.contains(&Output::FindProviders(feed)),
        "a feed needs hosts as much as a follow: {outputs:?}"
    );
}

#[test]
fn a_lost_peer_is_redialled_by_upkeep_and_a_banned_one_is_not() {
    let key = AuthorKey::from_secret_bytes(&[1; 32]);
    let mut node: Engine<MemoryStore, usize> =
        Engine::new(key, MemoryStore::new(), EngineConfig::default(), T0).expect("engine");
    let dials = |node: &mut Engine<MemoryStore, usize>| -> Vec<usize> {
        std::iter::from_fn(|| node.poll_output())
            .filter_map(|o| match o {
                Output::Dial(p) => Some(p),
                _ => None,
            })
            .collect()
    };
    node.handle_connected(5, T0);
    node.handle_connected(6, T0);
    node.add_known_peer(5, T0);
    node.add_known_peer(6, T0);
    // Connections that lasted: redialled soon after they close.
    node.handle_disconnected(&5, T0.saturating_add_millis(60_000));
    node.handle_disconnected(&6, T0.saturating_add_millis(60_000));
    // Peer 6 misbehaves until banned: it is forgotten, not redialled.
    for _ in 0..10 {
        node.handle_malformed(&6, T0.saturating_add_millis(60_000));
    }
    let _ = dials(&mut node);
    let due = node.poll_timeout().expect("a timeout");
    let mut at = due;
    let mut redialled = Vec::new();
    while at < T0.saturating_add_millis(70_000) {
        node.handle_timeout(at);
        redialled.extend(dials(&mut node));
        at = node
            .poll_timeout()
            .expect("a timeout")
            .max(at.saturating_add_millis(1));
    }
    assert_eq!(redialled.first(), Some(&5), "the lost peer is redialled");
    assert!(!redialled.contains(&6), "a banned peer is not");
}

#[test]
fn a_well_served_follow_still_gets_one_new_host_now_and_then() {
    // Three connected peers serve the author, so nothing looks it up for lack of hosts; they
    // could all be stale, so every `new_host_interval_ms` one host not connected is dialled.
    let mut net = Net::new(5);
    let (author, reader) = (0, 4);
    let target = net.author(author);
    for host in 1..=3 {
        net.connect(author, host);
        net.follow(host, target);
        net.connect(host, reader);
    }
    net.post(author, "served thrice");
    net.nodes[reader].follow(target, T0).expect("follow");
    let drain = |net: &mut Net| {
        let (mut lookups, mut dials) = (0, Vec::new());
        while let Some(output) = net.nodes[reader].poll_output() {
            match output {
                Output::FindProviders(a) if a == target => lookups += 1,
                Output::Dial(peer) => dials.push(peer),
                other => net.deliver(reader, other),
            }
        }
        (lookups, dials)
    };
    drain(&mut net);
    assert_eq!(net.nodes[reader].serving(&target), 3);
    let interval = EngineConfig::default().new_host_interval_ms;
    let at = |net: &mut Net, ms: u64| {
        net.nodes[reader].handle_timeout(T0.saturating_add_millis(ms));
        drain(net)
    };
    at(&mut net, 1);
    assert_eq!(at(&mut net, interval / 2).0, 0, "not before the interval");
    assert_eq!(at(&mut net, interval + 60_000).0, 1, "once after it");
    net.nodes[reader].handle_providers(target, vec![1, 2, author, 3]);
    assert_eq!(
        drain(&mut net).1,
        vec![author],
        "one host, not connected yet"
    );
    net.nodes[reader].handle_providers(target, vec![author]);
    assert_eq!(
        drain(&mut net).1,
        Vec::<usize>::new(),
        "only for that lookup"
    );
}

/// The range requests among `node`'s queued outputs, as (author, from_seq, limit).
fn queued_ranges(node: &mut Engine<MemoryStore, usize>) -> Vec<(AuthorId, u64, u32)> {
    std::iter::from_fn(|| node.poll_output())
        .filter_map(|o| match o {
            Output::SendRequest {
                request:
                    Request::Range {
                        author,
                        from_seq,
                        limit,
                    },
                ..
            } => Some((author, from_seq, limit)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_peer_reached_only_through_a_relay_is_asked_for_small_batches_until_a_direct_link() {
    let mut net = Net::new(2);
    for i in 0..40 {
        net.nodes[0]
            .publish(
                &Payload::Post(Post {
                    text: format!("{i}"),
                    ..Post::default()
                }),
                T0,
            )
            .expect("publish");
    }
    let alice = net.author(0);
    net.follow(1, alice);
    let _ = std::iter::from_fn(|| net.nodes[1].poll_output()).count();
    net.nodes[1].handle_connected(0, T0);
    net.nodes[1].handle_link_limited(&0, true, T0);
    let heads = Request::Heads {
        authors: vec![alice],
    };
    let answer = net.nodes[0].handle_request(&1, heads.clone(), T0);
    net.nodes[1].handle_response(&0, &heads, answer, T0);
    let ranges = queued_ranges(&mut net.nodes[1]);
    assert_eq!(ranges, vec![(alice, 1, RELAYED_RANGE_EVENTS_MAX)]);

    // The answer comes; the next batch is small too while the link is relayed.
    let request = Request::Range {
        author: alice,
        from_seq: 1,
        limit: RELAYED_RANGE_EVENTS_MAX,
    };
    let answer = net.nodes[0].handle_request(&1, request.clone(), T0);
    net.nodes[1].handle_response(&0, &request, answer, T0);
    let ranges = queued_ranges(&mut net.nodes[1]);
    assert_eq!(ranges, vec![(alice, 17, RELAYED_RANGE_EVENTS_MAX)]);

    // A direct connection appears (hole punched): the rest comes in full batches.
    net.nodes[1].handle_link_limited(&0, false, T0);
    let request = Request::Range {
        author: alice,
        from_seq: 17,
        limit: RELAYED_RANGE_EVENTS_MAX,
    };
    let answer = net.nodes[0].handle_request(&1, request.clone(), T0);
    net.nodes[1].handle_response(&0, &request, answer, T0);
    let ranges = queued_ranges(&mut net.nodes[1]);
    assert_eq!(ranges, vec![(alice, 33, BACKFILL_BATCH_EVENTS_MAX)]);
}

#[test]
fn new_addresses_reannounce_every_hosted_author() {
    let mut net = Net::new(2);
    let bob = net.author(1);
    net.follow(0, bob);
    let _ = std::iter::from_fn(|| net.nodes[0].poll_output()).count();
    net.nodes[0].handle_addresses_changed();
    let announced: BTreeSet<AuthorId> = std::iter::from_fn(|| net.nodes[0].poll_output())
        .filter_map(|o| match o {
            Output::StartProviding(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(announced, BTreeSet::from([net.author(0), bob]));
}
