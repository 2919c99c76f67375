//! Charts as SVG, made to stand on their own in a paper: axis captions with units, a legend
//! whenever there is more than one line, and the scenario's events marked where they happen.
//! Drawing is deterministic (no clock, no randomness), so the same data gives the same bytes.

use crate::sweep::aggregate::Stats;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Why a chart could not be drawn.
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

/// Line colours, in the order series are drawn; picked to stay apart in greyscale print too.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// One named line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
}

/// Something that happened at a moment of the run: a vertical line with a caption.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// When, in seconds of virtual time.
    pub at_s: f64,
    /// What, in a few words ("takedown", "heal").
    pub label: String,
}

/// A chart over the run's time: lines on the left axis, an optional line on a right axis (the
/// online-node count), and event markers.
pub struct TimeChart<'a> {
    /// Title.
    pub title: &'a str,
    /// Left axis caption, with unit.
    pub y_label: &'a str,
    /// Left axis range.
    pub y_range: std::ops::Range<f64>,
    /// Lines on the left axis.
    pub series: &'a [Series],
    /// A line on its own right axis: (caption, line).
    pub right: Option<(&'a str, &'a Series)>,
    /// Events.
    pub markers: &'a [Marker],
    /// End of the time axis, in seconds.
    pub end_s: f64,
}

/// A legend entry's sample: a short line in the series' colour and width.
fn legend_line(col: RGBColor, width: u32) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new([(x, y), (x + 20, y)], col.stroke_width(width))
}

/// Draws the legend of `c`'s labelled series, bottom right, over a light box.
fn legend<'a, CT: CoordTranslate>(
    c: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    file: &Path,
) -> Result<(), PlotError> {
    c.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| err(file, e))
}

fn area(file: &Path) -> Result<DrawingArea<SVGBackend<'_>, Shift>, PlotError> {
    let root = SVGBackend::new(file, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(file, e))?;
    Ok(root)
}

/// Draws `chart` into an SVG file.
pub fn time_chart(file: &Path, chart: &TimeChart) -> Result<(), PlotError> {
    let root = area(file)?;
    let x_max = chart.end_s.max(1e-9);
    let mut c = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .right_y_label_area_size(if chart.right.is_some() { 64 } else { 0 })
        .build_cartesian_2d(0.0..x_max, chart.y_range.clone())
        .map_err(|e| err(file, e))?
        .set_secondary_coord(0.0..x_max, {
            let top = chart
                .right
                .map(|(_, s)| s.points.iter().map(|p| p.1).fold(0.0, f64::max))
                .unwrap_or(1.0);
            0.0..(top * 1.1).max(1.0)
        });
    c.configure_mesh()
        .light_line_style(WHITE)
        .x_desc("virtual time (s)")
        .y_desc(chart.y_label)
        .draw()
        .map_err(|e| err(file, e))?;
    let (y_lo, y_hi) = (chart.y_range.start, chart.y_range.end);
    for (i, m) in chart.markers.iter().enumerate() {
        let grey = RGBColor(90, 90, 90);
        c.draw_series(DashedLineSeries::new(
            [(m.at_s, y_lo), (m.at_s, y_hi)],
            6,
            4,
            grey.stroke_width(1),
        ))
        .map_err(|e| err(file, e))?;
        // Captions sit near the bottom, where delivery and latency lines rarely are, and
        // alternate between two heights so neighbouring events stay readable.
        let y = y_lo + (y_hi - y_lo) * (0.1 + 0.06 * (i % 2) as f64);
        c.draw_series(std::iter::once(Text::new(
            format!(" {}", m.label),
            (m.at_s, y),
            ("sans-serif", 13).into_font().color(&grey),
        )))
        .map_err(|e| err(file, e))?;
    }
    for (i, s) in chart.series.iter().enumerate() {
        let col = colour(i);
        c.draw_series(LineSeries::new(
            s.points.iter().copied(),
            col.stroke_width(2),
        ))
        .map_err(|e| err(file, e))?
        .label(s.label.as_str())
        .legend(legend_line(col, 2));
    }
    if let Some((caption, s)) = chart.right {
        c.configure_secondary_axes()
            .y_desc(caption)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(|e| err(file, e))?;
        let col = RGBColor(120, 120, 120);
        c.draw_secondary_series(LineSeries::new(
            s.points.iter().copied(),
            col.stroke_width(1),
        ))
        .map_err(|e| err(file, e))?
        .label(format!("{} (right axis)", s.label))
        .legend(legend_line(col, 1));
    }
    legend(&mut c, file)?;
    root.present().map_err(|e| err(file, e))?;
    Ok(())
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
    let root = area(file)?;
    let x_max = points.iter().map(|p| p.0).fold(0.0f64, f64::max).max(1e-9) * 1.02;
    let x_min = points.iter().map(|p| p.0).fold(x_max, f64::min).min(0.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)
        .map_err(|e| err(file, e))?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(|e| err(file, e))?;
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            colour(0).stroke_width(2),
        ))
        .map_err(|e| err(file, e))?;
    root.present().map_err(|e| err(file, e))?;
    Ok(())
}

