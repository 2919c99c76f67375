//! Browser sessions of the node's web app: one-time sign-in codes, the sessions they open, and
//! the rules a browser's request must pass.
//!
//! The API token never reaches a browser. The owner's CLI (which holds the token) asks for a
//! sign-in code; the browser trades the code, once and within a minute, for a session secret
//! kept in an HttpOnly cookie. Every browser on the machine sends a `127.0.0.1` cookie to every
//! port on `127.0.0.1`, so a cookie alone never authorises a change: state-changing requests must
//! also come from the app's own origin and carry the session's CSRF token, which lives only in
//! the app's memory. Only hashes of codes and secrets are kept, so the sessions file does not
//! hand out sessions to whoever reads it.
//!
//! Pure: callers pass the time and the randomness; the daemon stores [`SessionBook::sessions`].

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// How long a sign-in code can be used.
pub const CODE_TTL_MS: u64 = 60_000;
/// Sign-in codes outstanding at once; asking for more forgets the oldest.
pub const CODES_MAX: usize = 8;
/// Browser sessions held at once; a new one ends the least recently used.
pub const SESSIONS_MAX: usize = 32;
/// A session unused for this long ends.
pub const SESSION_IDLE_MS: u64 = 30 * 24 * 3600 * 1000;
/// Most characters of a browser's user agent kept to tell sessions apart.
pub const AGENT_CHARS_MAX: usize = 120;
/// How stale a session's recorded last use may get before it is worth persisting again.
const LAST_USED_PERSIST_MS: u64 = 3600 * 1000;

/// One browser session, as persisted (hashes only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Public id, shown by `handbill sessions` and used to revoke.
    pub id: String,
    /// blake3 of the cookie's secret, hex.
    pub secret_hash: String,
    /// The token the app sends with every state-changing request.
    pub csrf: String,
    /// When the code was redeemed.
    pub created_at: Timestamp,
    /// Last authenticated request.
    pub last_used: Timestamp,
    /// The browser's user agent, shortened.
    pub agent: String,
}

/// A session just opened: its secret goes into the cookie and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The cookie's value.
    pub secret: String,
    /// The session.
    pub session: Session,
}

/// A session that authenticated a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The session.
    pub session: Session,
    /// Its last use moved far enough that the book should be saved.
    pub persist: bool,
}

/// Why a sign-in code was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// Never issued, already used, or forgotten.
    #[error("this sign-in link was already used or is not one this node issued")]
    Unknown,
    /// Issued but past its minute.
    #[error("this sign-in link expired (links last a minute)")]
    Expired,
}

/// Why a session could not be revoked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RevokeError {
    /// No session has that id.
    #[error("no browser session {0}")]
    NotFound(String),
    /// The prefix names more than one session.
    #[error("{0} names more than one session; give more of the id")]
    Ambiguous(String),
}

struct Code {
    hash: String,
    expires_at: Timestamp,
}

/// Sign-in codes and sessions.
#[derive(Default)]
pub struct SessionBook {
    codes: Vec<Code>,
    sessions: Vec<Session>,
}

impl SessionBook {
    /// A book holding sessions loaded from disk (those past their idle time are dropped).
    pub fn new(mut sessions: Vec<Session>, now: Timestamp) -> SessionBook {
        sessions.retain(|s| !idle_too_long(s, now));
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_used));
        sessions.truncate(SESSIONS_MAX);
        SessionBook {
            codes: Vec::new(),
            sessions,
        }
    }

    /// Issues a one-time code made from `random`; returns it and when it expires.
    pub fn issue_code(&mut self, random: [u8; 32], now: Timestamp) -> (String, Timestamp) {
        let code = hex::encode(random);
        let expires_at = Timestamp(now.0.saturating_add(CODE_TTL_MS));
        self.codes.retain(|c| c.expires_at > now);
        if self.codes.len() >= CODES_MAX {
            self.codes.remove(0);
        }
        self.codes.push(Code {
            hash: hash("code", &code),
            expires_at,
        });
        (code, expires_at)
    }

    /// Redeems a code (once) for a new session made from `random`.
    pub fn redeem(
        &mut self,
        code: &str,
        random: [u8; 64],
        agent: &str,
        now: Timestamp,
    ) -> Result<Opened, SignInError> {
        let wanted = hash("code", code.trim());
        let at = self
            .codes
            .iter()
            .position(|c| c.hash == wanted)
            .ok_or(SignInError::Unknown)?;
        // Used or not, an expired code is gone: it can never be tried again.
        let issued = self.codes.remove(at);
        if issued.expires_at <= now {
            return Err(SignInError::Expired);
        }
        let secret = hex::encode(&random[..32]);
        let session = Session {
            id: hash("id", &secret)[..12].to_string(),
            secret_hash: hash("secret", &secret),
            csrf: hex::encode(&random[32..]),
            created_at: now,
            last_used: now,
            agent: agent.chars().take(AGENT_CHARS_MAX).collect(),
        };
        self.sessions.retain(|s| !idle_too_long(s, now));
        if self.sessions.len() >= SESSIONS_MAX
            && let Some(oldest) = self
                .sessions
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(i, _)| i)
        {
            self.sessions.remove(oldest);
        }
        self.sessions.push(session.clone());
        Ok(Opened { secret, session })
    }

    /// The session a cookie's secret opens, if it is live; records its use.
    pub fn authenticate(&mut self, secret: &str, now: Timestamp) -> Option<Authenticated> {
        let wanted = hash("secret", secret);
        let at = self.sessions.iter().position(|s| s.secret_hash == wanted)?;
        if idle_too_long(&self.sessions[at], now) {
            self.sessions.remove(at);
            return None;
        }
        let session = &mut self.sessions[at];
        let persist = now.0.saturating_sub(session.last_used.0) >= LAST_USED_PERSIST_MS;
        session.last_used = session.last_used.max(now);
        Some(Authenticated {
            session: session.clone(),
            persist,
        })
    }

    /// Ends the session whose id is `id` or starts with it.
    pub fn revoke(&mut self, id: &str) -> Result<Session, RevokeError> {
        let id = id.trim();
        if let Some(at) = self.sessions.iter().position(|s| s.id == id) {
            return Ok(self.sessions.remove(at));
        }
        let matching: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| !id.is_empty() && self.sessions[i].id.starts_with(id))
            .collect();
        match matching.as_slice() {
            [] => Err(RevokeError::NotFound(id.to_string())),
            [at] => Ok(self.sessions.remove(*at)),
            _ => Err(RevokeError::Ambiguous(id.to_string())),
        }
    }

    /// Live sessions, most recently used first.
    pub fn sessions(&self) -> Vec<Session> {
        let mut sessions = self.sessions.clone();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_used));
        sessions
    }
}

