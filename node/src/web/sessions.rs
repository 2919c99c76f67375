//! The browser sessions of the web app, kept in `HOME/sessions.json` (hashes only, 0600).

use crate::home::replace_secret;
use anyhow::{Context, Result};
use handbill_protocol::Timestamp;
use handbill_protocol::sessions::{Opened, RevokeError, Session, SessionBook, SignInError};
use rand_core::{OsRng, RngCore};
use std::path::PathBuf;
use std::sync::Mutex;
use tokio::sync::watch;

/// The session book and the file it is saved to.
pub struct SessionStore {
    book: Mutex<SessionBook>,
    path: PathBuf,
    /// Bumped at every revoke, so open event streams can check whether theirs ended.
    revocations: watch::Sender<u64>,
}

impl SessionStore {
    /// Loads the sessions saved at `path` (none if the file is missing). An unreadable file is
    /// moved aside with a warning: every browser signs in again, and the node still starts.
    pub fn open(path: PathBuf, now: Timestamp) -> Result<SessionStore> {
        let sessions: Vec<Session> = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(sessions) => sessions,
                Err(e) => {
                    let aside = path.with_extension("json.unreadable");
                    tracing::warn!(
                        "{} is unreadable ({e}); moved to {}, browsers sign in again",
                        path.display(),
                        aside.display()
                    );
                    std::fs::rename(&path, &aside)
                        .with_context(|| format!("moving {} aside", path.display()))?;
                    Vec::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(SessionStore {
            book: Mutex::new(SessionBook::new(sessions, now)),
            path,
            revocations: watch::Sender::new(0),
        })
    }

    /// A new one-time sign-in code and when it expires.
    pub fn issue_code(&self, now: Timestamp) -> (String, Timestamp) {
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        self.lock().issue_code(random, now)
    }

    /// Trades a code for a session, saved before it is handed out.
    pub fn redeem(&self, code: &str, agent: &str, now: Timestamp) -> Result<Opened, RedeemError> {
        let mut random = [0u8; 64];
        OsRng.fill_bytes(&mut random);
        let mut book = self.lock();
        let opened = book.redeem(code, random, agent, now)?;
        self.save(&book).map_err(RedeemError::Save)?;
        Ok(opened)
    }

    /// The live session a cookie's secret names, without recording a use.
    pub fn find(&self, secret: &str, now: Timestamp) -> Option<Session> {
        self.lock().find(secret, now)
    }

    /// Records an accepted request of session `id`.
    pub fn record_use(&self, id: &str, now: Timestamp) {
        let mut book = self.lock();
        if book.record_use(id, now) {
            // Only the last-use time shown by `handbill sessions` is at stake.
            if let Err(e) = self.save(&book) {
                tracing::warn!("saving browser sessions: {e:#}");
            }
        }
    }

    /// Whether session `id` is still live.
    pub fn is_live(&self, id: &str, now: Timestamp) -> bool {
        self.lock().is_live(id, now)
    }

    /// Changes at every revoke.
    pub fn revocations(&self) -> watch::Receiver<u64> {
        self.revocations.subscribe()
    }

    /// Ends a session.
    pub fn revoke(&self, id: &str) -> Result<Session, RevokeFailure> {
        let mut book = self.lock();
        let session = book.revoke(id)?;
        self.revocations.send_modify(|n| *n += 1);
        self.save(&book).map_err(RevokeFailure::Save)?;
        Ok(session)
    }

    /// Live sessions, most recently used first.
    pub fn list(&self) -> Vec<Session> {
        self.lock().sessions()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SessionBook> {
        // A panic while holding the book cannot leave it half-changed in a way that matters
        // more than refusing every browser would.
        self.book
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn save(&self, book: &SessionBook) -> Result<()> {
        let json = serde_json::to_vec_pretty(&book.sessions()).context("encoding sessions")?;
        replace_secret(&self.path, &json)
    }
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// The code was refused.
    #[error(transparent)]
    Refused(#[from] SignInError),
    /// The new session could not be saved, so it was not handed out.
    #[error("saving the new session: {0:#}")]
    Save(anyhow::Error),
}

/// Why a revoke failed.
#[derive(Debug, thiserror::Error)]
pub enum RevokeFailure {
    /// No such session, or more than one.
    #[error(transparent)]
    Refused(#[from] RevokeError),
    /// The session is gone from memory but the file still holds it.
    #[error("saving sessions: {0:#}")]
    Save(anyhow::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn sessions_survive_a_restart_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.json");
        let store = SessionStore::open(path.clone(), Timestamp(0)).unwrap();
        let (code, _) = store.issue_code(Timestamp(0));
        let opened = store.redeem(&code, "agent", Timestamp(1)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&opened.secret),
            "the secret itself is never saved"
        );

        assert!(!text.contains(&opened.key), "nor the key");

        let reopened = SessionStore::open(path.clone(), Timestamp(2)).unwrap();
        assert!(reopened.find(&opened.secret, Timestamp(3)).is_some());
        let revocations = reopened.revocations();
        reopened.revoke(&opened.session.id).unwrap();
        assert!(revocations.has_changed().unwrap());
        let again = SessionStore::open(path, Timestamp(4)).unwrap();
        assert!(again.find(&opened.secret, Timestamp(5)).is_none());
    }

    #[test]
    fn an_unreadable_sessions_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.json");
        std::fs::write(&path, "not json").unwrap();
        let store = SessionStore::open(path, Timestamp(0)).unwrap();
        assert!(store.list().is_empty());
        assert!(dir.path().join("sessions.json.unreadable").exists());
    }
}
