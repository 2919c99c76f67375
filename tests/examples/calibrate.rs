//! Calibrates `handbill-sim` against real daemons: runs a scenario on the testbed (N real
//! `handbilld` processes in namespaces behind the delay router) and in the simulator, and prints
//! the two side by side. Needs root.
//!
//! `cargo run --release -p handbill-tests --example calibrate -- --nodes 30 --scenario baseline
//! [--zero-delay] [--seed S] [--set key=value]... [--json FILE]`
//!
//! - `--zero-delay`: every latency and the jitter set to 0 (upload rate kept), to measure what
//!   the shared machine itself adds: CPU queueing of N daemons, the router and the API.
//! - `--json FILE`: also append the figures as one JSON line.
//! - `--pairs FILE`: write every eligible (node, post) pair's latency as CSV.
//! - `CALIBRATE_LOGS=DIR`: keep the daemons' logs there.

use handbill_sim::Scenario;
use handbill_sim::metrics::Percentiles;
use handbill_tests::testbed::plan::Plan;
use handbill_tests::testbed::workload::{self, Until};
use handbill_tests::testbed::{Testbed, available};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Args {
    nodes: usize,
    scenario: String,
    zero_delay: bool,
    seed: Option<u64>,
    sets: Vec<String>,
    json: Option<String>,
    pairs: Option<String>,
}

fn args() -> Args {
    let mut out = Args {
        nodes: 30,
        scenario: "baseline".into(),
        zero_delay: false,
        seed: None,
        sets: Vec::new(),
        json: None,
        pairs: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--nodes" => out.nodes = value().parse().expect("--nodes N"),
            "--scenario" => out.scenario = value(),
            "--zero-delay" => out.zero_delay = true,
            "--seed" => out.seed = Some(value().parse().expect("--seed S")),
            "--set" => out.sets.push(value()),
            "--json" => out.json = Some(value()),
            "--pairs" => out.pairs = Some(value()),
            other => panic!("unknown argument {other} (see the example's doc comment)"),
        }
    }
    out
}

/// CPU seconds a process has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.3}"),
        None => "n/a".into(),
    }
}

/// The simulator's `delivery_ratio` in `series.csv` at the end of the bucket holding `t_s`.
fn sim_series_at(series: &str, t_s: f64) -> Value {
    let mut lines = series.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(time), Some(ratio)) = (col("time_s"), col("delivery_ratio")) else {
        return Value::Null;
    };
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let t: f64 = cells.get(time).and_then(|c| c.parse().ok()).unwrap_or(0.0);
        if t >= t_s - 1e-9 {
            return cells
                .get(ratio)
                .and_then(|c| c.parse::<f64>().ok())
                .map_or(Value::Null, |r| json!(r));
        }
    }
    Value::Null
}

