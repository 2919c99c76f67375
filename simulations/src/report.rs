//! Turns a finished [`World`] into its results: the summary, the CSV tables and the points the
//! plots draw. Column meanings are documented in the crate README.

use crate::gossipsub::NodeId;
use crate::metrics::{
    Backfill, Bytes, Csv, Delivery, Percentiles, Summary, f, ms, quantile, round3,
};
use crate::plot::{Marker, Series};
use crate::queue::{Micros, seconds};
use crate::series::Pair;
use crate::world::{Presence, Role, World};
use handbill_protocol::payload::Action;
use handbill_protocol::store::Store;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Everything a run writes.
#[derive(Clone, Debug)]
pub struct Report {
    /// `summary.json`.
    pub summary: Summary,
    /// `series.csv`: one row per time bucket.
    pub series: Csv,
    /// `latency_cdf.csv`: latency at each percentile.
    pub latency_cdf: Csv,
    /// `posts.csv`: one row per post.
    pub posts: Csv,
    /// `nodes.csv`: one row per node.
    pub nodes: Csv,
    /// (latency ms, cumulative share) for the CDF plot.
    pub cdf_points: Vec<(f64, f64)>,
    /// Live delivery ratio so far over time: all pairs, then each compared group.
    pub delivery_series: Vec<Series>,
    /// Median latency of the posts published in each time bucket: all, then each group.
    pub latency_series: Vec<Series>,
    /// Nodes online over time.
    pub online: Series,
    /// Seconds of publication time each point of `latency_series` covers.
    pub latency_window_s: f64,
    /// The scenario's events.
    pub markers: Vec<Marker>,
}

