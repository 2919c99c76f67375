//! `handbill-sim sweep` and `merge` as a researcher runs them: a sweep on one machine and the
//! same sweep cut into shards (as a Slurm array would) and merged must write the same bytes,
//! aggregate and charts included; merging refuses incomplete, repeated or foreign shards.

use std::path::Path;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handbill-sim"))
        .args(args)
        .output()
        .expect("running handbill-sim")
}

fn sim_ok(args: &[&str]) {
    let out = sim(args);
    assert!(
        out.status.success(),
        "handbill-sim {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small sweep: two values of D, three seeds, so every point has a confidence interval.
const SWEEP: &[&str] = &[
    "sweep",
    "baseline",
    "--set",
    "nodes=30",
    "--set",
    "workload.posts=6",
    "--set",
    "duration_s=20",
    "--set",
    "signatures=\"memo\"",
    "--param",
    "dissemination.d=6,8",
    "--seeds",
    "3",
    "--plot",
    "delivery_ratio,latency_p50_ms,hops_mean",
];

fn sweep_to(out: &Path, extra: &[&str]) {
    let mut args = SWEEP.to_vec();
    let out = out.to_str().expect("utf-8 path");
    args.extend(["--out", out]);
    args.extend(extra);
    sim_ok(&args);
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

const FILES: &[&str] = &[
    "d.csv",
    "d.aggregate.csv",
    "d.delivery_ratio.svg",
    "d.latency_p50_ms.svg",
    "d.hops_mean.svg",
];

#[test]
fn shards_merge_into_the_bytes_of_a_single_machine_sweep() {
    let dir = tempfile::tempdir().expect("temp dir");
    let one = dir.path().join("one");
    let merged = dir.path().join("merged");
    std::fs::create_dir_all(&one).expect("dir");
    std::fs::create_dir_all(&merged).expect("dir");
    sweep_to(&one.join("d.csv"), &[]);

    // Four shards for six runs: one shard gets a single run, as uneven arrays do.
    let shard = |i: usize| dir.path().join(format!("shard-{i}.csv"));
    for i in 1..=4 {
        sweep_to(&shard(i), &["--shard", &format!("{i}/4")]);
    }
    // Any order.
    let s: Vec<String> = [3, 1, 4, 2]
        .iter()
        .map(|i| shard(*i).display().to_string())
        .collect();
    let out = merged.join("d.csv").display().to_string();
    sim_ok(&["merge", &s[0], &s[1], &s[2], &s[3], "--out", &out]);
    for file in FILES {
        assert_eq!(
            read(&one.join(file)),
            read(&merged.join(file)),
            "{file}: merged shards differ from the single-machine sweep"
        );
    }

    // The runs table: one row per run in grid order, figures with three decimals.
    let runs = String::from_utf8(read(&one.join("d.csv"))).expect("utf-8");
    let lines: Vec<&str> = runs.lines().collect();
    assert_eq!(lines.len(), 1 + 6);
    assert!(lines[0].starts_with("run,seed,dissemination.d,delivery_ratio,"));
    assert!(lines[1].starts_with("0,1,6,") && lines[6].starts_with("5,3,8,"));
    let ratio = lines[1].split(',').nth(3).unwrap_or_default();
    assert_eq!(ratio.split('.').nth(1).map(str::len), Some(3), "{ratio}");

    // The aggregate: per point and metric, over the three seeds, with an interval.
    let aggregate = String::from_utf8(read(&one.join("d.aggregate.csv"))).expect("utf-8");
    assert!(
        aggregate.starts_with("dissemination.d,metric,runs,mean,sd,ci95_low,ci95_high,min,max\n")
    );
    let hops = aggregate
        .lines()
        .find(|l| l.starts_with("6,hops_mean,"))
        .expect("hops at d=6");
    let cells: Vec<f64> = hops
        .split(',')
        .skip(2)
        .map(|c| c.parse().expect("a number"))
        .collect();
    let [n, mean, _sd, lo, hi, min, max] = cells[..] else {
        panic!("{hops}");
    };
    assert_eq!(n, 3.0);
    assert!(
        lo <= mean && mean <= hi && min <= mean && mean <= max,
        "{hops}"
    );

    let svg = String::from_utf8(read(&one.join("d.hops_mean.svg"))).expect("utf-8");
    assert!(svg.contains("hops_mean against dissemination.d"));
}

#[test]
fn merge_refuses_missing_repeated_and_foreign_shards() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    sweep_to(&dir.path().join("a1.csv"), &["--shard", "1/2"]);
    sweep_to(&dir.path().join("a2.csv"), &["--shard", "2/2"]);
    sweep_to(
        &dir.path().join("b2.csv"),
        &["--shard", "2/2", "--set", "workload.posts=7"],
    );
    let out = path("out.csv");
    let fails = |args: &[&str], why: &str| {
        let o = sim(args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    };
    fails(
        &["merge", &path("a1.csv"), "--out", &out],
        "shards missing: 2",
    );
    fails(
        &["merge", &path("a1.csv"), &path("a1.csv"), "--out", &out],
        "given twice",
    );
    fails(
        &["merge", &path("a1.csv"), &path("b2.csv"), "--out", &out],
        "another sweep",
    );
    assert!(!dir.path().join("out.csv").exists(), "nothing written");
    fails(
        &[SWEEP[0], SWEEP[1], "--shard", "3/2", "--out", &out],
        "I/N",
    );
    fails(
        &[SWEEP[0], SWEEP[1], "--shard", "1/2"],
        "--shard needs --out",
    );
}
