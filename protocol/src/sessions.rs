//! Browser sessions of the node's web app: one-time sign-in codes, the sessions they open, and
//! the rules a browser's request must pass.
//!
//! The API token never reaches a browser. The owner's CLI (which holds the token) asks for a
//! sign-in code; the browser trades the code, once and within a minute, for two secrets: the
//! session secret in an HttpOnly cookie, and a session key handed to the app in the redirect's
//! fragment, which the app keeps in the origin's `localStorage` and sends as a header. Browsers
//! send a `127.0.0.1` cookie to every port on `127.0.0.1` (and so to any local server a person
//! visits), so the cookie alone opens nothing: every request also needs the key, which only
//! pages of the app's exact origin (its port included) can read. The key is also what a CSRF
//! token is: no cookie carries it, and another page cannot know it. Only hashes of codes,
//! secrets and keys are kept, so the sessions file does not hand out sessions to its reader.
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
/// A session ends this long after sign-in (the cookie's lifetime too).
pub const SESSION_MAX_AGE_MS: u64 = 30 * 24 * 3600 * 1000;
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
    /// blake3 of the key the app sends with every request, hex.
    pub key_hash: String,
    /// When the code was redeemed.
    pub created_at: Timestamp,
    /// Last authenticated request.
    pub last_used: Timestamp,
    /// The browser's user agent, shortened.
    pub agent: String,
}

/// A session just opened: its secret goes into the cookie, its key to the app, and neither
/// anywhere else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The cookie's value.
    pub secret: String,
    /// The key the app keeps and sends as a header.
    pub key: String,
    /// The session.
    pub session: Session,
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
    /// When a recorded use last asked for the book to be saved.
    uses_saved_at: Timestamp,
}

impl SessionBook {
    /// A book holding sessions loaded from disk (those past their idle time are dropped).
    pub fn new(mut sessions: Vec<Session>, now: Timestamp) -> SessionBook {
        sessions.retain(|s| !expired(s, now));
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_used));
        sessions.truncate(SESSIONS_MAX);
        SessionBook {
            codes: Vec::new(),
            sessions,
            uses_saved_at: now,
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
        let key = hex::encode(&random[32..]);
        let session = Session {
            id: hash("id", &secret)[..12].to_string(),
            secret_hash: hash("secret", &secret),
            key_hash: hash("key", &key),
            created_at: now,
            last_used: now,
            agent: agent.chars().take(AGENT_CHARS_MAX).collect(),
        };
        self.sessions.retain(|s| !expired(s, now));
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
        Ok(Opened {
            secret,
            key,
            session,
        })
    }

    /// The live session a cookie's secret names (an expired one is dropped). Its use is not
    /// recorded: a request is judged first (see [`SessionBook::record_use`]).
    pub fn find(&mut self, secret: &str, now: Timestamp) -> Option<Session> {
        let wanted = hash("secret", secret);
        let at = self.sessions.iter().position(|s| s.secret_hash == wanted)?;
        if expired(&self.sessions[at], now) {
            self.sessions.remove(at);
            return None;
        }
        Some(self.sessions[at].clone())
    }

    /// Records that session `id` made an accepted request; returns whether the last-use times
    /// have gone unsaved long enough that the book is worth saving (at most once an hour,
    /// however busy the sessions are).
    pub fn record_use(&mut self, id: &str, now: Timestamp) -> bool {
        let Some(session) = self.sessions.iter_mut().find(|s| s.id == id) else {
            return false;
        };
        session.last_used = session.last_used.max(now);
        let persist = now.0.saturating_sub(self.uses_saved_at.0) >= LAST_USED_PERSIST_MS;
        if persist {
            self.uses_saved_at = now;
        }
        persist
    }

    /// Whether session `id` is still in the book (not revoked, not expired).
    pub fn is_live(&self, id: &str, now: Timestamp) -> bool {
        self.sessions.iter().any(|s| s.id == id && !expired(s, now))
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

fn expired(session: &Session, now: Timestamp) -> bool {
    now.0.saturating_sub(session.created_at.0) >= SESSION_MAX_AGE_MS
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
    /// The session-key header.
    pub key: Option<&'a str>,
}

/// Why a request carrying a live session cookie was refused anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BrowserRefusal {
    /// It came from a page that is not the app (another port on 127.0.0.1, another site).
    #[error("requests from other pages are refused (only the app's own origin may use a session)")]
    CrossOrigin,
    /// No key, or not this session's: the request does not come from the app's origin.
    #[error(
        "the request lacks this browser's session key; reload the app, or sign in again with `handbill open`"
    )]
    MissingKey,
}

