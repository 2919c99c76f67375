//! Writing: posts, edits, reposts, reactions, deletes, profiles, and labels as a feed.

use crate::args::{LabelerCommand, PostArgs, ProfileCommand};
use crate::client::Client;
use crate::moderation::{parse_definition, parse_expiry};
use crate::output::emit;
use anyhow::{Context, Result};
use handbill_protocol::api::{PublishRequest, Published, TargetId};
use std::io::Read;

fn print_published(json: bool, p: &Published) -> Result<()> {
    emit(json, p, || format!("{}\n", p.id))
}

fn publish(api: &Client, json: bool, request: &PublishRequest) -> Result<()> {
    let published: Published = api.post("/v1/events", request)?;
    print_published(json, &published)
}

/// The text itself, or stdin's for `-`.
fn text_or_stdin(text: String, what: &str) -> Result<String> {
    if text != "-" {
        return Ok(text);
    }
    let mut read = String::new();
    std::io::stdin()
        .read_to_string(&mut read)
        .with_context(|| format!("reading the {what} from stdin"))?;
    Ok(read.trim_end().to_string())
}

pub fn post(api: &Client, json: bool, args: PostArgs) -> Result<()> {
    let request = PublishRequest::Post {
        text: text_or_stdin(args.text, "post")?,
        reply_to: args.reply_to.map(|id| api.event_id(&id)).transpose()?,
        quote: args.quote.map(|id| api.event_id(&id)).transpose()?,
        tags: args.tags,
        mentions: Vec::new(),
        self_labels: args.warnings,
    };
    publish(api, json, &request)
}

pub fn edit(api: &Client, json: bool, id: &str, text: String) -> Result<()> {
    let request = PublishRequest::Edit {
        target: api.event_id(id)?,
        text: text_or_stdin(text, "new text")?,
    };
    publish(api, json, &request)
}

pub fn repost(api: &Client, json: bool, id: &str) -> Result<()> {
    let target = api.event_id(id)?;
    publish(api, json, &PublishRequest::Repost { target })
}

pub fn react(api: &Client, json: bool, id: &str, reaction: String) -> Result<()> {
    let target = api.event_id(id)?;
    publish(api, json, &PublishRequest::Reaction { target, reaction })
}

pub fn delete(api: &Client, json: bool, id: &str) -> Result<()> {
    let targets = vec![api.event_id(id)?];
    publish(api, json, &PublishRequest::Delete { targets })
}

pub fn profile(api: &Client, json: bool, command: ProfileCommand) -> Result<()> {
    match command {
        ProfileCommand::Set { name, bio } => {
            publish(api, json, &PublishRequest::Profile { name, bio })
        }
    }
}

pub fn labeler(api: &Client, json: bool, command: LabelerCommand) -> Result<()> {
    match command {
        LabelerCommand::Declare {
            name,
            description,
            labels,
        } => {
            let labels = labels
                .iter()
                .map(|l| parse_definition(l))
                .collect::<Result<Vec<_>>>()?;
            publish(
                api,
                json,
                &PublishRequest::LabelerDeclaration {
                    name,
                    description,
                    labels,
                },
            )
        }
    }
}

/// A label's target as typed: an author (`hbauthor1…`, `@name`) or an event.
fn target(api: &Client, text: &str) -> Result<TargetId> {
    let lower = text.trim().to_lowercase();
    if lower.starts_with("hbauthor") || lower.starts_with('@') {
        Ok(TargetId::Author(api.author_id(text)?))
    } else {
        Ok(TargetId::Event(api.event_id(text)?))
    }
}

pub fn label(
    api: &Client,
    json: bool,
    target_text: &str,
    value: String,
    reason: Option<String>,
    expires: Option<String>,
) -> Result<()> {
    let request = PublishRequest::Label {
        target: target(api, target_text)?,
        value,
        reason,
        expires_at: expires.as_deref().map(parse_expiry).transpose()?,
        negate: false,
    };
    publish(api, json, &request)
}

pub fn unlabel(api: &Client, json: bool, target_text: &str, value: String) -> Result<()> {
    let request = PublishRequest::Label {
        target: target(api, target_text)?,
        value,
        reason: None,
        expires_at: None,
        negate: true,
    };
    publish(api, json, &request)
}
