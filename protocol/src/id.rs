//! Identifiers and their checksummed, typed text forms.
//!
//! Every id is 32 bytes. Its text form is bech32m with a prefix naming the type (`hbauthor1…`,
//! `hbevent1…`, `hblist1…`), so a pasted author id can never be taken for an event id and a typo is
//! caught by the checksum instead of silently naming something else.

use bech32::primitives::decode::{CheckedHrpstring, CheckedHrpstringError};
use bech32::{Bech32m, Hrp};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a text id did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    /// Not bech32m at all, or the checksum does not match (a typo or a truncated paste).
    #[error("not a valid {expected} id: {reason}")]
    Malformed {
        /// The type of id that was expected.
        expected: &'static str,
        /// What the bech32m decoder said.
        reason: String,
    },
    /// A well-formed id of another type, e.g. an event id where an author id was expected.
    #[error("expected {expected} id (prefix {expected_prefix}1…), got a {found_prefix}1… id")]
    WrongType {
        /// The type of id that was expected.
        expected: &'static str,
        /// The prefix that type uses.
        expected_prefix: &'static str,
        /// The prefix the input carried.
        found_prefix: String,
    },
    /// The right prefix but not 32 bytes of data.
    #[error("{expected} id must hold 32 bytes, this one holds {len}")]
    WrongLength {
        /// The type of id that was expected.
        expected: &'static str,
        /// How many bytes the input held.
        len: usize,
    },
}

/// Text and binary forms shared by every 32-byte id type.
pub trait TypedId: Sized + Copy {
    /// The bech32m human-readable prefix of this type's text form.
    const PREFIX: &'static str;
    /// What this id names, for error messages ("author", "event").
    const NOUN: &'static str;
    /// Wraps raw bytes.
    fn from_bytes(bytes: [u8; 32]) -> Self;
    /// The raw bytes.
    fn as_bytes(&self) -> &[u8; 32];

    /// Parses the checksummed text form, rejecting ids of other types.
    fn parse(text: &str) -> Result<Self, IdParseError> {
        let checked =
            CheckedHrpstring::new::<Bech32m>(text.trim()).map_err(|e: CheckedHrpstringError| {
                IdParseError::Malformed {
                    expected: Self::NOUN,
                    reason: e.to_string(),
                }
            })?;
        let found = checked.hrp().to_lowercase();
        if found != Self::PREFIX {
            return Err(IdParseError::WrongType {
                expected: Self::NOUN,
                expected_prefix: Self::PREFIX,
                found_prefix: found,
            });
        }
        let mut bytes = [0u8; 32];
        let mut len = 0usize;
        for byte in checked.byte_iter() {
            if len < 32 {
                bytes[len] = byte;
            }
            len += 1;
        }
        if len != 32 {
            return Err(IdParseError::WrongLength {
                expected: Self::NOUN,
                len,
            });
        }
        Ok(Self::from_bytes(bytes))
    }

    /// The checksummed text form.
    fn to_text(&self) -> String {
        let mut out = String::with_capacity(Self::PREFIX.len() + 60);
        // Writing 32 bytes under a short, valid prefix cannot exceed bech32's length limit.
        let hrp = Hrp::parse_unchecked(Self::PREFIX);
        bech32::encode_lower_to_fmt::<Bech32m, _>(&mut out, hrp, self.as_bytes())
            .expect("a 32-byte id under a short prefix always fits bech32m");
        out
    }

    /// The first characters after the prefix, for human output where the full id is too long.
    fn short(&self) -> String {
        let text = self.to_text();
        let start = Self::PREFIX.len() + 1;
        text[start..start + 8].to_string()
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $noun:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; 32]);

        impl TypedId for $name {
            const PREFIX: &'static str = $prefix;
            const NOUN: &'static str = $noun;
            fn from_bytes(bytes: [u8; 32]) -> Self {
                $name(bytes)
            }
            fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_text())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_text())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$name as TypedId>::parse(s)
            }
        }

        // Human-readable formats (JSON) carry the text form; binary formats the raw 32 bytes.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.serialize_str(&self.to_text())
                } else {
                    self.0.serialize(serializer)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    let text = String::deserialize(deserializer)?;
                    <$name as TypedId>::parse(&text).map_err(D::Error::custom)
                } else {
                    <[u8; 32]>::deserialize(deserializer).map($name)
                }
            }
        }
    };
}

