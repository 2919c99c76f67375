//! From untrusted bytes to a [`VerifiedEvent`]: decode, structural checks, signature.
//!
//! The order is fixed so cheap checks run before expensive ones: the size limit and structure at
//! decode, then version, sequence shape, clock bound, payload length and hash and payload fields,
//! and only then the signature (alone or in a batch). A [`VerifiedEvent`] can only be made here
//! or by signing, so code that takes one never re-checks it.

use crate::event::{DecodeError, FORMAT_VERSION, Header, SignedEvent};
use crate::id::{AuthorId, EventId, PayloadHash};
use crate::limits::CREATED_AT_FUTURE_MS_MAX;
use crate::payload::{Kind, Payload, PayloadError};
use crate::signature::{self, KeyCache, Signature, SignatureError, SignedId};
use crate::time::Timestamp;

/// Why a decoded event is not valid on its own (without looking at the author's log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A header version this build does not speak.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// `seq` is 0; logs start at 1.
    #[error("seq must start at 1")]
    SeqZero,
    /// `seq` is 1 but a `prev` is given, or `seq` > 1 and it is missing.
    #[error("prev must be absent exactly at seq 1 (seq is {seq})")]
    PrevShape {
        /// The event's seq.
        seq: u64,
    },
    /// `created_at` is further ahead of the receiver's clock than allowed.
    #[error("created_at {created_at} is more than {max_ms} ms ahead of now ({now})")]
    FromTheFuture {
        /// The event's time.
        created_at: Timestamp,
        /// The receiver's time.
        now: Timestamp,
        /// The allowed skew.
        max_ms: u64,
    },
    /// The payload's length differs from the header's declaration.
    #[error("payload is {actual} bytes, header declares {declared}")]
    PayloadLength {
        /// Declared in the header.
        declared: u32,
        /// Present in the envelope.
        actual: usize,
    },
    /// The payload does not hash to what the header commits to (tampered in transit).
    #[error("payload hash does not match the header")]
    PayloadHash,
    /// The payload is not a valid payload of the header's kind.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The signature is not valid for this author and id.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl ValidationError {
    /// A stable snake_case name for logs, APIs and conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::UnsupportedVersion(_) => "unsupported_version",
            ValidationError::SeqZero => "seq_zero",
            ValidationError::PrevShape { .. } => "prev_shape",
            ValidationError::FromTheFuture { .. } => "from_the_future",
            ValidationError::PayloadLength { .. } => "payload_length",
            ValidationError::PayloadHash => "payload_hash",
            ValidationError::Payload(e) => e.code(),
            ValidationError::Signature(e) => e.code(),
        }
    }
}

/// Why bytes were not accepted as an event: either they are not an envelope, or it is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not a well-formed envelope.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A well-formed but invalid event.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

impl EventError {
    /// A stable snake_case name for logs, APIs and conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::Decode(e) => e.code(),
            EventError::Invalid(e) => e.code(),
        }
    }
}

/// An event that passed every check but the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedEvent {
    id: EventId,
    event: SignedEvent,
    content: Option<Payload>,
}

impl CheckedEvent {
    /// Runs every check that needs no signature work. `now` bounds `created_at`.
    pub fn check(event: SignedEvent, now: Timestamp) -> Result<CheckedEvent, ValidationError> {
        let header = &event.header;
        check_header(header, now)?;
        let content = match &event.payload {
            Some(bytes) => Some(check_payload(header, bytes)?),
            None => None,
        };
        Ok(CheckedEvent {
            id: header.id(),
            event,
            content,
        })
    }

    /// The event's id.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The event's header.
    pub fn header(&self) -> &Header {
        &self.event.header
    }

    /// Whether the payload travelled with the header.
    pub fn has_payload(&self) -> bool {
        self.event.payload.is_some()
    }

    /// The decoded payload, when it travelled with the header.
    pub fn content(&self) -> Option<&Payload> {
        self.content.as_ref()
    }

    /// Checks the signature, completing validation.
    pub fn verify(self) -> Result<VerifiedEvent, ValidationError> {
        signature::verify(&self.signed_id())?;
        Ok(self.into_verified())
    }

    /// [`CheckedEvent::verify`], reusing decompressed author keys.
    pub fn verify_with(self, keys: &mut KeyCache) -> Result<VerifiedEvent, ValidationError> {
        keys.verify(&self.signed_id())?;
        Ok(self.into_verified())
    }

