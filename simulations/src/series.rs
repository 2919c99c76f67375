//! Results over time: `series.csv` (one row per time bucket) and the lines of `delivery.svg`
//! and `latency.svg`, overall and for each group the scenario compares ([`crate::story`]).

use crate::metrics::{Csv, Tally, f, ms, quantile};
use crate::plot::Series;
use crate::queue::Micros;
use crate::story::Group;

/// One eligible (node, post) pair.
pub struct Pair {
    /// The post's author (index).
    pub author: usize,
    /// The node.
    pub node: usize,
    /// When the post went out.
    pub published: Micros,
    /// When the node stored it.
    pub stored: Option<Micros>,
    /// The node was online when the post was published.
    pub live: bool,
}

/// The table and the charts' lines.
pub struct OverTime {
    /// `series.csv`.
    pub csv: Csv,
    /// Live delivery ratio so far: overall, then per group.
    pub delivery: Vec<Series>,
    /// Mean latency of the posts published in the last [`latency_window`] buckets: overall,
    /// then per group.
    pub latency: Vec<Series>,
    /// Nodes online at the end of each bucket.
    pub online: Series,
}

/// Buckets of publication time a latency point of the charts covers: at least five, and whole
/// rounds of the authors' round-robin. A bucket holds one post or a few, so its latency jumps
/// with where that post's author sits; a window that holds some authors twice and others once
/// makes a saw-tooth of the authors' mix instead of a line. The charts draw the window's mean:
/// latencies are a mix of regions, and the median of a mix flips between its modes.
pub fn latency_window(authors: usize, post_interval: Micros, width: Micros) -> u64 {
    let round = (authors as u64 * post_interval)
        .div_ceil(width.max(1))
        .max(1);
    round * 5u64.div_ceil(round)
}

/// Cumulative delivery and latency by publication time of a set of pairs.
struct Lines {
    published: Vec<Micros>,
    stored: Vec<Micros>,
    live_published: Vec<Micros>,
    live_stored: Vec<Micros>,
    /// (published, latency ms) of live deliveries, by publication time.
    latencies: Vec<(Micros, f64)>,
}

