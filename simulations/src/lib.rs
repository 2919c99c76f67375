//! `handbill-sim`: a deterministic discrete-event simulator of Handbill networks.
//!
//! Nodes run the protocol crate's real [`Engine`](handbill_protocol::engine::Engine) (signed
//! events, validation, replication decisions, backfill, moderation) over simulated links, with
//! the gossip layer as the model under study (gossipsub, flooding or random push). One run is one
//! thread, one seeded RNG and one event queue in virtual time, so the same scenario and seed give
//! byte-identical outputs; independent runs of a sweep run in parallel.
//!
//! Modules: [`scenario`] (what to simulate), [`queue`] (virtual time), [`gossipsub`] (one
//! node's router), [`world`] (the run), [`metrics`], [`report`] and [`series`] (results),
//! [`story`] (a scenario's events and compared groups), [`plot`] (SVG), [`sweep`] (many runs,
//! statistics across seeds, shards and merging).

mod adversaries;
pub mod gossipsub;
pub mod metrics;
pub mod plot;
pub mod queue;
pub mod report;
pub mod scenario;
pub mod series;
pub mod story;
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
/// `series.csv`, `latency_cdf.csv`, `posts.csv`, `nodes.csv`, `latency_cdf.svg`,
/// `delivery.svg` (with the online-node count and the scenario's events) and `latency.svg`.
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
            "publish-to-store latency (ms)",
            "share of deliveries",
            &report.cdf_points,
            1.0,
        )?;
    }
    let end_s = scenario.duration_s;
    if report.delivery_series.iter().any(|s| !s.points.is_empty()) {
        plot::time_chart(
            &dir.join("delivery.svg"),
            &plot::TimeChart {
                title: &format!("Delivery over time: {title}"),
                y_label: "delivered / published pairs (nodes online at publication)",
                y_range: 0.0..1.05,
                series: &report.delivery_series,
                right: Some(("online nodes", &report.online)),
                markers: &report.markers,
                end_s,
            },
        )?;
    }
    let latency_top = report
        .latency_series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    if latency_top > 0.0 {
        plot::time_chart(
            &dir.join("latency.svg"),
            &plot::TimeChart {
                title: &format!("Latency over time: {title}"),
                y_label: &format!(
                    "mean latency (ms), posts published in the last {} s",
                    report.latency_window_s
                ),
                y_range: 0.0..latency_top * 1.1,
                series: &report.latency_series,
                right: None,
                markers: &report.markers,
                end_s,
            },
        )?;
    }
    Ok(())
}
