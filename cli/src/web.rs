//! The web app: `open` signs a browser in with a one-time link; `sessions` lists and ends the
//! browser sessions.

use crate::args::SessionsCommand;
use crate::client::Client;
use crate::output::{emit, emit_lines};
use crate::render::relative;
use anyhow::{Context, Result};
use handbill_protocol::api::{SessionView, SignInLink};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `handbill open [--print]`.
pub fn open(api: &Client, home: &Path, json: bool, print: bool) -> Result<()> {
    let link: SignInLink = api.post("/v1/sessions/code", &serde_json::json!({}))?;
    if print || json {
        return emit(json, &link, || format!("{}\n", link.url));
    }
    // The browser gets a private file that forwards to the link, not the link itself: a
    // command line (xdg-open's, the browser's) is readable by every user of the machine, who
    // could redeem the code first.
    let page = forwarding_page(home, &link.url)?;
    match open::that(&page) {
        Ok(()) => {
            eprintln!(
                "opened the web app in your browser (the sign-in link works once, for a minute)"
            );
            Ok(())
        }
        Err(e) => {
            eprintln!(
                "handbill: cannot start a browser ({e}); open this link in one on this machine \
                 within a minute:"
            );
            println!("{}", link.url);
            Ok(())
        }
    }
}

/// Writes `HOME/open.html` (0600), a page that forwards the browser to `url`.
fn forwarding_page(home: &Path, url: &str) -> Result<PathBuf> {
    let path = home.join("open.html");
    let tmp = home.join("open.html.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    // The URL is the daemon's own (http://127.0.0.1:PORT/signin?code=HEX): nothing to escape.
    writeln!(
        file,
        "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={url}\">\
         <title>Opening Handbill</title><p><a href=\"{url}\">Open Handbill</a></p>"
    )
    .and_then(|()| file.sync_all())
    .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// `handbill sessions [list | revoke ID]`.
pub fn sessions(api: &Client, json: bool, command: Option<SessionsCommand>) -> Result<()> {
    match command.unwrap_or(SessionsCommand::List) {
        SessionsCommand::List => {
            let sessions: Vec<SessionView> = api.get("/v1/sessions")?;
            emit_lines(json, &sessions, || {
                if sessions.is_empty() {
                    return "no browser sessions (handbill open signs one in)\n".to_string();
                }
                let mut out = format!(
                    "{:<12}  {:<10}  {:<10}  BROWSER\n",
                    "ID", "SIGNED IN", "LAST USED"
                );
                for s in &sessions {
                    out += &format!(
                        "{:<12}  {:<10}  {:<10}  {}\n",
                        s.id,
                        relative(s.created_at.0),
                        relative(s.last_used.0),
                        s.agent
                    );
                }
                out
            })
        }
        SessionsCommand::Revoke { id } => {
            let revoked: SessionView = api.delete(
                &format!("/v1/sessions/{}", crate::client::encode_query(&id)),
                None::<&()>,
            )?;
            emit(json, &revoked, || {
                format!(
                    "revoked browser session {} ({})\n",
                    revoked.id, revoked.agent
                )
            })
        }
    }
}