impl Lines {
    fn of<'a>(pairs: impl Iterator<Item = &'a Pair>) -> Lines {
        let mut l = Lines {
            published: Vec::new(),
            stored: Vec::new(),
            live_published: Vec::new(),
            live_stored: Vec::new(),
            latencies: Vec::new(),
        };
        for p in pairs {
            l.published.push(p.published);
            l.stored.extend(p.stored);
            if p.live {
                l.live_published.push(p.published);
                l.live_stored.extend(p.stored);
                if let Some(at) = p.stored {
                    l.latencies
                        .push((p.published, ms(at.saturating_sub(p.published))));
                }
            }
        }
        for v in [
            &mut l.published,
            &mut l.stored,
            &mut l.live_published,
            &mut l.live_stored,
        ] {
            v.sort_unstable();
        }
        l.latencies
            .sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        l
    }

    /// Pairs published and delivered before `end`, all and live.
    fn counts(&self, end: Micros) -> [u64; 4] {
        let before = |v: &[Micros]| v.partition_point(|t| *t < end) as u64;
        [
            before(&self.published),
            before(&self.stored),
            before(&self.live_published),
            before(&self.live_stored),
        ]
    }

    /// Latencies of live deliveries of posts published in [start, end).
    fn latencies(&self, start: Micros, end: Micros) -> &[(Micros, f64)] {
        let from = self.latencies.partition_point(|(t, _)| *t < start);
        let to = self.latencies.partition_point(|(t, _)| *t < end);
        &self.latencies[from..to]
    }

    /// Median latency of live deliveries of posts published in [start, end).
    fn latency_p50(&self, start: Micros, end: Micros) -> Option<f64> {
        let mut bucket: Vec<f64> = self.latencies(start, end).iter().map(|x| x.1).collect();
        bucket.sort_by(f64::total_cmp);
        (!bucket.is_empty()).then(|| quantile(&bucket, 0.5))
    }

    /// Mean latency of live deliveries of posts published in [start, end).
    fn latency_mean(&self, start: Micros, end: Micros) -> Option<f64> {
        let window = self.latencies(start, end);
        (!window.is_empty()).then(|| window.iter().map(|x| x.1).sum::<f64>() / window.len() as f64)
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Builds the per-bucket table and lines from the run's pairs.
pub fn over_time(
    pairs: &[Pair],
    groups: &[Group],
    tally: &Tally,
    width: Micros,
    window: u64,
) -> OverTime {
    let all = Lines::of(pairs.iter());
    let per_group: Vec<Lines> = groups
        .iter()
        .map(|g| Lines::of(pairs.iter().filter(|p| g.holds(p.author, p.node))))
        .collect();
    let mut header = vec![
        "time_s".to_string(),
        "online".into(),
        "published_pairs".into(),
        "delivered_pairs".into(),
        "delivery_ratio".into(),
        "live_published_pairs".into(),
        "live_delivered_pairs".into(),
        "live_delivery_ratio".into(),
        "latency_p50_ms".into(),
        "latency_mean_ms_window".into(),
        "payload_bytes".into(),
        "control_bytes".into(),
    ];
    for g in groups {
        header.push(format!("{}_live_delivery_ratio", g.name));
        header.push(format!("{}_latency_mean_ms_window", g.name));
    }
    let mut csv = Csv::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    let line = |label: &str| Series {
        label: label.to_string(),
        points: Vec::new(),
    };
    let mut delivery = vec![line("all eligible pairs")];
    let mut latency = vec![line("all eligible pairs")];
    for g in groups {
        delivery.push(line(g.label));
        latency.push(line(g.label));
    }
    let mut online = line("online nodes");
    let cell = |x: Option<f64>| x.map_or(String::new(), f);
    for (i, b) in tally.buckets.iter().enumerate() {
        let start = i as u64 * width;
        let end = start + width;
        let t = end as f64 / 1e6;
        let [published, delivered, live_published, live_delivered] = all.counts(end);
        let live_ratio = ratio(live_delivered, live_published);
        let p50 = all.latency_p50(start, end);
        let window_start = end.saturating_sub(window * width);
        let mean_window = all.latency_mean(window_start, end);
        let mut row = vec![
            f(t),
            b.online.to_string(),
            published.to_string(),
            delivered.to_string(),
            cell(ratio(delivered, published)),
            live_published.to_string(),
            live_delivered.to_string(),
            cell(live_ratio),
            cell(p50),
            cell(mean_window),
            b.payload.to_string(),
            b.control.to_string(),
        ];
        online.points.push((t, b.online as f64));
        let mut push = |k: usize, ratio: Option<f64>, p50: Option<f64>| {
            if let Some(r) = ratio {
                delivery[k].points.push((t, r));
            }
            if let Some(l) = p50 {
                latency[k].points.push((t, l));
            }
        };
        push(0, live_ratio, mean_window);
        for (k, lines) in per_group.iter().enumerate() {
            let [.., lp, ld] = lines.counts(end);
            let r = ratio(ld, lp);
            let l = lines.latency_mean(window_start, end);
            row.push(cell(r));
            row.push(cell(l));
            push(k + 1, r, l);
        }
        csv.row(&row);
    }
    OverTime {
        csv,
        delivery,
        latency,
        online,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latency_window_holds_whole_author_rounds() {
        let s = 1_000_000;
        // 3 authors posting every second, 1 s buckets: rounds of 3 buckets, two of them.
        assert_eq!(latency_window(3, s, s), 6);
        assert_eq!(latency_window(5, s, s), 5);
        // 20 authors at 10 posts a second: one round is 2 buckets.
        assert_eq!(latency_window(20, s / 10, s), 6);
        assert_eq!(latency_window(1, s, s), 5);
    }
}
