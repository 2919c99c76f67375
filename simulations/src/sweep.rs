//! Sweeps: one scenario over a grid of parameter values and seeds, runs in parallel (each run
//! is still single-threaded and deterministic), one CSV row per run in grid order.

use crate::metrics::{Csv, f};
use crate::scenario::{Scenario, ScenarioError};
use rayon::prelude::*;

/// One swept parameter: a `--set` key and its values.
#[derive(Clone, Debug)]
pub struct Param {
    /// Key path, e.g. `dissemination.d`.
    pub key: String,
    /// Values, as `--set` would take them.
    pub values: Vec<String>,
}

impl Param {
    /// Parses `key=a,b,c`.
    pub fn parse(arg: &str) -> Result<Param, ScenarioError> {
        let (key, values) = arg.split_once('=').ok_or_else(|| ScenarioError::Set {
            arg: arg.into(),
            why: "expected key=a,b,c".into(),
        })?;
        Ok(Param {
            key: key.trim().to_string(),
            values: values.split(',').map(|v| v.trim().to_string()).collect(),
        })
    }
}

/// The summary columns every sweep row carries, after the run's parameters.
pub const COLUMNS: &[&str] = &[
    "delivery_ratio",
    "delivery_per_node_min",
    "latency_p50_ms",
    "latency_p99_ms",
    "hops_mean",
    "duplicates_per_node_per_message",
    "payload_bytes_per_node",
    "control_bytes_per_node",
    "backfill_completeness",
    "mesh_degree_mean",
    "sim_events",
];

/// Runs every combination of `params` with seeds `seed..seed+seeds`, calling `done` after
/// each run, and returns the CSV.
pub fn sweep(
    text: &str,
    sets: &[String],
    params: &[Param],
    seeds: u64,
    done: &(dyn Fn() + Sync),
) -> Result<Csv, ScenarioError> {
    let base = Scenario::from_toml(text, sets)?;
    let mut grid: Vec<Vec<String>> = vec![Vec::new()];
    for p in params {
        grid = grid
            .into_iter()
            .flat_map(|row| {
                p.values.iter().map(move |v| {
                    let mut r = row.clone();
                    r.push(v.clone());
                    r
                })
            })
            .collect();
    }
    let mut runs = Vec::new();
    for values in &grid {
        for s in 0..seeds {
            let mut all = sets.to_vec();
            all.extend(
                params
                    .iter()
                    .zip(values)
                    .map(|(p, v)| format!("{}={v}", p.key)),
            );
            all.push(format!("seed={}", base.seed + s));
            let scenario = Scenario::from_toml(text, &all)?;
            runs.push((values.clone(), scenario));
        }
    }
    let results: Vec<_> = runs
        .par_iter()
        .map(|(values, scenario)| {
            let report = crate::run(scenario, &mut |_| {});
            done();
            (values.clone(), scenario.seed, report)
        })
        .collect();
    let check_keys: Vec<String> = results
        .first()
        .map(|(_, _, r)| r.summary.checks.keys().cloned().collect())
        .unwrap_or_default();
    let mut header: Vec<&str> = vec!["run", "seed"];
    header.extend(params.iter().map(|p| p.key.as_str()));
    header.extend(COLUMNS);
    header.extend(check_keys.iter().map(String::as_str));
    let mut csv = Csv::new(&header);
    for (i, (values, seed, r)) in results.iter().enumerate() {
        let s = &r.summary;
        let opt = |x: Option<f64>| x.map_or(String::new(), f);
        let mut row = vec![i.to_string(), seed.to_string()];
        row.extend(values.iter().cloned());
        row.extend([
            f(s.delivery.ratio),
            f(s.delivery.per_node_min),
            opt(s.latency_ms.as_ref().map(|l| l.p50)),
            opt(s.latency_ms.as_ref().map(|l| l.p99)),
            opt(s.hops_mean),
            f(s.duplicates_per_node_per_message),
            f(s.bytes_per_node.payload_mean),
            f(s.bytes_per_node.control_mean),
            opt(s.backfill.completeness),
            opt(s.mesh_degree_mean),
            s.sim_events.to_string(),
        ]);
        for k in &check_keys {
            row.push(match s.checks.get(k) {
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => String::new(),
            });
        }
        csv.row(&row);
    }
    Ok(csv)
}
