//! The simulator against itself (determinism), against theory, and every built-in scenario run
//! to completion at a small size. Tolerances and the analysis behind each check are in the
//! crate README ("What is checked against theory").

mod common;

use common::UNIFORM;
use handbill_sim::scenario::BUILT_IN;
use handbill_sim::{Report, Scenario};
use serde_json::Value;

fn run(text: &str, sets: &[&str]) -> Report {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = Scenario::from_toml(text, &sets).expect("valid scenario");
    handbill_sim::run(&sc, &mut |_| {})
}

fn outputs(r: &Report) -> (String, String, String, String) {
    (
        serde_json::to_string(&r.summary).expect("serialises"),
        r.series.as_str().to_string(),
        r.posts.as_str().to_string(),
        r.nodes.as_str().to_string(),
    )
}

fn check(r: &Report, key: &str) -> f64 {
    match r.summary.checks.get(key) {
        Some(Value::Number(n)) => n.as_f64().expect("a number"),
        other => panic!("{key}: expected a number, got {other:?}"),
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let text = Scenario::built_in("churn").expect("built in");
    let small = ["nodes=60", "workload.posts=15", "duration_s=60"];
    let a = run(text, &small);
    let b = run(text, &small);
    assert_eq!(
        outputs(&a),
        outputs(&b),
        "same scenario and seed, same outputs"
    );
    let mut other = small.to_vec();
    other.push("seed=2");
    let c = run(text, &other);
    assert_ne!(outputs(&a).0, outputs(&c).0, "another seed, another run");
    assert_ne!(outputs(&a).1, outputs(&c).1);
}

#[test]
fn flooding_over_a_connected_overlay_reaches_everyone() {
    let mut sets = UNIFORM.to_vec();
    sets.extend([
        "nodes=300",
        "dissemination.model=\"flood\"",
        "workload.posts=10",
        "duration_s=20",
    ]);
    let r = run("", &sets);
    assert_eq!(r.summary.delivery.ratio, 1.0);
    assert_eq!(r.summary.delivery.posts_complete, 10);
    assert_eq!(
        r.summary.backfill.via_backfill_share,
        Some(0.0),
        "all by flooding"
    );
}

#[test]
fn flooding_hops_on_a_random_regular_graph_match_ln_n_over_ln_d_minus_1() {
    let (n, d) = (1000.0f64, 6.0f64);
    let mut sets = UNIFORM.to_vec();
    sets.extend([
        "nodes=1000",
        "overlay.degree=6",
        "dissemination.model=\"flood\"",
        "workload.authors=2",
        "workload.posts=6",
        "duration_s=15",
    ]);
    let r = run("", &sets);
    let hops = r.summary.hops_mean.expect("gossip deliveries");
    let theory = n.ln() / (d - 1.0).ln();
    assert!(
        (hops - theory).abs() / theory < 0.12,
        "mean hops {hops} vs ln(n)/ln(D-1) = {theory}"
    );
}

#[test]
fn gossipsub_duplicates_are_mesh_degree_minus_two_and_idontwant_cuts_them() {
    let base = [
        "nodes=400",
        "overlay.degree=10",
        "network.upload_bytes_per_s=0",
        "signatures=\"memo\"",
        "workload.posts=20",
        "duration_s=40",
    ];
    let r = run("", &base);
    let mesh = r.summary.mesh_degree_mean.expect("gossipsub");
    let dups = r
        .summary
        .duplicates_per_node_per_message
        .expect("posts were delivered");
    assert!(
        (dups - (mesh - 2.0)).abs() / (mesh - 2.0) < 0.15,
        "duplicates {dups} vs mesh degree {mesh} - 2"
    );
    assert_eq!(r.summary.delivery.ratio, 1.0);

    // Big messages on slow uplinks: IDONTWANT overtakes queued copies.
    let slow = [
        "nodes=200",
        "signatures=\"memo\"",
        "workload.posts=10",
        "workload.text_bytes=6000",
        "network.upload_bytes_per_s=100000",
        "duration_s=40",
    ];
    let without = run("", &slow);
    let mut with_sets = slow.to_vec();
    with_sets.push("dissemination.idontwant=true");
    let with = run("", &with_sets);
    assert!(with.summary.counters["idontwant_saved_sends"] > 0);
    let (with, without) = (
        with.summary.duplicates_per_node_per_message,
        without.summary.duplicates_per_node_per_message,
    );
    assert!(
        with.is_some() && with < without,
        "IDONTWANT {with:?} vs without {without:?}"
    );
}

/// Each built-in scenario, shrunk, runs to the end and its checks say what they should.
#[test]
fn every_built_in_scenario_runs_at_a_small_size() {
    for (name, text) in BUILT_IN {
        if name.starts_with("scale") {
            continue;
        }
        let r = run(text, &["nodes=60", "signatures=\"memo\""]);
        let s = &r.summary;
        assert_eq!(&s.scenario, name);
        assert!(s.posts > 0, "{name}: posts were published");
        assert!(s.sim_events > 0);
        assert!(
            (0.0..=1.0).contains(&s.delivery.ratio),
            "{name}: ratio {}",
            s.delivery.ratio
        );
        match *name {
            "baseline" | "churn" => {
                assert!(s.delivery.ratio > 0.95, "{name}: {}", s.delivery.ratio)
            }
            "censor" => {
                assert!(check(&r, "censor_target_delivery") > 0.9);
                // Routing around the censors costs the censored author time: it arrives
                // later than the others, and the summary says by how much.
                assert!(
                    check(&r, "censor_target_latency_p50_ms")
                        > check(&r, "censor_others_latency_p50_ms")
                );
                let header = r.series.as_str().lines().next().unwrap_or_default();
                assert!(header.contains("censor_target_live_delivery_ratio"));
                assert!(r.delivery_series.len() == 3 && r.latency_series.len() == 3);
            }
            "eclipse" => {
                assert!(check(&r, "eclipse_target_mesh_sybil_share") > 0.5);
                assert!(
                    check(&r, "eclipse_target_latency_p50_ms")
                        > check(&r, "eclipse_others_latency_p50_ms")
                );
            }
            "spam" => {
                assert!(s.counters["rejected_messages"] > 0);
                assert!(check(&r, "spam_links_graylisted") > 0.5);
                // Honest delivery is unchanged, nothing off-topic is kept, a replayed deleted
                // post stays deleted on every node that holds it, and a stranger's valid
                // mentions stay within the hourly budget per topic.
                assert!(s.delivery.ratio > 0.95, "{name}: {}", s.delivery.ratio);
                assert_eq!(check(&r, "spam_off_topic_events_stored"), 0.0);
                assert!(check(&r, "deleted_post_headers_held") > 0.0);
                assert_eq!(check(&r, "deleted_post_payloads_restored"), 0.0);
                let per_stranger =
                    handbill_protocol::engine::StrangerLimits::default().per_author as f64;
                let spammers = 5.0;
                assert!(
                    check(&r, "spam_valid_events_stored_per_honest_node")
                        <= per_stranger * spammers
                );
            }
            "partition" => {
                assert!(check(&r, "partition_converged_after_heal_s") >= 0.0);
                let labels: Vec<&str> = r.markers.iter().map(|m| m.label.as_str()).collect();
                assert_eq!(labels, ["partition", "heal"]);
            }
            "moderation" => {
                assert_eq!(check(&r, "moderation_labelled_visible_for_others"), 1.0);
                assert_eq!(
                    check(&r, "moderation_unlabelled_hidden_for_subscribers"),
                    0.0
                );
                assert!(check(&r, "moderation_labelled_hidden_for_subscribers") > 0.9);
            }
            "deplatform" => {
                assert!(check(&r, "deplatform_past_posts_delivery") > 0.9);
                assert!(check(&r, "deplatform_future_posts_published") > 0.0);
                // The chart shows the takedown: a marker, and the online count falling.
                let labels: Vec<&str> = r.markers.iter().map(|m| m.label.as_str()).collect();
                assert!(
                    labels.iter().any(|l| l.starts_with("takedown")),
                    "{labels:?}"
                );
                assert!(labels.contains(&"author re-homed"));
                let online: Vec<f64> = r.online.points.iter().map(|p| p.1).collect();
                let first = online.first().copied().unwrap_or_default();
                assert!(online.iter().any(|n| *n < first), "online {online:?}");
            }
            _ => {}
        }
    }
}

#[test]
fn outputs_are_written_with_the_scenario_that_ran() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sc = Scenario::from_toml("nodes = 30\n[workload]\nposts = 5\n", &["seed=7".into()])
        .expect("valid");
    let r = handbill_sim::run(&sc, &mut |_| {});
    handbill_sim::write_outputs(&r, &sc, dir.path()).expect("written");
    for file in [
        "scenario.toml",
        "summary.json",
        "series.csv",
        "latency_cdf.csv",
        "posts.csv",
        "nodes.csv",
        "latency_cdf.svg",
        "delivery.svg",
        "latency.svg",
    ] {
        let path = dir.path().join(file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{file} written");
    }
    let used = std::fs::read_to_string(dir.path().join("scenario.toml")).expect("read");
    let again = Scenario::from_toml(&used, &[]).expect("the written scenario parses");
    assert_eq!(again.seed, 7);
    let svg = std::fs::read_to_string(dir.path().join("latency_cdf.svg")).expect("read");
    assert!(svg.starts_with("<svg") && svg.contains("latency (ms)"));
    let svg = std::fs::read_to_string(dir.path().join("delivery.svg")).expect("read");
    assert!(svg.contains("online nodes") && svg.contains("virtual time (s)"));
}

/// Checks that measure nothing say so (`null`) instead of reporting a perfect score.
#[test]
fn vacuous_checks_are_null() {
    let text = Scenario::built_in("spam").expect("built in");
    let r = run(
        text,
        &[
            "nodes=30",
            "spam.spammers=0",
            "workload.posts=5",
            "duration_s=30",
            "signatures=\"memo\"",
        ],
    );
    assert_eq!(
        r.summary.checks.get("spam_links_graylisted"),
        Some(&Value::Null)
    );
}

/// Region shares are used as written, so ones that do not add up are an error, not a
/// silent renormalisation that scenario.toml would not record.
#[test]
fn region_shares_must_sum_to_one() {
    let err = Scenario::from_toml("", &["network.region_shares=[0.5, 0.2, 0.1]".into()])
        .expect_err("shares summing to 0.8");
    assert!(err.to_string().contains("sum to 1"), "{err}");
    Scenario::from_toml("", &["network.region_shares=[0.5, 0.25, 0.25]".into()])
        .expect("shares summing to 1");
}