fn idle_too_long(session: &Session, now: Timestamp) -> bool {
    now.0.saturating_sub(session.last_used.0) >= SESSION_IDLE_MS
}

/// A domain-separated hash, so a code can never pass as a secret or an id.
fn hash(domain: &str, text: &str) -> String {
    let mut hasher = blake3::Hasher::new_derive_key(&format!("handbill web session {domain}"));
    hasher.update(text.as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// What a browser request looks like to the guard, from its headers.
#[derive(Clone, Copy, Debug)]
pub struct BrowserRequest<'a> {
    /// Whether the method changes state (anything but GET, HEAD and OPTIONS).
    pub changes_state: bool,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `Sec-Fetch-Site` header (`same-origin`, `same-site`, `cross-site`, `none`).
    pub fetch_site: Option<&'a str>,
    /// The CSRF header.
    pub csrf: Option<&'a str>,
}

/// Why a request carrying a live session cookie was refused anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BrowserRefusal {
    /// It came from a page that is not the app (another port on 127.0.0.1, another site).
    #[error("requests from other pages are refused (only the app's own origin may use a session)")]
    CrossOrigin,
    /// A change without the app's CSRF token.
    #[error("a change needs the app's CSRF token; reload the app")]
    MissingCsrf,
}

/// Decides whether a request with a live session may proceed: reads only from the app's own
/// origin (or a navigation the person started), changes only from the app's origin exactly,
/// with the session's CSRF token.
pub fn judge_browser_request(
    request: BrowserRequest<'_>,
    app_origin: &str,
    session: &Session,
) -> Result<(), BrowserRefusal> {
    if request.origin.is_some_and(|o| o != app_origin) {
        return Err(BrowserRefusal::CrossOrigin);
    }
    // Browsers that send Sec-Fetch-Site name another port on 127.0.0.1 "same-site": only the
    // app's own pages and navigations the person started ("none") pass.
    if request
        .fetch_site
        .is_some_and(|site| site != "same-origin" && site != "none")
    {
        return Err(BrowserRefusal::CrossOrigin);
    }
    if request.changes_state {
        if request.origin != Some(app_origin) {
            return Err(BrowserRefusal::CrossOrigin);
        }
        let presented = request.csrf.unwrap_or_default();
        if !constant_time_eq(presented.as_bytes(), session.csrf.as_bytes()) {
            return Err(BrowserRefusal::MissingCsrf);
        }
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "http://127.0.0.1:20001";

    fn opened(book: &mut SessionBook, seed: u8, now: u64) -> Opened {
        let (code, _) = book.issue_code([seed; 32], Timestamp(now));
        book.redeem(&code, [seed; 64], "Test browser", Timestamp(now))
            .unwrap()
    }

    #[test]
    fn a_code_opens_one_session_once() {
        let mut book = SessionBook::default();
        let (code, expires) = book.issue_code([1; 32], Timestamp(1_000));
        assert_eq!(expires, Timestamp(1_000 + CODE_TTL_MS));
        let mut random = [2; 64];
        random[40] = 9;
        let opened = book
            .redeem(&code, random, "Firefox", Timestamp(2_000))
            .unwrap();
        assert_eq!(
            book.redeem(&code, [3; 64], "Firefox", Timestamp(2_001)),
            Err(SignInError::Unknown)
        );
        let auth = book.authenticate(&opened.secret, Timestamp(3_000)).unwrap();
        assert_eq!(auth.session.id, opened.session.id);
        assert_ne!(opened.session.csrf, opened.secret);
        assert!(book.authenticate("wrong", Timestamp(3_000)).is_none());
    }

    #[test]
    fn an_expired_code_is_refused_and_forgotten() {
        let mut book = SessionBook::default();
        let (code, _) = book.issue_code([1; 32], Timestamp(0));
        assert_eq!(
            book.redeem(&code, [2; 64], "", Timestamp(CODE_TTL_MS)),
            Err(SignInError::Expired)
        );
        assert_eq!(
            book.redeem(&code, [2; 64], "", Timestamp(1)),
            Err(SignInError::Unknown)
        );
    }

    #[test]
    fn codes_and_sessions_are_bounded() {
        let mut book = SessionBook::default();
        let first = book.issue_code([0; 32], Timestamp(0)).0;
        for i in 1..=CODES_MAX as u8 {
            book.issue_code([i; 32], Timestamp(0));
        }
        assert_eq!(
            book.redeem(&first, [0; 64], "", Timestamp(1)),
            Err(SignInError::Unknown)
        );
        let oldest = opened(&mut book, 100, 1);
        for i in 0..SESSIONS_MAX as u8 {
            opened(&mut book, i, 2 + u64::from(i));
        }
        assert_eq!(book.sessions().len(), SESSIONS_MAX);
        assert!(book.authenticate(&oldest.secret, Timestamp(100)).is_none());
    }

    #[test]
    fn idle_sessions_end_and_use_is_persisted_sparingly() {
        let mut book = SessionBook::default();
        let s = opened(&mut book, 1, 0);
        let auth = book.authenticate(&s.secret, Timestamp(1_000)).unwrap();
        assert!(!auth.persist);
        let auth = book
            .authenticate(&s.secret, Timestamp(LAST_USED_PERSIST_MS + 5_000))
            .unwrap();
        assert!(auth.persist);
        let later = Timestamp(LAST_USED_PERSIST_MS + 5_000 + SESSION_IDLE_MS);
        assert!(book.authenticate(&s.secret, later).is_none());
        assert!(book.sessions().is_empty());
        // Loading drops sessions that went idle while the daemon was down.
        let kept = SessionBook::new(vec![s.session.clone()], Timestamp(SESSION_IDLE_MS));
        assert!(kept.sessions().is_empty());
    }

    #[test]
    fn revoke_takes_a_unique_prefix() {
        let mut book = SessionBook::default();
        let a = opened(&mut book, 1, 0);
        let _b = opened(&mut book, 2, 0);
        assert_eq!(
            book.revoke("zz"),
            Err(RevokeError::NotFound("zz".to_string()))
        );
        assert!(matches!(book.revoke(""), Err(RevokeError::NotFound(_))));
        let revoked = book.revoke(&a.session.id[..6]).unwrap();
        assert_eq!(revoked.id, a.session.id);
        assert!(book.authenticate(&a.secret, Timestamp(1)).is_none());
    }

    #[test]
    fn only_the_apps_origin_with_the_csrf_token_changes_anything() {
        let mut book = SessionBook::default();
        let s = opened(&mut book, 1, 0).session;
        let read = BrowserRequest {
            changes_state: false,
            origin: None,
            fetch_site: Some("same-origin"),
            csrf: None,
        };
        assert_eq!(judge_browser_request(read, ORIGIN, &s), Ok(()));
        let navigation = BrowserRequest {
            fetch_site: Some("none"),
            ..read
        };
        assert_eq!(judge_browser_request(navigation, ORIGIN, &s), Ok(()));
        let other_port_read = BrowserRequest {
            fetch_site: Some("same-site"),
            ..read
        };
        assert_eq!(
            judge_browser_request(other_port_read, ORIGIN, &s),
            Err(BrowserRefusal::CrossOrigin)
        );
        let change = BrowserRequest {
            changes_state: true,
            origin: Some(ORIGIN),
            fetch_site: Some("same-origin"),
            csrf: Some(&s.csrf),
        };
        assert_eq!(judge_browser_request(change, ORIGIN, &s), Ok(()));
        for refused in [
            BrowserRequest {
                origin: Some("http://127.0.0.1:20002"),
                ..change
            },
            BrowserRequest {
                origin: None,
                fetch_site: None,
                ..change
            },
            BrowserRequest {
                origin: Some("null"),
                ..change
            },
        ] {
            assert_eq!(
                judge_browser_request(refused, ORIGIN, &s),
                Err(BrowserRefusal::CrossOrigin)
            );
        }
        for csrf in [None, Some(""), Some("0000")] {
            assert_eq!(
                judge_browser_request(BrowserRequest { csrf, ..change }, ORIGIN, &s),
                Err(BrowserRefusal::MissingCsrf)
            );
        }
    }
}
