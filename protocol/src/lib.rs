//! Handbill's protocol: everything two nodes must agree on, as pure functions and data.
//!
//! This crate defines ids and their text forms, author keys and signatures, signed events and
//! their canonical encoding, validation, an author's log (successors and forks), and moderation
//! evaluation. It never does IO, never reads a clock (time is a [`Timestamp`] parameter), never
//! draws randomness it was not handed, and never spawns: the daemon and the simulator drive the
//! same code and get the same answers.
//!
//! The path of an event: bytes → [`SignedEvent::decode`] (size and structure) →
//! [`CheckedEvent::check`] (version, seq shape, clock bound, payload hash and fields) →
//! [`CheckedEvent::verify`] or [`validate::verify_batch`] → [`VerifiedEvent`], the only type the
//! rest of the system accepts.

pub mod api;
pub mod engine;
pub mod event;
pub mod id;
pub mod inline;
pub mod limits;
pub mod log;
pub mod moderation;
pub mod payload;
pub mod reachability;
pub mod relations;
pub mod resolve;
pub mod search;
pub mod sessions;
pub mod signature;
pub mod store;
pub mod time;
pub mod upkeep;
pub mod validate;
pub mod wire;

pub use event::{DecodeError, Header, SignedEvent};
pub use id::{AuthorId, EventId, IdParseError, ListId, PayloadHash, TypedId};
pub use log::{ChainError, ForkEvidence, SamePosition};
pub use payload::{Action, Kind, Payload, PayloadError};
pub use signature::{AuthorKey, Signature, SignatureError};
pub use time::Timestamp;
pub use validate::{
    BuildError, CheckedEvent, EventError, LogHead, ValidationError, VerifiedEvent, sign_next,
};
