//! Moderation choices, curated lists and the operator's host policy: the `moderation`, `list`,
//! `host-policy` and mute commands, and the parsers of their arguments.

use crate::args::{HostPolicyCommand, ListCommand, ModerationCommand};
use crate::client::{Client, encode_query};
use crate::output::{emit, emit_lines};
use crate::render;
use anyhow::{Context, Result, bail};
use handbill_protocol::api::*;
use handbill_protocol::moderation::Preferences;
use handbill_protocol::moderation::host::HostPolicy;
use handbill_protocol::payload::{LabelDefinition, LabelerDeclaration, ListPurpose, Severity};
use handbill_protocol::{Action, AuthorId, ListId, Timestamp};
use std::collections::BTreeMap;

pub fn moderation(api: &Client, json: bool, command: ModerationCommand) -> Result<()> {
    match command {
        ModerationCommand::Subscribe {
            feed,
            hide,
            warn,
            show,
        } => {
            let feed = api.author_id(&feed)?;
            let mut overrides = BTreeMap::new();
            for (labels, action) in [
                (hide, Action::Hide),
                (warn, Action::Warn),
                (show, Action::Show),
            ] {
                for l in labels {
                    overrides.insert(l, action);
                }
            }
            let body = FeedSubscribeRequest { feed, overrides };
            let _: serde_json::Value = api.post("/v1/moderation/feeds", &body)?;
            emit(json, &body, || format!("subscribed to {feed}\n"))?;
        }
        ModerationCommand::Unsubscribe { feed } => {
            let feed = api.author_id(&feed)?;
            let _: serde_json::Value =
                api.delete(&format!("/v1/moderation/feeds/{feed}"), None::<&()>)?;
            emit(json, &serde_json::json!({"unsubscribed": feed}), || {
                format!("unsubscribed from {feed}\n")
            })?;
        }
        ModerationCommand::List => {
            let prefs: Preferences = api.get("/v1/moderation")?;
            emit(json, &prefs, || {
                let mut t = String::new();
                if prefs.feeds.is_empty() {
                    t.push_str("no moderation feeds; `handbill moderation subscribe FEED`\n");
                }
                for (feed, sub) in &prefs.feeds {
                    let name = sub
                        .declaration
                        .as_ref()
                        .map_or("(declaration not yet fetched)".into(), |d| d.name.clone());
                    t.push_str(&format!("feed {feed}  {name}\n"));
                    for (label, action) in &sub.overrides {
                        t.push_str(&format!("  {label}: {}\n", action.name()));
                    }
                }
                for a in &prefs.muted_authors {
                    t.push_str(&format!("muted author {a}\n"));
                }
                for w in &prefs.muted_words {
                    t.push_str(&format!("muted word {w:?}\n"));
                }
                for tag in &prefs.muted_tags {
                    t.push_str(&format!("muted tag #{tag}\n"));
                }
                for l in prefs.lists.values() {
                    t.push_str(&format!("list {} {:?} by {}\n", l.id, l.name, l.owner));
                }
                t.push_str(&format!(
                    "always show people you follow: {}\n",
                    prefs.always_show_followed
                ));
                t
            })?;
        }
        ModerationCommand::Labels { feed } => {
            let feed = api.author_id(&feed)?;
            let d: LabelerDeclaration = api.get(&format!("/v1/feeds/{feed}"))?;
            emit(json, &d, || {
                let mut t = format!("{}\n{}\n", d.name, d.description);
                for l in &d.labels {
                    t.push_str(&format!(
                        "  {}  {:?}  default {}  {}\n",
                        l.value,
                        l.severity,
                        l.default_action.name(),
                        l.description
                    ));
                }
                t
            })?;
        }
        ModerationCommand::Options {
            always_show_followed,
            no_always_show_followed,
        } => {
            // No flag shows the options; a flag changes that option only.
            let current: Preferences = api.get("/v1/moderation")?;
            let mut body = ModerationOptions {
                always_show_followed: current.always_show_followed,
            };
            if always_show_followed || no_always_show_followed {
                body.always_show_followed = always_show_followed;
                let _: serde_json::Value = api.put("/v1/moderation/options", &body)?;
            }
            emit(json, &body, || {
                format!(
                    "always show people you follow: {} (change with --always-show-followed or --no-always-show-followed)\n",
                    body.always_show_followed
                )
            })?;
        }
    }
    Ok(())
}

