//! Interop with js-libp2p: stock js-libp2p 3.x peers (tests/js/peer.mjs: tcp, noise, yamux,
//! gossipsub, identify, with and without ping) subscribe to an author's topic on a live
//! `handbilld` and must receive every post published over a minute, on one connection.
//!
//! Needs Node.js and `npm ci --prefix tests/js` (`.ci/run` does both when they are missing).

use handbill_protocol::EventId;
use handbill_protocol::event::SignedEvent;
use handbill_tests::*;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long posts are published while the js peers listen.
const LISTEN_FOR: Duration = Duration::from_secs(65);

/// A running js peer and the JSON lines it printed.
struct JsPeer {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl JsPeer {
    fn start(daemon: &str, topic: &str, extra: &[&str]) -> JsPeer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
        assert!(
            dir.join("node_modules").exists(),
            "the js peer's packages are missing: run `npm ci --prefix tests/js`"
        );
        let mut child = Command::new("node")
            .arg(dir.join("peer.mjs"))
            .arg(daemon)
            .arg(topic)
            .args(extra)
            // The peer runs until its stdin closes.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting node (Node.js must be installed)");
        let stdout = child.stdout.take().expect("peer stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // A line that is not JSON reaches the test as such, so it fails saying so.
                let value = serde_json::from_str(&line).unwrap_or_else(
                    |e| serde_json::json!({ "unreadable": line, "error": e.to_string() }),
                );
                if send.send(value).is_err() {
                    break;
                }
            }
        });
        JsPeer {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Collects what the peer printed so far.
    fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            self.drain();
            if let Some(ready) = self.seen.iter().find(|l| l.get("ready").is_some()) {
                assert_eq!(
                    ready["daemon_subscribed"], true,
                    "the js peer never saw the daemon on the topic"
                );
                return;
            }
            assert!(start.elapsed() < DEADLINE, "the js peer never got ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ids of the events that arrived as gossip.
    fn received(&self) -> BTreeSet<EventId> {
        self.seen
            .iter()
            .filter_map(|l| l.get("message")?.as_str())
            .map(|hex| {
                let bytes = hex::decode(hex).expect("hex message");
                SignedEvent::decode(&bytes)
                    .expect("a Handbill event envelope")
                    .header
                    .id()
            })
            .collect()
    }

    fn lines_with(&self, key: &str) -> Vec<&serde_json::Value> {
        self.seen.iter().filter(|l| l.get(key).is_some()).collect()
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        // Closing stdin stops it cleanly; kill it if it lingers.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn js_libp2p_peers_receive_every_post_for_a_minute_on_one_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = Node::start_with(dir.path().join("alice"), vec!["--no-discover".into()]);
    let status = alice.status();
    let addr = status
        .listen_addrs
        .iter()
        .find(|a| a.starts_with("/ip4/127.0.0.1/tcp/"))
        .expect("a TCP address on loopback")
        .clone();
    let topic = format!("handbill/1/author/{}", status.author);
    let mut stock = JsPeer::start(&addr, &topic, &[]);
    let mut pingless = JsPeer::start(&addr, &topic, &["--no-ping"]);
    stock.wait_ready();
    pingless.wait_ready();

    let start = Instant::now();
    let mut published = BTreeSet::new();
    let mut n = 0;
    while start.elapsed() < LISTEN_FOR {
        n += 1;
        published.insert(alice.post_text(&format!("post {n} for js peers")));
        std::thread::sleep(Duration::from_secs(5));
    }
    for (name, peer) in [("stock", &mut stock), ("without ping", &mut pingless)] {
        let started = Instant::now();
        while peer.received() != published && started.elapsed() < DEADLINE {
            std::thread::sleep(Duration::from_millis(100));
            peer.drain();
        }
        assert_eq!(
            peer.lines_with("unreadable"),
            Vec::<&serde_json::Value>::new(),
            "the {name} js peer printed lines that are not JSON"
        );
        let received = peer.received();
        let missing: Vec<_> = published.difference(&received).collect();
        assert!(
            missing.is_empty(),
            "the {name} js peer missed {} of {} posts: {missing:?}",
            missing.len(),
            published.len()
        );
        assert_eq!(
            peer.lines_with("closed"),
            Vec::<&serde_json::Value>::new(),
            "the {name} js peer's connection was dropped"
        );
        assert_eq!(
            peer.lines_with("opened").len(),
            1,
            "the {name} js peer used more than one connection"
        );
    }
    eprintln!(
        "js interop: {} posts over {:?}, all received by both js peers on one connection each",
        published.len(),
        start.elapsed()
    );
}
