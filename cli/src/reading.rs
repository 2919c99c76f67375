//! Reading: the timeline (yours or a list's), one event, threads, authors, edit history,
//! search, and why moderation shows or hides something.

use crate::args::FeedArgs;
use crate::client::{Client, encode_query, events};
use crate::output::{emit, emit_lines, print_item};
use crate::render;
use anyhow::Result;
use handbill_protocol::api::{
    AuthorView, FeedItem, History, ListView, SearchResults, Thread, Timeline,
};
use handbill_protocol::{Action, AuthorId, TypedId};

pub fn feed(api: &Client, json: bool, args: FeedArgs) -> Result<()> {
    let limit = args.limit.clamp(1, 500);
    let list = match &args.list {
        Some(name) => {
            let owner = match &args.owner {
                Some(owner) => api.author_id(owner)?,
                None => {
                    api.get::<handbill_protocol::api::Status>("/v1/status")?
                        .author
                }
            };
            let view: ListView =
                api.get(&format!("/v1/authors/{owner}/lists/{}", encode_query(name)))?;
            Some(view)
        }
        None => None,
    };
    let mut path = match &list {
        Some(l) => format!(
            "/v1/authors/{}/lists/{}/timeline?limit={limit}",
            l.owner,
            encode_query(&l.name)
        ),
        None => format!("/v1/timeline?limit={limit}"),
    };
    if let Some(before) = &args.before {
        path.push_str(&format!("&before={}", encode_query(before)));
    }
    let page: Timeline = api.get(&path)?;
    for item in &page.items {
        print_item(json, item, args.show_hidden)?;
    }
    if !json && !args.follow {
        let more = match &list {
            Some(l) => format!(
                "handbill feed --list {:?} --owner {}",
                l.name,
                l.owner.short()
            ),
            None => "handbill feed".into(),
        };
        match &page.next {
            Some(next) => println!("more: {more} --before {next}"),
            None if page.items.is_empty() => match &list {
                Some(l) if l.members.is_empty() => println!(
                    "list {:?} has no members yet: `handbill list add {:?} AUTHOR`",
                    l.name, l.name
                ),
                Some(l) => println!(
                    "nothing yet from the {} members of {:?} that this node holds; \
                     follow them to fetch their posts",
                    l.members.len(),
                    l.name
                ),
                None => println!("nothing yet: follow someone with `handbill follow AUTHOR`"),
            },
            None => {}
        }
    }
    // Say what was left out, or a feed that is all hidden looks empty and unexplained.
    let hidden = page
        .items
        .iter()
        .filter(|i| i.moderation.action == Action::Hide)
        .count();
    if hidden > 0 && !args.show_hidden && !json {
        eprintln!(
            "{hidden} hidden by your moderation choices (`handbill feed --show-hidden` shows them, \
             `handbill why ID` says why)"
        );
    }
    if args.follow {
        let members: Option<Vec<AuthorId>> =
            list.map(|l| l.members.iter().map(|m| m.author).collect());
        for event in events(api.stream()?) {
            let (name, data) = event?;
            if name != "stored" {
                continue;
            }
            let Ok(item) = serde_json::from_str::<FeedItem>(&data) else {
                continue;
            };
            let wanted = match &members {
                Some(members) => {
                    matches!(item.kind.as_str(), "post" | "repost")
                        && members.contains(&item.author)
                }
                None => item.in_timeline,
            };
            if wanted {
                print_item(json, &item, args.show_hidden)?;
            }
        }
    }
    Ok(())
}

pub fn show(api: &Client, json: bool, id: &str) -> Result<()> {
    let item: FeedItem = api.get(&format!("/v1/events/{}", api.event_id(id)?))?;
    emit(json, &item, || render::item(&item, true))
}

pub fn thread(api: &Client, json: bool, id: &str) -> Result<()> {
    let thread: Thread = api.get(&format!("/v1/events/{}/thread", api.event_id(id)?))?;
    emit(json, &thread, || {
        let mut t = String::new();
        for a in &thread.ancestors {
            t.push_str(&render::item(a, false));
        }
        t.push_str(&render::item(&thread.event, true));
        for r in &thread.replies {
            for line in render::item(r, false).lines() {
                t.push_str(&format!("    {line}\n"));
            }
        }
        t
    })
}

pub fn author(api: &Client, json: bool, author: &str, limit: usize) -> Result<()> {
    let author = api.author_id(author)?;
    let view: AuthorView = api.get(&format!("/v1/authors/{author}?limit={limit}"))?;
    emit(json, &view, || {
        let mut t = format!(
            "{}\n{}{}{} events held{}\n\n",
            view.author,
            view.name
                .as_ref()
                .map_or(String::new(), |n| format!("name  {n}\n")),
            view.bio
                .as_ref()
                .map_or(String::new(), |b| format!("bio   {b}\n")),
            view.highest,
            if view.followed { ", followed" } else { "" }
        );
        for p in &view.posts {
            t.push_str(&render::item(p, false));
        }
        t
    })
}

pub fn history(api: &Client, json: bool, id: &str) -> Result<()> {
    let history: History = api.get(&format!("/v1/events/{}/history", api.event_id(id)?))?;
    emit_lines(json, &history.versions, || {
        let mut t = String::new();
        for (i, v) in history.versions.iter().enumerate() {
            let label = if i == 0 {
                "original".to_string()
            } else {
                format!("edit {i}")
            };
            let current = if v.current { "  (current)" } else { "" };
            t.push_str(&format!(
                "{label}  {}  {}{current}\n",
                v.id.short(),
                render::relative(v.created_at.0)
            ));
            match &v.text {
                Some(text) => {
                    for line in text.lines() {
                        t.push_str(&format!("  {line}\n"));
                    }
                }
                None => t.push_str("  (deleted by its author)\n"),
            }
        }
        t
    })
}

pub fn search(
    api: &Client,
    json: bool,
    query: &str,
    limit: usize,
    before: Option<String>,
) -> Result<()> {
    let mut path = format!(
        "/v1/search?q={}&limit={}",
        encode_query(query),
        limit.clamp(1, 500)
    );
    if let Some(before) = &before {
        path.push_str(&format!("&before={}", encode_query(before)));
    }
    let results: SearchResults = api.get(&path)?;
    for item in &results.items {
        print_item(json, item, false)?;
    }
    if !json {
        match &results.next {
            Some(next) => println!("more: handbill search {query:?} --before {next}"),
            None if results.items.is_empty() => {
                println!("no post this node holds matches {query:?}")
            }
            None => {}
        }
    }
    Ok(())
}

pub fn why(api: &Client, json: bool, id: &str) -> Result<()> {
    let item: FeedItem = api.get(&format!("/v1/events/{}", api.event_id(id)?))?;
    emit(json, &item.moderation, || {
        let v = &item.moderation;
        let mut t = format!("{}: {}\n", item.id.short(), v.action.name());
        if v.reasons.is_empty() {
            t.push_str("  nothing applies: no subscribed feed, list or mute matches\n");
        }
        for r in &v.reasons {
            t.push_str(&format!("  {}\n", r.describe()));
        }
        t
    })
}
