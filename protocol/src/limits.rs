//! Every bound the protocol enforces, in one place, with its unit in its name.
//!
//! Decoders check these before doing any work whose cost grows with the input, so a hostile peer
//! can never make a node allocate or hash more than these numbers allow.

/// Largest encoded event (header, signature and payload together) that any decoder accepts.
pub const EVENT_BYTES_MAX: usize = 64 * 1024;

/// Largest payload an event header may declare.
pub const PAYLOAD_BYTES_MAX: u32 = (EVENT_BYTES_MAX - 256) as u32;

/// Largest text of a post, in UTF-8 bytes.
pub const POST_TEXT_BYTES_MAX: usize = 8 * 1024;

/// Most hashtags on one post.
pub const POST_TAGS_MAX: usize = 16;

/// Most authors mentioned by one post.
pub const POST_MENTIONS_MAX: usize = 32;

/// Most self-labels (content warnings) on one post.
pub const POST_SELF_LABELS_MAX: usize = 8;

/// Longest tag, label value or mute word, in UTF-8 bytes.
pub const TAG_BYTES_MAX: usize = 64;

/// Longest reaction (an emoji or a short word), in UTF-8 bytes.
pub const REACTION_BYTES_MAX: usize = 32;

/// Longest display name in a profile, list or labeler declaration, in UTF-8 bytes.
pub const NAME_BYTES_MAX: usize = 128;

/// Longest free text other than a post (bio, description, label reason), in UTF-8 bytes.
pub const DESCRIPTION_BYTES_MAX: usize = 2 * 1024;

/// Most events one `Delete` may target.
pub const DELETE_TARGETS_MAX: usize = 64;

/// Most topics one delete target may name: every author a post can be routed to (parent, root,
/// quote and mentions).
pub const DELETE_TARGET_TOPICS_MAX: usize = POST_MENTIONS_MAX + 3;

/// Most label definitions one labeler declaration may carry.
pub const LABEL_DEFINITIONS_MAX: usize = 64;

/// Most members of one published list.
pub const LIST_MEMBERS_MAX: usize = 1024;

/// How far in the future an event's `created_at` may lie, relative to the receiver's clock.
pub const CREATED_AT_FUTURE_MS_MAX: u64 = 10 * 60 * 1000;

/// Most signatures checked in one batch; larger inputs are split.
pub const VERIFY_BATCH_SIGNATURES_MAX: usize = 1024;
