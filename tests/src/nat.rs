//! A small internet in network namespaces, for NAT traversal tests against real daemons: a
//! `wan` namespace that routes between public hosts and home routers, and home networks each
//! behind its own router doing NAT with nftables masquerade. Needs root, `ip` and `nft`.
//!
//! Everything lives in namespaces this module creates (and removes on drop); the test's own
//! namespace and the machine's interfaces are never touched.

use crate::netns::{Link, Netns};
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// The wan's addresses: 198.18.0.0/15, reserved for network tests (RFC 2544) and, unlike the
/// private ranges, counted as internet addresses (a node confirmed on a private address is not
/// public). Home LANs use private addresses, as at home.
const WAN_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
const WAN_PREFIX: u32 = 15;

/// How a home router maps its hosts' connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatKind {
    /// Plain `masquerade`: a host's source port is kept where it is free, so one local port
    /// maps to one public port whatever the destination (endpoint-independent mapping), and
    /// hole punching works.
    EndpointIndependent,
    /// `masquerade random`: each connection gets a random public port, so the port another
    /// peer observed is useless to a third (a symmetric NAT), and hole punching fails.
    Symmetric,
}

/// A host: a namespace with one address.
pub struct Host {
    /// Its namespace; start daemons in it with `Node::start_in`.
    pub ns: Netns,
    /// Its address: public on the wan, private behind a home router.
    pub ip: Ipv4Addr,
    /// The public address others see it connect from (its router's for a home host).
    pub public_ip: Ipv4Addr,
}

/// The wan, and the routers and links the hosts hang off.
pub struct Internet {
    wan: Netns,
    routers: Vec<Netns>,
    links: Vec<Link>,
}

fn run(ns: &Netns, program: &str, args: &[&str], stdin: Option<&str>) {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &ns.name, program])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("running ip netns exec");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("writing stdin");
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().expect("waiting for the command");
    assert!(
        output.status.success(),
        "{program} {} in {}: {}",
        args.join(" "),
        ns.name,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn forward(ns: &Netns) {
    run(
        ns,
        "sh",
        &["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
        None,
    );
}

fn default_route(ns: &Netns, via: Ipv4Addr) {
    run(
        ns,
        "ip",
        &["route", "add", "default", "via", &via.to_string()],
        None,
    );
}

/// Whether this machine can build the internet: `Err` without root (the test is skipped and
/// says why). As root, missing `ip` or `nft` is a failure, not a skip: CI runs as root and
/// installs them, so their absence there is a broken set-up.
pub fn available() -> Result<(), String> {
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        return Err("NAT tests need root (network namespaces)".into());
    }
    for tool in ["ip", "nft"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "NAT tests need `{tool}` (apt: iproute2, nftables); .ci/run installs them"
        );
    }
    Ok(())
}

impl Internet {
    /// An empty internet: the wan router alone.
    pub fn new() -> Internet {
        let wan = Netns::new("wan");
        forward(&wan);
        Internet {
            wan,
            routers: Vec::new(),
            links: Vec::new(),
        }
    }

    /// A host with a public address on the wan.
    pub fn public_host(&mut self, tag: &str) -> Host {
        let ns = Netns::new(tag);
        let link = Link::in_range(Some(&self.wan), &ns, WAN_BASE, WAN_PREFIX);
        default_route(&ns, link.a_ip);
        let ip = link.b_ip;
        self.links.push(link);
        Host {
            ns,
            ip,
            public_ip: ip,
        }
    }

    /// A host on a home network behind its own NAT router. The router forwards only what
    /// its hosts started (and its replies) and drops everything else that arrives from the
    /// wan, as home routers do, without answering it.
    pub fn home_host(&mut self, tag: &str, nat: NatKind) -> Host {
        let router = Netns::new(&format!("{tag}gw"));
        forward(&router);
        let uplink = Link::in_range(Some(&self.wan), &router, WAN_BASE, WAN_PREFIX);
        default_route(&router, uplink.a_ip);
        let ns = Netns::new(tag);
        let lan = Link::new(Some(&router), &ns);
        default_route(&ns, lan.a_ip);
        let masquerade = match nat {
            NatKind::EndpointIndependent => "masquerade",
            NatKind::Symmetric => "masquerade random",
        };
        let (wan_if, lan_if) = (&uplink.b_name, &lan.a_name);
        let rules = format!(
            r#"table ip hbnat {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{wan_if}" {masquerade}
    }}
}}
table inet hbfilter {{
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "{lan_if}" oifname "{wan_if}" accept
    }}
    chain input {{
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iifname "lo" accept
        iifname "{lan_if}" accept
    }}
}}
"#
        );
        run(&router, "nft", &["-f", "-"], Some(&rules));
        let host = Host {
            ns,
            ip: lan.b_ip,
            public_ip: uplink.b_ip,
        };
        self.routers.push(router);
        self.links.push(uplink);
        self.links.push(lan);
        host
    }
}

impl Default for Internet {
    fn default() -> Self {
        Internet::new()
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        // Links first (their ends live in the namespaces), then routers, then the wan; the
        // namespaces' own drops remove them.
        self.links.clear();
        self.routers.clear();
        let _ = &self.wan;
    }
}
