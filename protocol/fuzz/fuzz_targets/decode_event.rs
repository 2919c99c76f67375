//! Fuzzes the event envelope decoder and the signature-free checks behind it.
//!
//! Decoding must never panic on any bytes, and the encoding must be canonical: anything that
//! decodes re-encodes to exactly the input, or two byte strings would name one event and a
//! node could relay a variant that hashes differently from what it stored.

#![no_main]

use handbill_protocol::{CheckedEvent, SignedEvent, Timestamp};
use libfuzzer_sys::fuzz_target;

/// A fixed clock, so a crash replays identically.
const NOW: Timestamp = Timestamp(1_750_000_000_000);

fuzz_target!(|data: &[u8]| {
    let Ok(event) = SignedEvent::decode(data) else {
        return;
    };
    assert_eq!(
        event.encode(),
        data,
        "a decoded event must re-encode to its input"
    );
    let header = event.header;
    if let Ok(checked) = CheckedEvent::check(event, NOW) {
        assert_eq!(
            checked.id(),
            header.id(),
            "the checked id is the header's id"
        );
    }
});
