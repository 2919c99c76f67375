//! Fuzzes the bech32m text forms of every id type.
//!
//! Parsing is lenient about case and surrounding whitespace, so the input need not equal the
//! printed form; what must hold is that any id that parses prints to text that parses back to
//! the same id.

#![no_main]

use handbill_protocol::{AuthorId, EventId, ListId, TypedId};
use libfuzzer_sys::fuzz_target;

fn round_trips<T: TypedId + PartialEq + std::fmt::Debug>(text: &str) {
    if let Ok(id) = T::parse(text) {
        let printed = id.to_text();
        assert_eq!(
            T::parse(&printed),
            Ok(id),
            "{printed} must parse back to the same id"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    round_trips::<AuthorId>(text);
    round_trips::<EventId>(text);
    round_trips::<ListId>(text);
});
