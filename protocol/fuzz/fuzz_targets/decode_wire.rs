//! Fuzzes the replication messages (`wire::Request` and `wire::Response`), which a peer sends
//! straight into the node: decoding must never panic or allocate beyond the wire bounds, and
//! whatever decodes must survive an encode/decode round trip unchanged (so a node relays and
//! answers exactly what it understood). The first input byte chooses the message type.

#![no_main]

use handbill_protocol::wire::{
    BACKFILL_BATCH_EVENTS_MAX, HEADS_AUTHORS_MAX, Request, Response,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((which, bytes)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let Ok(request) = Request::decode(bytes) else {
            return;
        };
        if let Request::Heads { authors } = &request {
            assert!(authors.len() <= HEADS_AUTHORS_MAX, "heads request over its bound");
        }
        let again = Request::decode(&request.encode()).expect("a decoded request re-decodes");
        assert_eq!(again, request, "requests round-trip");
    } else {
        let Ok(response) = Response::decode(bytes) else {
            return;
        };
        match &response {
            Response::Heads { heads } => {
                assert!(heads.len() <= HEADS_AUTHORS_MAX, "heads response over its bound")
            }
            Response::Events { events, .. } => assert!(
                events.len() <= BACKFILL_BATCH_EVENTS_MAX as usize,
                "range response over its bound"
            ),
        }
        let again = Response::decode(&response.encode()).expect("a decoded response re-decodes");
        assert_eq!(again, response, "responses round-trip");
    }
});
