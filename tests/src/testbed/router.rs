//! The delay router: one thread holding every node's TUN device, which delivers each IPv4
//! packet to the node it is addressed to after the scenario's one-way latency between their
//! regions plus uniform jitter, behind the sender's upload queue, and drops it with the
//! scenario's loss probability or while a partition separates the two.
//!
//! This stands in for `sch_netem`, which this machine's kernel lacks. It models what the
//! simulator's links model, per IP packet instead of per message:
//!
//! - **Upload**: each node's packets leave one after another at `upload_bytes_per_s` (counting
//!   the whole IP packet); more than [`QUEUE_LIMIT`] of backlog drops the packet, as a full
//!   buffer would.
//! - **Latency and jitter**: `latency_ms[region(a)][region(b)]` plus uniform `[0, jitter)`,
//!   but never overtaking an earlier packet between the same two nodes (jitter is queueing on
//!   the path, which keeps order; reordering would make TCP retransmit what was never lost).
//! - **Loss** per packet (TCP then retransmits; the simulator loses whole messages).
//! - **Partitions**: packets between nodes on different sides are dropped while one is on.
//!
//! Counters are per node and count whole IP packets (TCP/IP headers, Noise, yamux, and every
//! protocol the daemon speaks: gossip, replication, Kademlia, identify, ping, AutoNAT).

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tun;

/// The most backlog an upload queue holds; a packet that would wait longer is dropped.
pub const QUEUE_LIMIT: Duration = Duration::from_secs(1);

/// The network every node is on: 198.18.0.0/16 (RFC 2544's benchmarking range, which the
/// daemon counts as internet addresses, so nodes become public as in the simulator).
pub const BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
/// The prefix length of [`BASE`].
pub const PREFIX: u8 = 16;

/// Node `i`'s address.
pub fn address(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(BASE) + 1 + i as u32)
}

fn node_of(addr: [u8; 4], nodes: usize) -> Option<usize> {
    let i = u32::from(Ipv4Addr::from(addr)).checked_sub(u32::from(BASE) + 1)? as usize;
    (i < nodes).then_some(i)
}

/// A partition: from `at` to `heal` after the epoch, nodes with different `side_of` values
/// cannot reach each other.
#[derive(Clone, Debug)]
pub struct Partition {
    /// When it starts, from the epoch.
    pub at: Duration,
    /// When it heals, from the epoch.
    pub heal: Duration,
    /// Each node's side.
    pub side_of: Vec<usize>,
}

/// What the links do: the scenario's `network` section, mapped onto nodes.
#[derive(Clone, Debug)]
pub struct Links {
    /// Each node's region (an index into `latency_ms`).
    pub region_of: Vec<usize>,
    /// One-way base latency between regions, in milliseconds.
    pub latency_ms: Vec<Vec<f64>>,
    /// Uniform extra delay in `[0, jitter_ms)`.
    pub jitter_ms: f64,
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Each node's upload rate in bytes per second (0: unlimited).
    pub upload_bytes_per_s: f64,
    /// Partitions, timed from the epoch.
    pub partitions: Vec<Partition>,
    /// Seed of the jitter and loss draws.
    pub seed: u64,
}

/// One node's traffic through the router since the epoch (or since start, before it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// IP bytes the node sent (read from its device).
    pub sent_bytes: u64,
    /// IP packets the node sent.
    pub sent_packets: u64,
    /// IP bytes delivered to the node.
    pub received_bytes: u64,
    /// Packets lost to the loss probability.
    pub lost: u64,
    /// Packets dropped by a partition.
    pub partitioned: u64,
    /// Packets dropped by a full upload queue.
    pub queue_drops: u64,
}

struct Shared {
    stop: AtomicBool,
    epoch: Mutex<Option<Instant>>,
    reset: AtomicBool,
    counters: Mutex<Vec<Counters>>,
}

/// The running router; dropping it stops the thread and closes every device.
pub struct Router {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Pending {
    at: Instant,
    seq: u64,
    dst: usize,
    packet: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    // Earliest first in a max-heap.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl Router {
    /// Starts routing between `devices` (node `i`'s is `devices[i]`, at [`address`]`(i)`).
    pub fn start(devices: Vec<OwnedFd>, links: Links) -> Router {
        assert_eq!(
            devices.len(),
            links.region_of.len(),
            "one region per device"
        );
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            epoch: Mutex::new(None),
            reset: AtomicBool::new(false),
            counters: Mutex::new(vec![Counters::default(); devices.len()]),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("testbed-router".into())
                .spawn(move || route(devices, links, &shared))
                .expect("starting the router thread")
        };
        Router {
            shared,
            thread: Some(thread),
        }
    }