/// Builds the report of a finished run.
pub fn report(w: &World) -> Report {
    let total = w.nodes.len();
    let mut pairs: Vec<Pair> = Vec::new();
    let mut per_node = vec![(0u64, 0u64); total];
    let mut posts = Csv::new(&[
        "post",
        "author",
        "published_s",
        "eligible",
        "delivered",
        "ratio",
        "latency_p50_ms",
        "latency_p99_ms",
        "latency_max_ms",
    ]);
    let mut post_ratios = Vec::new();
    let mut latencies = Vec::new();
    let mut missed = (0u64, 0u64);
    let mut by_backfill = 0u64;
    let mut posts_complete = 0;
    let mut published = 0;
    for (k, p) in w.posts.iter().enumerate() {
        if p.id.is_none() {
            continue;
        }
        published += 1;
        let mut eligible = 0u64;
        let mut delivered = 0u64;
        let mut lat = Vec::new();
        for (n, counts) in per_node.iter_mut().enumerate() {
            if !w.eligible(n, p.author) {
                continue;
            }
            eligible += 1;
            counts.0 += 1;
            let stored = (p.stored_at[n] != Micros::MAX).then_some(p.stored_at[n]);
            let missed_live = p.missed_live[n] || w.nodes[n].joined_at > p.published;
            if missed_live {
                missed.0 += 1;
                missed.1 += u64::from(stored.is_some());
            }
            if let Some(at) = stored {
                delivered += 1;
                counts.1 += 1;
                by_backfill += u64::from(p.by_backfill[n]);
                // Latency is for nodes that were up when the post went out; the others are
                // measured by backfill completeness.
                if !missed_live {
                    lat.push(ms(at.saturating_sub(p.published)));
                }
            }
            pairs.push(Pair {
                author: p.author,
                node: n,
                published: p.published,
                stored,
                live: !missed_live,
            });
        }
        let ratio = if eligible == 0 {
            1.0
        } else {
            delivered as f64 / eligible as f64
        };
        if delivered == eligible {
            posts_complete += 1;
        }
        post_ratios.push(ratio);
        latencies.extend(lat.iter().copied());
        let pct = Percentiles::of(&mut lat);
        posts.row(&[
            k.to_string(),
            p.author.to_string(),
            f(p.published as f64 / 1e6),
            eligible.to_string(),
            delivered.to_string(),
            f(ratio),
            pct.as_ref().map_or(String::new(), |x| f(x.p50)),
            pct.as_ref().map_or(String::new(), |x| f(x.p99)),
            pct.as_ref().map_or(String::new(), |x| f(x.max)),
        ]);
    }

    let eligible_pairs = pairs.len() as u64;
    let delivered_pairs = pairs.iter().filter(|p| p.stored.is_some()).count() as u64;
    let mut node_ratios: Vec<f64> = per_node
        .iter()
        .filter(|(e, _)| *e > 0)
        .map(|(e, d)| *d as f64 / *e as f64)
        .collect();
    node_ratios.sort_by(f64::total_cmp);
    let delivery = Delivery {
        ratio: round3(share(delivered_pairs, eligible_pairs)),
        eligible_pairs,
        delivered_pairs,
        per_post_min: round3(post_ratios.iter().copied().fold(1.0, f64::min)),
        per_post_mean: round3(if post_ratios.is_empty() {
            1.0
        } else {
            post_ratios.iter().sum::<f64>() / post_ratios.len() as f64
        }),
        per_node_min: round3(node_ratios.first().copied().unwrap_or(1.0)),
        per_node_p10: round3(if node_ratios.is_empty() {
            1.0
        } else {
            quantile(&node_ratios, 0.1)
        }),
        posts_complete,
    };

    // Per node table, bytes and duplicates.
    let mut nodes = Csv::new(&[
        "node",
        "region",
        "role",
        "online_at_end",
        "eligible",
        "delivered",
        "ratio",
        "duplicates",
        "payload_bytes",
        "control_bytes",
    ]);
    let mut honest = Vec::new();
    for (n, node) in w.nodes.iter().enumerate() {
        if node.presence == Presence::Absent {
            continue;
        }
        let (e, d) = per_node[n];
        nodes.row(&[
            n.to_string(),
            w.sc.network.regions[node.region as usize].clone(),
            node.role.name().to_string(),
            u8::from(node.presence == Presence::Online).to_string(),
            e.to_string(),
            d.to_string(),
            if e == 0 {
                String::new()
            } else {
                f(d as f64 / e as f64)
            },
            w.tally.duplicates[n].to_string(),
            w.tally.payload_bytes[n].to_string(),
            w.tally.control_bytes[n].to_string(),
        ]);
        if node.role == Role::Honest {
            honest.push(n);
        }
    }
    let mean = |v: &[u64]| -> f64 {
        if honest.is_empty() {
            0.0
        } else {
            honest.iter().map(|n| v[*n] as f64).sum::<f64>() / honest.len() as f64
        }
    };
    let max = |v: &[u64]| honest.iter().map(|n| v[*n]).max().unwrap_or(0);
    let bytes = Bytes {
        payload_mean: round3(mean(&w.tally.payload_bytes)),
        control_mean: round3(mean(&w.tally.control_bytes)),
        payload_max: max(&w.tally.payload_bytes),
        control_max: max(&w.tally.control_bytes),
    };
    let duplicates: u64 = (0..total)
        .filter(|n| per_node[*n].0 > 0)
        .map(|n| w.tally.duplicates[n])
        .sum();

    let groups = crate::story::groups(w);
    let width = crate::queue::millis(w.sc.metrics.interval_ms).max(1);
    let window = crate::series::latency_window(
        w.sc.workload.authors,
        crate::queue::millis(w.sc.workload.interval_ms),
        width,
    );
    let over_time = crate::series::over_time(&pairs, &groups, &w.tally, width, window);

    let mut latency_cdf = Csv::new(&["percentile", "latency_ms"]);
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let mut cdf_points = Vec::new();
    if !sorted.is_empty() {
        for pct in 1..=100 {
            let q = f64::from(pct) / 100.0;
            let v = quantile(&sorted, q);
            cdf_points.push((v, q));
            latency_cdf.row(&[pct.to_string(), f(v)]);
        }
    }

    let mesh_degree_mean = mesh_degree(w);
    let mut counters = BTreeMap::from([
        ("misbehaving_reports".to_string(), w.tally.misbehaved),
        (
            "log_inconsistencies".to_string(),
            w.tally.log_inconsistencies,
        ),
        ("graylisted_drops".to_string(), w.tally.graylisted_drops),
        ("rejected_messages".to_string(), w.tally.rejected),
        ("idontwant_saved_sends".to_string(), w.tally.dont_want_saved),
    ]);
    for kind in crate::metrics::EventKind::ALL {
        let count = w.tally.by_kind[kind as usize];
        if count > 0 {
            counters.insert(format!("events_{}", kind.name()), count);
        }
    }
    let summary = Summary {
        scenario: w.sc.name.clone(),
        seed: w.sc.seed,
        model: w.sc.dissemination.model,
        nodes: w
            .nodes
            .iter()
            .filter(|n| n.presence != Presence::Absent)
            .count(),
        virtual_s: round3(w.now() as f64 / 1e6),
        sim_events: w.tally.events,
        posts: published,
        delivery,
        latency_ms: Percentiles::of(&mut latencies),
        hops_mean: (w.tally.hops.1 > 0)
            .then(|| round3(w.tally.hops.0 as f64 / w.tally.hops.1 as f64)),
        duplicates_per_node_per_message: (delivered_pairs > 0)
            .then(|| round3(share(duplicates, delivered_pairs))),
        bytes_per_node: bytes,
        backfill: Backfill {
            completeness: (missed.0 > 0).then(|| round3(share(missed.1, missed.0))),
            pairs: missed.0,
            via_backfill_share: (delivered_pairs > 0)
                .then(|| share(by_backfill, delivered_pairs))
                .map(round_share),
        },
        mesh_degree_mean,
        counters,
        checks: checks(w, &pairs, &groups),
    };
    Report {
        summary,
        series: over_time.csv,
        latency_cdf,
        posts,
        nodes,
        cdf_points,
        delivery_series: over_time.delivery,
        latency_series: over_time.latency,
        online: over_time.online,
        latency_window_s: (window * width) as f64 / 1e6,
        markers: crate::story::markers(w),
    }
}

