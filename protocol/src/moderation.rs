//! Moderation evaluation.
