//! Simulator throughput, for each model: a whole run (set-up included), and the event loop
//! alone (the world built outside the timed part), whose events per second is the figure the
//! simulator is held to. Event counts per run are printed so the rate can be computed.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use handbill_sim::Scenario;
use handbill_sim::world::World;

fn scenario(model: &str) -> Scenario {
    Scenario::from_toml(
        "nodes = 500\nduration_s = 30\nsignatures = \"memo\"\n[workload]\nauthors = 2\nposts = 20\n",
        &[format!("dissemination.model={model}")],
    )
    .expect("valid scenario")
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("run_500_nodes_20_posts");
    group.sample_size(10);
    for model in ["gossipsub", "flood", "push"] {
        let sc = scenario(model);
        let events = handbill_sim::run(&sc, &mut |_| {}).summary.sim_events;
        eprintln!("{model}: {events} events per run");
        group.bench_function(format!("{model}/whole_run"), |b| {
            b.iter(|| handbill_sim::run(&sc, &mut |_| {}))
        });
        group.bench_function(format!("{model}/event_loop"), |b| {
            b.iter_batched(
                || World::new(sc.clone()),
                |mut world| {
                    world.run(&mut |_| {});
                    world
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
