//! The local HTTP API: JSON over loopback, for the CLI and scripts (with the bearer token) and
//! for the web app (with a browser session, see `crate::web`).
//!
//! Requests from web pages other than the app (an `Origin` or `Sec-Fetch-Site` that is not the
//! app's own) or with a `Host` that is not loopback (DNS rebinding) are refused before any
//! credential is looked at.

mod events;
mod extract;
mod follows;
mod guard;
mod host_policy;
mod moderation;
mod node;
pub mod serve;
mod sessions;
mod social;
mod stream;

use crate::daemon::{NodeEngine, Shared};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use handbill_protocol::TypedId;
use handbill_protocol::api::{ApiError, ApiErrorBody};
use std::sync::Arc;

/// Most items one page of a listing returns.
pub const PAGE_ITEMS_MAX: usize = 500;

/// The API's state: the shared node plus the token.
#[derive(Clone)]
pub struct ApiState {
    /// The node.
    pub shared: Arc<Shared>,
    /// The bearer token clients must present.
    pub token: Arc<String>,
    /// The web app's sessions and origin.
    pub web: Arc<crate::web::Web>,
}

/// Who made a request, as the guard found.
#[derive(Clone, Debug)]
pub enum Caller {
    /// The owner's CLI or a script, with the token.
    Owner,
    /// The web app, with this browser session.
    Browser(handbill_protocol::sessions::Session),
}

impl ApiState {
    /// Changes the node's settings (in the engine, which persists them).
    async fn change_settings(
        &self,
        change: impl FnOnce(&mut handbill_protocol::engine::NodeSettings) + Send + 'static,
    ) -> Result<StatusCode, Failure> {
        self.with_engine(move |engine| {
            engine.update_settings(change, crate::daemon::now())?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
    }

    /// Runs `f` with the engine, in the network task that owns it, and returns its result.
    async fn with_engine<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut NodeEngine) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, Failure> {
        self.shared.engine.call(f).await.map_err(|e| {
            Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                e.to_string(),
            )
        })?
    }
}

/// An API error: HTTP status, stable code, message.
pub struct Failure(StatusCode, &'static str, String);

impl Failure {
    fn bad_request(message: impl Into<String>) -> Failure {
        Failure(StatusCode::BAD_REQUEST, "bad_request", message.into())
    }
    fn not_found(message: impl Into<String>) -> Failure {
        Failure(StatusCode::NOT_FOUND, "not_found", message.into())
    }
    fn internal(message: impl Into<String>) -> Failure {
        Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            message.into(),
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = ApiError {
            error: ApiErrorBody {
                code: self.1.to_string(),
                message: self.2,
            },
        };
        (self.0, Json(body)).into_response()
    }
}

impl From<handbill_protocol::store::StoreError> for Failure {
    fn from(e: handbill_protocol::store::StoreError) -> Failure {
        match e {
            handbill_protocol::store::StoreError::Full => Failure(
                StatusCode::INSUFFICIENT_STORAGE,
                "disk_full",
                "the disk holding the node's home is full, so the node refuses new writes; \
                 everything acknowledged before is kept. Free space, then restart handbilld"
                    .into(),
            ),
            e => Failure::internal(e.to_string()),
        }
    }
}

impl From<handbill_protocol::engine::CommandError> for Failure {
    fn from(e: handbill_protocol::engine::CommandError) -> Failure {
        use handbill_protocol::engine::CommandError;
        match e {
            CommandError::Store(e) => Failure::from(e),
            CommandError::Build(e) => Failure::bad_request(e.to_string()),
            e @ (CommandError::NotHeld(_) | CommandError::Deleted(_)) => {
                Failure::not_found(e.to_string())
            }
            e @ (CommandError::NotYourEvent(_)
            | CommandError::FollowSelf
            | CommandError::NotAPost(_)) => Failure(StatusCode::CONFLICT, "refused", e.to_string()),
            CommandError::Query(e) => Failure::bad_request(e.to_string()),
            e @ CommandError::AlreadyFollowing(_) => {
                Failure(StatusCode::CONFLICT, "already_following", e.to_string())
            }
            CommandError::Resolve(e) => {
                use handbill_protocol::resolve::ResolveError;
                match e {
                    ResolveError::NotAnId { .. } => Failure::bad_request(e.to_string()),
                    ResolveError::NotFound { .. } | ResolveError::NoSuchName { .. } => {
                        Failure::not_found(e.to_string())
                    }
                    ResolveError::Ambiguous { .. } | ResolveError::AmbiguousName { .. } => {
                        Failure(StatusCode::CONFLICT, "ambiguous", e.to_string())
                    }
                }
            }
            e @ CommandError::WouldFork { .. } => {
                Failure(StatusCode::CONFLICT, "would_fork", e.to_string())
            }
        }
    }
}

type ApiResult<T> = Result<Json<T>, Failure>;

/// Builds the router: the API behind the guard, and the web app's pages.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(api_routes(state.clone()))
        .merge(crate::web::routes())
        .layer(middleware::from_fn(crate::web::security_headers))
        .with_state(state)
}

