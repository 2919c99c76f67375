//! Human output: relative times, short ids, one readable block per item.

use handbill_protocol::api::FeedItem;
use handbill_protocol::moderation::Verdict;
use handbill_protocol::{Action, TypedId};
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

/// One item for people. Hidden items say why in one line instead of their text.
pub fn item(item: &FeedItem, show_hidden: bool) -> String {
    let c = colour();
    let mut out = String::new();
    let who = paint(c, "1", &format!("{}…", &item.author.to_text()[..16]));
    let id = paint(c, "2", &item.id.short());
    out.push_str(&format!(
        "{who}  {}  {id}  {}",
        relative(item.created_at.0),
        item.kind
    ));
    if let Some(parent) = &item.reply_to {
        out.push_str(&format!("  ↳ reply to {}", parent.short()));
    }
    if (item.kind == "repost" || item.kind == "reaction")
        && let Some(target) = &item.target
    {
        out.push_str(&format!("  → {}", target.short()));
    }
    out.push('\n');
    let verdict = &item.moderation;
    match verdict.action {
        Action::Hide if !show_hidden => {
            out.push_str(&paint(
                c,
                "31",
                &format!("  [hidden: {}]\n", summary(verdict)),
            ));
            return out;
        }
        Action::Hide => out.push_str(&paint(
            c,
            "31",
            &format!("  [hidden: {}]\n", summary(verdict)),
        )),
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
    if !item.tags.is_empty() {
        let tags: Vec<String> = item.tags.iter().map(|t| format!("#{t}")).collect();
        out.push_str(&format!("  {}\n", paint(c, "36", &tags.join(" "))));
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
