//! Human output: relative times, display names beside short ids, one readable block per item.

use handbill_protocol::api::FeedItem;
use handbill_protocol::moderation::Verdict;
use handbill_protocol::{Action, AuthorId, TypedId};
use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether to colour output: only on a terminal, and never with `NO_COLOR` set.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// "3m ago", "2h ago", "5d ago", or "in 2m" for a time ahead of this clock.
pub fn relative(ms: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (ahead, diff) = if ms > now {
        (true, ms - now)
    } else {
        (false, now - ms)
    };
    let s = diff / 1000;
    let text = match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    };
    if ahead {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// An author for people: the display name beside the short id (a name alone would let anyone
/// pose as someone you follow), or the short id alone.
pub fn who(author: &AuthorId, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name} ({})", author.short()),
        None => author.short(),
    }
}

/// One item for people. Hidden items say why in one line instead of their text.
pub fn item(item: &FeedItem, show_hidden: bool) -> String {
    let c = colour();
    let mut out = String::new();
    let author = paint(c, "1", &who(&item.author, item.author_name.as_deref()));
    let id = paint(c, "2", &item.id.short());
    out.push_str(&format!(
        "{author}  {}  {id}  {}",
        relative(item.created_at.0),
        item.kind
    ));
    if item.edited {
        out.push_str("  (edited)");
    }
    if let Some(parent) = &item.reply_to {
        out.push_str(&format!("  ↳ reply to {}", parent.short()));
    }
    if item.kind == "reaction"
        && let Some(target) = &item.target
    {
        out.push_str(&format!("  → {}", target.short()));
    }
    out.push('\n');
    let verdict = &item.moderation;
    match verdict.action {
        Action::Hide => {
            out.push_str(&paint(
                c,
                "31",
                &format!("  [hidden: {}]\n", summary(verdict)),
            ));
            if !show_hidden {
                return out;
            }
        }
        Action::Warn => out.push_str(&paint(
            c,
            "33",
            &format!("  [warning: {}]\n", summary(verdict)),
        )),
        Action::Show => {}
    }
    if item.deleted {
        out.push_str("  (deleted by its author)\n");
    } else if let Some(text) = &item.text {
        for line in text.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    // Tags written in the text already show there.
    let text = item.text.as_deref().unwrap_or_default().to_lowercase();
    let tags: Vec<String> = item
        .tags
        .iter()
        .map(|t| format!("#{t}"))
        .filter(|t| !text.contains(&t.to_lowercase()))
        .collect();
    if !tags.is_empty() {
        out.push_str(&format!("  {}\n", paint(c, "36", &tags.join(" "))));
    }
    if matches!(item.kind.as_str(), "post" | "repost")
        && let Some(target) = &item.target
    {
        let verb = if item.kind == "repost" {
            "reposts"
        } else {
            "quotes"
        };
        match &item.quoted {
            Some(quoted) => {
                out.push_str(&format!("  ┃ {verb}:\n"));
                for line in self::item(quoted, false).lines() {
                    out.push_str(&format!("  ┃ {line}\n"));
                }
            }
            None => out.push_str(&format!(
                "  ┃ {verb} {} (not held on this node)\n",
                target.short()
            )),
        }
    }
    let counts = &item.counts;
    if counts.replies + counts.reposts + counts.reactions + counts.quotes > 0 {
        let mut parts = Vec::new();
        for (n, one, many) in [
            (counts.replies, "reply", "replies"),
            (counts.reposts, "repost", "reposts"),
            (counts.quotes, "quote", "quotes"),
            (counts.reactions, "reaction", "reactions"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        }
        out.push_str(&paint(c, "2", &format!("  {}\n", parts.join(" · "))));
    }
    out
}

/// The reasons of a verdict, comma-separated, for one line.
pub fn summary(verdict: &Verdict) -> String {
    let reasons: Vec<String> = verdict
        .reasons
        .iter()
        .filter(|r| r.action() != Action::Show)
        .map(|r| r.describe())
        .collect();
    if reasons.is_empty() {
        "no reason given".into()
    } else {
        reasons.join("; ")
    }
}
