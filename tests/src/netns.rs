//! Network namespaces that a test creates and removes itself, linked to the test's own
//! namespace (or to each other) by veth pairs, for attackers with their own IP and links that
//! can be cut from outside. Needs root (CI runs as root).
//!
//! Addresses come from 10.200.0.0/13, split by test process and link so that concurrent tests
//! never share one; nothing outside the namespaces and links a test made is touched, and
//! everything is removed on drop (removing a namespace removes the veth ends in it, and a veth
//! pair dies with either end).

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .expect("running ip (iproute2)");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Removes namespaces that test processes no longer running left behind (killed before their
/// `Drop` ran): their names end in `-PID-N`. Removing a namespace removes its veth ends too.
fn remove_leftovers() {
    let Ok(entries) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("hb-") else {
            continue;
        };
        let mut parts = rest.rsplitn(3, '-');
        let (_index, pid) = (parts.next(), parts.next());
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

/// A unique small number for names and subnets within this test process.
fn next_index() -> u32 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A network namespace with its loopback up.
pub struct Netns {
    /// The namespace's name (as `ip netns` knows it).
    pub name: String,
}

impl Netns {
    /// Creates a namespace named after `tag`, this process and a counter.
    pub fn new(tag: &str) -> Netns {
        remove_leftovers();
        let name = format!("hb-{tag}-{}-{}", std::process::id(), next_index());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Runs `f` on a thread inside the namespace (sockets it opens live there) and returns
    /// what it returns.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.enter_this_thread();
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Moves the calling thread into the namespace, for good.
    pub fn enter_this_thread(&self) {
        Netns::enter_named(&self.name);
    }

    /// Moves the calling thread into the namespace called `name`, for good.
    pub fn enter_named(name: &str) {
        let file =
            std::fs::File::open(format!("/var/run/netns/{name}")).expect("opening the namespace");
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("entering the namespace");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A veth pair on a /30: one end in `a` (or the test's own namespace when `None`), the other
/// in `b`, both up.
pub struct Link {
    /// The interface name of the `a` end.
    pub a_name: String,
    /// The interface name of the `b` end.
    pub b_name: String,
    a_ns: Option<String>,
    /// The `a` end's address.
    pub a_ip: Ipv4Addr,
    /// The `b` end's address.
    pub b_ip: Ipv4Addr,
}

impl Link {
    /// Links `a` (the test's namespace when `None`) and `b`, on a /30 from 10.200.0.0/13.
    pub fn new(a: Option<&Netns>, b: &Netns) -> Link {
        Link::in_range(a, b, Ipv4Addr::new(10, 200, 0, 0), 13)
    }

    /// Links `a` and `b` on a /30 from `base/prefix` (for addresses that must look global,
    /// such as a simulated internet's: 198.18.0.0/15 is reserved for exactly such tests).
    pub fn in_range(a: Option<&Netns>, b: &Netns, base: Ipv4Addr, prefix: u32) -> Link {
        let index = next_index();
        let pid = std::process::id();
        // Spread the /30s by process and link; interface names stay unique across ranges.
        let slots = 1u32 << (32 - prefix - 2);
        let slot = (pid.wrapping_mul(64).wrapping_add(index)) % slots;
        let base = u32::from(base) + slot * 4;
        let (a_ip, b_ip) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
        let name = pid.wrapping_mul(64).wrapping_add(index) % (1 << 20);
        let a_name = format!("hba{name}");
        let b_name = format!("hbb{name}");
        ip(&[
            "link", "add", &a_name, "type", "veth", "peer", "name", &b_name,
        ]);
        ip(&["link", "set", &b_name, "netns", &b.name]);
        if let Some(a) = a {
            ip(&["link", "set", &a_name, "netns", &a.name]);
        }
        let in_a = |args: &[&str]| match a {
            Some(ns) => {
                let mut full = vec!["-n", &ns.name];
                full.extend_from_slice(args);
                ip(&full);
            }
            None => ip(args),
        };
        in_a(&["addr", "add", &format!("{a_ip}/30"), "dev", &a_name]);
        in_a(&["link", "set", &a_name, "up"]);
        ip(&[
            "-n",
            &b.name,
            "addr",
            "add",
            &format!("{b_ip}/30"),
            "dev",
            &b_name,
        ]);
        ip(&["-n", &b.name, "link", "set", &b_name, "up"]);
        Link {
            a_name,
            b_name,
            a_ns: a.map(|ns| ns.name.clone()),
            a_ip,
            b_ip,
        }
    }

    /// Takes the link down (`false`) or brings it back up (`true`), from the `a` end.
    pub fn set_up(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        match &self.a_ns {
            Some(ns) => ip(&["-n", ns, "link", "set", &self.a_name, state]),
            None => ip(&["link", "set", &self.a_name, state]),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Gone already if its namespace went first; otherwise this removes both ends.
        let mut command = Command::new("ip");
        if let Some(ns) = &self.a_ns {
            command.args(["-n", ns]);
        }
        let _ = command
            .args(["link", "del", &self.a_name])
            .stderr(std::process::Stdio::null())
            .status();
    }
}
