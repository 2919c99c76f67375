//! Statistics across seeds: for each parameter point of a sweep and each metric, the number of
//! runs that measured it, mean, standard deviation, a 95% confidence interval of the mean
//! (Student's t) and the range. Computed from the figures as the runs table writes them, so a
//! merged sweep and a single-machine sweep aggregate the same numbers to the same bytes.

use crate::metrics::{Csv, f};

/// One metric at one parameter point.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// Runs with a value (a run may have none, e.g. latency when nothing was delivered).
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` below 2 runs.
    pub sd: Option<f64>,
    /// 95% confidence interval of the mean, mean ± t(0.975, n−1)·sd/√n; `None` below 2 runs.
    pub ci95: Option<(f64, f64)>,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Stats {
    /// The statistics of `values`, or `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (sd, ci95) = if n >= 2 {
            let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let sd = var.sqrt();
            let half = distrs::StudentsT::ppf(0.975, (n - 1) as f64) * sd / (n as f64).sqrt();
            (Some(sd), Some((mean - half, mean + half)))
        } else {
            (None, None)
        };
        Some(Stats {
            n,
            mean,
            sd,
            ci95,
            min,
            max,
        })
    }
}

/// The aggregate table's columns after the parameters.
pub const COLUMNS: &[&str] = &[
    "metric",
    "runs",
    "mean",
    "sd",
    "ci95_low",
    "ci95_high",
    "min",
    "max",
];

/// One parameter point: its values and, per metric, the values its runs measured.
pub struct Point<'a> {
    /// The swept parameters' values, in `--param` order.
    pub values: &'a [String],
    /// (metric, values measured), in column order.
    pub metrics: Vec<(&'a str, Vec<f64>)>,
}

/// The aggregate CSV: one row per parameter point and metric ("long" form, which plotting
/// tools and data frames read without reshaping).
pub fn table(params: &[String], points: &[Point]) -> Csv {
    let mut header: Vec<&str> = params.iter().map(String::as_str).collect();
    header.extend(COLUMNS);
    let mut csv = Csv::new(&header);
    for point in points {
        for (metric, values) in &point.metrics {
            let mut row: Vec<String> = point.values.to_vec();
            row.push((*metric).to_string());
            let blank = String::new;
            match Stats::of(values) {
                None => {
                    row.push("0".into());
                    row.extend(std::iter::repeat_with(blank).take(6));
                }
                Some(s) => row.extend([
                    s.n.to_string(),
                    f(s.mean),
                    s.sd.map_or_else(blank, f),
                    s.ci95.map_or_else(blank, |c| f(c.0)),
                    s.ci95.map_or_else(blank, |c| f(c.1)),
                    f(s.min),
                    f(s.max),
                ]),
            }
            csv.row(&row);
        }
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confidence_interval_uses_students_t() {
        // Five values with mean 3 and sd √2.5; t(0.975, 4) = 2.776.
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).expect("values");
        assert_eq!((s.n, s.mean, s.min, s.max), (5, 3.0, 1.0, 5.0));
        let sd = s.sd.expect("sd");
        assert!((sd - 2.5f64.sqrt()).abs() < 1e-12);
        let (lo, hi) = s.ci95.expect("interval");
        let half = 2.776 * sd / 5f64.sqrt();
        assert!((lo - (3.0 - half)).abs() < 1e-3 && (hi - (3.0 + half)).abs() < 1e-3);
    }

    #[test]
    fn one_run_has_no_spread_and_none_has_no_statistics() {
        let s = Stats::of(&[0.5]).expect("one value");
        assert_eq!((s.n, s.sd, s.ci95), (1, None, None));
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn the_table_has_one_row_per_point_and_metric() {
        let values = vec!["4".to_string()];
        let points = [Point {
            values: &values,
            metrics: vec![
                ("delivery_ratio", vec![1.0, 1.0]),
                ("latency_p50_ms", vec![]),
            ],
        }];
        let csv = table(&["dissemination.d".into()], &points);
        assert_eq!(
            csv.as_str(),
            "dissemination.d,metric,runs,mean,sd,ci95_low,ci95_high,min,max\n\
             4,delivery_ratio,2,1.000,0.000,1.000,1.000,1.000,1.000\n\
             4,latency_p50_ms,0,,,,,,\n"
        );
    }
}
