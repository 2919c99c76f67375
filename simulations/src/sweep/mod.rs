//! Sweeps: one scenario over a grid of parameter values and seeds. Runs are independent and run
//! in parallel (each still single-threaded and deterministic). A sweep writes one CSV row per
//! run in grid order, an aggregate across seeds per parameter point, and a chart of each chosen
//! metric against the first swept parameter. A sweep can be cut into shards that run anywhere
//! and are merged into the same files ([`shard`]).

pub mod aggregate;
pub mod shard;

use crate::metrics::{Csv, f};
use crate::scenario::{Scenario, ScenarioError};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use shard::{MergeError, Shard};

/// One swept parameter: a `--set` key and its values.
#[derive(Clone, Debug, PartialEq)]
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
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(ScenarioError::Set {
                arg: arg.into(),
                why: "a value is empty".into(),
            });
        }
        Ok(Param {
            key: key.trim().to_string(),
            values,
        })
    }
}

/// The summary columns every sweep row carries, after the run's parameters; the scenario's
/// checks follow them.
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
    "via_backfill_share",
    "mesh_degree_mean",
    "sim_events",
];

/// Metrics charted when `--plot` is not given.
pub const DEFAULT_PLOTS: &[&str] = &["delivery_ratio", "latency_p50_ms"];

/// What a sweep runs: the grid, the seeds per point and the charts wanted.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The swept parameters, in `--param` order (the first is the charts' x axis).
    pub params: Vec<Param>,
    /// Seeds per grid point: the scenario's seed and the ones after it.
    pub seeds: u64,
    /// Metrics to chart against the first parameter.
    pub plots: Vec<String>,
    /// Identifies the scenario, overrides, grid and seeds, so shards of different sweeps are
    /// never merged.
    pub grid_id: String,
    /// Every run of the grid, in grid order, with its scenario checked.
    runs: Vec<RunSpec>,
}

/// One run of the grid.
#[derive(Clone, Debug)]
struct RunSpec {
    index: usize,
    values: Vec<String>,
    scenario: Scenario,
}

impl Plan {
    /// Checks every run's scenario before anything runs, so a bad value fails at once.
    pub fn new(
        text: &str,
        sets: &[String],
        params: Vec<Param>,
        seeds: u64,
        plots: Vec<String>,
    ) -> Result<Plan, ScenarioError> {
        let base = Scenario::from_toml(text, sets)?;
        let seeds = seeds.max(1);
        let mut id = blake3::Hasher::new();
        id.update(base.to_toml().as_bytes());
        for p in &params {
            id.update(format!("\n{}={}", p.key, p.values.join(",")).as_bytes());
        }
        id.update(format!("\nseeds={seeds}").as_bytes());
        let runs = grid(&params, seeds, base.seed, |sets_of_run| {
            let mut all = sets.to_vec();
            all.extend(sets_of_run);
            Scenario::from_toml(text, &all)
        })?;
        Ok(Plan {
            params,
            seeds,
            plots,
            grid_id: id.finalize().to_hex()[..32].to_string(),
            runs,
        })
    }

    /// Runs in the grid.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether the grid is empty (it never is: a sweep without parameters is one point).
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Runs the runs of `shard` (all when `None`) in parallel, calling `done` after each.
    pub fn run(&self, shard: Option<Shard>, done: &(dyn Fn() + Sync)) -> Vec<RunRow> {
        self.runs
            .par_iter()
            .filter(|spec| shard.is_none_or(|sh| sh.holds(spec.index)))
            .map(|spec| {
                let report = crate::run(&spec.scenario, &mut |_| {});
                done();
                RunRow::of(spec, &report.summary)
            })
            .collect()
    }
}