typed_id!(
    /// An author: the 32-byte ed25519 verifying key that signs the author's log.
    AuthorId,
    "hbauthor",
    "author"
);
typed_id!(
    /// An event: the domain-separated blake3 hash of its canonical header bytes.
    EventId,
    "hbevent",
    "event"
);
typed_id!(
    /// A published list: derived from its owner and name, so updates keep the same id.
    ListId,
    "hblist",
    "list"
);

/// The blake3 hash of an event's payload, committed to by the signed header.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PayloadHash(pub [u8; 32]);

impl fmt::Debug for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadHash(")?;
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// Domain-separation contexts for every hash the protocol computes; changing one is a new format.
pub mod context {
    /// Context for [`super::EventId`].
    pub const EVENT_ID: &str = "handbill 1 event id";
    /// Context for [`super::PayloadHash`].
    pub const PAYLOAD: &str = "handbill 1 payload";
    /// Context for [`super::ListId`].
    pub const LIST_ID: &str = "handbill 1 list id";
    /// Context for the coefficients of batch signature verification.
    pub const BATCH_VERIFY: &str = "handbill 1 batch verify coefficients";
}

impl PayloadHash {
    /// Hashes payload bytes.
    pub fn of(payload: &[u8]) -> PayloadHash {
        let mut hasher = blake3::Hasher::new_derive_key(context::PAYLOAD);
        hasher.update(payload);
        PayloadHash(*hasher.finalize().as_bytes())
    }
}

impl ListId {
    /// The id of the list `name` published by `owner`.
    pub fn derive(owner: &AuthorId, name: &str) -> ListId {
        let mut hasher = blake3::Hasher::new_derive_key(context::LIST_ID);
        hasher.update(&owner.0);
        hasher.update(name.as_bytes());
        ListId(*hasher.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_carries_its_type() {
        let author = AuthorId([7; 32]);
        let text = author.to_text();
        assert!(text.starts_with("hbauthor1"), "{text}");
        assert_eq!(AuthorId::parse(&text), Ok(author));
        assert_eq!(text.parse::<AuthorId>(), Ok(author));
        assert_eq!(AuthorId::parse(&text.to_uppercase()), Ok(author));
    }

    #[test]
    fn wrong_type_is_named() {
        let event = EventId([1; 32]).to_text();
        let err = AuthorId::parse(&event).unwrap_err();
        assert!(matches!(err, IdParseError::WrongType { .. }), "{err:?}");
        assert!(err.to_string().contains("expected author id"), "{err}");
    }

    #[test]
    fn a_single_typo_is_caught() {
        let text = AuthorId([9; 32]).to_text();
        let mut chars: Vec<char> = text.chars().collect();
        let i = chars.len() - 10;
        chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
        let typo: String = chars.into_iter().collect();
        assert!(matches!(
            AuthorId::parse(&typo),
            Err(IdParseError::Malformed { .. })
        ));
    }

    #[test]
    fn wrong_length_is_rejected() {
        let hrp = Hrp::parse_unchecked(AuthorId::PREFIX);
        let short = bech32::encode::<Bech32m>(hrp, &[1u8; 20]).unwrap();
        assert_eq!(
            AuthorId::parse(&short),
            Err(IdParseError::WrongLength {
                expected: "author",
                len: 20
            })
        );
    }

    #[test]
    fn bech32_non_m_checksum_is_rejected() {
        let hrp = Hrp::parse_unchecked(EventId::PREFIX);
        let legacy = bech32::encode::<bech32::Bech32>(hrp, &[3u8; 32]).unwrap();
        assert!(matches!(
            EventId::parse(&legacy),
            Err(IdParseError::Malformed { .. })
        ));
    }

    #[test]
    fn json_uses_text_and_postcard_uses_bytes() {
        let id = EventId([5; 32]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.to_text()));
        let bytes = postcard::to_allocvec(&id).unwrap();
        assert_eq!(bytes, vec![5u8; 32]);
        assert_eq!(postcard::from_bytes::<EventId>(&bytes).unwrap(), id);
    }
}
