//! Measures the web app against its target: a usable timeline of 1,000 posts on loopback in
//! under 300 ms, and its page weight. A real daemon holds 1,000 posts; headless Chromium signs
//! in with `handbill open --print` and loads the app cold (empty cache) and warm (reload).
//!
//! `cargo run --release -p handbill-tests --example measure_browser` (`BROWSER_RUNS=n`, default
//! 20). Needs Chromium and `npm ci --prefix tests/js`, as the browser test does.

use handbill_tests::browser::{chromium, run_script};
use handbill_tests::{Node, handbill_ok};

const POSTS: usize = 1_000;

fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[at]
}

fn main() {
    let runs: usize = std::env::var("BROWSER_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("temporary directory");
    let node = Node::start(dir.path(), "reader");
    for i in 0..POSTS {
        node.post_text(&format!(
            "Post number {i}: a line of ordinary text, about as long as a short post usually is. #bench"
        ));
    }
    let url = handbill_ok(&node.home, &["open", "--print"])
        .trim()
        .to_string();
    let config = serde_json::json!({
        "chromium": chromium(),
        "url": url,
        "origin": node.api().0.trim_end_matches('/'),
        "runs": runs,
    });
    let out = run_script("measure_browser.mjs", &config, dir.path());
    let result: serde_json::Value = serde_json::from_str(out.trim()).expect("the script's JSON");
    let times = |key: &str| -> Vec<f64> {
        result[key]
            .as_array()
            .expect("runs")
            .iter()
            .map(|r| r["ms"].as_f64().expect("ms"))
            .collect()
    };
    let first = &result["cold"][0];
    if std::env::var_os("BROWSER_WATERFALL").is_some() {
        println!(
            "first cold load, ms after navigation start: {:#}",
            first["waterfall"]
        );
    }
    println!(
        "web app: time to a usable timeline of {POSTS} posts (first page rendered), {runs} runs each"
    );
    for key in ["cold", "warm"] {
        let t = times(key);
        println!(
            "  {key:<5} p50 {:>6.1} ms   p90 {:>6.1} ms   max {:>6.1} ms",
            percentile(t.clone(), 0.5),
            percentile(t.clone(), 0.9),
            percentile(t, 1.0)
        );
    }
    println!(
        "  items rendered {}, requests {}, app assets {} bytes (embedded: {} bytes), first timeline page {} bytes of JSON",
        first["items"],
        first["requests"],
        first["assets_encoded"],
        handbill_node::web::page_weight(),
        first["timeline_json"]
    );
}