/// Every run of the grid in grid order (the last parameter varies fastest, seeds innermost),
/// each with the scenario `scenario` builds from its `key=value` overrides.
fn grid(
    params: &[Param],
    seeds: u64,
    base_seed: u64,
    scenario: impl Fn(Vec<String>) -> Result<Scenario, ScenarioError>,
) -> Result<Vec<RunSpec>, ScenarioError> {
    let mut points: Vec<Vec<String>> = vec![Vec::new()];
    for p in params {
        points = points
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
    for values in points {
        for s in 0..seeds {
            let mut sets: Vec<String> = params
                .iter()
                .zip(&values)
                .map(|(p, v)| format!("{}={v}", p.key))
                .collect();
            sets.push(format!("seed={}", base_seed + s));
            runs.push(RunSpec {
                index: runs.len(),
                values: values.clone(),
                scenario: scenario(sets)?,
            });
        }
    }
    Ok(runs)
}

/// One run's figures, as the runs table writes them.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// Index in grid order.
    pub run: usize,
    /// The run's seed.
    pub seed: u64,
    /// The swept parameters' values.
    pub values: Vec<String>,
    /// Every metric and check, formatted; empty when the run measured nothing for it.
    pub figures: BTreeMap<String, String>,
}

impl RunRow {
    fn of(spec: &RunSpec, s: &crate::metrics::Summary) -> RunRow {
        let opt = |x: Option<f64>| x.map_or(String::new(), f);
        let figures = [
            f(s.delivery.ratio),
            f(s.delivery.per_node_min),
            opt(s.latency_ms.as_ref().map(|l| l.p50)),
            opt(s.latency_ms.as_ref().map(|l| l.p99)),
            opt(s.hops_mean),
            opt(s.duplicates_per_node_per_message),
            f(s.bytes_per_node.payload_mean),
            f(s.bytes_per_node.control_mean),
            opt(s.backfill.completeness),
            opt(s.backfill.via_backfill_share),
            opt(s.mesh_degree_mean),
            s.sim_events.to_string(),
        ];
        let mut map: BTreeMap<String, String> =
            COLUMNS.iter().map(|c| c.to_string()).zip(figures).collect();
        for (k, v) in &s.checks {
            map.insert(k.clone(), check_figure(v));
        }
        RunRow {
            run: spec.index,
            seed: spec.scenario.seed,
            values: spec.values.clone(),
            figures: map,
        }
    }
}

/// A check's value in a table cell: counts as integers, shares and times with three decimals
/// like every other figure, and nothing for a vacuous check (`null`).
fn check_figure(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => n.as_f64().map_or(String::new(), f),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => u8::from(*b).to_string(),
        _ => String::new(),
    }
}

/// Why a sweep's outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A `--plot` names no column of the runs table.
    #[error("--plot {metric}: no such metric; the runs measured: {known}")]
    UnknownMetric {
        /// The name given.
        metric: String,
        /// The metrics there are.
        known: String,
    },
    /// A file could not be written.
    #[error("writing {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
}

/// A finished sweep: the runs table, the aggregate, and the data of each chart.
pub struct Outcome {
    /// One row per run, in grid order.
    pub runs: Csv,
    /// Per parameter point and metric: statistics across seeds.
    pub aggregate: Csv,
    params: Vec<String>,
    metrics: Vec<String>,
    points: Vec<Measured>,
}

/// What the runs of one parameter point measured.
struct Measured {
    /// The point's parameter values.
    values: Vec<String>,
    /// Per metric, the values of the runs that had one.
    by_metric: BTreeMap<String, Vec<f64>>,
}

