//! The node itself: `init`, `id`, `status`, `connect`, `peers`, and the manual.

use crate::args::Cli;
use crate::client::Client;
use crate::output::{emit, emit_lines};
use anyhow::{Context, Result, bail};
use clap::CommandFactory;
use handbill_protocol::TypedId;
use handbill_protocol::api::{ConnectRequest, ConnectionKind, Status};
use handbill_protocol::reachability::Reachability;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

pub fn init(home: &Path, json: bool, listen: Option<String>) -> Result<()> {
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
    let mut command = std::process::Command::new(&daemon);
    command.arg("--home").arg(home).arg("--init");
    if let Some(listen) = &listen {
        command.arg("--listen").arg(listen);
    }
    let output = command.output().with_context(|| {
        format!(
            "running {} (install handbilld next to handbill or on PATH)",
            daemon.display()
        )
    })?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let author = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let value = serde_json::json!({"author": author, "home": home, "listen": listen});
    emit(json, &value, || format!("{author}\n"))?;
    if !json {
        let where_ = match &listen {
            Some(addr) => format!("it will listen on {addr}, as recorded in config.toml"),
            None => "it listens on port 4701; a second node on this machine needs its own, \
                     e.g. `handbill init --listen /ip4/127.0.0.1/tcp/4702` (recorded in \
                     config.toml)"
                .into(),
        };
        eprintln!(
            "created {}; start the node with `handbilld --home {}` ({where_})",
            home.display(),
            home.display()
        );
    }
    Ok(())
}

/// The manual: every page (the main one and one per command) so that each page it names exists.
pub fn man(dir: Option<PathBuf>) -> Result<()> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        clap_mangen::generate_to(Cli::command(), &dir)
            .with_context(|| format!("writing man pages to {}", dir.display()))?;
        eprintln!(
            "wrote handbill.1 and a page per command to {}; read them with `man -l {}/handbill.1`",
            dir.display(),
            dir.display()
        );
        return Ok(());
    }
    let roff = all_pages()?;
    if std::io::stdout().is_terminal() {
        // A person at a terminal wants to read the manual, not its source.
        let shown = std::process::Command::new("man")
            .args(["-l", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut stdin) = child.stdin.take() {
                    // The pager may quit before reading everything.
                    let _ = stdin.write_all(&roff);
                }
                child.wait()
            });
        if shown.is_ok_and(|status| status.success()) {
            return Ok(());
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&roff)?;
    Ok(out.flush()?)
}

/// The main page followed by every command's page, as one roff document.
fn all_pages() -> Result<Vec<u8>> {
    fn render(cmd: clap::Command, prefix: &str, out: &mut Vec<u8>) -> Result<()> {
        let name = format!("{prefix}{}", cmd.get_name());
        let cmd = cmd.display_name(name.clone());
        clap_mangen::Man::new(cmd.clone()).render(out)?;
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            render(sub.clone(), &format!("{name}-"), out)?;
        }
        Ok(())
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render(sub.clone(), "handbill-", &mut out)?;
    }
    Ok(out)
}

/// Prints the ids and the addresses to share, best first: the first `address` line is the one
/// to give others (`awk '/^address/ {print $2; exit}'`).
pub fn id(api: &Client, json: bool) -> Result<()> {
    let s: Status = api.get("/v1/status")?;
    let value = serde_json::json!({
        "author": s.author, "peer_id": s.peer_id, "addresses": s.addresses,
        "reachability": s.reachability.state, "listen_addrs": s.listen_addrs,
    });
    emit(json, &value, || {
        let mut t = format!("author   {}\npeer id  {}\n", s.author, s.peer_id);
        for a in &s.addresses {
            t.push_str(&format!("address  {}  {}\n", a.addr, a.kind));
        }
        t.push_str(&reachability_hint(&s));
        t
    })
}

/// What a person should know about who can reach this node.
fn reachability_hint(s: &Status) -> String {
    let r = &s.reachability;
    match r.state {
        Reachability::Public => "reachable from outside: share the public address\n".into(),
        Reachability::BehindNat if r.relays.is_empty() => {
            "behind NAT: others cannot connect here yet (no relay holds a slot; connect to a \
             publicly reachable node, which relays for you)\n"
                .into()
        }
        Reachability::BehindNat => format!(
            "behind NAT: others reach you through {} relay{} (relayed addresses), and a direct \
             connection is tried once they do\n",
            r.relays.len(),
            if r.relays.len() == 1 { "" } else { "s" }
        ),
        Reachability::Unknown => {
            "reachability unknown: no peer this node dialled has tested its addresses yet\n".into()
        }
    }
}

pub fn status(api: &Client, json: bool) -> Result<()> {
    let s: Status = api.get("/v1/status")?;
    emit(json, &s, || {
        let mut t = format!(
            "daemon     running (v{})\nauthor     {}\nreachable  {}\npeers      {}\nstored     {} events by {} authors\nfollowing  {}\nhosting    {} logs (yours, people you follow, your feeds and list owners):\n",
            s.version,
            s.author,
            reachable_line(&s),
            s.peers.len(),
            s.counts.events,
            s.counts.authors,
            s.following,
            s.sync.len(),
        );
        for sync in &s.sync {
            let state = if sync.contiguous == sync.highest {
                "complete".to_string()
            } else {
                format!("gap after {}", sync.contiguous)
            };
            let mine = if sync.author == s.author {
                " (you)"
            } else {
                ""
            };
            t.push_str(&format!(
                "  {}{mine}  {} events, {state}\n",
                sync.author.short(),
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
    })
}

/// The `reachable` line of `status`.
fn reachable_line(s: &Status) -> String {
    let r = &s.reachability;
    let mut line = r.state.to_string();
    if !r.confirmed.is_empty() {
        line.push_str(&format!(" (confirmed {})", r.confirmed.join(", ")));
    }
    if !r.relays.is_empty() {
        line.push_str(&format!(", relayed through {}", r.relays.len()));
    }
    if r.relay_service {
        line.push_str(", relaying for others");
    }
    line
}

pub fn connect(api: &Client, json: bool, addr: String) -> Result<()> {
    let _: serde_json::Value = api.post("/v1/connect", &ConnectRequest { addr: addr.clone() })?;
    emit(json, &serde_json::json!({"connecting": addr}), || {
        format!("connecting to {addr}\n")
    })
}

pub fn peers(api: &Client, json: bool) -> Result<()> {
    let s: Status = api.get("/v1/status")?;
    emit_lines(json, &s.peer_scores, || {
        if s.peer_scores.is_empty() {
            return "no peers connected; `handbill connect ADDR` to add one\n".into();
        }
        s.peer_scores
            .iter()
            .map(|p| {
                let kind = match p.connection {
                    ConnectionKind::Direct => "direct ",
                    ConnectionKind::Relayed => "relayed",
                };
                match p.gossip_score {
                    Some(score) => format!("{}  {kind}  score {score:.2}\n", p.peer_id),
                    None => format!("{}  {kind}\n", p.peer_id),
                }
            })
            .collect()
    })
}
