//! The node itself: `init`, `id`, `status`, `connect`, `peers`, and the manual.

use crate::args::Cli;
use crate::client::Client;
use crate::output::{emit, emit_lines};
use anyhow::{Context, Result, bail};
use clap::CommandFactory;
use handbill_protocol::TypedId;
use handbill_protocol::api::{ConnectRequest, Status};
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

pub fn id(api: &Client, json: bool) -> Result<()> {
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
    })
}

pub fn status(api: &Client, json: bool) -> Result<()> {
    let s: Status = api.get("/v1/status")?;
    emit(json, &s, || {
        let mut t = format!(
            "daemon     running (v{})\nauthor     {}\npeers      {}\nstored     {} events by {} authors\nfollowing  {}\nhosting    {} logs (yours, people you follow, your feeds and list owners):\n",
            s.version,
            s.author,
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
            .map(|p| match p.gossip_score {
                Some(score) => format!("{}  score {score:.2}\n", p.peer_id),
                None => format!("{}\n", p.peer_id),
            })
            .collect()
    })
}
