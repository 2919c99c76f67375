//! `handbill-sim`: run, sweep and list network simulation scenarios.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use handbill_sim::scenario::{BUILT_IN, Scenario};
use handbill_sim::sweep::{Param, sweep};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

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
    /// Run a scenario over a grid of parameter values and seeds; one CSV row per run.
    Sweep {
        /// A scenario file, or the name of a built-in scenario.
        scenario: String,
        /// A parameter and its values, e.g. `--param dissemination.d=4,6,8` (repeatable).
        #[arg(long = "param", value_name = "KEY=A,B,C")]
        params: Vec<String>,
        /// Seeds per grid point (the scenario's seed and the ones after it).
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// Override a scenario value for every run.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Where to write the CSV (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Parallel runs (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
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
            out,
            jobs,
        } => {
            let text = scenario_text(&scenario)?;
            let params: Vec<Param> = params
                .iter()
                .map(|p| Param::parse(p))
                .collect::<Result<_, _>>()?;
            let runs = params
                .iter()
                .map(|p| p.values.len() as u64)
                .product::<u64>()
                * seeds.max(1);
            let bar = progress_bar(runs, "of runs");
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(jobs.unwrap_or(0))
                .build()
                .context("starting the worker threads")?;
            let csv =
                pool.install(|| sweep(&text, &sets, &params, seeds.max(1), &|| bar.inc(1)))?;
            bar.finish_and_clear();
            match out {
                Some(path) => {
                    std::fs::write(&path, csv.as_str())
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("{runs} runs written to {}", path.display());
                }
                None => print!("{}", csv.as_str()),
            }
        }
    }
    Ok(())
}
