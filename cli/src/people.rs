//! People: following and unfollowing, who you follow, who follows you, and notifications.

use crate::args::NotificationArgs;
use crate::client::{ApiFailure, Client, events};
use crate::output::{emit, emit_lines};
use crate::render;
use anyhow::Result;
use handbill_protocol::api::{
    AuthorView, FeedItem, FollowRequest, Followers, MarkRead, Notification, Notifications,
    Published,
};
use handbill_protocol::relations::NotificationKind;
use handbill_protocol::{AuthorId, TypedId};
use std::io::Write;
use std::time::{Duration, Instant};

pub fn follow(api: &Client, json: bool, text: &str) -> Result<()> {
    let author = api.author_id(text)?;
    match api.post::<Published>("/v1/follows", &FollowRequest { author }) {
        Ok(p) => {
            if !json {
                eprintln!("following {author}; fetching their posts in the background");
            }
            emit(json, &p, || format!("{}\n", p.id))?;
            wait_for_backfill(api, &author, json)
        }
        Err(e)
            if e.downcast_ref::<ApiFailure>()
                .is_some_and(|f| f.code == "already_following") =>
        {
            emit(
                json,
                &serde_json::json!({"author": author, "already_following": true}),
                || format!("already following {author}; nothing published\n"),
            )
        }
        Err(e) => Err(e),
    }
}

pub fn unfollow(api: &Client, json: bool, text: &str) -> Result<()> {
    let author = api.author_id(text)?;
    let p: Published = api.delete(&format!("/v1/follows/{author}"), None::<&()>)?;
    emit(json, &p, || format!("{}\n", p.id))
}

pub fn following(api: &Client, json: bool) -> Result<()> {
    let authors: Vec<AuthorId> = api.get("/v1/follows")?;
    let lines: Vec<serde_json::Value> = authors
        .iter()
        .map(|a| serde_json::json!({ "author": a }))
        .collect();
    emit_lines(json, &lines, || {
        if authors.is_empty() {
            return "you follow nobody yet: `handbill follow AUTHOR`\n".into();
        }
        authors.iter().map(|a| format!("{a}\n")).collect()
    })
}

pub fn followers(api: &Client, json: bool) -> Result<()> {
    let f: Followers = api.get("/v1/followers")?;
    emit_lines(json, &f.followers, || {
        let mut t = String::new();
        for follower in &f.followers {
            t.push_str(&format!(
                "{}  since {}  {}\n",
                render::who(&follower.author, follower.name.as_deref()),
                render::relative(follower.since.0),
                follower.author
            ));
        }
        if f.followers.is_empty() {
            t.push_str("no follows of you seen yet\n");
        }
        t
    })?;
    if !json {
        eprintln!("{}", f.note);
    }
    Ok(())
}

/// After a follow, shows progress while the author's log arrives (on a terminal only), and
/// stops as soon as it is clear that nothing is coming now.
fn wait_for_backfill(api: &Client, author: &AuthorId, json: bool) -> Result<()> {
    use std::io::IsTerminal;
    if json || !std::io::stderr().is_terminal() {
        return Ok(());
    }
    let start = Instant::now();
    let mut last_change = Instant::now();
    let mut last = (0, 0);
    while start.elapsed() < Duration::from_secs(30) {
        let view: AuthorView = api.get(&format!("/v1/authors/{author}?limit=1"))?;
        let now = (view.contiguous, view.highest);
        if now != last {
            last = now;
            last_change = Instant::now();
            eprint!("\r  {} events fetched", view.contiguous);
        }
        let quiet = last_change.elapsed();
        if view.highest > 0 && view.contiguous == view.highest && quiet > Duration::from_millis(500)
        {
            eprintln!("\r  {} events fetched; up to date", view.contiguous);
            return Ok(());
        }
        if view.highest == 0 && quiet > Duration::from_secs(3) {
            eprintln!(
                "  none of your peers has posts by them yet; they arrive in the background \
                 when a peer that has them connects (`handbill status` shows progress)"
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!(
        "\r  still fetching in the background ({} so far); `handbill status` shows progress",
        last.0
    );
    Ok(())
}

fn describe(n: &Notification) -> String {
    let reason = match n.reason {
        NotificationKind::Reply => "replied to you",
        NotificationKind::Mention => "mentioned you",
        NotificationKind::Quote => "quoted you",
        NotificationKind::Repost => "reposted you",
        NotificationKind::Reaction => "reacted to you",
        NotificationKind::Follow => "followed you",
        NotificationKind::Unfollow => "unfollowed you",
        NotificationKind::Label => "labelled you or your post",
    };
    let item: &FeedItem = &n.item;
    let marker = if n.unread { "● " } else { "  " };
    let mut t = format!(
        "{marker}{} {reason}  {}  {}\n",
        render::who(&item.author, item.author_name.as_deref()),
        render::relative(item.created_at.0),
        item.id.short()
    );
    match n.reason {
        NotificationKind::Follow => {}
        _ => {
            for line in render::item(item, false).lines().skip(1) {
                t.push_str(&format!("  {line}\n"));
            }
        }
    }
    t
}

pub fn notifications(api: &Client, json: bool, args: NotificationArgs) -> Result<()> {
    let path = format!(
        "/v1/notifications?limit={}&all={}",
        args.limit.clamp(1, 500),
        args.all
    );
    let page: Notifications = api.get(&path)?;
    emit_lines(json, &page.items, || {
        if page.items.is_empty() {
            return if args.all {
                "no notifications yet\n".into()
            } else {
                "no unread notifications (`handbill notifications --all` shows read ones)\n".into()
            };
        }
        page.items.iter().map(describe).collect()
    })?;
    if args.mark_read
        && let Some(newest) = page.items.first()
    {
        let _: MarkRead = api.post(
            "/v1/notifications/read",
            &MarkRead {
                position: Some(newest.position),
            },
        )?;
        if !json {
            eprintln!("marked read");
        }
    }
    if args.follow {
        for event in events(api.stream()?) {
            let (name, data) = event?;
            if name != "notification" {
                continue;
            }
            if let Ok(n) = serde_json::from_str::<Notification>(&data) {
                emit(json, &n, || describe(&n))?;
                std::io::stdout().flush()?;
            }
        }
    }
    Ok(())
}
