//! The replication protocol's messages: exchanging log heads and streaming missing ranges.
//!
//! A node asks a peer for its heads of the authors it hosts, then asks for the ranges it lacks,
//! in bounded batches. Messages are postcard-encoded; every decoder checks the size limit first
//! and bounds every count before allocating for it.

use crate::id::AuthorId;
use crate::limits::EVENT_BYTES_MAX;
use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The libp2p stream protocol name of replication.
pub const REPLICATION_PROTOCOL: &str = "/handbill/replication/1";

/// Most authors in one heads request or response.
pub const HEADS_AUTHORS_MAX: usize = 512;

/// Most events in one range response.
pub const BACKFILL_BATCH_EVENTS_MAX: u32 = 256;

/// Payload bytes after which a range response stops adding events (it always carries at least
/// one event, so a single maximal event still moves).
pub const BACKFILL_BATCH_BYTES_MAX: usize = 1024 * 1024;

/// Largest replication message any decoder accepts.
pub const REPLICATION_MESSAGE_BYTES_MAX: usize = BACKFILL_BATCH_BYTES_MAX + EVENT_BYTES_MAX + 4096;

/// A question to a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// How much of these authors' logs do you hold?
    Heads {
        /// At most [`HEADS_AUTHORS_MAX`] authors.
        #[serde(deserialize_with = "heads_authors")]
        authors: Vec<AuthorId>,
    },
    /// Send me this author's events from `from_seq` upwards.
    Range {
        /// Whose log.
        author: AuthorId,
        /// First seq wanted.
        from_seq: u64,
        /// At most this many events (capped at [`BACKFILL_BATCH_EVENTS_MAX`]).
        limit: u32,
    },
}

/// How much of one author's log a peer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The author.
    pub author: AuthorId,
    /// Every event 1..=contiguous is held.
    pub contiguous: u64,
    /// The highest seq held.
    pub highest: u64,
}

/// An answer from a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Heads for the requested authors the peer holds anything of.
    Heads {
        /// At most [`HEADS_AUTHORS_MAX`].
        #[serde(deserialize_with = "heads")]
        heads: Vec<Head>,
    },
    /// Events of one author's log, ascending by seq, as wire envelopes.
    Events {
        /// Whose log.
        author: AuthorId,
        /// At most [`BACKFILL_BATCH_EVENTS_MAX`] envelopes.
        #[serde(deserialize_with = "envelopes")]
        events: Vec<Envelope>,
        /// The peer holds more beyond the last event sent.
        more: bool,
    },
}

/// One event's wire bytes inside a replication message; decoded and validated separately.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope(pub Vec<u8>);

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Envelope({} bytes)", self.0.len())
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor;
        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = Envelope;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an event envelope of at most {EVENT_BYTES_MAX} bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Envelope, E> {
                if v.len() > EVENT_BYTES_MAX {
                    return Err(E::invalid_length(v.len(), &self));
                }
                Ok(Envelope(v.to_vec()))
            }
        }
        deserializer.deserialize_bytes(EnvelopeVisitor)
    }
}

fn heads_authors<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AuthorId>, D::Error> {
    crate::payload::bounded_vec(d, HEADS_AUTHORS_MAX)
}

fn heads<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Head>, D::Error> {
    crate::payload::bounded_vec(d, HEADS_AUTHORS_MAX)
}

fn envelopes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Envelope>, D::Error> {
    crate::payload::bounded_vec(d, BACKFILL_BATCH_EVENTS_MAX as usize)
}

/// Why a replication message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Longer than any replication message may be.
    #[error("replication message is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a valid message.
    #[error("malformed replication message: {0}")]
    Malformed(String),
}

fn decode<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, WireError> {
    if bytes.len() > REPLICATION_MESSAGE_BYTES_MAX {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: REPLICATION_MESSAGE_BYTES_MAX,
        });
    }
    let (value, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(value)
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("postcard encodes plain data into a Vec")
}

impl Request {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Parses a request from untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Request, WireError> {
        decode(bytes)
    }
}

impl Response {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Parses a response from untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Response, WireError> {
        decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::AuthorId;

    #[test]
    fn messages_round_trip() {
        let author = AuthorId([1; 32]);
        let messages = [
            Request::Heads {
                authors: vec![author],
            },
            Request::Range {
                author,
                from_seq: 5,
                limit: 100,
            },
        ];
        for m in messages {
            assert_eq!(Request::decode(&m.encode()), Ok(m));
        }
        let response = Response::Events {
            author,
            events: vec![Envelope(vec![1, 2, 3])],
            more: true,
        };
        assert_eq!(Response::decode(&response.encode()), Ok(response));
    }

    #[test]
    fn hostile_messages_are_refused_cheaply() {
        let big = vec![0u8; REPLICATION_MESSAGE_BYTES_MAX + 1];
        assert!(matches!(
            Request::decode(&big),
            Err(WireError::TooLarge { .. })
        ));
        // Heads with a declared count of 2^32-1 authors.
        let bytes = [0u8, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(
            Request::decode(&bytes),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            Response::decode(&[7]),
            Err(WireError::Malformed(_))
        ));
    }
}
