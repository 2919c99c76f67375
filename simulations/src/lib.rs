//! `handbill-sim`: a deterministic discrete-event simulator of Handbill networks.
//!
//! Nodes run the protocol crate's real [`Engine`](handbill_protocol::engine::Engine) (signed
//! events, validation, replication decisions, backfill, moderation) over simulated links, with
//! the gossip layer as the model under study (gossipsub, flooding or random push). One run is one
//! thread, one seeded RNG and one event queue in virtual time, so the same scenario and seed give
//! byte-identical outputs; independent runs of a sweep run in parallel.
//!
//! Modules: [`scenario`] (what to simulate), [`queue`] (virtual time), [`gossipsub`] (one
//! node's router), [`world`] (the run), [`metrics`] and [`report`] (results), [`plot`] (SVG),
//! [`sweep`] (many runs).

mod adversaries;
pub mod gossipsub;
pub mod metrics;
pub mod plot;
pub mod queue;
pub mod report;
pub mod scenario;
pub mod sweep;
pub mod world;

pub use report::Report;
pub use scenario::Scenario;

use std::path::Path;

/// Runs `scenario` to the end, reporting progress (share of virtual time done).
pub fn run(scenario: &Scenario, progress: &mut dyn FnMut(f64)) -> Report {
    let mut world = world::World::new(scenario.clone());
    world.run(progress);
    report::report(&world)
}

/// Why outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

/// Writes a run's outputs into `dir`: `scenario.toml` (exactly what ran), `summary.json`,
/// `series.csv`, `latency_cdf.csv`, `posts.csv`, `nodes.csv`, `latency_cdf.svg` and
/// `delivery.svg`.
pub fn write_outputs(report: &Report, scenario: &Scenario, dir: &Path) -> Result<(), OutputError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| OutputError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let summary = serde_json::to_string_pretty(&report.summary).unwrap_or_default() + "\n";
    let files: [(&str, &str); 6] = [
        ("scenario.toml", &scenario.to_toml()),
        ("summary.json", &summary),
        ("series.csv", report.series.as_str()),
        ("latency_cdf.csv", report.latency_cdf.as_str()),
        ("posts.csv", report.posts.as_str()),
        ("nodes.csv", report.nodes.as_str()),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let title = format!("{} (seed {})", scenario.name, scenario.seed);
    if !report.cdf_points.is_empty() {
        plot::line_chart(
            &dir.join("latency_cdf.svg"),
            &format!("Delivery latency CDF: {title}"),
            "latency (ms)",
            "share of deliveries",
            &report.cdf_points,
            1.0,
        )?;
    }
    if !report.delivery_points.is_empty() {
        plot::line_chart(
            &dir.join("delivery.svg"),
            &format!("Delivery over time: {title}"),
            "time (s)",
            "delivered / published (nodes online at publication)",
            &report.delivery_points,
            1.05,
        )?;
    }
    Ok(())
}
