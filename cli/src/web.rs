//! The web app: `open` signs a browser in with a one-time link; `sessions` lists and ends the
//! browser sessions.

use crate::args::SessionsCommand;
use crate::client::Client;
use crate::output::{emit, emit_lines};
use crate::render::relative;
use anyhow::Result;
use handbill_protocol::api::{SessionView, SignInLink};

/// `handbill open [--print]`.
pub fn open(api: &Client, json: bool, print: bool) -> Result<()> {
    let link: SignInLink = api.post("/v1/sessions/code", &serde_json::json!({}))?;
    if print || json {
        return emit(json, &link, || format!("{}\n", link.url));
    }
    match open::that(&link.url) {
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
