//! Fuzzes the whole path from wire bytes to a verified event, and single against batch
//! verification.
//!
//! Besides never panicking, the one property the network's consistency rests on is checked
//! here: a lone signature check and a batch check must accept exactly the same events, or two
//! nodes that verify differently would disagree about validity and their views would split.

#![no_main]

use handbill_protocol::{CheckedEvent, SignedEvent, Timestamp, validate};
use libfuzzer_sys::fuzz_target;

/// A fixed clock, so a crash replays identically.
const NOW: Timestamp = Timestamp(1_750_000_000_000);

fuzz_target!(|data: &[u8]| {
    let whole = validate::verify_bytes(data, NOW);
    let checked = SignedEvent::decode(data)
        .ok()
        .and_then(|event| CheckedEvent::check(event, NOW).ok());
    let Some(checked) = checked else {
        assert!(
            whole.is_err(),
            "bytes that fail to decode or check cannot verify"
        );
        return;
    };
    let single = checked.clone().verify();
    let batch = validate::verify_batch(vec![checked])
        .pop()
        .expect("one result per input");
    assert_eq!(single, batch, "single and batch verification must agree");
    assert_eq!(
        whole.ok(),
        single.ok(),
        "verify_bytes is decode, check and verify"
    );
});