pub fn list(api: &Client, json: bool, command: ListCommand) -> Result<()> {
    let mine = |api: &Client| -> Result<Vec<OwnList>> { api.get("/v1/lists") };
    let publish = |api: &Client, list: &OwnList| -> Result<Published> {
        api.post(
            "/v1/events",
            &PublishRequest::List {
                name: list.name.clone(),
                description: list.description.clone(),
                purpose: list.purpose,
                members: list.members.clone(),
            },
        )
    };
    match command {
        ListCommand::Create {
            name,
            purpose,
            description,
        } => {
            let purpose = purpose.as_deref().map(parse_purpose).transpose()?;
            let existing = mine(api)?.into_iter().find(|l| l.name == name);
            let created = existing.is_none();
            let list = match existing {
                // Changing an existing list keeps its members (re-creating must not wipe them).
                Some(mut list) => {
                    if let Some(purpose) = purpose {
                        list.purpose = purpose;
                    }
                    if let Some(description) = description {
                        list.description = description;
                    }
                    list
                }
                None => {
                    let status: Status = api.get("/v1/status")?;
                    OwnList {
                        id: ListId::derive(&status.author, &name),
                        owner: status.author,
                        name,
                        description: description.unwrap_or_default(),
                        purpose: purpose.unwrap_or(ListPurpose::Mute),
                        members: Vec::new(),
                    }
                }
            };
            publish(api, &list)?;
            if list.purpose != ListPurpose::Curate {
                // Your own mute and block lists act on your view at once.
                let _: serde_json::Value = api.post(
                    "/v1/lists/subscriptions",
                    &ListSubscribeRequest {
                        owner: list.owner,
                        list: list.id,
                    },
                )?;
            }
            emit(json, &list, || {
                // The id alone on stdout, for scripts; the explanation for people on stderr.
                let what = match list.purpose {
                    ListPurpose::Mute => {
                        "mute list (subscribers hide its members' posts; --purpose curate makes a reading list)"
                    }
                    ListPurpose::Block => {
                        "block list (subscribers hide its members' posts and interactions)"
                    }
                    ListPurpose::Curate => {
                        "curated list (read it with `handbill feed --list NAME`)"
                    }
                };
                let verb = if created { "created" } else { "updated" };
                eprintln!(
                    "{verb} {} {what}, {}",
                    list.name,
                    members(list.members.len())
                );
                format!("{}\n", list.id)
            })?;
        }
        ListCommand::Add { name, author } => {
            let author = api.author_id(&author)?;
            let mut list = find_own(mine(api)?, &name)?;
            if !list.members.contains(&author) {
                list.members.push(author);
            }
            publish(api, &list)?;
            emit(json, &list, || {
                format!("{} now has {}\n", list.name, members(list.members.len()))
            })?;
        }
        ListCommand::Remove { name, author } => {
            let author = api.author_id(&author)?;
            let mut list = find_own(mine(api)?, &name)?;
            list.members.retain(|m| *m != author);
            publish(api, &list)?;
            emit(json, &list, || {
                format!("{} now has {}\n", list.name, members(list.members.len()))
            })?;
        }
        ListCommand::Mine => {
            let lists = mine(api)?;
            emit_lines(json, &lists, || {
                if lists.is_empty() {
                    return "you have no lists; `handbill list create NAME`\n".into();
                }
                lists
                    .iter()
                    .map(|l| {
                        format!(
                            "{}  {:?}  {:?}  {} members\n",
                            l.id,
                            l.name,
                            l.purpose,
                            l.members.len()
                        )
                    })
                    .collect()
            })?;
        }
        ListCommand::Show { name, owner } => {
            let owner = match owner {
                Some(owner) => api.author_id(&owner)?,
                None => api.get::<Status>("/v1/status")?.author,
            };
            let view: ListView = api.get(&format!(
                "/v1/authors/{owner}/lists/{}",
                encode_query(&name)
            ))?;
            emit(json, &view, || {
                let mut t = format!(
                    "{}  {} list by {}\n{}\n",
                    view.name,
                    purpose_name(view.purpose),
                    render::who(&view.owner, None),
                    view.id
                );
                if !view.description.is_empty() {
                    t.push_str(&format!("{}\n", view.description));
                }
                for m in &view.members {
                    t.push_str(&format!(
                        "  {}  {}\n",
                        render::who(&m.author, m.name.as_deref()),
                        m.author
                    ));
                }
                if view.members.is_empty() {
                    t.push_str("  no members\n");
                }
                t
            })?;
        }
        ListCommand::Subscribe { list, owner } => {
            let list = parse_list(&list)?;
            let owner = owner.map(|o| api.author_id(&o)).transpose()?;
            let owner = list_owner(api, list, owner)?;
            let body = ListSubscribeRequest { owner, list };
            let _: serde_json::Value = api.post("/v1/lists/subscriptions", &body)?;
            emit(json, &body, || format!("subscribed to list {list}\n"))?;
        }
        ListCommand::Unsubscribe { list, owner } => {
            let list = parse_list(&list)?;
            let owner = owner.map(|o| api.author_id(&o)).transpose()?;
            let owner = list_owner(api, list, owner)?;
            let body = ListSubscribeRequest { owner, list };
            let _: serde_json::Value = api.delete("/v1/lists/subscriptions", Some(&body))?;
            emit(json, &body, || format!("unsubscribed from list {list}\n"))?;
        }
    }
    Ok(())
}

