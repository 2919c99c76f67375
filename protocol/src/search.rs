//! Local search: which terms index an event, how a query reads, and how term postings are
//! intersected newest first.
//!
//! Every store keeps, per term, the (created_at, id) keys of the held events that contain it, in
//! the same transaction as the event's payload: a deleted post's terms go when its text goes, so
//! no crash can leave an index that returns erased text. A query is a conjunction of terms; its
//! hits are found by a leapfrog join over the terms' postings (each step seeks one term to the
//! newest key at or below the current candidate), which costs about the shortest posting list,
//! not the longest, and stops after one page.

use crate::id::AuthorId;
use crate::payload::Payload;
use crate::store::TimelineCursor;
use crate::validate::VerifiedEvent;
use std::ops::Bound;

/// The longest term kept, in bytes (longer words are cut at a character boundary).
pub const TERM_BYTES_MAX: usize = 64;

/// Most distinct words one event adds to the index; the rest of a long text is not indexed.
pub const WORDS_PER_EVENT_MAX: usize = 256;

/// Most terms in one query.
pub const QUERY_TERMS_MAX: usize = 8;

/// The index terms of an event: the words and tags of a post or an edit, and its author. Other
/// kinds, and events held without payload, have none.
pub fn terms_of(event: &VerifiedEvent) -> Vec<String> {
    let (text, tags): (&str, &[String]) = match event.content() {
        Some(Payload::Post(p)) => (&p.text, &p.tags),
        Some(Payload::Edit(e)) => (&e.text, &[]),
        _ => return Vec::new(),
    };
    let mut terms = words(text);
    for tag in tags {
        let term = tag_term(tag);
        if !terms.contains(&term) {
            terms.push(term);
        }
    }
    terms.push(author_term(&event.author()));
    terms
}

/// The distinct lowercased words of `text`, in order: runs of letters and digits, at most
/// [`WORDS_PER_EVENT_MAX`] of them.
pub fn words(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if out.len() == WORDS_PER_EVENT_MAX {
            break;
        }
        let term = cut(word.to_lowercase());
        if seen.insert(term.clone()) {
            out.push(term);
        }
    }
    out
}

/// The term of a tag (`#rust`), lowercased.
pub fn tag_term(tag: &str) -> String {
    cut(format!("#{}", tag.trim_start_matches('#').to_lowercase()))
}

/// The term of an author (`from:` in a query).
pub fn author_term(author: &AuthorId) -> String {
    format!("from:{}", hex::encode(author.0))
}

/// Bounds a term to [`TERM_BYTES_MAX`] and drops control characters (stores separate a term
/// from its key with a NUL byte, so none may occur inside one).
fn cut(term: String) -> String {
    let mut term: String = term.chars().filter(|c| !c.is_control()).collect();
    if term.len() > TERM_BYTES_MAX {
        let mut end = TERM_BYTES_MAX;
        while !term.is_char_boundary(end) {
            end -= 1;
        }
        term.truncate(end);
    }
    term
}

/// A query as typed: words, `#tags` and `from:AUTHOR` filters (the author as typed, for the
/// node to resolve: an id, a prefix or a name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Index terms for the words and tags.
    pub terms: Vec<String>,
    /// `from:` values as typed.
    pub from: Vec<String>,
}

/// Why a query cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing to search for.
    #[error("the query has no words, #tags or from:AUTHOR")]
    Empty,
    /// Too many terms.
    #[error("the query has more than {QUERY_TERMS_MAX} terms")]
    TooManyTerms,
}

