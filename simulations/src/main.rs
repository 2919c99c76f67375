//! `handbill-sim`: run, sweep and list network simulation scenarios.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use handbill_sim::scenario::{BUILT_IN, Scenario};
use handbill_sim::sweep::{DEFAULT_PLOTS, Param, Plan, Shard, shard};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

// A run makes and frees millions of small objects (messages, queue entries, engine outputs);
// the system allocator spent about a tenth of a run's time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Deterministic simulator of Handbill networks: the protocol's real node logic over simulated
/// links, under churn, partitions, takedowns, censorship, eclipse and spam.
#[derive(Parser)]
#[command(name = "handbill-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario and write its outputs.
    Run {
        /// A scenario file, or the name of a built-in scenario (see `list`).
        scenario: String,
        /// The seed (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Where to write summary.json, the CSV series, the plots and the scenario used.
        #[arg(long, default_value = "sim-out")]
        out: PathBuf,
        /// Override a scenario value, e.g. `--set nodes=1000 --set dissemination.model=flood`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Run a scenario over a grid of parameter values and seeds: one CSV row per run, statistics
    /// across seeds per parameter point (FILE.aggregate.csv) and a chart of each `--plot`
    /// metric against the first parameter (FILE.METRIC.svg).
    Sweep {
        /// A scenario file, or the name of a built-in scenario.
        scenario: String,
        /// A parameter and its values, e.g. `--param dissemination.d=4,6,8` (repeatable; the
        /// first is the charts' x axis).
        #[arg(long = "param", value_name = "KEY=A,B,C")]
        params: Vec<String>,
        /// Seeds per grid point (the scenario's seed and the ones after it).
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// Override a scenario value for every run.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Metrics to chart against the first parameter (repeatable or comma-separated; any
        /// column of the runs table). Default: delivery_ratio, latency_p50_ms.
        #[arg(long = "plot", value_name = "METRIC", value_delimiter = ',')]
        plots: Vec<String>,
        /// Run only shard I of N (runs I−1, I−1+N, …) and write a shard file to `--out`, for
        /// `merge` to combine; e.g. `--shard $SLURM_ARRAY_TASK_ID/16`.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// The runs table (default: standard output, without aggregate and charts), or the
        /// shard file with `--shard`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Parallel runs (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Combine the shard files of one sweep into the files a single-machine sweep writes
    /// (byte for byte): the runs table, the aggregate and the charts.
    Merge {
        /// Every shard file of the sweep, in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The runs table; the aggregate and charts are written beside it.
        #[arg(long)]
        out: PathBuf,
        /// Charts to draw instead of those the sweep asked for.
        #[arg(long = "plot", value_name = "METRIC", value_delimiter = ',')]
        plots: Vec<String>,
    },
    /// List the built-in scenarios.
    List,
}

fn scenario_text(arg: &str) -> Result<String> {
    if let Some(text) = Scenario::built_in(arg) {
        return Ok(text.to_string());
    }
    let path = PathBuf::from(arg);
    if !path.exists() {
        bail!("{arg} is neither a scenario file nor a built-in scenario (see `handbill-sim list`)");
    }
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{percent:>3}}% {what} {{elapsed}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn create_parent(file: &std::path::Path) -> Result<()> {
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
        }
        None => Ok(()),
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> std::process::ExitCode {
    // One line, whatever RUST_BACKTRACE says: these errors are about input, not bugs.
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::List => {
            for (name, text) in BUILT_IN {
                let description = Scenario::from_toml(text, &[])
                    .map(|s| s.description)
                    .unwrap_or_default();
                println!("{name:<12} {description}");
            }
        }
        Command::Run {
            scenario,
            seed,
            out,
            mut sets,
        } => {
            let text = scenario_text(&scenario)?;
            if let Some(seed) = seed {
                sets.push(format!("seed={seed}"));
            }
            let sc = Scenario::from_toml(&text, &sets)?;
            let bar = progress_bar(1000, "of virtual time");
            let started = Instant::now();
            let report =
                handbill_sim::run(&sc, &mut |done| bar.set_position((done * 1000.0) as u64));
            bar.finish_and_clear();
            let wall = started.elapsed().as_secs_f64();
            handbill_sim::write_outputs(&report, &sc, &out)
                .with_context(|| format!("writing outputs to {}", out.display()))?;
            println!("{}", serde_json::to_string_pretty(&report.summary)?);
            eprintln!(
                "{} events in {:.2} s wall ({:.0} events/s); outputs in {}",
                report.summary.sim_events,
                wall,
                report.summary.sim_events as f64 / wall.max(1e-9),
                out.display()
            );
        }
        Command::Sweep {
            scenario,
            params,
            seeds,
            sets,
            plots,
            shard,
            out,
            jobs,
        } => {
            let text = scenario_text(&scenario)?;
            let params: Vec<Param> = params
                .iter()
                .map(|p| Param::parse(p))
                .collect::<Result<_, _>>()?;
            let plots = if plots.is_empty() {
                DEFAULT_PLOTS.iter().map(|p| p.to_string()).collect()
            } else {
                plots
            };
            let shard = shard.as_deref().map(Shard::parse).transpose()?;
            if shard.is_some() && out.is_none() {
                bail!("--shard needs --out FILE: the shard file that `merge` reads");
            }
            let plan = Plan::new(&text, &sets, params, seeds, plots)?;
            // Before hours of runs, not after: the place the results go must exist.
            if let Some(out) = &out {
                create_parent(out)?;
            }
            let runs = (0..plan.len())
                .filter(|r| shard.is_none_or(|s| s.holds(*r)))
                .count();
            let bar = progress_bar(runs as u64, "of runs");
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(jobs.unwrap_or(0))
                .build()
                .context("starting the worker threads")?;
            let rows = pool.install(|| plan.run(shard, &|| bar.inc(1)));
            bar.finish_and_clear();
            let keys: Vec<String> = plan.params.iter().map(|p| p.key.clone()).collect();
            match (out, shard) {
                (Some(path), Some(shard)) => {
                    let text = shard::shard_file(&plan, shard, rows);
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "shard {}/{}: {runs} of {} runs written to {}",
                        shard.index,
                        shard.count,
                        plan.len(),
                        path.display()
                    );
                }
                (Some(path), None) => {
                    let outcome = handbill_sim::sweep::finish(&keys, rows);
                    let written = outcome.write(&path, &plan.plots)?;
                    eprintln!("{runs} runs; wrote {}", list(&written));
                }
                (None, _) => print!("{}", handbill_sim::sweep::finish(&keys, rows).runs.as_str()),
            }
        }
        Command::Merge { shards, out, plots } => {
            let (outcome, asked) = shard::merge_files(&shards)?;
            create_parent(&out)?;
            let plots = if plots.is_empty() { asked } else { plots };
            let written = outcome.write(&out, &plots)?;
            eprintln!("{} shards merged; wrote {}", shards.len(), list(&written));
        }
    }
    Ok(())
}
