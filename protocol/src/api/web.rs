//! Types of the web app's endpoints: sign-in codes and browser sessions.

use crate::id::AuthorId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// `POST /v1/sessions/code` (token only): a one-time sign-in link for a browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInLink {
    /// The URL to open: the app's origin, `/signin?code=…`.
    pub url: String,
    /// When the code stops working.
    pub expires_at: Timestamp,
}

/// One browser session, as `GET /v1/sessions` (token only) lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// What `DELETE /v1/sessions/{id}` and `handbill sessions revoke` take.
    pub id: String,
    /// When the browser signed in.
    pub created_at: Timestamp,
    /// Its last request.
    pub last_used: Timestamp,
    /// The browser's user agent.
    pub agent: String,
}

impl From<&crate::sessions::Session> for SessionView {
    fn from(s: &crate::sessions::Session) -> SessionView {
        SessionView {
            id: s.id.clone(),
            created_at: s.created_at,
            last_used: s.last_used,
            agent: s.agent.clone(),
        }
    }
}

/// `GET /v1/session` (a browser session only): which session this is and whose node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSession {
    /// This session's id.
    pub id: String,
    /// The node's author.
    pub author: AuthorId,
}