/// A metric's statistics at each value of the swept parameter, for one combination of the
/// other parameters.
#[derive(Clone, Debug)]
pub struct IntervalSeries {
    /// Legend text (the other parameters' values; empty when there is one parameter).
    pub label: String,
    /// (parameter value as given, statistics across seeds), in grid order.
    pub points: Vec<(String, Stats)>,
}

/// Draws means joined by lines with 95% confidence intervals as error bars (min–max when a
/// point has a single run). Numeric parameter values are placed on a numeric axis; any other
/// values (a model name) are placed evenly in grid order.
pub fn interval_chart(
    file: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[IntervalSeries],
) -> Result<(), PlotError> {
    let root = area(file)?;
    let mut categories: Vec<&str> = Vec::new();
    for s in series {
        for (x, _) in &s.points {
            if !categories.contains(&x.as_str()) {
                categories.push(x);
            }
        }
    }
    let numeric = categories.iter().all(|c| c.parse::<f64>().is_ok());
    let place = |x: &str| -> f64 {
        if numeric {
            x.parse().unwrap_or(0.0)
        } else {
            categories.iter().position(|c| *c == x).unwrap_or(0) as f64
        }
    };
    let xs: Vec<f64> = categories.iter().map(|c| place(c)).collect();
    let (x_lo, x_hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let (x_lo, x_hi) = if x_lo.is_finite() {
        (x_lo, x_hi)
    } else {
        (0.0, 1.0)
    };
    let span = x_hi - x_lo;
    let pad = if span > 0.0 { span * 0.06 } else { 0.5 };
    // Series side by side at a point are shifted apart a little so their intervals can be told
    // apart.
    let dodge = |i: usize| {
        let step = if span > 0.0 { span * 0.008 } else { 0.02 };
        (i as f64 - (series.len() as f64 - 1.0) / 2.0) * step
    };
    let bounds = |s: &Stats| s.ci95.unwrap_or((s.min, s.max));
    let (y_lo, y_hi) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|(_, st)| bounds(st)))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (lo, hi)| {
            (a.min(lo), b.max(hi))
        });
    let (y_lo, y_hi) = if y_lo.is_finite() {
        (y_lo, y_hi)
    } else {
        (0.0, 1.0)
    };
    let y_pad = ((y_hi - y_lo) * 0.08).max(y_hi.abs() * 0.02).max(1e-3);
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d((x_lo - pad)..(x_hi + pad), (y_lo - y_pad)..(y_hi + y_pad))
        .map_err(|e| err(file, e))?;
    let label_of = |x: &f64| -> String {
        if numeric {
            // Enough digits for the values swept, without floating-point noise.
            let s = format!("{x:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                categories
                    .get(i as usize)
                    .map_or(String::new(), |c| c.to_string())
            } else {
                String::new()
            }
        }
    };
    let mut mesh = c.configure_mesh();
    mesh.light_line_style(WHITE)
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&label_of);
    if !numeric {
        mesh.x_labels(categories.len() * 2 + 1);
    }
    mesh.draw().map_err(|e| err(file, e))?;
    for (i, s) in series.iter().enumerate() {
        let col = colour(i);
        let at = |x: &str| place(x) + dodge(i);
        let line: Vec<(f64, f64)> = s.points.iter().map(|(x, st)| (at(x), st.mean)).collect();
        let drawn = c
            .draw_series(LineSeries::new(line.iter().copied(), col.stroke_width(2)))
            .map_err(|e| err(file, e))?;
        if !s.label.is_empty() {
            drawn.label(s.label.as_str()).legend(legend_line(col, 2));
        }
        c.draw_series(s.points.iter().map(|(x, st)| {
            let (lo, hi) = bounds(st);
            ErrorBar::new_vertical(at(x), lo, st.mean, hi, col.stroke_width(1), 8)
        }))
        .map_err(|e| err(file, e))?;
    }
    if series.iter().any(|s| !s.label.is_empty()) {
        legend(&mut c, file)?;
    }
    root.present().map_err(|e| err(file, e))?;
    Ok(())
}