fn find_own(lists: Vec<OwnList>, name: &str) -> Result<OwnList> {
    lists.into_iter().find(|l| l.name == name).ok_or_else(|| {
        anyhow::anyhow!(
            "you have no list named {name:?}; create it with `handbill list create {name}`"
        )
    })
}

fn list_owner(api: &Client, list: ListId, owner: Option<AuthorId>) -> Result<AuthorId> {
    if let Some(owner) = owner {
        return Ok(owner);
    }
    let mine: Vec<OwnList> = api.get("/v1/lists")?;
    mine.iter()
        .find(|l| l.id == list)
        .map(|l| l.owner)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{list} is not one of your lists; pass --owner AUTHOR (the list's publisher)"
            )
        })
}

pub fn host_policy(api: &Client, json: bool, command: HostPolicyCommand) -> Result<()> {
    let change = |feed: Option<AuthorId>, label: Option<String>, author: Option<AuthorId>| {
        HostPolicyChange {
            feed,
            label,
            author,
        }
    };
    match command {
        HostPolicyCommand::Refuse { feed, label } => {
            let feed = api.author_id(&feed)?;
            let _: serde_json::Value = api.post(
                "/v1/host-policy/refuse",
                &change(Some(feed), Some(label), None),
            )?;
        }
        HostPolicyCommand::Allow { feed, label } => {
            let feed = api.author_id(&feed)?;
            let _: serde_json::Value = api.delete(
                "/v1/host-policy/refuse",
                Some(&change(Some(feed), Some(label), None)),
            )?;
        }
        HostPolicyCommand::Block { author } => {
            let author = api.author_id(&author)?;
            let _: serde_json::Value =
                api.post("/v1/host-policy/block", &change(None, None, Some(author)))?;
        }
        HostPolicyCommand::Unblock { author } => {
            let author = api.author_id(&author)?;
            let _: serde_json::Value = api.delete(
                "/v1/host-policy/block",
                Some(&change(None, None, Some(author))),
            )?;
        }
        HostPolicyCommand::Show => {}
    }
    let policy: HostPolicy = api.get("/v1/host-policy")?;
    emit(json, &policy, || {
        let mut t = String::new();
        if policy.refused_labels.is_empty() && policy.blocked_authors.is_empty() {
            t.push_str("this node stores and relays everything it hosts\n");
        }
        for (feed, label) in &policy.refused_labels {
            t.push_str(&format!("refuse {label:?} from feed {feed}\n"));
        }
        for a in &policy.blocked_authors {
            t.push_str(&format!("block {a}\n"));
        }
        t
    })
}