fn api_routes(state: ApiState) -> Router<ApiState> {
    Router::new()
        .route("/v1/status", get(node::status))
        .route("/v1/connect", post(node::connect))
        .route("/v1/events", post(events::publish))
        .route("/v1/events/{id}", get(events::event))
        .route("/v1/events/{id}/thread", get(events::thread))
        .route("/v1/events/{id}/history", get(social::history))
        .route("/v1/notifications", get(social::notifications))
        .route("/v1/notifications/read", post(social::mark_read))
        .route("/v1/followers", get(social::followers))
        .route("/v1/search", get(social::search))
        .route("/v1/resolve", get(social::resolve))
        .route("/v1/authors/{author}/lists", get(social::lists_of))
        .route("/v1/authors/{author}/lists/{name}", get(social::list))
        .route(
            "/v1/authors/{author}/lists/{name}/timeline",
            get(social::list_timeline),
        )
        .route("/v1/follows", get(follows::follows).post(follows::follow))
        .route("/v1/follows/{author}", delete(follows::unfollow))
        .route("/v1/following", get(follows::following))
        .route("/v1/timeline", get(events::timeline))
        .route("/v1/authors/{author}", get(events::author))
        .route("/v1/labels/{target}", get(moderation::labels))
        .route("/v1/moderation", get(moderation::moderation))
        .route("/v1/moderation/feeds", post(moderation::subscribe_feed))
        .route(
            "/v1/moderation/feeds/{feed}",
            delete(moderation::unsubscribe_feed),
        )
        .route("/v1/moderation/options", put(moderation::options))
        .route(
            "/v1/mutes",
            post(moderation::mute).delete(moderation::unmute),
        )
        .route(
            "/v1/lists/subscriptions",
            post(moderation::subscribe_list).delete(moderation::unsubscribe_list),
        )
        .route("/v1/host-policy", get(host_policy::host_policy))
        .route(
            "/v1/host-policy/refuse",
            post(host_policy::refuse_label).delete(host_policy::unrefuse_label),
        )
        .route(
            "/v1/host-policy/block",
            post(host_policy::block_author).delete(host_policy::unblock_author),
        )
        .route("/v1/feeds/{feed}", get(moderation::feed_declaration))
        .route("/v1/feeds/{feed}/labels", get(moderation::feed_labels))
        .route("/v1/lists", get(moderation::own_lists))
        .route("/v1/stream", get(stream::stream))
        .route(
            "/v1/session",
            get(sessions::current).delete(sessions::sign_out),
        )
        .route("/v1/sessions", get(sessions::list))
        .route("/v1/sessions/code", post(sessions::code))
        .route("/v1/sessions/{id}", delete(sessions::revoke))
        .fallback(|| async { Failure::not_found("no such API endpoint") })
        .layer(middleware::from_fn_with_state(state, guard::guard))
}

/// Parses an id from a path segment.
fn parse<T: TypedId>(text: &str) -> Result<T, Failure> {
    T::parse(text).map_err(|e| Failure::bad_request(e.to_string()))
}