    /// Starts the scenario clock now: partitions are timed from here, and the counters start
    /// again from zero.
    pub fn set_epoch(&self, epoch: Instant) {
        *self.shared.epoch.lock().expect("router lock") = Some(epoch);
        self.shared.reset.store(true, Ordering::SeqCst);
    }

    /// Every node's counters so far.
    pub fn counters(&self) -> Vec<Counters> {
        self.shared.counters.lock().expect("router lock").clone()
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

fn route(devices: Vec<OwnedFd>, links: Links, shared: &Shared) {
    let n = devices.len();
    let mut rng = ChaCha8Rng::seed_from_u64(links.seed);
    let mut queue: BinaryHeap<Pending> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut upload_free = vec![Instant::now(); n];
    let mut last_arrival = vec![Instant::now(); n * n];
    let mut counters = vec![Counters::default(); n];
    let mut epoch: Option<Instant> = None;
    let mut polls: Vec<libc::pollfd> = devices
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut buf = vec![0u8; 65_536];
    let mut last_publish = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        if shared.reset.swap(false, Ordering::SeqCst) {
            epoch = *shared.epoch.lock().expect("router lock");
            counters = vec![Counters::default(); n];
        }
        let now = Instant::now();
        // Sleep until the next delivery is due or a packet arrives (at most 20 ms, to see
        // stop and epoch changes).
        let wait = queue
            .peek()
            .map(|p| p.at.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(20))
            .min(Duration::from_millis(20));
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: wait.as_nanos() as libc::c_long,
        };
        // SAFETY: `polls` is a valid array of `polls.len()` pollfds for the call's duration.
        let ready = unsafe {
            libc::ppoll(
                polls.as_mut_ptr(),
                polls.len() as libc::nfds_t,
                &timeout,
                std::ptr::null(),
            )
        };
        let now = Instant::now();
        if ready > 0 {
            for src in 0..n {
                if polls[src].revents & libc::POLLIN == 0 {
                    continue;
                }
                while let Some(len) = tun::read(&devices[src], &mut buf) {
                    let packet = &buf[..len];
                    // IPv4 only (the devices carry nothing else the daemons use).
                    if len < 20 || packet[0] >> 4 != 4 {
                        continue;
                    }
                    let dst_addr = [packet[16], packet[17], packet[18], packet[19]];
                    let Some(dst) = node_of(dst_addr, n) else {
                        continue;
                    };
                    let c = &mut counters[src];
                    c.sent_bytes += len as u64;
                    c.sent_packets += 1;
                    if let Some(epoch) = epoch {
                        let t = now.saturating_duration_since(epoch);
                        let split = links
                            .partitions
                            .iter()
                            .any(|p| t >= p.at && t < p.heal && p.side_of[src] != p.side_of[dst]);
                        if split {
                            c.partitioned += 1;
                            continue;
                        }
                    }
                    if links.loss > 0.0 && rng.r#gen::<f64>() < links.loss {
                        c.lost += 1;
                        continue;
                    }
                    let depart = upload_free[src].max(now);
                    if depart.saturating_duration_since(now) > QUEUE_LIMIT {
                        c.queue_drops += 1;
                        continue;
                    }
                    if links.upload_bytes_per_s > 0.0 {
                        upload_free[src] =
                            depart + Duration::from_secs_f64(len as f64 / links.upload_bytes_per_s);
                    }
                    let base = links.latency_ms[links.region_of[src]][links.region_of[dst]];
                    let jitter = if links.jitter_ms > 0.0 {
                        rng.r#gen::<f64>() * links.jitter_ms
                    } else {
                        0.0
                    };
                    let pair = &mut last_arrival[src * n + dst];
                    let at = (depart + millis(base + jitter)).max(*pair);
                    *pair = at;
                    seq += 1;
                    queue.push(Pending {
                        at,
                        seq,
                        dst,
                        packet: packet.to_vec(),
                    });
                }
            }
        }
        let now = Instant::now();
        while queue.peek().is_some_and(|p| p.at <= now) {
            let Some(p) = queue.pop() else { break };
            if tun::write(&devices[p.dst], &p.packet) {
                counters[p.dst].received_bytes += p.packet.len() as u64;
            }
        }
        if now.duration_since(last_publish) > Duration::from_millis(200) {
            last_publish = now;
            shared
                .counters
                .lock()
                .expect("router lock")
                .clone_from(&counters);
        }
    }
    shared
        .counters
        .lock()
        .expect("router lock")
        .clone_from(&counters);
}
