//! Simulator throughput: simulated events per second of wall time, for each model.

use criterion::{Criterion, criterion_group, criterion_main};
use handbill_sim::Scenario;

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
        group.bench_function(model, |b| b.iter(|| handbill_sim::run(&sc, &mut |_| {})));
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
