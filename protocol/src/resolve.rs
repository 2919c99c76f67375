//! Finding an id from what a person typed: a full id, the short form output shows, or any
//! unique prefix of the id's data part, among the ids a node holds.
//!
//! An id's text is `hbevent1` (or `hbauthor1`) followed by 52 data characters (the 32 bytes in
//! bech32's 5-bit alphabet) and a 6-character checksum. A prefix of the data part names the
//! first `5 × len` bits of the bytes, so the ids it may mean form one contiguous range in byte
//! order: a store finds them with one range scan ([`IdPrefix::range`]).

use crate::id::TypedId;

/// The fewest data characters a prefix must have (30 bits: a collision among a node's ids is
/// rare, and an ambiguous one is reported, never guessed).
pub const PREFIX_CHARS_MIN: usize = 6;

/// Candidates listed in an ambiguity error.
pub const CANDIDATES_LISTED_MAX: usize = 10;

/// The data characters of a full id (52 × 5 = 260 bits, the last 4 of them padding).
const DATA_CHARS: usize = 52;

/// bech32's alphabet, in value order.
const ALPHABET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Why typed text does not name exactly one id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// Not an id, a short id or a prefix of one.
    #[error(
        "{text:?} is not a valid {noun} id: give the full id, the short id shown in output, or at least {min} of its characters after {prefix}",
        min = PREFIX_CHARS_MIN
    )]
    NotAnId {
        /// What was typed.
        text: String,
        /// What kind of id was expected.
        noun: &'static str,
        /// That kind's text prefix.
        prefix: &'static str,
    },
    /// No held id starts that way.
    #[error("no {noun} this node holds has an id starting {text:?}")]
    NotFound {
        /// What was typed.
        text: String,
        /// What kind of id was expected.
        noun: &'static str,
    },
    /// No author this node knows has that display name.
    #[error("no author this node knows is named {name:?}; use their id (hbauthor1…) instead")]
    NoSuchName {
        /// The name.
        name: String,
    },
    /// Several authors this node knows have that display name.
    #[error("more than one author is named {name:?}; use one of their ids: {}", candidates.join(", "))]
    AmbiguousName {
        /// The name.
        name: String,
        /// Their ids, in full.
        candidates: Vec<String>,
    },
    /// More than one held id starts that way.
    #[error("{text:?} could be any of these {noun}s; give more characters: {}", candidates.join(", "))]
    Ambiguous {
        /// What was typed.
        text: String,
        /// What kind of id was expected.
        noun: &'static str,
        /// Some of the ids it could mean, in full.
        candidates: Vec<String>,
    },
}

/// A prefix of an id's data part, as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPrefix {
    /// The 5-bit values of the typed characters.
    values: Vec<u8>,
}

impl IdPrefix {
    /// Parses `text` as a prefix of an id of type `T`: data characters with or without the
    /// type's `…1` prefix, at least [`PREFIX_CHARS_MIN`] of them, case-insensitive.
    pub fn parse<T: TypedId>(text: &str) -> Result<IdPrefix, ResolveError> {
        let not_an_id = || ResolveError::NotAnId {
            text: text.to_string(),
            noun: T::NOUN,
            prefix: T::PREFIX,
        };
        let lower = text.trim().to_lowercase();
        let data = lower
            .strip_prefix(T::PREFIX)
            .and_then(|rest| rest.strip_prefix('1'))
            .unwrap_or(&lower);
        if data.len() < PREFIX_CHARS_MIN || data.len() > DATA_CHARS {
            return Err(not_an_id());
        }
        let values = data
            .bytes()
            .map(|c| ALPHABET.iter().position(|a| *a == c).map(|v| v as u8))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(not_an_id)?;
        Ok(IdPrefix { values })
    }

    /// The lowest and highest 32-byte values that start with this prefix (inclusive).
    pub fn range(&self) -> ([u8; 32], [u8; 32]) {
        let mut low = [0u8; 32];
        let mut high = [0xffu8; 32];
        for (i, value) in self.values.iter().enumerate() {
            for bit in 0..5 {
                let position = i * 5 + bit;
                if position >= 256 {
                    break;
                }
                let set = value & (0x10 >> bit) != 0;
                let (byte, mask) = (position / 8, 0x80u8 >> (position % 8));
                if set {
                    low[byte] |= mask;
                } else {
                    high[byte] &= !mask;
                }
            }
        }
        (low, high)
    }

    /// Whether `bytes` start with this prefix.
    pub fn matches(&self, bytes: &[u8; 32]) -> bool {
        let (low, high) = self.range();
        low.as_slice() <= bytes.as_slice() && bytes.as_slice() <= high.as_slice()
    }
}