/// Decides whether a request with a live session's cookie may proceed: only with the session's
/// key (which only the app's origin holds), never from another page's origin, and changes only
/// with the app's origin exactly.
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
    if request.changes_state && request.origin != Some(app_origin) {
        return Err(BrowserRefusal::CrossOrigin);
    }
    let presented = hash("key", request.key.unwrap_or_default());
    if !constant_time_eq(presented.as_bytes(), session.key_hash.as_bytes()) {
        return Err(BrowserRefusal::MissingKey);
    }
    Ok(())
}

/// Compares secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "http://127.0.0.1:20001";

    fn opened(book: &mut SessionBook, seed: u8, now: u64) -> Opened {
        let (code, _) = book.issue_code([seed; 32], Timestamp(now));
        let mut random = [seed; 64];
        random[40] ^= 0xff;
        book.redeem(&code, random, "Test browser", Timestamp(now))
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
        let found = book.find(&opened.secret, Timestamp(3_000)).unwrap();
        assert_eq!(found.id, opened.session.id);
        assert_ne!(opened.key, opened.secret);
        assert!(!found.key_hash.contains(&opened.key));
        assert!(book.find("wrong", Timestamp(3_000)).is_none());
        assert!(
            book.find(&opened.key, Timestamp(3_000)).is_none(),
            "the key is not a secret"
        );
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
        assert!(book.find(&oldest.secret, Timestamp(100)).is_none());
    }

    #[test]
    fn sessions_end_after_their_age_and_use_is_persisted_sparingly() {
        let mut book = SessionBook::default();
        let s = opened(&mut book, 1, 0);
        // A session used every minute still gets its last use saved once an hour.
        let mut saves = 0;
        for minute in 1..=120u64 {
            saves += u32::from(book.record_use(&s.session.id, Timestamp(minute * 60_000)));
        }
        assert_eq!(saves, 2);
        assert_eq!(book.sessions()[0].last_used, Timestamp(120 * 60_000));
        assert!(book.is_live(&s.session.id, Timestamp(SESSION_MAX_AGE_MS - 1)));
        assert!(!book.is_live(&s.session.id, Timestamp(SESSION_MAX_AGE_MS)));
        assert!(
            book.find(&s.secret, Timestamp(SESSION_MAX_AGE_MS))
                .is_none()
        );
        assert!(book.sessions().is_empty());
        // Loading drops sessions that expired while the daemon was down.
        let kept = SessionBook::new(vec![s.session.clone()], Timestamp(SESSION_MAX_AGE_MS));
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
        assert!(book.find(&a.secret, Timestamp(1)).is_none());
        assert!(!book.is_live(&a.session.id, Timestamp(1)));
    }

    #[test]
    fn only_the_apps_origin_with_the_key_gets_anything() {
        let mut book = SessionBook::default();
        let opened = opened(&mut book, 1, 0);
        let (s, key) = (&opened.session, opened.key.as_str());
        let read = BrowserRequest {
            changes_state: false,
            origin: None,
            fetch_site: Some("same-origin"),
            key: Some(key),
        };
        assert_eq!(judge_browser_request(read, ORIGIN, s), Ok(()));
        // A client outside any browser with a stolen cookie but not the key: nothing.
        let cookie_only = BrowserRequest {
            fetch_site: None,
            key: None,
            ..read
        };
        assert_eq!(
            judge_browser_request(cookie_only, ORIGIN, s),
            Err(BrowserRefusal::MissingKey)
        );
        let other_port_read = BrowserRequest {
            fetch_site: Some("same-site"),
            ..read
        };
        assert_eq!(
            judge_browser_request(other_port_read, ORIGIN, s),
            Err(BrowserRefusal::CrossOrigin)
        );
        let change = BrowserRequest {
            changes_state: true,
            origin: Some(ORIGIN),
            fetch_site: Some("same-origin"),
            key: Some(key),
        };
        assert_eq!(judge_browser_request(change, ORIGIN, s), Ok(()));
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
                judge_browser_request(refused, ORIGIN, s),
                Err(BrowserRefusal::CrossOrigin)
            );
        }
        for key in [None, Some(""), Some("0000"), Some(opened.secret.as_str())] {
            assert_eq!(
                judge_browser_request(BrowserRequest { key, ..change }, ORIGIN, s),
                Err(BrowserRefusal::MissingKey)
            );
        }
    }
}
