//! Fuzzes payload decoding for every kind, known and unknown.
//!
//! A payload's hash names it, so a payload that decodes must have exactly one encoding: the
//! bytes it came from. The first two input bytes choose the kind, so the fuzzer explores all
//! kinds (and the unknown-kind path) from one target.

#![no_main]

use handbill_protocol::{Kind, Payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((kind, bytes)) = data.split_first_chunk::<2>() else {
        return;
    };
    let kind = Kind(u16::from_be_bytes(*kind));
    let Ok(payload) = Payload::decode(kind, bytes) else {
        return;
    };
    assert_eq!(
        payload.kind(),
        kind,
        "a payload decodes as the kind it was asked for"
    );
    // An unknown kind decodes to a marker whose bytes stay with the event, not the payload.
    if kind.is_known() {
        assert_eq!(
            payload.encode(),
            bytes,
            "a decoded payload must re-encode to its input"
        );
        assert_eq!(
            payload.check_fields(),
            Ok(()),
            "decoding checks every field"
        );
    }
});
