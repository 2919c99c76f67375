//! The user's moderation: labels, feed subscriptions, options, mutes, lists.

use super::extract::{ApiJson, ApiQuery};
use super::{ApiResult, ApiState, Failure, PAGE_ITEMS_MAX, parse};
use crate::daemon::now;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use handbill_protocol::AuthorId;
use handbill_protocol::api::{
    FeedSubscribeRequest, IssuedLabel, LabelView, ListSubscribeRequest, ModerationOptions,
    MuteRequest, OwnList, TargetId,
};
use handbill_protocol::moderation::labels::LabelSubject;
use handbill_protocol::moderation::{Mute, Preferences};
use handbill_protocol::payload::{LabelerDeclaration, Payload};
use handbill_protocol::store::Store;

pub(super) async fn labels(
    State(state): State<ApiState>,
    Path(target): Path<String>,
) -> ApiResult<Vec<LabelView>> {
    let subject: LabelSubject = TargetId::parse(&target)
        .map_err(|e| Failure::bad_request(e.to_string()))?
        .into();
    state
        .with_engine(move |engine| {
            let t = now();
            Ok(engine
                .labels()
                .on(&subject)
                .iter()
                .filter(|s| s.in_force(t))
                .map(LabelView::of)
                .collect())
        })
        .await
        .map(Json)
}

pub(super) async fn moderation(State(state): State<ApiState>) -> ApiResult<Preferences> {
    state
        .with_engine(|engine| Ok(engine.settings().moderation.clone()))
        .await
        .map(Json)
}

pub(super) async fn subscribe_feed(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<FeedSubscribeRequest>,
) -> Result<StatusCode, Failure> {
    state
        .with_engine(move |engine| {
            engine.subscribe_feed(body.feed, body.overrides, now())?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

pub(super) async fn unsubscribe_feed(
    State(state): State<ApiState>,
    Path(feed): Path<String>,
) -> Result<StatusCode, Failure> {
    let feed: AuthorId = parse(&feed)?;
    state
        .change_settings(move |s| {
            s.moderation.feeds.remove(&feed);
        })
        .await
}

pub(super) async fn options(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ModerationOptions>,
) -> Result<StatusCode, Failure> {
    state
        .change_settings(move |s| s.moderation.always_show_followed = body.always_show_followed)
        .await
}

/// What a mute request names, or a 400 saying what to give.
fn mute_target(body: &MuteRequest) -> Result<Mute, Failure> {
    body.target()
        .map_err(|e| Failure::bad_request(e.to_string()))
}

pub(super) async fn mute(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<MuteRequest>,
) -> Result<StatusCode, Failure> {
    let target = mute_target(&body)?;
    state
        .change_settings(move |s| s.moderation.mute(target))
        .await
}

pub(super) async fn unmute(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<MuteRequest>,
) -> Result<StatusCode, Failure> {
    let target = mute_target(&body)?;
    state
        .change_settings(move |s| s.moderation.unmute(&target))
        .await
}

pub(super) async fn subscribe_list(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ListSubscribeRequest>,
) -> Result<StatusCode, Failure> {
    state
        .change_settings(move |s| {
            s.list_subscriptions.insert((body.owner, body.list));
        })
        .await
}

pub(super) async fn unsubscribe_list(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ListSubscribeRequest>,
) -> Result<StatusCode, Failure> {
    state
        .change_settings(move |s| {
            s.list_subscriptions.remove(&(body.owner, body.list));
            s.moderation.lists.remove(&body.list);
        })
        .await
}

pub(super) async fn feed_declaration(
    State(state): State<ApiState>,
    Path(feed): Path<String>,
) -> ApiResult<LabelerDeclaration> {
    let feed: AuthorId = parse(&feed)?;
    state
        .with_engine(move |engine| {
            let store = engine.store();
            let declaration = store
                .latest_of_kind(&feed, handbill_protocol::Kind::LABELER_DECLARATION)?
                .and_then(|id| store.event(&id).ok().flatten())
                .and_then(|e| match e.content() {
                    Some(Payload::LabelerDeclaration(d)) => Some(d.clone()),
                    _ => None,
                });
            declaration.ok_or_else(|| {
                Failure::not_found(format!(
                    "no labeler declaration from {feed} is stored here; subscribe to the feed (or follow it) and wait for it to sync"
                ))
            })
        })
        .await
        .map(Json)
}

/// How many of a feed's labels to list.
#[derive(serde::Deserialize)]
pub(super) struct LabelsPage {
    limit: Option<usize>,
}

/// `GET /v1/feeds/{feed}/labels`: what a subscribed feed labels, newest first.
pub(super) async fn feed_labels(
    State(state): State<ApiState>,
    Path(feed): Path<String>,
    ApiQuery(page): ApiQuery<LabelsPage>,
) -> ApiResult<Vec<IssuedLabel>> {
    let feed: AuthorId = parse(&feed)?;
    let limit = page.limit.unwrap_or(50).clamp(1, PAGE_ITEMS_MAX);
    state
        .with_engine(move |engine| {
            Ok(engine
                .labels()
                .issued_by(&feed, now(), limit)
                .into_iter()
                .map(|(subject, s)| IssuedLabel::of(subject, s))
                .collect())
        })
        .await
        .map(Json)
}

pub(super) async fn own_lists(State(state): State<ApiState>) -> ApiResult<Vec<OwnList>> {
    state
        .with_engine(move |engine| {
            let me = engine.author();
            let lists = engine.published_lists(&me)?;
            Ok(lists.into_iter().map(|l| OwnList::of(me, l)).collect())
        })
        .await
        .map(Json)
}
