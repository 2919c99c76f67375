//! TUN devices made inside a network namespace and read from anywhere: the device stays in
//! the namespace it was created in, while its file descriptor works from any thread, so one
//! router thread can hold every node's link.

use crate::netns::Netns;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;

/// The name of the device in every node's namespace (each namespace has its own).
pub const DEVICE: &str = "hbt0";

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags (the union is 24 bytes).
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Creates the TUN device [`DEVICE`] in `ns` (no packet-information header: reads and writes
/// are bare IPv4 packets), gives it `addr/prefix`, brings it up, and returns its descriptor,
/// non-blocking. Closing the descriptor removes the device.
pub fn open_in(ns: &Netns, addr: std::net::Ipv4Addr, prefix: u8) -> OwnedFd {
    let fd = ns.run(|| {
        let file = File::options()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .expect("opening /dev/net/tun");
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
            _pad: [0; 22],
        };
        req.name[..DEVICE.len()].copy_from_slice(DEVICE.as_bytes());
        // SAFETY: TUNSETIFF reads a `struct ifreq` (40 bytes, laid out as `IfReq`) that lives
        // for the whole call.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        assert!(rc == 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
        OwnedFd::from(file)
    });
    // SAFETY: plain fcntl calls on a descriptor this function owns.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0, "F_GETFL: {}", std::io::Error::last_os_error());
        let rc = libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        assert!(rc == 0, "F_SETFL: {}", std::io::Error::last_os_error());
    }
    ip_in(
        ns,
        &["addr", "add", &format!("{addr}/{prefix}"), "dev", DEVICE],
    );
    ip_in(ns, &["link", "set", DEVICE, "up"]);
    fd
}

fn ip_in(ns: &Netns, args: &[&str]) {
    let output = Command::new("ip")
        .args(["-n", &ns.name])
        .args(args)
        .output()
        .expect("running ip (iproute2)");
    assert!(
        output.status.success(),
        "ip -n {} {}: {}",
        ns.name,
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Reads one packet into `buf`: `Some(len)`, or `None` when nothing is waiting.
pub fn read(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    (n > 0).then_some(n as usize)
}

/// Writes one packet; a full device queue drops it, as a full link would.
pub fn write(fd: &OwnedFd, packet: &[u8]) -> bool {
    // SAFETY: `packet` is valid for `packet.len()` bytes of reads.
    let n = unsafe { libc::write(fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
    n == packet.len() as isize
}
