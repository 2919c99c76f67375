//! The calibration testbed in small: eight real daemons in their own namespaces, joined by the
//! delay router with the baseline scenario's region latencies, and a region partition that
//! heals. Every follower must end up with every post (delivery, not timings: CI machines are
//! shared). The 30-daemon calibration is `cargo run --release -p handbill-tests --example
//! calibrate` (simulations/README.md).

use handbill_sim::Scenario;
use handbill_tests::testbed::plan::Plan;
use handbill_tests::testbed::workload::{self, Until};
use handbill_tests::testbed::{Testbed, available};
use std::time::Instant;

#[test]
fn eight_daemons_on_routed_links_deliver_every_post_across_a_healed_partition() {
    if let Err(why) = available() {
        eprintln!("skipping: {why}");
        return;
    }
    let started = Instant::now();
    let text = Scenario::built_in("baseline").expect("the baseline scenario");
    let sets: Vec<String> = [
        "nodes=8",
        "overlay.degree=4",
        "overlay.bootstrap=2",
        "workload.authors=2",
        "workload.posts=12",
        "workload.start_s=1",
        "workload.interval_ms=250",
        "duration_s=90",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut sc = Scenario::from_toml(text, &sets).expect("scenario");
    // The regions split while the first half of the posts go out, and heal.
    sc.partitions = Scenario::from_toml(
        Scenario::built_in("partition").expect("the partition scenario"),
        &[],
    )
    .expect("scenario")
    .partitions;
    sc.partitions[0].at_s = 1.5;
    sc.partitions[0].heal_s = 4.0;
    let plan = Plan::from_scenario(&sc).expect("a plan");
    let min_latency = plan
        .links
        .latency_ms
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let testbed = Testbed::start(plan, "warn");
    let outcome = workload::run(&testbed, Until::Delivered);
    let partitioned: u64 = outcome.counters.iter().map(|c| c.partitioned).sum();
    let latencies = outcome.latencies();
    eprintln!(
        "testbed: delivery {:.3} of {} pairs in {:.1} s after the epoch, {partitioned} packets \
         dropped by the partition, {:.1} s in all",
        outcome.delivery_ratio(),
        outcome.eligible.iter().flatten().filter(|e| **e).count(),
        outcome.elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        outcome.missing(),
        Vec::<(usize, usize)>::new(),
        "every follower holds every post (node, post); logs in {}",
        testbed.dir().display()
    );
    assert!(partitioned > 0, "the partition dropped packets");
    // A lower bound only: nothing arrives faster than the smallest one-way latency.
    let fastest = latencies.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        fastest >= min_latency,
        "a delivery in {fastest} ms beat the {min_latency} ms one-way latency"
    );
}