/// Builds the tables from the rows of every run (in any order).
pub fn finish(params: &[String], mut rows: Vec<RunRow>) -> Outcome {
    rows.sort_by_key(|r| r.run);
    let mut checks: BTreeSet<&str> = BTreeSet::new();
    for r in &rows {
        checks.extend(r.figures.keys().map(String::as_str));
    }
    let mut metrics: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    metrics.extend(
        checks
            .into_iter()
            .filter(|k| !COLUMNS.contains(k))
            .map(str::to_string),
    );
    let mut header: Vec<&str> = vec!["run", "seed"];
    header.extend(params.iter().map(String::as_str));
    header.extend(metrics.iter().map(String::as_str));
    let mut runs = Csv::new(&header);
    let mut points: Vec<Measured> = Vec::new();
    for r in &rows {
        let mut line = vec![r.run.to_string(), r.seed.to_string()];
        line.extend(r.values.iter().cloned());
        line.extend(
            metrics
                .iter()
                .map(|m| r.figures.get(m).cloned().unwrap_or_default()),
        );
        runs.row(&line);
        // Rows are in grid order, so a point's runs are consecutive.
        if points.last().is_none_or(|p| p.values != r.values) {
            points.push(Measured {
                values: r.values.clone(),
                by_metric: BTreeMap::new(),
            });
        }
        if let Some(point) = points.last_mut() {
            for m in &metrics {
                let value = r.figures.get(m).and_then(|v| v.parse::<f64>().ok());
                point.by_metric.entry(m.clone()).or_default().extend(value);
            }
        }
    }
    let table_points: Vec<aggregate::Point> = points
        .iter()
        .map(|p| aggregate::Point {
            values: &p.values,
            metrics: metrics
                .iter()
                .map(|m| (m.as_str(), p.by_metric.get(m).cloned().unwrap_or_default()))
                .collect(),
        })
        .collect();
    let aggregate = aggregate::table(params, &table_points);
    Outcome {
        runs,
        aggregate,
        params: params.to_vec(),
        metrics,
        points,
    }
}

/// Where a sweep written to `out` keeps its aggregate and charts: beside it, named after it
/// (`censor.csv` → `censor.aggregate.csv`, `censor.delivery_ratio.svg`).
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    out.with_file_name(format!("{stem}.{suffix}"))
}

impl Outcome {
    /// Writes the runs table to `out`, the aggregate and one chart per metric in `plots` beside
    /// it; returns the files written.
    pub fn write(&self, out: &Path, plots: &[String]) -> Result<Vec<PathBuf>, SweepError> {
        for metric in plots {
            if !self.metrics.contains(metric) {
                return Err(SweepError::UnknownMetric {
                    metric: metric.clone(),
                    known: self.metrics.join(", "),
                });
            }
        }
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text)
                .map(|()| path.clone())
                .map_err(|source| SweepError::Io {
                    path: path.display().to_string(),
                    source,
                })
        };
        let mut written = vec![
            write(out.to_path_buf(), self.runs.as_str())?,
            write(sibling(out, "aggregate.csv"), self.aggregate.as_str())?,
        ];
        for metric in plots {
            let path = sibling(out, &format!("{metric}.svg"));
            self.chart(&path, metric)?;
            written.push(path);
        }
        Ok(written)
    }

    /// Draws `metric` against the first parameter: the mean with its 95% interval, one line
    /// per combination of the other parameters.
    fn chart(&self, path: &Path, metric: &str) -> Result<(), SweepError> {
        let Some(x_key) = self.params.first() else {
            // Without parameters there is one point: nothing to draw against.
            return Ok(());
        };
        let mut series: Vec<crate::plot::IntervalSeries> = Vec::new();
        for point in &self.points {
            let label = self
                .params
                .iter()
                .zip(&point.values)
                .skip(1)
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let Some(stats) = point
                .by_metric
                .get(metric)
                .and_then(|v| aggregate::Stats::of(v))
            else {
                continue;
            };
            let x = point.values.first().cloned().unwrap_or_default();
            match series.iter_mut().find(|s| s.label == label) {
                Some(s) => s.points.push((x, stats)),
                None => series.push(crate::plot::IntervalSeries {
                    label,
                    points: vec![(x, stats)],
                }),
            }
        }
        let runs_per_point = self
            .points
            .first()
            .and_then(|p| p.by_metric.get("delivery_ratio"))
            .map_or(0, Vec::len);
        crate::plot::interval_chart(
            path,
            &format!("{metric} against {x_key} (mean and 95% CI over {runs_per_point} seeds)"),
            x_key,
            metric,
            &series,
        )?;
        Ok(())
    }
}
