//! Events: the signed header, the wire envelope, and their canonical byte layout.
//!
//! The header is a fixed-layout record (big-endian integers, raw 32-byte ids), so its encoding is
//! canonical by construction and another implementation can produce it with a few lines:
//!
//! ```text
//! header   := version:u8  author:[32]  seq:u64  prev_flag:u8  prev:[32]?  created_at:u64
//!             kind:u16  payload_len:u32  payload_hash:[32]
//! envelope := header  signature:[64]  payload_flag:u8  payload:[payload_len]?
//! ```
//!
//! `prev` is present exactly when `prev_flag` is 1; `payload` exactly when `payload_flag` is 1.
//! An envelope without its payload is how a deleted (or not yet fetched) event still travels: the
//! header alone proves the author's log is intact. `EventId` is the blake3 `derive_key` hash of the
//! header bytes under the context `"handbill 1 event id"`; the signature is over the 32-byte id.

use crate::id::{AuthorId, EventId, PayloadHash, context};
use crate::limits::{EVENT_BYTES_MAX, PAYLOAD_BYTES_MAX};
use crate::payload::Kind;
use crate::signature::Signature;
use crate::time::Timestamp;

/// The only header format version this build produces and accepts.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes of a header without `prev` (the first event of a log).
pub const HEADER_BYTES_MIN: usize = 1 + 32 + 8 + 1 + 8 + 2 + 4 + 32;
/// Bytes of a header with `prev`.
pub const HEADER_BYTES_MAX: usize = HEADER_BYTES_MIN + 32;
/// Bytes of a signature.
pub const SIGNATURE_BYTES: usize = 64;

/// Why bytes are not an event envelope. Decoding does no hashing and no signature work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Longer than any event may be; rejected before looking inside.
    #[error("event is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes end before the structure does.
    #[error("event is truncated: needed {needed} bytes, have {have}")]
    Truncated {
        /// Bytes the structure needs so far.
        needed: usize,
        /// Bytes present.
        have: usize,
    },
    /// A presence flag is neither 0 nor 1.
    #[error("{field} flag is {value}, must be 0 or 1")]
    BadFlag {
        /// Which flag.
        field: &'static str,
        /// The value found.
        value: u8,
    },
    /// The header declares a payload longer than any payload may be.
    #[error("header declares a {len}-byte payload, more than the {max} allowed")]
    PayloadTooLarge {
        /// Declared length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// Bytes left over after the envelope.
    #[error("{count} unexpected bytes after the event")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl DecodeError {
    /// A stable snake_case name for logs, APIs and conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadFlag { .. } => "bad_flag",
            DecodeError::PayloadTooLarge { .. } => "payload_too_large",
            DecodeError::TrailingBytes { .. } => "trailing_bytes",
        }
    }
}

/// The signed part of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Format version; [`FORMAT_VERSION`] for everything this build makes.
    pub version: u8,
    /// Who wrote it.
    pub author: AuthorId,
    /// Position in the author's log, from 1.
    pub seq: u64,
    /// Id of the author's event at `seq - 1`; absent exactly at `seq` 1.
    pub prev: Option<EventId>,
    /// When the author says it was made.
    pub created_at: Timestamp,
    /// What the payload is.
    pub kind: Kind,
    /// Payload length in bytes.
    pub payload_len: u32,
    /// Hash of the payload bytes.
    pub payload_hash: PayloadHash,
}

impl Header {
    /// The header's canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES_MAX);
        self.encode_into(&mut out);
        out
    }

    /// Appends the header's canonical bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.version);
        out.extend_from_slice(&self.author.0);
        out.extend_from_slice(&self.seq.to_be_bytes());
        match &self.prev {
            Some(prev) => {
                out.push(1);
                out.extend_from_slice(&prev.0);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.created_at.0.to_be_bytes());
        out.extend_from_slice(&self.kind.0.to_be_bytes());
        out.extend_from_slice(&self.payload_len.to_be_bytes());
        out.extend_from_slice(&self.payload_hash.0);
    }

    /// The event id: a domain-separated hash of the canonical header bytes.
    pub fn id(&self) -> EventId {
        let mut buf = Vec::with_capacity(HEADER_BYTES_MAX);
        self.encode_into(&mut buf);
        let mut hasher = blake3::Hasher::new_derive_key(context::EVENT_ID);
        hasher.update(&buf);
        EventId(*hasher.finalize().as_bytes())
    }

    /// Reads a header from the front of `bytes`, returning it and the bytes it used.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Header, usize), DecodeError> {
        let mut r = Reader { bytes, pos: 0 };
        let version = r.u8()?;
        let author = AuthorId(r.array()?);
        let seq = u64::from_be_bytes(r.array()?);
        let prev = match r.u8()? {
            0 => None,
            1 => Some(EventId(r.array()?)),
            value => {
                return Err(DecodeError::BadFlag {
                    field: "prev",
                    value,
                });
            }
        };
        let created_at = Timestamp(u64::from_be_bytes(r.array()?));
        let kind = Kind(u16::from_be_bytes(r.array()?));
        let payload_len = u32::from_be_bytes(r.array()?);
        if payload_len > PAYLOAD_BYTES_MAX {
            return Err(DecodeError::PayloadTooLarge {
                len: payload_len,
                max: PAYLOAD_BYTES_MAX,
            });
        }
        let payload_hash = PayloadHash(r.array()?);
        let header = Header {
            version,
            author,
            seq,
            prev,
            created_at,
            kind,
            payload_len,
            payload_hash,
        };
        Ok((header, r.pos))
    }
}

