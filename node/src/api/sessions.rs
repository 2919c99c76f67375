//! Browser sessions: the owner (with the token) issues sign-in links, lists and revokes
//! sessions; the app reads which session it is and signs out.

use super::{ApiResult, ApiState, Caller, Failure};
use crate::daemon::now;
use crate::web::RevokeFailure;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use handbill_protocol::api::{AppSession, SessionView, SignInLink};
use handbill_protocol::sessions::RevokeError;

fn owner_only(caller: &Caller) -> Result<(), Failure> {
    match caller {
        Caller::Owner => Ok(()),
        Caller::Browser(_) => Err(Failure(
            StatusCode::FORBIDDEN,
            "owner_only",
            "browser sessions are managed from the command line: handbill sessions".into(),
        )),
    }
}

/// `POST /v1/sessions/code`.
pub(super) async fn code(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<(StatusCode, Json<SignInLink>), Failure> {
    owner_only(&caller)?;
    let (code, expires_at) = state.web.sessions.issue_code(now());
    let url = state.web.sign_in_url(&code);
    Ok((StatusCode::CREATED, Json(SignInLink { url, expires_at })))
}

/// `GET /v1/sessions`.
pub(super) async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Vec<SessionView>> {
    owner_only(&caller)?;
    Ok(Json(
        state
            .web
            .sessions
            .list()
            .iter()
            .map(SessionView::from)
            .collect(),
    ))
}

/// `DELETE /v1/sessions/{id}`.
pub(super) async fn revoke(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<SessionView> {
    owner_only(&caller)?;
    match state.web.sessions.revoke(&id) {
        Ok(session) => Ok(Json(SessionView::from(&session))),
        Err(RevokeFailure::Refused(e @ RevokeError::NotFound(_))) => {
            Err(Failure::not_found(e.to_string()))
        }
        Err(RevokeFailure::Refused(e @ RevokeError::Ambiguous(_))) => {
            Err(Failure(StatusCode::CONFLICT, "ambiguous", e.to_string()))
        }
        Err(e @ RevokeFailure::Save(_)) => Err(Failure::internal(e.to_string())),
    }
}

/// `GET /v1/session`: the app's own session.
pub(super) async fn current(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<AppSession> {
    let Caller::Browser(session) = caller else {
        return Err(Failure::bad_request(
            "only a browser session has a session; the token needs none",
        ));
    };
    Ok(Json(AppSession {
        id: session.id,
        author: state.web.author,
    }))
}

/// `DELETE /v1/session`: the app signs out.
pub(super) async fn sign_out(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, Failure> {
    let Caller::Browser(session) = caller else {
        return Err(Failure::bad_request("the token cannot sign out"));
    };
    state
        .web
        .sessions
        .revoke(&session.id)
        .map_err(|e| Failure::internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}