fn mute_body(
    api: &Client,
    author: Option<String>,
    word: Option<String>,
    tag: Option<String>,
) -> Result<MuteRequest> {
    if author.is_none() && word.is_none() && tag.is_none() {
        bail!("give an AUTHOR, --word WORD or --tag TAG");
    }
    Ok(MuteRequest {
        author: author.map(|a| api.author_id(&a)).transpose()?,
        word,
        tag,
    })
}

pub fn mute(
    api: &Client,
    json: bool,
    author: Option<String>,
    word: Option<String>,
    tag: Option<String>,
) -> Result<()> {
    let body = mute_body(api, author, word, tag)?;
    let _: serde_json::Value = api.post("/v1/mutes", &body)?;
    emit(json, &body, || "muted\n".into())
}

pub fn unmute(
    api: &Client,
    json: bool,
    author: Option<String>,
    word: Option<String>,
    tag: Option<String>,
) -> Result<()> {
    let body = mute_body(api, author, word, tag)?;
    let _: serde_json::Value = api.delete("/v1/mutes", Some(&body))?;
    emit(json, &body, || "unmuted\n".into())
}

fn members(n: usize) -> String {
    if n == 1 {
        "1 member".into()
    } else {
        format!("{n} members")
    }
}

fn purpose_name(purpose: ListPurpose) -> &'static str {
    match purpose {
        ListPurpose::Mute => "mute",
        ListPurpose::Block => "block",
        ListPurpose::Curate => "curated",
    }
}

fn parse_purpose(text: &str) -> Result<ListPurpose> {
    Ok(match text {
        "mute" => ListPurpose::Mute,
        "block" => ListPurpose::Block,
        "curate" => ListPurpose::Curate,
        other => bail!("--purpose must be mute, block or curate, not {other:?}"),
    })
}

fn parse_list(text: &str) -> Result<ListId> {
    use handbill_protocol::TypedId;
    ListId::parse(text).map_err(|e| anyhow::anyhow!("LIST: {e}"))
}

pub fn parse_definition(text: &str) -> Result<LabelDefinition> {
    let parts: Vec<&str> = text.split(':').collect();
    let [value, severity, action] = parts[..] else {
        bail!("--label {text:?} must be VALUE:SEVERITY:DEFAULT_ACTION, e.g. violence:high:hide");
    };
    let severity = match severity {
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        other => bail!("severity {other:?} must be low, medium or high"),
    };
    let default_action = match action {
        "show" => Action::Show,
        "warn" => Action::Warn,
        "hide" => Action::Hide,
        other => bail!("default action {other:?} must be show, warn or hide"),
    };
    Ok(LabelDefinition {
        value: value.to_string(),
        severity,
        default_action,
        description: String::new(),
    })
}

pub fn parse_expiry(text: &str) -> Result<Timestamp> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number.parse().with_context(|| {
        format!("--expires {text:?}: expected e.g. 30m, 12h, 7d or a time in ms")
    })?;
    let ms = match unit {
        "" => return Ok(Timestamp(n)),
        "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        other => bail!("--expires: unknown unit {other:?}; use s, m, h or d"),
    };
    Ok(Timestamp(now + ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_definitions_parse() {
        let d = parse_definition("violence:high:hide").unwrap();
        assert_eq!(
            (d.value.as_str(), d.severity, d.default_action),
            ("violence", Severity::High, Action::Hide)
        );
        assert!(parse_definition("violence:high").is_err());
        assert!(parse_definition("violence:extreme:hide").is_err());
    }

    #[test]
    fn expiry_parses_durations_and_times() {
        assert_eq!(parse_expiry("1234").unwrap(), Timestamp(1234));
        assert!(parse_expiry("7d").unwrap().0 > 1_000_000_000_000);
        assert!(parse_expiry("7y").is_err());
    }
}
