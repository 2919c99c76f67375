//! Fixtures shared by the simulator's integration tests.

/// A uniform network: one region, fixed latency, no jitter, unlimited bandwidth.
pub const UNIFORM: &[&str] = &[
    "network.regions=[\"one\"]",
    "network.region_shares=[1.0]",
    "network.latency_ms=[[20.0]]",
    "network.jitter_ms=0",
    "network.upload_bytes_per_s=0",
    "signatures=\"memo\"",
    "overlay.dial_providers=0",
];
