//! The run's plots, as SVG: the latency CDF and delivery over time.

use plotters::prelude::*;
use std::path::Path;

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing {file}: {why}")]
pub struct PlotError {
    file: String,
    why: String,
}

fn err(file: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError {
        file: file.display().to_string(),
        why: e.to_string(),
    }
}

/// Draws `points` (x, y) as one line, with axis captions, into an SVG file.
pub fn line_chart(
    file: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
    y_max: f64,
) -> Result<(), PlotError> {
    let root = SVGBackend::new(file, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(file, e))?;
    let x_max = points.iter().map(|p| p.0).fold(0.0f64, f64::max).max(1e-9) * 1.02;
    let x_min = points.iter().map(|p| p.0).fold(x_max, f64::min).min(0.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)
        .map_err(|e| err(file, e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(|e| err(file, e))?;
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| err(file, e))?;
    root.present().map_err(|e| err(file, e))?;
    Ok(())
}
