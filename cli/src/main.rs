//! `handbill`: post, follow and choose your moderation, through your node's local API.
//!
//! Data goes to stdout, diagnostics to stderr. Exit codes: 0 success; 1 an error (the message
//! says what to do); 2 bad usage; 3 the thing asked for is not there (e.g. `show` of an event the
//! node does not hold).

mod client;
mod moderation;
mod render;

use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand};
use client::{ApiFailure, Client};
use handbill_protocol::api::*;
use handbill_protocol::payload::LabelerDeclaration;
use handbill_protocol::{Action, AuthorId, EventId, ListId, TypedId};
use moderation::{host_policy, list, moderation, mute_body, parse_definition, parse_expiry};
use serde::Serialize;
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when the thing asked for is not stored or not found.
const EXIT_NOT_FOUND: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "handbill",
    version,
    about = "Post, follow and choose your moderation on Handbill"
)]
struct Cli {
    /// The node's home directory (default: the platform data dir, as for handbilld).
    #[arg(long, global = true, env = "HANDBILL_HOME")]
    home: Option<PathBuf>,
    /// Machine-readable output: JSON (one object per line for listings).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a home (author key, node key, config) without starting a daemon.
    Init,
    /// Show this node's author id, peer id and listen addresses.
    Id,
    /// Show whether the daemon runs, its peers, what it stores and how far each log is synced.
    Status,
    /// Connect to a peer by multiaddr (ending in /p2p/PEER_ID).
    Connect {
        /// The peer's address.
        addr: String,
    },
    /// List connected peers.
    Peers,
    /// Publish a post; prints its id.
    Post(PostArgs),
    /// Repost an event.
    Repost {
        /// The event to repost.
        id: EventId,
    },
    /// React to an event.
    React {
        /// The event to react to.
        id: EventId,
        /// The reaction.
        #[arg(default_value = "+1")]
        emoji: String,
    },
    /// Delete one of your own events (its payload is erased everywhere; the header stays).
    Delete {
        /// The event to delete.
        id: EventId,
    },
    /// Follow an author: keep and serve their posts and see them in your feed.
    Follow {
        /// The author.
        author: AuthorId,
    },
    /// Stop following an author.
    Unfollow {
        /// The author.
        author: AuthorId,
    },
    /// List the authors you follow.
    Following,
    /// Your timeline, newest first.
    Feed(FeedArgs),
    /// Show one event (exit code 3 if this node does not hold it).
    Show {
        /// The event.
        id: EventId,
    },
    /// Show an event with its ancestors and replies.
    Thread {
        /// The event.
        id: EventId,
    },
    /// Show an author's profile and posts.
    Author {
        /// The author.
        author: AuthorId,
        /// How many posts.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Manage your profile.
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
    /// Moderation feeds you subscribe to.
    Moderation {
        #[command(subcommand)]
        command: ModerationCommand,
    },
    /// Explain why an item is shown, warned about, or hidden.
    Why {
        /// The event.
        id: EventId,
    },
    /// Publish your own moderation feed.
    Labeler {
        #[command(subcommand)]
        command: LabelerCommand,
    },
    /// Label an event or an author, as a moderation feed.
    Label {
        /// An event id or an author id.
        target: String,
        /// The label value, e.g. violence.
        value: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// When the label stops applying: a duration (30m, 12h, 7d) or a time in ms.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Retract a label you published.
    Unlabel {
        /// An event id or an author id.
        target: String,
        /// The label value.
        value: String,
    },
    /// Hide an author's posts, or posts with a word or tag, from your own view.
    Mute(MuteArgs),
    /// Undo a mute.
    Unmute(MuteArgs),
    /// Lists of authors: your own, and others' you subscribe to.
    List {
        #[command(subcommand)]
        command: ListCommand,
    },
    /// What your node refuses to store or relay (the operator's policy, not your view).
    HostPolicy {
        #[command(subcommand)]
        command: HostPolicyCommand,
    },
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Args, Debug)]
struct PostArgs {
    /// The text, or - to read it from stdin.
    text: String,
    /// Reply to this event.
    #[arg(long)]
    reply_to: Option<EventId>,
    /// Quote this event.
    #[arg(long)]
    quote: Option<EventId>,
    /// A tag (repeatable), with or without #.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// A content warning / self-label (repeatable), e.g. spoiler.
    #[arg(long = "warn")]
    warnings: Vec<String>,
}

#[derive(Args, Debug)]
struct FeedArgs {
    /// How many items.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Only items older than this cursor (printed as `next` by the previous page).
    #[arg(long)]
    before: Option<String>,
    /// Keep running and print new items as they arrive.
    #[arg(long)]
    follow: bool,
    /// Include items hidden by moderation, with the reason.
    #[arg(long)]
    show_hidden: bool,
}

#[derive(Args, Debug)]
struct MuteArgs {
    /// An author to mute.
    author: Option<AuthorId>,
    /// A word or phrase.
    #[arg(long, conflicts_with_all = ["author", "tag"])]
    word: Option<String>,
    /// A tag.
    #[arg(long, conflicts_with_all = ["author", "word"])]
    tag: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// Publish your profile.
    Set {
        /// Display name.
        #[arg(long)]
        name: String,
        /// About you.
        #[arg(long, default_value = "")]
        bio: String,
    },
}

#[derive(Subcommand, Debug)]
enum ModerationCommand {
    /// Subscribe to a moderation feed, optionally overriding its default actions.
    Subscribe {
        /// The feed's author id.
        feed: AuthorId,
        /// Hide items with this label (repeatable).
        #[arg(long)]
        hide: Vec<String>,
        /// Warn about items with this label (repeatable).
        #[arg(long)]
        warn: Vec<String>,
        /// Show items with this label normally (repeatable).
        #[arg(long)]
        show: Vec<String>,
    },
    /// Unsubscribe from a feed.
    Unsubscribe {
        /// The feed's author id.
        feed: AuthorId,
    },
    /// List subscriptions, mutes, lists and options.
    List,
    /// Show a feed's declaration: its name and labels.
    Labels {
        /// The feed's author id.
        feed: AuthorId,
    },
    /// Set options.
    Options {
        /// Keep people you follow visible (with a warning) when feeds or lists would hide them.
        #[arg(long)]
        always_show_followed: bool,
    },
}

#[derive(Subcommand, Debug)]
enum LabelerCommand {
    /// Declare this author a moderation feed.
    Declare {
        /// The feed's name.
        #[arg(long)]
        name: String,
        /// What it labels.
        #[arg(long, default_value = "")]
        description: String,
        /// VALUE:SEVERITY:DEFAULT_ACTION, e.g. violence:high:hide (repeatable).
        #[arg(long = "label", required = true)]
        labels: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ListCommand {
    /// Create (or replace) one of your lists.
    Create {
        /// Its name.
        name: String,
        /// mute, block or curate.
        #[arg(long, default_value = "mute")]
        purpose: String,
        /// What it is.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Add an author to one of your lists.
    Add {
        /// The list's name.
        name: String,
        /// The author.
        author: AuthorId,
    },
    /// Remove an author from one of your lists.
    Remove {
        /// The list's name.
        name: String,
        /// The author.
        author: AuthorId,
    },
    /// Show your lists.
    Mine,
    /// Subscribe to a published list (yours, or someone else's with --owner).
    Subscribe {
        /// The list id (hblist1…).
        list: ListId,
        /// The list's owner, for someone else's list.
        #[arg(long)]
        owner: Option<AuthorId>,
    },
    /// Unsubscribe from a list.
    Unsubscribe {
        /// The list id.
        list: ListId,
        /// The list's owner.
        #[arg(long)]
        owner: Option<AuthorId>,
    },
}

#[derive(Subcommand, Debug)]
enum HostPolicyCommand {
    /// Refuse to store or relay anything a feed labels with LABEL.
    Refuse {
        /// The feed.
        feed: AuthorId,
        /// The label value.
        label: String,
    },
    /// Stop refusing a feed's label.
    Allow {
        /// The feed.
        feed: AuthorId,
        /// The label value.
        label: String,
    },
    /// Refuse to store or relay an author's events.
    Block {
        /// The author.
        author: AuthorId,
    },
    /// Stop blocking an author.
    Unblock {
        /// The author.
        author: AuthorId,
    },
    /// Show the policy.
    Show,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let not_found = e
                .downcast_ref::<ApiFailure>()
                .is_some_and(|f| f.status == 404);
            eprintln!("handbill: {e:#}");
            if not_found {
                ExitCode::from(EXIT_NOT_FOUND)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Prints JSON or human text.
fn emit(json: bool, value: &impl Serialize, human: impl FnOnce() -> String) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", human())?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    let home = client::home_dir(cli.home.clone())?;
    let json = cli.json;
    match cli.command {
        Command::Init => return init(&home, json),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "handbill",
                &mut std::io::stdout(),
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let api = Client::connect(&home)?;
    match cli.command {
        Command::Init | Command::Completions { .. } | Command::Man => unreachable!("handled above"),
        Command::Id => {
            let s: Status = api.get("/v1/status")?;
            let value = serde_json::json!({
                "author": s.author, "peer_id": s.peer_id, "listen_addrs": s.listen_addrs,
            });
            emit(json, &value, || {
                let mut t = format!("author   {}\npeer id  {}\n", s.author, s.peer_id);
                for a in &s.listen_addrs {
                    t.push_str(&format!("address  {a}\n"));
                }
                t
            })?;
        }
        Command::Status => {
            let s: Status = api.get("/v1/status")?;
            emit(json, &s, || {
                let mut t = format!(
                    "daemon     running (v{})\nauthor     {}\npeers      {}\nstored     {} events by {} authors\nfollowing  {}\n",
                    s.version,
                    s.author,
                    s.peers.len(),
                    s.counts.events,
                    s.counts.authors,
                    s.following
                );
                for sync in &s.sync {
                    let state = if sync.contiguous == sync.highest {
                        "complete".to_string()
                    } else {
                        format!("gap after {}", sync.contiguous)
                    };
                    t.push_str(&format!(
                        "  {}…  {} events, {state}\n",
                        &sync.author.to_text()[..16],
                        sync.highest
                    ));
                }
                for f in &s.forks {
                    t.push_str(&format!(
                        "  fork: {} signed two events at seq {}\n",
                        f.author, f.seq
                    ));
                }
                t
            })?;
        }
        Command::Connect { addr } => {
            let _: serde_json::Value =
                api.post("/v1/connect", &ConnectRequest { addr: addr.clone() })?;
            emit(json, &serde_json::json!({"connecting": addr}), || {
                format!("connecting to {addr}\n")
            })?;
        }
        Command::Peers => {
            let s: Status = api.get("/v1/status")?;
            emit(json, &s.peer_scores, || {
                if s.peer_scores.is_empty() {
                    return "no peers connected; `handbill connect ADDR` to add one\n".into();
                }
                s.peer_scores
                    .iter()
                    .map(|p| match p.gossip_score {
                        Some(score) => format!("{}  score {score:.2}\n", p.peer_id),
                        None => format!("{}\n", p.peer_id),
                    })
                    .collect()
            })?;
        }
        Command::Post(args) => {
            let text = if args.text == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the post from stdin")?;
                text.trim_end().to_string()
            } else {
                args.text
            };
            let published: Published = api.post(
                "/v1/events",
                &PublishRequest::Post {
                    text,
                    reply_to: args.reply_to,
                    quote: args.quote,
                    tags: args.tags,
                    mentions: Vec::new(),
                    self_labels: args.warnings,
                },
            )?;
            print_published(json, &published)?;
        }
        Command::Repost { id } => {
            let p: Published = api.post("/v1/events", &PublishRequest::Repost { target: id })?;
            print_published(json, &p)?;
        }
        Command::React { id, emoji } => {
            let p: Published = api.post(
                "/v1/events",
                &PublishRequest::Reaction {
                    target: id,
                    reaction: emoji,
                },
            )?;
            print_published(json, &p)?;
        }
        Command::Delete { id } => {
            let p: Published =
                api.post("/v1/events", &PublishRequest::Delete { targets: vec![id] })?;
            print_published(json, &p)?;
        }
        Command::Follow { author } => {
            let p: Published = api.post("/v1/follows", &FollowRequest { author })?;
            if !json {
                eprintln!("following {author}; fetching their posts in the background");
            }
            print_published(json, &p)?;
            wait_for_backfill(&api, &author, json)?;
        }
        Command::Unfollow { author } => {
            let p: Published = api.delete(&format!("/v1/follows/{author}"), None::<&()>)?;
            print_published(json, &p)?;
        }
        Command::Following => {
            let authors: Vec<AuthorId> = api.get("/v1/follows")?;
            emit(json, &authors, || {
                authors.iter().map(|a| format!("{a}\n")).collect()
            })?;
        }
        Command::Feed(args) => feed(&api, json, args)?,
        Command::Show { id } => {
            let item: FeedItem = api.get(&format!("/v1/events/{id}"))?;
            emit(json, &item, || render::item(&item, true))?;
        }
        Command::Thread { id } => {
            let thread: Thread = api.get(&format!("/v1/events/{id}/thread"))?;
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
            })?;
        }
        Command::Author { author, limit } => {
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
            })?;
        }
        Command::Profile {
            command: ProfileCommand::Set { name, bio },
        } => {
            let p: Published = api.post("/v1/events", &PublishRequest::Profile { name, bio })?;
            print_published(json, &p)?;
        }
        Command::Moderation { command } => moderation(&api, json, command)?,
        Command::Why { id } => {
            let item: FeedItem = api.get(&format!("/v1/events/{id}"))?;
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
            })?;
        }
        Command::Labeler {
            command:
                LabelerCommand::Declare {
                    name,
                    description,
                    labels,
                },
        } => {
            let labels = labels
                .iter()
                .map(|l| parse_definition(l))
                .collect::<Result<Vec<_>>>()?;
            let declaration = LabelerDeclaration {
                name,
                description,
                labels,
            };
            let p: Published = api.post(
                "/v1/events",
                &PublishRequest::LabelerDeclaration {
                    name: declaration.name,
                    description: declaration.description,
                    labels: declaration.labels,
                },
            )?;
            print_published(json, &p)?;
        }
        Command::Label {
            target,
            value,
            reason,
            expires,
        } => {
            let target = TargetId::parse(&target).map_err(|e| anyhow::anyhow!("TARGET: {e}"))?;
            let expires_at = expires.as_deref().map(parse_expiry).transpose()?;
            let p: Published = api.post(
                "/v1/events",
                &PublishRequest::Label {
                    target,
                    value,
                    reason,
                    expires_at,
                    negate: false,
                },
            )?;
            print_published(json, &p)?;
        }
        Command::Unlabel { target, value } => {
            let target = TargetId::parse(&target).map_err(|e| anyhow::anyhow!("TARGET: {e}"))?;
            let p: Published = api.post(
                "/v1/events",
                &PublishRequest::Label {
                    target,
                    value,
                    reason: None,
                    expires_at: None,
                    negate: true,
                },
            )?;
            print_published(json, &p)?;
        }
        Command::Mute(args) => {
            let body = mute_body(args)?;
            let _: serde_json::Value = api.post("/v1/mutes", &body)?;
            emit(json, &body, || "muted\n".into())?;
        }
        Command::Unmute(args) => {
            let body = mute_body(args)?;
            let _: serde_json::Value = api.delete("/v1/mutes", Some(&body))?;
            emit(json, &body, || "unmuted\n".into())?;
        }
        Command::List { command } => list(&api, json, command)?,
        Command::HostPolicy { command } => host_policy(&api, json, command)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_published(json: bool, p: &Published) -> Result<()> {
    emit(json, p, || format!("{}\n", p.id))
}

fn init(home: &std::path::Path, json: bool) -> Result<ExitCode> {
    if home.join("author.key").exists() {
        bail!(
            "{} already holds an author key; refusing to overwrite it",
            home.display()
        );
    }
    // The daemon owns the home's layout and key formats; it ships beside this binary.
    let beside = std::env::current_exe()
        .ok()
        .map(|p| p.with_file_name("handbilld"))
        .filter(|p| p.exists());
    let daemon = beside.unwrap_or_else(|| PathBuf::from("handbilld"));
    let output = std::process::Command::new(&daemon)
        .arg("--home")
        .arg(home)
        .arg("--init")
        .output()
        .with_context(|| {
            format!(
                "running {} (install handbilld next to handbill or on PATH)",
                daemon.display()
            )
        })?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let author = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let value = serde_json::json!({"author": author, "home": home});
    emit(json, &value, || format!("{author}\n"))?;
    if !json {
        eprintln!(
            "created {}; start the node with `handbilld --home {}` (it listens on port 4701; \
             a second node on this machine needs its own, e.g. \
             `--listen /ip4/0.0.0.0/tcp/4702`)",
            home.display(),
            home.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// After a follow, shows progress while the author's log arrives (on a terminal only).
fn wait_for_backfill(api: &Client, author: &AuthorId, json: bool) -> Result<()> {
    use std::io::IsTerminal;
    if json || !std::io::stderr().is_terminal() {
        return Ok(());
    }
    let start = std::time::Instant::now();
    let mut last = 0;
    while start.elapsed() < std::time::Duration::from_secs(30) {
        let view: AuthorView = api.get(&format!("/v1/authors/{author}?limit=1"))?;
        if view.highest != last {
            last = view.highest;
            eprint!("\r  {} events fetched", view.contiguous);
        }
        if view.highest > 0 && view.contiguous == view.highest {
            std::thread::sleep(std::time::Duration::from_millis(500));
            let again: AuthorView = api.get(&format!("/v1/authors/{author}?limit=1"))?;
            if again.highest == view.highest {
                eprintln!("\r  {} events fetched; up to date", view.contiguous);
                return Ok(());
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    eprintln!(
        "\r  still fetching in the background ({last} so far); `handbill status` shows progress"
    );
    Ok(())
}

fn feed(api: &Client, json: bool, args: FeedArgs) -> Result<()> {
    let mut path = format!("/v1/timeline?limit={}", args.limit.clamp(1, 500));
    if let Some(before) = &args.before {
        path.push_str(&format!("&before={before}"));
    }
    let page: Timeline = api.get(&path)?;
    let mut out = std::io::stdout().lock();
    for item in &page.items {
        print_item(&mut out, json, item, args.show_hidden)?;
    }
    if !json && !args.follow {
        match &page.next {
            Some(next) => writeln!(out, "more: handbill feed --before {next}")?,
            None if page.items.is_empty() => writeln!(
                out,
                "nothing yet: follow someone with `handbill follow AUTHOR`"
            )?,
            None => {}
        }
    }
    out.flush()?;
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
    drop(out);
    if args.follow {
        let status: Status = api.get("/v1/status")?;
        let following: Vec<AuthorId> = api.get("/v1/follows")?;
        let lines = api.stream()?.lines();
        for line in lines {
            let line = line.context("reading the event stream")?;
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let Ok(item) = serde_json::from_str::<FeedItem>(data.trim()) else {
                continue;
            };
            let in_timeline = (item.kind == "post" || item.kind == "repost")
                && (item.author == status.author || following.contains(&item.author));
            if in_timeline {
                let mut out = std::io::stdout().lock();
                print_item(&mut out, json, &item, args.show_hidden)?;
                out.flush()?;
            }
        }
    }
    Ok(())
}

fn print_item(out: &mut impl Write, json: bool, item: &FeedItem, show_hidden: bool) -> Result<()> {
    if item.moderation.action == Action::Hide && !show_hidden {
        return Ok(());
    }
    if json {
        serde_json::to_writer(&mut *out, item)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render::item(item, show_hidden))?;
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
