//! The command line: every command, argument and flag, as clap definitions. Ids are taken as
//! typed (full, short or a unique prefix; authors also by `@name`) and resolved by the node.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "handbill",
    version,
    about = "Post, follow and choose your moderation on Handbill",
    after_help = "Ids: wherever an EVENT or AUTHOR is asked for, give the full id, the short id \
                  that output shows, or any unique prefix of at least 6 characters; an AUTHOR \
                  may also be @name (a display name this node knows)."
)]
pub struct Cli {
    /// The node's home directory (default: the platform data dir, as for handbilld).
    #[arg(long, global = true, env = "HANDBILL_HOME")]
    pub home: Option<PathBuf>,
    /// Machine-readable output: one JSON object per line; errors as a JSON object on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a home (author key, node key, config) without starting a daemon.
    Init {
        /// The address the node will listen on, recorded in config.toml (default
        /// /ip4/0.0.0.0/tcp/4701; a second node on one machine needs another port).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Show this node's author id, peer id and the addresses to share.
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
    /// Publish a post; prints its id. @name, @hbauthor1… and #tag in the text become mentions
    /// and tags.
    Post(PostArgs),
    /// Replace the text of one of your posts (readers see the newest text, marked edited).
    Edit {
        /// The post (or an earlier edit of it).
        id: String,
        /// The new text, or - to read it from stdin.
        text: String,
    },
    /// List the versions of an edited post, oldest first.
    History {
        /// The post (or one of its edits).
        id: String,
    },
    /// Repost an event.
    Repost {
        /// The event to repost.
        id: String,
    },
    /// React to an event.
    React {
        /// The event to react to.
        id: String,
        /// The reaction.
        #[arg(default_value = "+1")]
        emoji: String,
    },
    /// Delete one of your own events (its payload, and every edit of it, is erased everywhere;
    /// the header stays).
    Delete {
        /// The event to delete.
        id: String,
    },
    /// Follow an author: keep and serve their posts and see them in your feed.
    Follow {
        /// The author.
        author: String,
    },
    /// Stop following an author.
    Unfollow {
        /// The author.
        author: String,
    },
    /// List the authors you follow.
    Following,
    /// List who follows you, as far as this node has seen.
    Followers,
    /// Replies, mentions, quotes, reposts and reactions to you, new followers, and labels your
    /// feeds put on your posts. Unread ones unless --all.
    Notifications(NotificationArgs),
    /// Your timeline (or a curated list's), newest first.
    Feed(FeedArgs),
    /// Search the posts this node holds: words, #tag, from:AUTHOR.
    Search {
        /// The query.
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// How many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only results older than this cursor (printed by the previous page).
        #[arg(long)]
        before: Option<String>,
    },
    /// Show one event (exit code 3 if this node does not hold it).
    Show {
        /// The event.
        id: String,
    },
    /// Show an event with its ancestors and replies.
    Thread {
        /// The event.
        id: String,
    },
    /// Show an author's profile and posts.
    Author {
        /// The author.
        author: String,
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
        id: String,
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
    Unmute(UnmuteArgs),
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
    /// Open the web app in your browser, signed in with a one-time link (valid once, for a
    /// minute; the API token never leaves this machine's files).
    Open {
        /// Print the link instead of opening a browser (to open it elsewhere on this machine).
        #[arg(long)]
        print: bool,
    },
    /// Browser sessions of the web app: list them, or end one.
    Sessions {
        #[command(subcommand)]
        command: Option<SessionsCommand>,
    },
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Show the manual: on a terminal through man(1); otherwise the roff of the main page, or
    /// with --dir every page written as files.
    Man {
        /// Write handbill.1 and one page per command into this directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct PostArgs {
    /// The text, or - to read it from stdin.
    pub text: String,
    /// Reply to this event.
    #[arg(long)]
    pub reply_to: Option<String>,
    /// Quote this event.
    #[arg(long)]
    pub quote: Option<String>,
    /// A tag (repeatable), with or without #.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// A content warning / self-label (repeatable), e.g. spoiler.
    #[arg(long = "warn")]
    pub warnings: Vec<String>,
}

#[derive(Args, Debug)]
pub struct FeedArgs {
    /// How many items.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Only items older than this cursor (printed as `more:` by the previous page).
    #[arg(long)]
    pub before: Option<String>,
    /// Keep running and print new items as they arrive.
    #[arg(long)]
    pub follow: bool,
    /// Include items hidden by moderation, with the reason.
    #[arg(long)]
    pub show_hidden: bool,
    /// The timeline of a curated list instead: its members' posts.
    #[arg(long)]
    pub list: Option<String>,
    /// The list's owner, for someone else's list (default: you).
    #[arg(long, requires = "list")]
    pub owner: Option<String>,
}

#[derive(Args, Debug)]
pub struct NotificationArgs {
    /// Read ones too.
    #[arg(long)]
    pub all: bool,
    /// After listing, mark every notification up to the newest listed read.
    #[arg(long)]
    pub mark_read: bool,
    /// Keep running and print new notifications as they arrive.
    #[arg(long)]
    pub follow: bool,
    /// How many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Args, Debug)]
pub struct MuteArgs {
    /// An author to mute.
    pub author: Option<String>,
    /// A word or phrase to mute.
    #[arg(long, conflicts_with_all = ["author", "tag"])]
    pub word: Option<String>,
    /// A tag to mute.
    #[arg(long, conflicts_with_all = ["author", "word"])]
    pub tag: Option<String>,
}

#[derive(Args, Debug)]
pub struct UnmuteArgs {
    /// An author to unmute.
    pub author: Option<String>,
    /// A muted word or phrase.
    #[arg(long, conflicts_with_all = ["author", "tag"])]
    pub word: Option<String>,
    /// A muted tag.
    #[arg(long, conflicts_with_all = ["author", "word"])]
    pub tag: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
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
pub enum ModerationCommand {
    /// Subscribe to a moderation feed, optionally overriding its default actions.
    Subscribe {
        /// The feed's author.
        feed: String,
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
        /// The feed's author.
        feed: String,
    },
    /// List subscriptions, mutes, lists and options.
    List,
    /// Show a feed's declaration: its name and labels.
    Labels {
        /// The feed's author.
        feed: String,
    },
    /// Show the options, or change the ones given.
    Options {
        /// Keep people you follow visible (with a warning) when feeds or lists would hide them.
        #[arg(long, conflicts_with = "no_always_show_followed")]
        always_show_followed: bool,
        /// Let feeds and lists hide people you follow too.
        #[arg(long)]
        no_always_show_followed: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum LabelerCommand {
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
pub enum ListCommand {
    /// Create one of your lists, or change an existing one's purpose or description (its
    /// members are kept).
    Create {
        /// Its name.
        name: String,
        /// mute (subscribers hide its members; the default for a new list), block (hide
        /// their interactions too) or curate (a reading list: `feed --list NAME`).
        #[arg(long)]
        purpose: Option<String>,
        /// What it is.
        #[arg(long)]
        description: Option<String>,
    },
    /// Add an author to one of your lists.
    Add {
        /// The list's name.
        name: String,
        /// The author.
        author: String,
    },
    /// Remove an author from one of your lists.
    Remove {
        /// The list's name.
        name: String,
        /// The author.
        author: String,
    },
    /// Show your lists.
    Mine,
    /// Show one list and its members (yours, or someone else's with --owner).
    Show {
        /// The list's name.
        name: String,
        /// The list's owner (default: you).
        #[arg(long)]
        owner: Option<String>,
    },
    /// Subscribe to a published list (yours, or someone else's with --owner).
    Subscribe {
        /// The list id (hblist1…).
        list: String,
        /// The list's owner, for someone else's list.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Unsubscribe from a list.
    Unsubscribe {
        /// The list id.
        list: String,
        /// The list's owner.
        #[arg(long)]
        owner: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// List browser sessions, most recently used first (the default).
    List,
    /// End a browser session: its next request is refused and it must sign in again.
    Revoke {
        /// The session id (or a unique prefix), as `handbill sessions` shows it.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum HostPolicyCommand {
    /// Refuse to store or relay anything a feed labels with LABEL.
    Refuse {
        /// The feed.
        feed: String,
        /// The label value.
        label: String,
    },
    /// Stop refusing a feed's label.
    Allow {
        /// The feed.
        feed: String,
        /// The label value.
        label: String,
    },
    /// Refuse to store or relay an author's events.
    Block {
        /// The author.
        author: String,
    },
    /// Stop blocking an author.
    Unblock {
        /// The author.
        author: String,
    },
    /// Show the policy.
    Show,
}
