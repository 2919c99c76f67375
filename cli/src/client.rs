//! Finding the daemon through its home and talking to its local API.

use anyhow::{Context, Result, anyhow, bail};
use handbill_protocol::api::{ApiError, Resolved};
use handbill_protocol::{AuthorId, EventId, TypedId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The home directory: `--home`, else `HANDBILL_HOME`, else the platform default (the same rule
/// as the daemon's).
pub fn home_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(home) = flag {
        return Ok(home);
    }
    directories::ProjectDirs::from("", "", "handbill")
        .map(|d| d.data_dir().to_path_buf())
        .context("cannot determine a default home; pass --home DIR")
}

/// A connection to a running daemon.
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
    home: PathBuf,
}

/// A failure the API reported: status, stable code, message.
#[derive(Debug)]
pub struct ApiFailure {
    /// HTTP status.
    pub status: u16,
    /// The daemon's stable error code (`not_found`, `ambiguous`, …).
    pub code: String,
    /// The daemon's message.
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ApiFailure {}

/// The command line named something that cannot be an id (exit code 2, like other bad usage).
#[derive(Debug)]
pub struct BadUsage(pub String);

impl std::fmt::Display for BadUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadUsage {}

/// A resolution the daemon refused as malformed is the command line's fault.
fn usage_error(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<ApiFailure>() {
        Some(f) if f.status == 400 => BadUsage(f.message.clone()).into(),
        _ => e,
    }
}

impl Client {
    /// Finds the daemon of `home`, failing with what to do when it is not running.
    pub fn connect(home: &Path) -> Result<Client> {
        let addr_file = home.join("api.addr");
        let base = match std::fs::read_to_string(&addr_file) {
            Ok(text) => text.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !home.join("author.key").exists() {
                    bail!(
                        "no Handbill home at {}; create one with `handbill init` (or pass --home)",
                        home.display()
                    );
                }
                bail!(
                    "the daemon is not running for {}; start it with `handbilld --home {}`",
                    home.display(),
                    home.display()
                );
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", addr_file.display())),
        };
        let token = std::fs::read_to_string(home.join("api.token"))
            .with_context(|| format!("reading the API token in {}", home.display()))?
            .trim()
            .to_string();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(2)))
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client {
            base,
            token,
            agent,
            home: home.to_path_buf(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the daemon at {} ({e}); api.addr in {} may be stale: start handbilld again",
            self.base,
            self.home.display()
        )
    }

    fn finish<T: DeserializeOwned>(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T> {
        let mut response = response.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .context("reading the daemon's answer")?;
        if status >= 300 {
            let failure = match serde_json::from_str::<ApiError>(&text) {
                Ok(e) => ApiFailure {
                    status,
                    code: e.error.code,
                    message: e.error.message,
                },
                Err(_) => ApiFailure {
                    status,
                    code: "http".into(),
                    message: format!("the daemon answered {status}"),
                },
            };
            if failure.status == 401 {
                bail!(
                    "the daemon refused the API token in {}: {} (restarting handbilld writes a fresh one)",
                    self.home.display(),
                    failure.message
                );
            }
            return Err(failure.into());
        }
        let text = if text.trim().is_empty() {
            "null".to_string()
        } else {
            text
        };
        serde_json::from_str(&text).context("decoding the daemon's answer")
    }

    /// GET a JSON resource.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let r = self
            .agent
            .get(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call();
        self.finish(r)
    }

    /// POST a JSON body.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let r = self
            .agent
            .post(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body);
        self.finish(r)
    }

    /// PUT a JSON body.
    pub fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        let r = self
            .agent
            .put(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body);
        self.finish(r)
    }

    /// DELETE, with an optional JSON body.
    pub fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let request = self
            .agent
            .delete(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token));
        let r = match body {
            Some(b) => request.force_send_body().send_json(b),
            None => request.call(),
        };
        self.finish(r)
    }

    /// The event that typed text names (a full id, a short id or a unique prefix), as the node
    /// resolves it among the ids it holds.
    pub fn event_id(&self, text: &str) -> Result<EventId> {
        if let Ok(id) = EventId::parse(text) {
            return Ok(id);
        }
        let resolved: Resolved = self
            .get(&format!("/v1/resolve?kind=event&id={}", encode_query(text)))
            .map_err(usage_error)?;
        EventId::parse(&resolved.id).context("the daemon resolved to a malformed id")
    }

    /// The author that typed text names (a full id, a short id, a unique prefix or `@name`).
    pub fn author_id(&self, text: &str) -> Result<AuthorId> {
        if let Ok(id) = AuthorId::parse(text) {
            return Ok(id);
        }
        let resolved: Resolved = self
            .get(&format!(
                "/v1/resolve?kind=author&id={}",
                encode_query(text)
            ))
            .map_err(usage_error)?;
        AuthorId::parse(&resolved.id).context("the daemon resolved to a malformed id")
    }

    /// Opens the server-sent event stream of newly stored events and notifications.
    pub fn stream(&self) -> Result<impl std::io::BufRead> {
        let response = self
            .agent
            .get(self.url("/v1/stream"))
            .header("Authorization", &format!("Bearer {}", self.token))
            .config()
            .timeout_global(None)
            .build()
            .call()
            .map_err(|e| self.unreachable(e))?;
        Ok(std::io::BufReader::new(response.into_body().into_reader()))
    }
}

/// Percent-encodes `text` for a query string or a path segment.
pub fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads server-sent events: yields (event name, data) pairs until the stream ends.
pub fn events(reader: impl std::io::BufRead) -> impl Iterator<Item = Result<(String, String)>> {
    let mut name = String::from("message");
    let mut lines = reader.lines();
    std::iter::from_fn(move || {
        loop {
            let line = match lines.next()? {
                Ok(line) => line,
                Err(e) => return Some(Err(anyhow!(e).context("reading the event stream"))),
            };
            if let Some(n) = line.strip_prefix("event:") {
                name = n.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data:") {
                let event = (
                    std::mem::replace(&mut name, "message".into()),
                    data.trim().to_string(),
                );
                return Some(Ok(event));
            }
        }
    })
}