    fn signed_id(&self) -> SignedId<'_> {
        SignedId {
            author: &self.event.header.author,
            id: &self.id,
            signature: &self.event.signature,
        }
    }

    /// Treats the event as verified without checking its signature. Only for bytes a node
    /// verified itself before writing them to its own store; never for anything from outside.
    pub fn assume_verified_from_own_store(self) -> VerifiedEvent {
        self.into_verified()
    }

    fn into_verified(self) -> VerifiedEvent {
        VerifiedEvent::new(self.id, self.event, self.content)
    }
}

fn check_header(header: &Header, now: Timestamp) -> Result<(), ValidationError> {
    if header.version != FORMAT_VERSION {
        return Err(ValidationError::UnsupportedVersion(header.version));
    }
    if header.seq == 0 {
        return Err(ValidationError::SeqZero);
    }
    if (header.seq == 1) != header.prev.is_none() {
        return Err(ValidationError::PrevShape { seq: header.seq });
    }
    if header.created_at > now.saturating_add_millis(CREATED_AT_FUTURE_MS_MAX) {
        return Err(ValidationError::FromTheFuture {
            created_at: header.created_at,
            now,
            max_ms: CREATED_AT_FUTURE_MS_MAX,
        });
    }
    Ok(())
}

fn check_payload(header: &Header, bytes: &[u8]) -> Result<Payload, ValidationError> {
    if bytes.len() != header.payload_len as usize {
        return Err(ValidationError::PayloadLength {
            declared: header.payload_len,
            actual: bytes.len(),
        });
    }
    if PayloadHash::of(bytes) != header.payload_hash {
        return Err(ValidationError::PayloadHash);
    }
    let payload = Payload::decode(header.kind, bytes)?;
    payload.check_signer(&header.author)?;
    Ok(payload)
}

/// Verifies many checked events at once, returning one result per input in input order.
///
/// Results are exactly those of [`CheckedEvent::verify`] on each, but a batch of valid events
/// costs much less (see [`signature::verify_batch`]).
pub fn verify_batch(events: Vec<CheckedEvent>) -> Vec<Result<VerifiedEvent, ValidationError>> {
    verify_batch_inner(events, None)
}

/// [`verify_batch`], reusing decompressed author keys.
pub fn verify_batch_with(
    events: Vec<CheckedEvent>,
    keys: &mut KeyCache,
) -> Vec<Result<VerifiedEvent, ValidationError>> {
    verify_batch_inner(events, Some(keys))
}

fn verify_batch_inner(
    events: Vec<CheckedEvent>,
    keys: Option<&mut KeyCache>,
) -> Vec<Result<VerifiedEvent, ValidationError>> {
    let items: Vec<SignedId<'_>> = events.iter().map(CheckedEvent::signed_id).collect();
    let results = match keys {
        Some(keys) => keys.verify_batch(&items),
        None => signature::verify_batch(&items),
    };
    events
        .into_iter()
        .zip(results)
        .map(|(event, result)| match result {
            Ok(()) => Ok(event.into_verified()),
            Err(e) => Err(ValidationError::Signature(e)),
        })
        .collect()
}

/// Decodes, checks and verifies one event from the wire.
pub fn verify_bytes(bytes: &[u8], now: Timestamp) -> Result<VerifiedEvent, EventError> {
    let event = SignedEvent::decode(bytes)?;
    Ok(CheckedEvent::check(event, now)?.verify()?)
}

/// An event whose structure, payload and signature are all valid. Only validation and signing
/// make one.
///
/// Cloning is cheap (the event is shared, immutably), so stores and timelines can hand copies
/// around, and a simulator's stores can share one copy of each event across thousands of nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEvent {
    id: EventId,
    body: std::sync::Arc<VerifiedBody>,
}

#[derive(Debug, PartialEq, Eq)]
struct VerifiedBody {
    event: SignedEvent,
    content: Option<Payload>,
}

impl VerifiedEvent {
    fn new(id: EventId, event: SignedEvent, content: Option<Payload>) -> VerifiedEvent {
        VerifiedEvent {
            id,
            body: std::sync::Arc::new(VerifiedBody { event, content }),
        }
    }

    /// The event's id.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The signed header.
    pub fn header(&self) -> &Header {
        &self.body.event.header
    }

