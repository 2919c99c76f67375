//! Notifications, followers, edit history, search, id resolution and others' lists.

use super::extract::{ApiJson, ApiQuery};
use super::{ApiResult, ApiState, Failure, PAGE_ITEMS_MAX};
use crate::daemon::now;
use axum::Json;
use axum::extract::{Path, State};
use handbill_protocol::api::{
    Followers, History, IdKind, ListView, MarkRead, Notifications, Resolved, SearchResults,
    Timeline,
};
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct NotificationsQuery {
    /// Read ones too.
    #[serde(default)]
    all: bool,
    before: Option<u64>,
    limit: Option<usize>,
}

pub(super) async fn notifications(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
) -> ApiResult<Notifications> {
    let limit = query.limit.unwrap_or(50).clamp(1, PAGE_ITEMS_MAX);
    state
        .with_engine(move |engine| {
            Ok(engine.notifications(query.all, query.before, limit, now())?)
        })
        .await
        .map(Json)
}

pub(super) async fn mark_read(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<MarkRead>,
) -> ApiResult<MarkRead> {
    let position = body.position;
    state
        .with_engine(move |engine| {
            Ok(MarkRead {
                position: Some(engine.mark_notifications_read(position)?),
            })
        })
        .await
        .map(Json)
}

pub(super) async fn followers(State(state): State<ApiState>) -> ApiResult<Followers> {
    state
        .with_engine(|engine| Ok(engine.followers()?))
        .await
        .map(Json)
}

pub(super) async fn history(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<History> {
    state
        .with_engine(move |engine| {
            let id = engine.resolve_event(&id)?;
            engine
                .history(&id)?
                .ok_or_else(|| Failure::not_found(format!("event {id} is not stored on this node")))
        })
        .await
        .map(Json)
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    q: String,
    before: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn search(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> ApiResult<SearchResults> {
    let limit = query.limit.unwrap_or(20).clamp(1, PAGE_ITEMS_MAX);
    let before = query
        .before
        .as_deref()
        .map(super::events::cursor_of)
        .transpose()?;
    state
        .with_engine(move |engine| Ok(engine.search(&query.q, before, limit, now())?))
        .await
        .map(Json)
}

#[derive(Deserialize)]
pub(super) struct ResolveQuery {
    kind: IdKind,
    id: String,
}

pub(super) async fn resolve(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ResolveQuery>,
) -> ApiResult<Resolved> {
    state
        .with_engine(move |engine| {
            let id = match query.kind {
                IdKind::Event => engine.resolve_event(&query.id)?.to_string(),
                IdKind::Author => engine.resolve_author(&query.id)?.to_string(),
            };
            Ok(Resolved { id })
        })
        .await
        .map(Json)
}

pub(super) async fn lists_of(
    State(state): State<ApiState>,
    Path(owner): Path<String>,
) -> ApiResult<Vec<ListView>> {
    state
        .with_engine(move |engine| {
            let owner = engine.resolve_author(&owner)?;
            Ok(engine.lists_of(&owner)?)
        })
        .await
        .map(Json)
}

pub(super) async fn list(
    State(state): State<ApiState>,
    Path((owner, name)): Path<(String, String)>,
) -> ApiResult<ListView> {
    state
        .with_engine(move |engine| {
            let owner = engine.resolve_author(&owner)?;
            engine
                .list_named(&owner, &name)?
                .ok_or_else(|| no_such_list(&owner, &name))
        })
        .await
        .map(Json)
}

fn no_such_list(owner: &handbill_protocol::AuthorId, name: &str) -> Failure {
    Failure::not_found(format!(
        "{owner} has published no list named {name:?} that this node holds"
    ))
}

pub(super) async fn list_timeline(
    State(state): State<ApiState>,
    Path((owner, name)): Path<(String, String)>,
    ApiQuery(page): ApiQuery<super::events::Page>,
) -> ApiResult<Timeline> {
    let limit = page.limit.unwrap_or(50).clamp(1, PAGE_ITEMS_MAX);
    let before = page
        .before
        .as_deref()
        .map(super::events::cursor_of)
        .transpose()?;
    state
        .with_engine(move |engine| {
            let owner = engine.resolve_author(&owner)?;
            let list = engine
                .list_named(&owner, &name)?
                .ok_or_else(|| no_such_list(&owner, &name))?;
            let items = engine.list_timeline(&list, before, limit, now())?;
            Ok(super::events::page_of(items, limit))
        })
        .await
        .map(Json)
}