impl Query {
    /// Reads a query: whitespace-separated `#tag`, `from:AUTHOR` and words (a word with inner
    /// punctuation, like `p2p-net`, is its parts).
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let mut query = Query::default();
        for token in text.split_whitespace() {
            if let Some(author) = token.strip_prefix("from:").filter(|a| !a.is_empty()) {
                query.from.push(author.trim_start_matches('@').to_string());
            } else if token.len() > 1 && token.starts_with('#') {
                query.terms.push(tag_term(token));
            } else {
                query.terms.extend(words(token));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        query.terms.retain(|t| seen.insert(t.clone()));
        if query.terms.is_empty() && query.from.is_empty() {
            return Err(QueryError::Empty);
        }
        if query.terms.len() + query.from.len() > QUERY_TERMS_MAX {
            return Err(QueryError::TooManyTerms);
        }
        Ok(query)
    }
}

/// The keys of events holding every one of `terms`, newest first, strictly older than
/// `before`, at most `limit`. `seek(term, upper)` must return the newest key of `term`'s
/// postings within `upper` (a store's one range read).
pub fn intersect<E>(
    terms: &[String],
    before: Option<TimelineCursor>,
    limit: usize,
    mut seek: impl FnMut(&str, Bound<TimelineCursor>) -> Result<Option<TimelineCursor>, E>,
) -> Result<Vec<TimelineCursor>, E> {
    let mut hits = Vec::new();
    let Some(first) = terms.first() else {
        return Ok(hits);
    };
    let mut upper = before.map_or(Bound::Unbounded, Bound::Excluded);
    while hits.len() < limit {
        let Some(mut candidate) = seek(first, upper)? else {
            break;
        };
        // Round-robin over the terms until all agree on one key: each disagreement jumps the
        // candidate down to the next key that term holds.
        let mut agreed = 1;
        let mut next = 1;
        while agreed < terms.len() {
            let term = &terms[next % terms.len()];
            next += 1;
            match seek(term, Bound::Included(candidate))? {
                None => return Ok(hits),
                Some(key) if key == candidate => agreed += 1,
                Some(key) => {
                    candidate = key;
                    agreed = 1;
                }
            }
        }
        hits.push(candidate);
        upper = Bound::Excluded(candidate);
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::EventId;
    use crate::time::Timestamp;
    use std::collections::{BTreeMap, BTreeSet};

    fn key(t: u64) -> TimelineCursor {
        TimelineCursor {
            created_at: Timestamp(t),
            id: EventId([t as u8; 32]),
        }
    }

    /// Postings and the seek a store would answer, counting seeks.
    struct Index(BTreeMap<String, BTreeSet<TimelineCursor>>);

    impl Index {
        fn of(docs: &[(u64, &str)]) -> Index {
            let mut map: BTreeMap<String, BTreeSet<TimelineCursor>> = BTreeMap::new();
            for (t, text) in docs {
                for w in words(text) {
                    map.entry(w).or_default().insert(key(*t));
                }
            }
            Index(map)
        }

        fn seek(&self, term: &str, upper: Bound<TimelineCursor>) -> Option<TimelineCursor> {
            self.0
                .get(term)?
                .range((Bound::Unbounded, upper))
                .next_back()
                .copied()
        }

        fn query(&self, terms: &[&str], before: Option<u64>, limit: usize) -> Vec<u64> {
            let terms: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
            intersect::<()>(&terms, before.map(key), limit, |t, u| Ok(self.seek(t, u)))
                .expect("no errors")
                .iter()
                .map(|k| k.created_at.0)
                .collect()
        }
    }

    #[test]
    fn hits_hold_every_term_newest_first_and_page() {
        let index = Index::of(&[
            (1, "red apple"),
            (2, "green apple pie"),
            (3, "red car"),
            (4, "red apple pie"),
            (5, "apple"),
            (6, "Red APPLE"),
        ]);
        assert_eq!(index.query(&["red", "apple"], None, 10), vec![6, 4, 1]);
        assert_eq!(index.query(&["apple", "red"], None, 10), vec![6, 4, 1]);
        assert_eq!(index.query(&["red", "apple"], None, 2), vec![6, 4]);
        assert_eq!(index.query(&["red", "apple"], Some(4), 2), vec![1]);
        assert_eq!(index.query(&["apple", "pie", "red"], None, 10), vec![4]);
        assert_eq!(
            index.query(&["apple", "banana"], None, 10),
            Vec::<u64>::new()
        );
        assert_eq!(index.query(&["car"], None, 10), vec![3]);
    }

    #[test]
    fn queries_read_words_tags_and_authors() {
        let q = Query::parse("Rust #P2P from:@alice p2p-net").expect("a query");
        assert_eq!(q.terms, vec!["rust", "#p2p", "p2p", "net"]);
        assert_eq!(q.from, vec!["alice"]);
        assert_eq!(Query::parse("  "), Err(QueryError::Empty));
        assert_eq!(Query::parse("- ! ?"), Err(QueryError::Empty));
        assert_eq!(
            Query::parse("a b c d e f g h i"),
            Err(QueryError::TooManyTerms)
        );
    }

    #[test]
    fn long_words_are_cut_at_a_character_boundary() {
        let long = "é".repeat(40);
        let term = &words(&long)[0];
        assert!(term.len() <= TERM_BYTES_MAX && term.starts_with('é'));
    }
}