    /// The author.
    pub fn author(&self) -> AuthorId {
        self.body.event.header.author
    }

    /// Position in the author's log.
    pub fn seq(&self) -> u64 {
        self.body.event.header.seq
    }

    /// The event's kind.
    pub fn kind(&self) -> Kind {
        self.body.event.header.kind
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.body.event.signature
    }

    /// The raw payload bytes, unless erased or not yet fetched.
    pub fn payload_bytes(&self) -> Option<&[u8]> {
        self.body.event.payload.as_deref()
    }

    /// The decoded payload, unless erased or not yet fetched.
    pub fn content(&self) -> Option<&Payload> {
        self.body.content.as_ref()
    }

    /// The envelope, for sending or storing.
    pub fn signed(&self) -> &SignedEvent {
        &self.body.event
    }

    /// The envelope's canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.body.event.encode()
    }

    /// This event's position, to build the next event of the log on.
    pub fn head(&self) -> LogHead {
        LogHead {
            seq: self.seq(),
            id: self.id,
            created_at: self.body.event.header.created_at,
        }
    }

    /// The same event with its payload erased (an honoured deletion): the header and signature
    /// stay, so the author's log still verifies.
    pub fn without_payload(&self) -> VerifiedEvent {
        VerifiedEvent::new(
            self.id,
            SignedEvent {
                header: self.body.event.header,
                signature: self.body.event.signature,
                payload: None,
            },
            None,
        )
    }

    /// Attaches a payload fetched later to a header-only event, if it matches the header.
    pub fn with_payload(&self, bytes: Vec<u8>) -> Result<VerifiedEvent, ValidationError> {
        let content = check_payload(&self.body.event.header, &bytes)?;
        Ok(VerifiedEvent::new(
            self.id,
            SignedEvent {
                header: self.body.event.header,
                signature: self.body.event.signature,
                payload: Some(bytes),
            },
            Some(content),
        ))
    }
}

/// The newest event of a log: what the next event must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogHead {
    /// Its seq.
    pub seq: u64,
    /// Its id.
    pub id: EventId,
    /// Its time; the next event may not be older.
    pub created_at: Timestamp,
}

/// Why an event could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The payload breaks a limit or rule; the event would be rejected by every node.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The payload is larger than any event may carry.
    #[error("payload is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Payload length.
        len: usize,
        /// The limit.
        max: u32,
    },
    /// The log already has `u64::MAX` events.
    #[error("the log is full")]
    LogFull,
}

/// Builds and signs the next event of an author's log.
///
/// `head` is the log's newest event (`None` for the first); `now` is the author's clock. If the
/// clock is behind the head's time (clock skew between the author's devices), the head's time is
/// used instead, because a log's times never go backwards.
pub fn sign_next(
    key: &signature::AuthorKey,
    head: Option<&LogHead>,
    now: Timestamp,
    content: &Payload,
) -> Result<VerifiedEvent, BuildError> {
    content.check_fields()?;
    sign_raw(key, head, now, content.kind(), content.encode())
}

