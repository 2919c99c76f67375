//! Mentions and tags written inline in a post's text (`@name`, `@hbauthor1…`, `#tag`), found
//! here so every client gets the same rule: the node turns them into the post's `mentions` and
//! `tags` when it publishes.
//!
//! A marker counts only at the start of a word (after the start of the text, whitespace or an
//! opening bracket or quote), so `bob@example.com` and `issue#12` are left alone. A word ends at
//! the first character that is not a letter, digit, `_`, `-` or `.`; a trailing `.` or `-` is
//! punctuation (`thanks @bob.`).

use crate::limits::TAG_BYTES_MAX;

/// A mention as written: a name to look up in profiles, or an author id (full or a prefix).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MentionText {
    /// `@alice`: a display name.
    Name(String),
    /// `@hbauthor1…`: an author id or a prefix of one.
    Id(String),
}

/// What a text mentions and tags, each once, in order of first appearance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inline {
    /// Mentions as written.
    pub mentions: Vec<MentionText>,
    /// Tags without `#`, lowercased.
    pub tags: Vec<String>,
}

/// Finds the inline mentions and tags of `text`.
pub fn parse(text: &str) -> Inline {
    let mut inline = Inline::default();
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let starts_word = previous.is_none_or(|p| p.is_whitespace() || "([{\"'".contains(p));
        previous = Some(c);
        if !(starts_word && (c == '@' || c == '#')) {
            continue;
        }
        let rest = &text[at + c.len_utf8()..];
        let word = word_at(rest);
        if word.is_empty() {
            continue;
        }
        if c == '#' {
            let tag = word.to_lowercase();
            if tag.len() <= TAG_BYTES_MAX && !inline.tags.contains(&tag) {
                inline.tags.push(tag);
            }
        } else {
            let mention = if word.to_lowercase().starts_with("hbauthor1") {
                MentionText::Id(word.to_string())
            } else {
                MentionText::Name(word.to_string())
            };
            if !inline.mentions.contains(&mention) {
                inline.mentions.push(mention);
            }
        }
        // Skip the word so a marker inside it (`@a#b`) does not start another.
        for _ in word.chars() {
            previous = chars.next().map(|(_, c)| c);
        }
    }
    inline
}

/// The word at the start of `rest`, without trailing punctuation.
fn word_at(rest: &str) -> &str {
    let end = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '.'))
        .map_or(rest.len(), |(i, _)| i);
    rest[..end].trim_end_matches(['.', '-'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<MentionText> {
        parse(text).mentions
    }

    #[test]
    fn mentions_and_tags_are_found_at_word_starts() {
        let inline = parse("hi @bob and @Alice_1, see #Rust #p2p. (@carol) #rust again");
        assert_eq!(
            inline.mentions,
            vec![
                MentionText::Name("bob".into()),
                MentionText::Name("Alice_1".into()),
                MentionText::Name("carol".into()),
            ]
        );
        assert_eq!(inline.tags, vec!["rust".to_string(), "p2p".to_string()]);
    }

    #[test]
    fn emails_anchors_and_bare_markers_are_not_mentions() {
        let inline = parse("mail bob@example.com, see issue#12, a lone @ or # here, @. #-");
        assert!(inline.mentions.is_empty(), "{inline:?}");
        assert!(inline.tags.is_empty(), "{inline:?}");
    }

    #[test]
    fn ids_and_prefixes_are_mentions_by_id() {
        assert_eq!(
            names("cc @hbauthor1qz3x9d2k. thanks"),
            vec![MentionText::Id("hbauthor1qz3x9d2k".into())]
        );
    }

    #[test]
    fn markers_inside_a_word_start_nothing() {
        assert_eq!(names("@a#b"), vec![MentionText::Name("a".into())]);
        assert!(parse("@a#b").tags.is_empty());
    }

    #[test]
    fn over_long_tags_are_left_out() {
        let long = format!("#{}", "x".repeat(TAG_BYTES_MAX + 1));
        assert!(parse(&long).tags.is_empty());
    }
}