/// An event as it travels: header, signature and (unless erased or withheld) payload.
///
/// Nothing about it is trusted yet. [`crate::validate`] turns it into a
/// [`crate::validate::VerifiedEvent`], which is what the rest of the system accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEvent {
    /// The signed header.
    pub header: Header,
    /// The author's signature over the header's id.
    pub signature: Signature,
    /// The payload, if it travels with the header.
    pub payload: Option<Vec<u8>>,
}

impl SignedEvent {
    /// The envelope's canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let payload_len = self.payload.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(HEADER_BYTES_MAX + SIGNATURE_BYTES + 1 + payload_len);
        self.header.encode_into(&mut out);
        out.extend_from_slice(&self.signature.0);
        match &self.payload {
            Some(payload) => {
                out.push(1);
                out.extend_from_slice(payload);
            }
            None => out.push(0),
        }
        out
    }

    /// Parses an envelope. Checks the size limit first, then only structure: the payload's
    /// length must match what the header declares, and nothing may follow it.
    pub fn decode(bytes: &[u8]) -> Result<SignedEvent, DecodeError> {
        if bytes.len() > EVENT_BYTES_MAX {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: EVENT_BYTES_MAX,
            });
        }
        let (header, used) = Header::decode_prefix(bytes)?;
        let mut r = Reader { bytes, pos: used };
        let signature = Signature(r.array()?);
        let payload = match r.u8()? {
            0 => None,
            1 => Some(r.take(header.payload_len as usize)?.to_vec()),
            value => {
                return Err(DecodeError::BadFlag {
                    field: "payload",
                    value,
                });
            }
        };
        if r.pos != bytes.len() {
            return Err(DecodeError::TrailingBytes {
                count: bytes.len() - r.pos,
            });
        }
        Ok(SignedEvent {
            header,
            signature,
            payload,
        })
    }
}

/// A cursor over untrusted bytes that reports truncation instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        match end {
            Some(end) => {
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(DecodeError::Truncated {
                needed: self.pos.saturating_add(n),
                have: self.bytes.len(),
            }),
        }
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(prev: Option<EventId>) -> Header {
        Header {
            version: FORMAT_VERSION,
            author: AuthorId([1; 32]),
            seq: if prev.is_some() { 2 } else { 1 },
            prev,
            created_at: Timestamp(1_700_000_000_000),
            kind: Kind::POST,
            payload_len: 3,
            payload_hash: PayloadHash::of(b"abc"),
        }
    }

    #[test]
    fn header_layout_has_the_documented_size() {
        assert_eq!(header(None).encode().len(), HEADER_BYTES_MIN);
        assert_eq!(
            header(Some(EventId([2; 32]))).encode().len(),
            HEADER_BYTES_MAX
        );
    }

    #[test]
    fn envelope_round_trips_with_and_without_payload() {
        for payload in [Some(b"abc".to_vec()), None] {
            let event = SignedEvent {
                header: header(Some(EventId([2; 32]))),
                signature: Signature([3; 64]),
                payload,
            };
            assert_eq!(SignedEvent::decode(&event.encode()), Ok(event));
        }
    }

    #[test]
    fn structural_errors_are_named() {
        let event = SignedEvent {
            header: header(None),
            signature: Signature([3; 64]),
            payload: Some(b"abc".to_vec()),
        };
        let bytes = event.encode();
        assert!(matches!(
            SignedEvent::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(
            SignedEvent::decode(&extra),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        let mut flag = bytes.clone();
        flag[41] = 7;
        assert_eq!(
            SignedEvent::decode(&flag),
            Err(DecodeError::BadFlag {
                field: "prev",
                value: 7
            })
        );
        let big = vec![0u8; EVENT_BYTES_MAX + 1];
        assert!(matches!(
            SignedEvent::decode(&big),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            SignedEvent::decode(&[]),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn id_changes_with_every_field() {
        let base = header(None);
        let mut other = base;
        other.created_at = Timestamp(base.created_at.0 + 1);
        assert_ne!(base.id(), other.id());
        let mut other = base;
        other.kind = Kind::REPOST;
        assert_ne!(base.id(), other.id());
    }
}
