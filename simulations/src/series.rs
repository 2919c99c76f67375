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
    /// Median latency of the posts published in the last [`LATENCY_WINDOW`] buckets: overall,
    /// then per group.
    pub latency: Vec<Series>,
    /// Nodes online at the end of each bucket.
    pub online: Series,
}

/// Buckets of publication time a latency point covers. One bucket holds one post or a few, so
/// its median jumps with where that post's author sits; five smooth the line without hiding a
/// change that lasts seconds.
pub const LATENCY_WINDOW: u64 = 5;

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

    /// Median latency of live deliveries of posts published in [start, end).
    fn latency_p50(&self, start: Micros, end: Micros) -> Option<f64> {
        let from = self.latencies.partition_point(|(t, _)| *t < start);
        let to = self.latencies.partition_point(|(t, _)| *t < end);
        let mut bucket: Vec<f64> = self.latencies[from..to].iter().map(|x| x.1).collect();
        bucket.sort_by(f64::total_cmp);
        (!bucket.is_empty()).then(|| quantile(&bucket, 0.5))
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Builds the per-bucket table and lines from the run's pairs.
pub fn over_time(pairs: &[Pair], groups: &[Group], tally: &Tally, width: Micros) -> OverTime {
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
        "latency_p50_ms_window".into(),
        "payload_bytes".into(),
        "control_bytes".into(),
    ];
    for g in groups {
        header.push(format!("{}_live_delivery_ratio", g.name));
        header.push(format!("{}_latency_p50_ms_window", g.name));
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
        let window_start = end.saturating_sub(LATENCY_WINDOW * width);
        let p50_window = all.latency_p50(window_start, end);
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
            cell(p50_window),
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
        push(0, live_ratio, p50_window);
        for (k, lines) in per_group.iter().enumerate() {
            let [.., lp, ld] = lines.counts(end);
            let r = ratio(ld, lp);
            let l = lines.latency_p50(window_start, end);
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
