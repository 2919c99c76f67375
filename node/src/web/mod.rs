//! The web app: a small JavaScript app embedded in the binary and served at the API's address,
//! signed in with one-time codes that the owner's CLI asks for, then using the same JSON API as
//! the CLI with a session cookie in place of the token (see `handbill_protocol::sessions`).

mod assets;
mod sessions;

pub use assets::page_weight;
pub use sessions::{RedeemError, RevokeFailure, SessionStore};

use crate::api::ApiState;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use handbill_protocol::sessions::Session;
use handbill_protocol::{AuthorId, Timestamp};
use serde::Deserialize;

/// Cookies of the session's name tried per request.
const COOKIES_TRIED_MAX: usize = 8;

/// The header the app sends its session key in (see `handbill_protocol::sessions`).
pub const KEY_HEADER: &str = "x-handbill-key";

/// The web app's identity on this machine and its sessions.
pub struct Web {
    /// The browser sessions.
    pub sessions: SessionStore,
    /// The app's origin, `http://127.0.0.1:PORT`: the only one whose pages may use a session.
    pub origin: String,
    /// The session cookie's name, unique to this node: every daemon on the machine shares the
    /// host 127.0.0.1, and browsers send its cookies to every port.
    pub cookie: String,
    /// The node's author.
    pub author: AuthorId,
}

impl Web {
    /// The web app of the node `author`, served on 127.0.0.1:`port`.
    pub fn new(sessions: SessionStore, port: u16, author: &AuthorId) -> Web {
        let tag = blake3::hash(author.to_string().as_bytes()).to_hex();
        Web {
            sessions,
            origin: format!("http://127.0.0.1:{port}"),
            cookie: format!("handbill-{}", &tag[..12]),
            author: *author,
        }
    }

    /// The live session a request's cookie names, if any (its use not yet recorded). Every
    /// cookie of this name is tried, up to a few: another page on 127.0.0.1 can set one with
    /// a longer path, which browsers send first, to shadow the real one.
    pub fn session_of(&self, headers: &HeaderMap, now: Timestamp) -> Option<Session> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|c| c.name() == self.cookie)
            .take(COOKIES_TRIED_MAX)
            .find_map(|c| self.sessions.find(c.value(), now))
    }

    /// The sign-in URL for a code.
    pub fn sign_in_url(&self, code: &str) -> String {
        format!("{}/signin?code={code}", self.origin)
    }
}

/// The app's pages and assets, served without credentials (they hold no secret; the data comes
/// from the API, which needs a session).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(assets::index))
        .route("/app/{*file}", get(assets::asset))
        .route("/signin", get(sign_in))
}

/// Headers on every response: nothing may run but the app's own scripts, and no page may frame
/// it or learn where it came from.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[derive(Deserialize)]
struct SignIn {
    code: Option<String>,
}

/// `GET /signin?code=…`: trades a one-time code for a session cookie and key, then sends the
/// browser to the app with the key in the fragment (never sent to a server); the app stores it
/// in its origin's storage and takes it out of the address bar.
async fn sign_in(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(query): Query<SignIn>,
) -> Response {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown browser");
    let code = query.code.unwrap_or_default();
    match state
        .web
        .sessions
        .redeem(&code, agent, crate::daemon::now())
    {
        Ok(opened) => {
            let cookie = cookie::Cookie::build((state.web.cookie.clone(), opened.secret))
                .path("/")
                .http_only(true)
                .same_site(cookie::SameSite::Strict)
                .max_age(cookie::time::Duration::milliseconds(
                    handbill_protocol::sessions::SESSION_MAX_AGE_MS as i64,
                ))
                .build();
            tracing::info!(session = %opened.session.id, "browser signed in");
            let location = format!("/#key={}", opened.key);
            let mut response = (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, location.as_str())],
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(RedeemError::Refused(e)) => assets::sign_in_refused(&e.to_string()),
        Err(e @ RedeemError::Save(_)) => {
            tracing::warn!("{e}");
            assets::sign_in_refused(&format!(
                "the node could not save the session ({e}); check the disk and try again"
            ))
        }
    }
}