fn main() {
    let args = args();
    if let Err(why) = available() {
        eprintln!("calibrate: {why}");
        std::process::exit(2);
    }
    let text = match Scenario::built_in(&args.scenario) {
        Some(t) => t.to_string(),
        None => std::fs::read_to_string(&args.scenario)
            .unwrap_or_else(|e| panic!("{}: {e}", args.scenario)),
    };
    let mut sets = args.sets.clone();
    sets.push(format!("nodes={}", args.nodes));
    if let Some(seed) = args.seed {
        sets.push(format!("seed={seed}"));
    }
    let mut sc = Scenario::from_toml(&text, &sets).expect("scenario");
    if args.zero_delay {
        for row in &mut sc.network.latency_ms {
            row.iter_mut().for_each(|l| *l = 0.0);
        }
        sc.network.jitter_ms = 0.0;
    }
    let plan = Plan::from_scenario(&sc).expect("a plan for the testbed");
    let label = format!(
        "{}{} n={} seed={}",
        sc.name,
        if args.zero_delay { " (zero delay)" } else { "" },
        sc.nodes,
        sc.seed
    );

    eprintln!("calibrate: {label}: simulating");
    let sim_started = Instant::now();
    let report = handbill_sim::run(&sc, &mut |_| {});
    let sim_wall = sim_started.elapsed().as_secs_f64();
    let sim = serde_json::to_value(&report.summary).expect("summary");

    eprintln!("calibrate: {label}: starting {} daemons", plan.nodes);
    let started = Instant::now();
    let testbed = Testbed::start(plan.clone(), "warn");
    eprintln!(
        "calibrate: daemons up and following in {:.1} s; warm-up, then {:.0} s of scenario",
        started.elapsed().as_secs_f64(),
        sc.duration_s
    );
    let pids: Vec<u32> = testbed.nodes.iter().filter_map(|n| n.pid()).collect();
    let cpu_before: f64 = pids.iter().map(|&p| cpu_seconds(p)).sum();
    let self_before = cpu_seconds(std::process::id());
    let outcome = workload::run(&testbed, Until::Duration);
    let cpu_daemons = pids.iter().map(|&p| cpu_seconds(p)).sum::<f64>() - cpu_before;
    let cpu_self = cpu_seconds(std::process::id()) - self_before;

    let mut lat = outcome.latencies();
    let tb_lat = Percentiles::of(&mut lat);
    let unmeasured = outcome
        .latency_ms
        .iter()
        .flatten()
        .filter(|l| matches!(l, Some(None)))
        .count();
    let n = plan.nodes as f64;
    let sent: Vec<f64> = outcome
        .counters
        .iter()
        .map(|c| c.sent_bytes as f64)
        .collect();
    let sent_mean = sent.iter().sum::<f64>() / n;
    let sent_max = sent.iter().copied().fold(0.0, f64::max);
    // The idle network's rate (from 10 s after the last post to the end), over the whole run.
    let idle_mean = outcome
        .idle_counters
        .iter()
        .map(|c| c.sent_bytes as f64)
        .sum::<f64>()
        / n;
    let background =
        idle_mean / outcome.idle_span.as_secs_f64().max(1e-3) * outcome.elapsed.as_secs_f64();
    let dropped = |f: fn(&handbill_tests::testbed::router::Counters) -> u64| {
        outcome.counters.iter().map(f).sum::<u64>()
    };
    // Partition figures, as the simulator's checks define them, for the first partition.
    let heal = plan.links.partitions.first().map(|p| p.heal);
    let (before_heal, converged, at_heal) = match heal {
        None => (Value::Null, Value::Null, Value::Null),
        Some(heal) => {
            let (mut e, mut d, mut by_heal) = (0usize, 0usize, 0usize);
            let mut published_by_heal = 0usize;
            let mut last = Duration::ZERO;
            for (k, p) in outcome.posts.iter().enumerate() {
                for node in 0..plan.nodes {
                    if !outcome.eligible[node][k] {
                        continue;
                    }
                    if p.at >= heal {
                        continue;
                    }
                    // As the simulator's series: of the pairs published so far, delivered.
                    published_by_heal += 1;
                    if outcome.delivered_at[node][k].is_some_and(|t| t <= heal) {
                        by_heal += 1;
                    }
                    e += 1;
                    if outcome.latency_ms[node][k].is_some() {
                        d += 1;
                    }
                    if let Some(t) = outcome.delivered_at[node][k] {
                        last = last.max(t);
                    }
                }
            }
            let ratio = d as f64 / e.max(1) as f64;
            let converged = if d == e {
                json!(last.saturating_sub(heal).as_secs_f64())
            } else {
                Value::Null
            };
            (
                json!(ratio),
                converged,
                json!(by_heal as f64 / published_by_heal.max(1) as f64),
            )
        }
    };
    let tb = json!({
        "delivery_ratio": outcome.delivery_ratio(),
        "latency_ms": tb_lat,
        "latency_unmeasured_pairs": unmeasured,
        "duplicates_per_node_per_message": outcome.duplicates_per_delivery(),
        "ip_bytes_sent_per_node_mean": sent_mean,
        "ip_bytes_sent_per_node_max": sent_max,
        "ip_bytes_sent_per_node_background": background,
        "ip_bytes_sent_per_node_above_background": sent_mean - background,
        "packets_lost": dropped(|c| c.lost),
        "packets_partitioned": dropped(|c| c.partitioned),
        "packets_queue_dropped": dropped(|c| c.queue_drops),
        "partition_posts_before_heal_delivery": before_heal,
        "partition_converged_after_heal_s": converged,
        "delivery_by_heal": at_heal,
        "elapsed_s": outcome.elapsed.as_secs_f64(),
        "daemon_cpu_cores": cpu_daemons / outcome.elapsed.as_secs_f64(),
        "harness_cpu_cores": cpu_self / outcome.elapsed.as_secs_f64(),
    });
    let sim_bytes = get(&sim, "bytes_per_node.payload_mean")
        .as_f64()
        .unwrap_or(0.0)
        + get(&sim, "bytes_per_node.control_mean")
            .as_f64()
            .unwrap_or(0.0);
    let sim_view = json!({
        "delivery_ratio": get(&sim, "delivery.ratio"),
        "latency_ms": get(&sim, "latency_ms"),
        "duplicates_per_node_per_message": get(&sim, "duplicates_per_node_per_message"),
        "bytes_sent_per_node_mean": sim_bytes,
        "partition_posts_before_heal_delivery": get(&sim, "checks.partition_posts_before_heal_delivery"),
        "partition_converged_after_heal_s": get(&sim, "checks.partition_converged_after_heal_s"),
        "delivery_by_heal": heal.map_or(Value::Null, |h| sim_series_at(report.series.as_str(), h.as_secs_f64())),
        "wall_s": sim_wall,
    });

    println!("\n{label}\n");
    println!("| metric | testbed | handbill-sim |");
    println!("|---|---|---|");
    let row = |name: &str, a: &Value, b: &Value| println!("| {name} | {} | {} |", num(a), num(b));
    row(
        "delivery ratio",
        &tb["delivery_ratio"],
        &sim_view["delivery_ratio"],
    );
    for p in ["mean", "p50", "p90", "p99", "max"] {
        row(
            &format!("latency {p} (ms)"),
            &tb["latency_ms"][p],
            &sim_view["latency_ms"][p],
        );
    }
    row(
        "duplicates per node per message",
        &tb["duplicates_per_node_per_message"],
        &sim_view["duplicates_per_node_per_message"],
    );
    row(
        "bytes sent per node (testbed: IP; sim: messages + framing)",
        &tb["ip_bytes_sent_per_node_mean"],
        &sim_view["bytes_sent_per_node_mean"],
    );
    row(
        "of which above the idle network's rate",
        &tb["ip_bytes_sent_per_node_above_background"],
        &Value::Null,
    );
    if heal.is_some() {
        row(
            "delivered by the heal",
            &tb["delivery_by_heal"],
            &sim_view["delivery_by_heal"],
        );
        row(
            "pre-heal posts delivered",
            &tb["partition_posts_before_heal_delivery"],
            &sim_view["partition_posts_before_heal_delivery"],
        );
        row(
            "converged after heal (s)",
            &tb["partition_converged_after_heal_s"],
            &sim_view["partition_converged_after_heal_s"],
        );
    }
    println!(
        "\ntestbed: {unmeasured} delivered pairs without a stream timestamp; daemons used {:.2} \
         cores, the harness and router {:.2}; packets lost {}, partitioned {}, queue-dropped {}",
        tb["daemon_cpu_cores"].as_f64().unwrap_or(0.0),
        tb["harness_cpu_cores"].as_f64().unwrap_or(0.0),
        tb["packets_lost"],
        tb["packets_partitioned"],
        tb["packets_queue_dropped"]
    );
    let missing = outcome.missing();
    if !missing.is_empty() {
        println!(
            "testbed: {} pairs missing, first (node, post): {:?}; logs in {}",
            missing.len(),
            &missing[..missing.len().min(10)],
            testbed.dir().display()
        );
    }
    if let Some(path) = args.json {
        use std::io::Write;
        let line = json!({"run": label, "testbed": tb, "sim": sim_view});
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        writeln!(f, "{line}").expect("writing the JSON line");
    }
    if let Some(path) = &args.pairs {
        let mut csv =
            String::from("node,node_region,post,author,author_region,published_s,latency_ms\n");
        for (k, p) in outcome.posts.iter().enumerate() {
            for node in 0..plan.nodes {
                if !outcome.eligible[node][k] {
                    continue;
                }
                let latency = match outcome.latency_ms[node][k] {
                    Some(Some(ms)) => format!("{ms:.1}"),
                    Some(None) => "held".into(),
                    None => "missing".into(),
                };
                csv.push_str(&format!(
                    "{node},{},{k},{},{},{:.3},{latency}\n",
                    plan.links.region_of[node],
                    p.author,
                    plan.links.region_of[p.author],
                    p.at.as_secs_f64()
                ));
            }
        }
        std::fs::write(path, csv).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    // The temporary homes go with the testbed; CALIBRATE_LOGS=DIR keeps the daemons' logs.
    if let Some(keep) = std::env::var_os("CALIBRATE_LOGS") {
        let keep = std::path::PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("the log directory");
        for i in 0..plan.nodes {
            let name = format!("node{i}.log");
            let _ = std::fs::copy(testbed.dir().join(&name), keep.join(&name));
        }
        eprintln!("calibrate: logs copied to {}", keep.display());
    }
}