/// Resolves typed text to one id: a full id as is (held or not: the caller decides whether
/// that matters), else the one held id among `candidates` that the prefix matches.
/// `candidates` reads the held ids in the prefix's range (a store read, hence its error
/// type); up to [`CANDIDATES_LISTED_MAX`] + 1 of them tell "one" from "many".
pub fn resolve<T, E>(
    text: &str,
    candidates: impl FnOnce(&IdPrefix) -> Result<Vec<T>, E>,
) -> Result<T, E>
where
    T: TypedId + std::fmt::Display,
    E: From<ResolveError>,
{
    if let Ok(id) = T::parse(text) {
        return Ok(id);
    }
    let prefix = IdPrefix::parse::<T>(text)?;
    let found = candidates(&prefix)?;
    Ok(pick(text, &prefix, found)?)
}

/// The one id among `candidates` that `prefix` (typed as `text`) matches, or why there is not
/// exactly one.
fn pick<T: TypedId + std::fmt::Display>(
    text: &str,
    prefix: &IdPrefix,
    candidates: Vec<T>,
) -> Result<T, ResolveError> {
    let mut found: Vec<T> = candidates
        .into_iter()
        .filter(|id| prefix.matches(id.as_bytes()))
        .collect();
    found.sort_by_key(|id| *id.as_bytes());
    found.dedup_by_key(|id| *id.as_bytes());
    match found.as_slice() {
        [] => Err(ResolveError::NotFound {
            text: text.to_string(),
            noun: T::NOUN,
        }),
        [one] => Ok(*one),
        many => Err(ResolveError::Ambiguous {
            text: text.to_string(),
            noun: T::NOUN,
            candidates: many
                .iter()
                .take(CANDIDATES_LISTED_MAX)
                .map(ToString::to_string)
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{AuthorId, EventId};

    fn id(first: u8) -> EventId {
        let mut bytes = [7u8; 32];
        bytes[0] = first;
        EventId(bytes)
    }

    #[test]
    fn the_short_form_and_longer_prefixes_match_their_id_only() {
        let a = id(0x10);
        let b = id(0x90);
        for len in [6, 8, 20, 52] {
            let text = a.to_string()[8..8 + len].to_string();
            let prefix = IdPrefix::parse::<EventId>(&text).expect("a prefix");
            assert!(prefix.matches(&a.0), "{len} chars");
            assert!(!prefix.matches(&b.0), "{len} chars");
            let with_hrp = format!("hbevent1{text}");
            assert_eq!(IdPrefix::parse::<EventId>(&with_hrp), Ok(prefix));
        }
    }

    #[test]
    fn the_range_is_exactly_the_ids_with_the_prefix() {
        let a = id(0b1010_1100);
        let text = &a.to_string()[8..14];
        let (low, high) = IdPrefix::parse::<EventId>(text).unwrap().range();
        // 6 characters fix 30 bits: bytes 0..3 fully, and the top 6 bits of byte 3.
        assert_eq!(low[..3], a.0[..3]);
        assert_eq!(low[3], a.0[3] & 0b1111_1100);
        assert_eq!(high[3], a.0[3] | 0b0000_0011);
        assert!(low[4..].iter().all(|b| *b == 0) && high[4..].iter().all(|b| *b == 0xff));
    }

    /// Resolves `text` among `ids` as a store would hand them over.
    fn held<T: TypedId + std::fmt::Display>(text: &str, ids: Vec<T>) -> Result<T, ResolveError> {
        resolve(text, |_| Ok::<_, ResolveError>(ids))
    }

    #[test]
    fn resolving_reports_unknown_and_ambiguous_prefixes() {
        let a = id(0x10);
        let mut twin = a;
        twin.0[31] = 0;
        let short = &a.to_string()[8..16];
        assert_eq!(held(short, vec![a, id(0x90)]), Ok(a));
        assert_eq!(held(&a.to_string(), Vec::new()), Ok(a));
        assert!(matches!(
            held::<EventId>(short, vec![id(0x90)]),
            Err(ResolveError::NotFound { .. })
        ));
        match held(short, vec![a, twin]) {
            // In byte order, so the same ambiguity always reads the same.
            Err(ResolveError::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates, vec![twin.to_string(), a.to_string()])
            }
            other => panic!("expected ambiguity, got {other:?}"),
        }
        for bad in ["qqq", "hbevent1qqq", "not-an-id", "bqqqqqqq"] {
            assert!(matches!(
                held::<EventId>(bad, vec![a]),
                Err(ResolveError::NotAnId { .. })
            ));
        }
        // An author prefix is not an event prefix.
        let author = AuthorId([1; 32]);
        assert!(matches!(
            held::<EventId>(&author.to_string()[..20], Vec::new()),
            Err(ResolveError::NotAnId { .. })
        ));
    }
}
