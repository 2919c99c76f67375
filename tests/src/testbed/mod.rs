//! A calibration testbed: real `handbilld` processes, each alone in a network namespace whose
//! only link is a TUN device, joined by a user-space [`router`] that applies a simulator
//! scenario's latency matrix, jitter, loss, upload rate and partitions, so that the daemon's
//! delivery and latency can be set next to `handbill-sim`'s for the same scenario. Needs root.
//!
//! - [`tun`]: the devices; [`router`]: the links between them;
//! - [`plan`]: a scenario mapped onto nodes; [`workload`]: posting and measuring.
//!
//! Everything runs on one machine, so one clock times every delivery, and every daemon, the
//! router and the test share its cores: latencies include that CPU queueing (a run with zero
//! link delay measures it).

pub mod plan;
pub mod router;
pub mod tun;
pub mod workload;

use crate::netns::Netns;
use crate::{Node, wait_for_within};
use plan::Plan;
use router::Router;
use std::time::Duration;

/// The TCP port every daemon listens on, at its own address.
pub const PORT: u16 = 4701;

/// Added to every daemon's log filter: gossipsub's debug lines that name a message id, among
/// them one per duplicate it drops ("Message already received"), the only place the daemon
/// reports duplicates. A few lines per message and peer, so cheap enough to leave on.
pub const MESSAGE_LOG: &str = "libp2p_gossipsub::behaviour[{message_id}]=debug";

/// Why a testbed cannot run here: without root it is skipped; as root, missing `ip` or
/// `/dev/net/tun` is a broken machine, not a reason to skip.
pub fn available() -> Result<(), String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err("the testbed needs root (network namespaces, TUN devices)".into());
    }
    let ip = std::process::Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ip, "the testbed needs `ip` (apt: iproute2)");
    assert!(
        std::path::Path::new("/dev/net/tun").exists(),
        "the testbed needs /dev/net/tun (the tun module)"
    );
    Ok(())
}

/// Running daemons on routed links. Dropping it stops the daemons, then the router (which
/// removes the devices), then the namespaces.
pub struct Testbed {
    /// The daemons; node `i` is at [`router::address`]`(i)`.
    pub nodes: Vec<Node>,
    /// The links between them.
    pub router: Router,
    /// Each node's libp2p peer id.
    pub peer_ids: Vec<String>,
    /// What runs.
    pub plan: Plan,
    namespaces: Vec<Netns>,
    dir: tempfile::TempDir,
}

impl Testbed {
    /// Starts `plan.nodes` daemons with `log` (and [`MESSAGE_LOG`]) as their log filter, dials the plan's overlay,
    /// and has every node follow the authors the plan says. Returns once every overlay link
    /// is up and every follow is recorded (not yet propagated).
    pub fn start(plan: Plan, log: &str) -> Testbed {
        let n = plan.nodes;
        // Built (or found built) before the clock starts.
        crate::bin_dir();
        let began = std::time::Instant::now();
        let dir = tempfile::tempdir().expect("tempdir");
        let namespaces: Vec<Netns> = (0..n).map(|_| Netns::new("tb")).collect();
        let devices = namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| tun::open_in(ns, router::address(i), router::PREFIX))
            .collect();
        let router = Router::start(devices, plan.links.clone());
        let log = format!("{log},{MESSAGE_LOG}");
        let log = log.as_str();
        let listen = |i: usize| {
            vec![
                "--listen".to_string(),
                format!("/ip4/{}/tcp/{PORT}", router::address(i)),
            ]
        };
        // Started a few at a time: on two cores, thirty daemons opening their stores at once
        // can take longer than a start is allowed.
        let mut nodes: Vec<Node> = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(6) {
            let started: Vec<Node> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|&i| {
                        let (ns, home, args) = (
                            &namespaces[i],
                            dir.path().join(format!("node{i}")),
                            listen(i),
                        );
                        scope.spawn(move || Node::start_in_logging(ns, home, args, log))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            nodes.extend(started);
        }
        eprintln!(
            "testbed: {n} daemons started in {:.1} s",
            began.elapsed().as_secs_f64()
        );
        let peer_ids: Vec<String> = nodes.iter().map(|node| node.status().peer_id).collect();
        let testbed = Testbed {
            nodes,
            router,
            peer_ids,
            plan,
            namespaces,
            dir,
        };
        testbed.dial_overlay();
        eprintln!(
            "testbed: overlay up at {:.1} s",
            began.elapsed().as_secs_f64()
        );
        testbed.follow_authors();
        eprintln!(
            "testbed: follows recorded at {:.1} s",
            began.elapsed().as_secs_f64()
        );
        testbed
    }

    /// Node `i`'s dialable address.
    pub fn addr(&self, i: usize) -> String {
        format!(
            "/ip4/{}/tcp/{PORT}/p2p/{}",
            router::address(i),
            self.peer_ids[i]
        )
    }

    /// The directory holding every node's home and log (`node{i}.log`).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Node `i`'s log file.
    pub fn log_path(&self, i: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("node{i}.log"))
    }

    /// The namespace node `i` runs in.
    pub fn netns(&self, i: usize) -> &Netns {
        &self.namespaces[i]
    }

    fn dial_overlay(&self) {
        let mut degree = vec![0usize; self.plan.nodes];
        for &(a, b) in &self.plan.edges {
            degree[a] += 1;
            degree[b] += 1;
            let reply = self.nodes[a].call(
                "POST",
                "/v1/connect",
                Some(&handbill_protocol::api::ConnectRequest { addr: self.addr(b) }),
            );
            assert_eq!(reply.status, 202, "connect {a} -> {b}: {}", reply.body);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            wait_for_within(
                &format!("node {i} to hold its {} overlay links", degree[i]),
                Duration::from_secs(120),
                || (node.status().peers.len() >= degree[i]).then_some(()),
            );
        }
    }

    fn follow_authors(&self) {
        let ids: Vec<_> = self
            .plan
            .authors
            .iter()
            .map(|&a| (a, self.nodes[a].author()))
            .collect();
        for (i, node) in self.nodes.iter().enumerate() {
            for &(a, id) in &ids {
                if self.plan.follows(i, a) {
                    node.follow(id);
                }
            }
        }
    }
}