/// Rounds a share to 3 decimals, except that a share above zero never reads as zero: a few
/// fetched deliveries among many gossiped ones are still fetched deliveries.
fn round_share(x: f64) -> f64 {
    let r = round3(x);
    if r == 0.0 && x > 0.0 { 0.001 } else { r }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// A check's share, or null when there was nothing to measure: a share of nothing is not a
/// success (a spam run without spammers has graylisted no spammer links, not all of them).
fn share_or_null(part: u64, whole: u64) -> Value {
    if whole == 0 {
        Value::Null
    } else {
        json!(round3(part as f64 / whole as f64))
    }
}

fn mesh_degree(w: &World) -> Option<f64> {
    if w.sc.dissemination.model != crate::scenario::Model::Gossipsub {
        return None;
    }
    let author_topics: Vec<u32> = w.author_topics();
    let mut sum = 0usize;
    let mut count = 0usize;
    for node in &w.nodes {
        if node.role != Role::Honest || node.presence != Presence::Online {
            continue;
        }
        for (topic, size) in node.router.mesh_sizes() {
            if author_topics.contains(&topic) {
                sum += size;
                count += 1;
            }
        }
    }
    (count > 0).then(|| round3(sum as f64 / count as f64))
}

/// Delivery ratio of the posts matching `which` (index, record) to eligible nodes.
fn ratio_of(w: &World, which: impl Fn(usize) -> bool, nodes: Option<&[NodeId]>) -> Value {
    let mut eligible = 0u64;
    let mut delivered = 0u64;
    for (k, p) in w.posts.iter().enumerate() {
        if p.id.is_none() || !which(k) {
            continue;
        }
        for n in 0..w.nodes.len() {
            if nodes.is_some_and(|only| !only.contains(&(n as NodeId))) || !w.eligible(n, p.author)
            {
                continue;
            }
            eligible += 1;
            delivered += u64::from(p.stored_at[n] != Micros::MAX);
        }
    }
    share_or_null(delivered, eligible)
}

fn checks(w: &World, pairs: &[Pair], groups: &[crate::story::Group]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    // Each compared group's latency, so "how much later does the censored author arrive?" is
    // a number in the summary and in sweeps.
    for g in groups {
        let mut lat: Vec<f64> = pairs
            .iter()
            .filter(|p| p.live && g.holds(p.author, p.node))
            .filter_map(|p| p.stored.map(|at| ms(at.saturating_sub(p.published))))
            .collect();
        let pct = Percentiles::of(&mut lat);
        out.insert(
            format!("{}_latency_p50_ms", g.name),
            pct.as_ref().map_or(Value::Null, |p| json!(p.p50)),
        );
        out.insert(
            format!("{}_latency_p99_ms", g.name),
            pct.as_ref().map_or(Value::Null, |p| json!(p.p99)),
        );
    }
    let first_author = |k: usize| w.posts[k].author == 0;
    if let Some(d) = &w.sc.deplatform {
        let t = seconds(d.at_s);
        let back = seconds(d.at_s + d.rehome_after_s.max(0.0));
        out.insert("deplatform_providers".into(), json!(w.providers.len()));
        out.insert(
            "deplatform_past_posts_delivery".into(),
            ratio_of(w, |k| first_author(k) && w.posts[k].published < t, None),
        );
        out.insert(
            "deplatform_future_posts_delivery".into(),
            ratio_of(w, |k| first_author(k) && w.posts[k].published >= back, None),
        );
        out.insert(
            "deplatform_future_posts_published".into(),
            json!(
                w.posts
                    .iter()
                    .filter(|p| p.author == 0 && p.id.is_some() && p.published >= back)
                    .count()
            ),
        );
        let joined = w
            .joiners
            .iter()
            .filter(|j| w.nodes[**j as usize].presence == Presence::Online)
            .filter(|j| w.connections(**j) > 0)
            .count();
        out.insert(
            "deplatform_joiners_connected".into(),
            share_or_null(joined as u64, w.joiners.len() as u64),
        );
        out.insert(
            "deplatform_joiners_delivery".into(),
            ratio_of(w, |_| true, Some(&w.joiners)),
        );
    }
    if w.sc.censor.is_some() {
        out.insert(
            "censor_target_delivery".into(),
            ratio_of(w, first_author, None),
        );
        out.insert(
            "censor_others_delivery".into(),
            ratio_of(w, |k| !first_author(k), None),
        );
    }
    if let Some(t) = w.eclipse_target {
        out.insert(
            "eclipse_target_delivery".into(),
            ratio_of(w, |_| true, Some(&[t])),
        );
        let mesh: Vec<(u32, usize)> = w.nodes[t as usize].router.mesh_sizes().collect();
        let sybil_slots: usize = mesh
            .iter()
            .map(|(topic, _)| {
                w.nodes[t as usize]
                    .router
                    .mesh(*topic)
                    .iter()
                    .filter(|p| w.sybils.contains(p))
                    .count()
            })
            .sum();
        let slots: usize = mesh.iter().map(|(_, s)| s).sum();
        out.insert(
            "eclipse_target_mesh_sybil_share".into(),
            share_or_null(sybil_slots as u64, slots as u64),
        );
    }
    if w.sc.spam.is_some() {
        let (graylisted, links) = w.spammer_graylisting();
        out.insert(
            "spam_links_graylisted".into(),
            share_or_null(graylisted, links),
        );
        out.insert(
            "spam_valid_events_stored_per_honest_node".into(),
            json!(round3(w.spam_stored_per_honest_node())),
        );
        out.insert(
            "spam_off_topic_events_stored".into(),
            json!(w.off_topic_stored()),
        );
        if let Some((held, restored)) = w.deleted_held_and_restored() {
            out.insert("deleted_post_headers_held".into(), json!(held));
            out.insert("deleted_post_payloads_restored".into(), json!(restored));
        }
    }
    if let Some(heal) = w.heal_at {
        let during = |k: usize| w.posts[k].published < heal;
        let all_delivered = ratio_of(w, during, None);
        out.insert(
            "partition_posts_before_heal_delivery".into(),
            all_delivered.clone(),
        );
        let last = w
            .posts
            .iter()
            .filter(|p| p.id.is_some() && p.published < heal)
            .flat_map(|p| {
                (0..w.nodes.len())
                    .filter(|n| w.eligible(*n, p.author))
                    .map(|n| p.stored_at[n])
            })
            .max();
        let converged = match (all_delivered.as_f64(), last) {
            (Some(r), Some(last)) if r >= 1.0 => {
                json!(round3(last.saturating_sub(heal) as f64 / 1e6))
            }
            _ => Value::Null,
        };
        out.insert("partition_converged_after_heal_s".into(), converged);
    }
    if w.sc.moderation.is_some() {
        moderation_checks(w, &mut out);
    }
    out
}

fn moderation_checks(w: &World, out: &mut BTreeMap<String, Value>) {
    let now = handbill_protocol::Timestamp(crate::world::EPOCH_MS + w.now() / 1000);
    let mut hidden_for_subscribers = (0u64, 0u64);
    let mut shown_to_others = (0u64, 0u64);
    let mut unlabelled_hidden = (0u64, 0u64);
    for p in w.posts.iter() {
        let Some(id) = p.id else { continue };
        for (n, node) in w.nodes.iter().enumerate() {
            if !w.eligible(n, p.author) || w.labelers.contains(&(n as NodeId)) {
                continue;
            }
            let Some(engine) = node.engine.as_ref() else {
                continue;
            };
            let Ok(Some(event)) = engine.store().event(&id) else {
                continue;
            };
            let hidden = engine.verdict(&event, now).action == Action::Hide;
            let subscriber = w.subscribers.contains(&(n as NodeId));
            let bucket = match (p.labelled, subscriber) {
                (true, true) => &mut hidden_for_subscribers,
                (true, false) => &mut shown_to_others,
                (false, true) => &mut unlabelled_hidden,
                (false, false) => continue,
            };
            bucket.1 += 1;
            let counts = match (p.labelled, subscriber) {
                (true, false) => !hidden,
                _ => hidden,
            };
            bucket.0 += u64::from(counts);
        }
    }
    let ratio = |(a, b): (u64, u64)| share_or_null(a, b);
    out.insert(
        "moderation_labelled_posts".into(),
        json!(
            w.posts
                .iter()
                .filter(|p| p.id.is_some() && p.labelled)
                .count()
        ),
    );
    out.insert(
        "moderation_labelled_hidden_for_subscribers".into(),
        ratio(hidden_for_subscribers),
    );
    out.insert(
        "moderation_labelled_visible_for_others".into(),
        ratio(shown_to_others),
    );
    out.insert(
        "moderation_unlabelled_hidden_for_subscribers".into(),
        ratio(unlabelled_hidden),
    );
    let mut delays: Vec<f64> = w
        .labels
        .iter()
        .flat_map(|l| {
            l.stored_at
                .iter()
                .filter(|(n, _)| w.subscribers.contains(n))
                .map(move |(_, at)| ms(at.saturating_sub(l.published)))
        })
        .collect();
    let pct = Percentiles::of(&mut delays);
    out.insert(
        "moderation_label_delay_p50_ms".into(),
        pct.as_ref().map_or(Value::Null, |p| json!(p.p50)),
    );
    out.insert(
        "moderation_label_delay_p99_ms".into(),
        pct.as_ref().map_or(Value::Null, |p| json!(p.p99)),
    );
}
