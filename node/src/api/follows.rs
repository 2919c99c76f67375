//! Follows: list, follow, unfollow.

use super::extract::ApiJson;
use super::{ApiResult, ApiState, Failure, parse};
use crate::daemon::now;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use handbill_protocol::AuthorId;
use handbill_protocol::api::{FollowRequest, NamedAuthor, Published};

pub(super) async fn follows(State(state): State<ApiState>) -> ApiResult<Vec<AuthorId>> {
    state
        .with_engine(|engine| Ok(engine.settings().follows.iter().copied().collect()))
        .await
        .map(Json)
}

/// `GET /v1/following`: the follows with their names, for people (`/v1/follows` stays ids).
pub(super) async fn following(State(state): State<ApiState>) -> ApiResult<Vec<NamedAuthor>> {
    state
        .with_engine(|engine| Ok(engine.following()?))
        .await
        .map(Json)
}

pub(super) async fn follow(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<FollowRequest>,
) -> Result<(StatusCode, Json<Published>), Failure> {
    let published = state
        .with_engine(move |engine| Ok(Published::of(&engine.follow(body.author, now())?)))
        .await?;
    Ok((StatusCode::CREATED, Json(published)))
}

pub(super) async fn unfollow(
    State(state): State<ApiState>,
    Path(author): Path<String>,
) -> ApiResult<Published> {
    let author: AuthorId = parse(&author)?;
    state
        .with_engine(move |engine| Ok(Published::of(&engine.unfollow(author, now())?)))
        .await
        .map(Json)
}
