//! Writing results: human text, or JSON with one object per line (a listing is one line per
//! item, so `--json` output can always be read line by line). A closed pipe (`| head`) ends
//! output quietly instead of failing.

use anyhow::Result;
use handbill_protocol::Action;
use handbill_protocol::api::FeedItem;
use serde::Serialize;
use std::io::Write;

/// Prints one result: its JSON on one line, or the human text.
pub fn emit(json: bool, value: &impl Serialize, human: impl FnOnce() -> String) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", human())?;
    }
    out.flush()?;
    Ok(())
}

/// Prints a listing: one JSON object per item per line, or the human text.
pub fn emit_lines<T: Serialize>(
    json: bool,
    items: &[T],
    human: impl FnOnce() -> String,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        for item in items {
            serde_json::to_writer(&mut out, item)?;
            writeln!(out)?;
        }
    } else {
        write!(out, "{}", human())?;
    }
    out.flush()?;
    Ok(())
}

/// Prints a feed item (unless moderation hides it and hidden items are not asked for).
pub fn print_item(json: bool, item: &FeedItem, show_hidden: bool) -> Result<()> {
    if item.moderation.action == Action::Hide && !show_hidden {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, item)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", crate::render::item(item, show_hidden))?;
    }
    out.flush()?;
    Ok(())
}

/// Whether an error is a closed output pipe (the reader went away: not a failure).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
