//! The operator's host policy: what this node refuses to store or relay.

use super::extract::ApiJson;
use super::{ApiResult, ApiState, Failure};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use handbill_protocol::AuthorId;
use handbill_protocol::api::HostPolicyChange;
use handbill_protocol::moderation::host::HostPolicy;

pub(super) async fn host_policy(State(state): State<ApiState>) -> ApiResult<HostPolicy> {
    state
        .with_engine(|engine| Ok(engine.settings().host_policy.clone()))
        .await
        .map(Json)
}

fn feed_label(body: &HostPolicyChange) -> Result<(AuthorId, String), Failure> {
    match (&body.feed, &body.label) {
        (Some(f), Some(l)) => Ok((*f, l.clone())),
        _ => Err(Failure::bad_request("give feed and label")),
    }
}

pub(super) async fn refuse_label(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<HostPolicyChange>,
) -> Result<StatusCode, Failure> {
    let pair = feed_label(&body)?;
    state
        .change_settings(move |s| {
            s.host_policy.refused_labels.insert(pair);
        })
        .await
}

pub(super) async fn unrefuse_label(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<HostPolicyChange>,
) -> Result<StatusCode, Failure> {
    let pair = feed_label(&body)?;
    state
        .change_settings(move |s| {
            s.host_policy.refused_labels.remove(&pair);
        })
        .await
}

pub(super) async fn block_author(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<HostPolicyChange>,
) -> Result<StatusCode, Failure> {
    let author = body
        .author
        .ok_or_else(|| Failure::bad_request("give author"))?;
    state
        .change_settings(move |s| {
            s.host_policy.blocked_authors.insert(author);
        })
        .await
}

pub(super) async fn unblock_author(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<HostPolicyChange>,
) -> Result<StatusCode, Failure> {
    let author = body
        .author
        .ok_or_else(|| Failure::bad_request("give author"))?;
    state
        .change_settings(move |s| {
            s.host_policy.blocked_authors.remove(&author);
        })
        .await
}