/// Like [`sign_next`] for payload bytes of any kind, including kinds this build does not know.
pub fn sign_raw(
    key: &signature::AuthorKey,
    head: Option<&LogHead>,
    now: Timestamp,
    kind: Kind,
    payload: Vec<u8>,
) -> Result<VerifiedEvent, BuildError> {
    let payload_len = u32::try_from(payload.len())
        .ok()
        .filter(|len| *len <= crate::limits::PAYLOAD_BYTES_MAX)
        .ok_or(BuildError::TooLarge {
            len: payload.len(),
            max: crate::limits::PAYLOAD_BYTES_MAX,
        })?;
    let content = Payload::decode(kind, &payload)?;
    content.check_signer(&key.author())?;
    let (seq, prev, created_at) = match head {
        None => (1, None, now),
        Some(head) => (
            head.seq.checked_add(1).ok_or(BuildError::LogFull)?,
            Some(head.id),
            now.max(head.created_at),
        ),
    };
    let header = Header {
        version: FORMAT_VERSION,
        author: key.author(),
        seq,
        prev,
        created_at,
        kind,
        payload_len,
        payload_hash: PayloadHash::of(&payload),
    };
    let id = header.id();
    Ok(VerifiedEvent::new(
        id,
        SignedEvent {
            header,
            signature: key.sign(&id),
            payload: Some(payload),
        },
        Some(content),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Post;
    use crate::signature::AuthorKey;

    const NOW: Timestamp = Timestamp(1_750_000_000_000);

    fn post(text: &str) -> Payload {
        Payload::Post(Post {
            text: text.into(),
            ..Post::default()
        })
    }

    #[test]
    fn signed_event_verifies_from_bytes() {
        let key = AuthorKey::from_secret_bytes(&[1; 32]);
        let first = sign_next(&key, None, NOW, &post("one")).unwrap();
        let second = sign_next(&key, Some(&first.head()), NOW, &post("two")).unwrap();
        assert_eq!(second.seq(), 2);
        assert_eq!(second.header().prev, Some(first.id()));
        let back = verify_bytes(&second.encode(), NOW).unwrap();
        assert_eq!(back, second);
    }

    #[test]
    fn clock_behind_the_head_keeps_time_monotonic() {
        let key = AuthorKey::from_secret_bytes(&[1; 32]);
        let first = sign_next(&key, None, NOW, &post("one")).unwrap();
        let second = sign_next(&key, Some(&first.head()), Timestamp(5), &post("two")).unwrap();
        assert_eq!(second.header().created_at, NOW);
    }

    #[test]
    fn future_events_are_rejected() {
        let key = AuthorKey::from_secret_bytes(&[1; 32]);
        let later = NOW.saturating_add_millis(CREATED_AT_FUTURE_MS_MAX + 1);
        let event = sign_next(&key, None, later, &post("soon")).unwrap();
        assert!(matches!(
            verify_bytes(&event.encode(), NOW),
            Err(EventError::Invalid(ValidationError::FromTheFuture { .. }))
        ));
        let edge = NOW.saturating_add_millis(CREATED_AT_FUTURE_MS_MAX);
        let event = sign_next(&key, None, edge, &post("edge")).unwrap();
        assert!(verify_bytes(&event.encode(), NOW).is_ok());
    }

    #[test]
    fn tampered_payload_is_caught_before_the_signature() {
        let key = AuthorKey::from_secret_bytes(&[1; 32]);
        let event = sign_next(&key, None, NOW, &post("original")).unwrap();
        let mut tampered = event.signed().clone();
        if let Some(p) = tampered.payload.as_mut() {
            p[1] ^= 0x20;
        }
        assert_eq!(
            CheckedEvent::check(tampered, NOW).unwrap_err(),
            ValidationError::PayloadHash
        );
    }

    #[test]
    fn header_only_event_verifies_and_payload_can_be_reattached() {
        let key = AuthorKey::from_secret_bytes(&[1; 32]);
        let event = sign_next(&key, None, NOW, &post("x")).unwrap();
        let bare = event.without_payload();
        let back = verify_bytes(&bare.encode(), NOW).unwrap();
        assert_eq!(back.content(), None);
        let full = back
            .with_payload(event.payload_bytes().unwrap().to_vec())
            .unwrap();
        assert_eq!(full, event);
        assert_eq!(
            back.with_payload(b"other".to_vec()).unwrap_err(),
            ValidationError::PayloadLength {
                declared: event.header().payload_len,
                actual: 5
            }
        );
    }

    #[test]
    fn batch_matches_single() {
        let keys: Vec<AuthorKey> = (1..4u8)
            .map(|s| AuthorKey::from_secret_bytes(&[s; 32]))
            .collect();
        let mut checked = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let event = sign_next(key, None, NOW, &post(&format!("p{i}"))).unwrap();
            let mut signed = event.signed().clone();
            if i == 1 {
                signed.signature.0[0] ^= 1;
            }
            checked.push(CheckedEvent::check(signed, NOW).unwrap());
        }
        let singles: Vec<_> = checked.iter().cloned().map(CheckedEvent::verify).collect();
        let batch = verify_batch(checked);
        assert_eq!(batch, singles);
        assert!(batch[0].is_ok() && batch[1].is_err() && batch[2].is_ok());
    }

    #[test]
    fn invalid_payload_cannot_be_built() {
        let key = AuthorKey::from_secret_bytes(&[1; 32]);
        assert!(matches!(
            sign_next(&key, None, NOW, &post("")),
            Err(BuildError::Payload(_))
        ));
    }
}
