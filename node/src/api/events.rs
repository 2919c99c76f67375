//! Events: publishing, reading one, threads, the timeline, an author's page.

use super::extract::{ApiJson, ApiQuery};
use super::{ApiResult, ApiState, Failure, PAGE_ITEMS_MAX, parse};
use crate::daemon::now;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use handbill_protocol::api::{AuthorView, FeedItem, PublishRequest, Published, Thread, Timeline};
use handbill_protocol::store::{Store, TimelineCursor};
use handbill_protocol::{AuthorId, EventId, Timestamp};
use serde::Deserialize;

pub(super) async fn publish(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<PublishRequest>,
) -> Result<(StatusCode, Json<Published>), Failure> {
    let published = state
        .with_engine(move |engine| Ok(Published::of(&engine.publish_request(body, now())?)))
        .await?;
    Ok((StatusCode::CREATED, Json(published)))
}

pub(super) async fn event(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<FeedItem> {
    state
        .with_engine(move |engine| {
            let id = engine.resolve_event(&id)?;
            match engine.store().event(&id)? {
                Some(event) => Ok(engine.item(&event, now())?),
                None => Err(Failure::not_found(format!(
                    "event {id} is not stored on this node"
                ))),
            }
        })
        .await
        .map(Json)
}

/// Most events a thread view walks, up and down, so a huge thread cannot stall the daemon.
const THREAD_EVENTS_MAX: usize = 1_000;

pub(super) async fn thread(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Thread> {
    state
        .with_engine(move |engine| {
            let id = engine.resolve_event(&id)?;
            let store = engine.store();
            let t = now();
            let item = |e: &handbill_protocol::VerifiedEvent| engine.item(e, t);
            let Some(focus) = store.event(&id)? else {
                return Err(Failure::not_found(format!(
                    "event {id} is not stored on this node"
                )));
            };
            let mut ancestors = Vec::new();
            let mut cursor = handbill_protocol::store::reply_parent(&focus);
            while let Some(parent) = cursor {
                if ancestors.len() >= THREAD_EVENTS_MAX {
                    break;
                }
                match store.event(&parent)? {
                    Some(e) => {
                        let i = item(&e)?;
                        cursor = i.reply_to;
                        ancestors.push(i);
                    }
                    None => break,
                }
            }
            ancestors.reverse();
            let mut replies = Vec::new();
            let mut stack: Vec<EventId> = store.replies(&id)?.into_iter().rev().collect();
            while let Some(next) = stack.pop() {
                if replies.len() >= THREAD_EVENTS_MAX {
                    break;
                }
                if let Some(e) = store.event(&next)? {
                    replies.push(item(&e)?);
                    stack.extend(store.replies(&next)?.into_iter().rev());
                }
            }
            Ok(Thread {
                event: item(&focus)?,
                ancestors,
                replies,
            })
        })
        .await
        .map(Json)
}

/// A page of a listing: how many items, and where the previous page ended.
#[derive(Deserialize)]
pub(super) struct Page {
    pub(super) limit: Option<usize>,
    pub(super) before: Option<String>,
}

pub(super) fn cursor_of(text: &str) -> Result<TimelineCursor, Failure> {
    let (time, id) = text
        .split_once(':')
        .ok_or_else(|| Failure::bad_request("before must be CREATED_AT:EVENT_ID"))?;
    Ok(TimelineCursor {
        created_at: Timestamp(
            time.parse()
                .map_err(|_| Failure::bad_request("before must start with a time in ms"))?,
        ),
        id: parse(id)?,
    })
}

fn cursor_text(item: &FeedItem) -> String {
    format!("{}:{}", item.created_at.0, item.id)
}

pub(super) async fn timeline(
    State(state): State<ApiState>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Timeline> {
    let limit = page.limit.unwrap_or(50).clamp(1, PAGE_ITEMS_MAX);
    let before = page.before.as_deref().map(cursor_of).transpose()?;
    state
        .with_engine(move |engine| {
            let t = now();
            let items = engine
                .timeline(before, limit, t)?
                .iter()
                .map(|(e, _)| engine.item(e, t))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(page_of(items, limit))
        })
        .await
        .map(Json)
}

/// A page of a timeline: the next page starts after the last item, unless this one was short.
pub(super) fn page_of(items: Vec<FeedItem>, limit: usize) -> Timeline {
    let next = (items.len() == limit)
        .then(|| items.last().map(cursor_text))
        .flatten();
    Timeline { items, next }
}

pub(super) async fn author(
    State(state): State<ApiState>,
    Path(author): Path<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<AuthorView> {
    let limit = page.limit.unwrap_or(50).clamp(1, PAGE_ITEMS_MAX);
    let before = page.before.as_deref().map(cursor_of).transpose()?;
    state
        .with_engine(move |engine| {
            let author: AuthorId = engine.resolve_author(&author)?;
            let store = engine.store();
            let log = store.log_state(&author)?;
            let t = now();
            let posts: Vec<FeedItem> = store
                .timeline(&|a| *a == author, before, limit)?
                .iter()
                .map(|e| engine.item(e, t))
                .collect::<Result<_, _>>()?;
            let (name, bio) = match engine.profile(&author)? {
                Some(p) => (Some(p.name), Some(p.bio)),
                None => (None, None),
            };
            Ok(AuthorView {
                author,
                name,
                bio,
                followed: engine.settings().follows.contains(&author),
                contiguous: log.contiguous,
                highest: log.highest,
                posts,
            })
        })
        .await
        .map(Json)
}
