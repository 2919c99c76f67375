//! The local HTTP API: JSON over loopback, with a bearer token, for the CLI and local apps.
//!
//! Requests carrying an `Origin` header (a browser page trying to reach the daemon) or a `Host`
//! that is not loopback (DNS rebinding) are refused before the token is even looked at.

mod extract;
pub mod serve;

use crate::daemon::{NetCommand, Shared, now};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use extract::{ApiJson, ApiQuery};
use futures::Stream;
use handbill_protocol::api::*;
use handbill_protocol::moderation::Preferences;
use handbill_protocol::moderation::host::HostPolicy;
use handbill_protocol::moderation::labels::LabelSubject;
use handbill_protocol::payload::{
    Delete, EventRef, Label, LabelTarget, LabelerDeclaration, List, Payload, Post, Profile,
    Reaction, ReplyRef, Repost,
};
use handbill_protocol::store::{Store, TimelineCursor};
use handbill_protocol::{AuthorId, EventId, Timestamp, TypedId};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// Most items one page of a listing returns.
pub const PAGE_ITEMS_MAX: usize = 500;

/// The API's state: the shared node plus the token.
#[derive(Clone)]
pub struct ApiState {
    /// The node.
    pub shared: Arc<Shared>,
    /// The bearer token clients must present.
    pub token: Arc<String>,
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
        Failure::internal(e.to_string())
    }
}

impl From<handbill_protocol::engine::CommandError> for Failure {
    fn from(e: handbill_protocol::engine::CommandError) -> Failure {
        use handbill_protocol::engine::CommandError;
        match e {
            CommandError::Store(e) => Failure::internal(e.to_string()),
            CommandError::Build(e) => Failure::bad_request(e.to_string()),
            e @ (CommandError::NotYourEvent(_) | CommandError::FollowSelf) => {
                Failure(StatusCode::CONFLICT, "refused", e.to_string())
            }
            e @ CommandError::WouldFork { .. } => {
                Failure(StatusCode::CONFLICT, "would_fork", e.to_string())
            }
        }
    }
}

type ApiResult<T> = Result<Json<T>, Failure>;

/// Builds the router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/connect", post(connect))
        .route("/v1/events", post(publish))
        .route("/v1/events/{id}", get(event))
        .route("/v1/events/{id}/thread", get(thread))
        .route("/v1/follows", get(follows).post(follow))
        .route("/v1/follows/{author}", delete(unfollow))
        .route("/v1/timeline", get(timeline))
        .route("/v1/authors/{author}", get(author))
        .route("/v1/labels/{target}", get(labels))
        .route("/v1/moderation", get(moderation))
        .route("/v1/moderation/feeds", post(subscribe_feed))
        .route("/v1/moderation/feeds/{feed}", delete(unsubscribe_feed))
        .route("/v1/moderation/options", put(moderation_options))
        .route("/v1/mutes", post(mute).delete(unmute))
        .route(
            "/v1/lists/subscriptions",
            post(subscribe_list).delete(unsubscribe_list),
        )
        .route("/v1/host-policy", get(host_policy))
        .route(
            "/v1/host-policy/refuse",
            post(refuse_label).delete(unrefuse_label),
        )
        .route(
            "/v1/host-policy/block",
            post(block_author).delete(unblock_author),
        )
        .route("/v1/feeds/{feed}", get(feed_declaration))
        .route("/v1/lists", get(own_lists))
        .route("/v1/stream", get(stream))
        .fallback(|| async { Failure::not_found("no such API endpoint") })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Refuses browser-originated and non-loopback requests, then checks the token.
async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if headers.contains_key(header::ORIGIN) {
        return Failure(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "requests from web pages are refused".into(),
        )
        .into_response();
    }
    if !host_is_loopback(headers) {
        return Failure(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "the API answers only to a loopback Host".into(),
        )
        .into_response();
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|t| constant_time_eq(t.as_bytes(), state.token.as_bytes())) {
        return Failure(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token (see api.token in the node's home)".into(),
        )
        .into_response();
    }
    // Served through `serve::serve`, every request knows its connection; the router alone
    // (in unit tests) has none and no pools to keep.
    let Some(connection) = request
        .extensions()
        .get::<Arc<serve::Connection>>()
        .cloned()
    else {
        return next.run(request).await;
    };
    let last = match connection.authenticated(request.uri().path() == "/v1/stream") {
        Ok(last) => last,
        Err(refusal) => {
            return Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_streams",
                refusal.to_string(),
            )
            .into_response();
        }
    };
    let _busy = connection.busy();
    let mut response = next.run(request).await;
    if last {
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    response
}

fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        // HTTP/1.0 clients may omit Host; the socket itself is loopback-only.
        return true;
    };
    host_name(host).is_some_and(|name| matches!(name, "127.0.0.1" | "localhost" | "::1"))
}

/// The name in a `Host` value (`name[:port]` or `[ipv6][:port]`), or `None` if the value is
/// anything else: whatever follows the name must be a numeric port, so `[::1]evil.example` is
/// not `::1` (a DNS-rebinding page could otherwise pass as loopback).
fn host_name(host: &str) -> Option<&str> {
    let (name, rest) = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?,
        None => match host.split_once(':') {
            Some((name, _)) => (name, &host[name.len()..]),
            None => (host, ""),
        },
    };
    let port_ok = rest.is_empty()
        || rest
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok.then_some(name)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parse<T: TypedId>(text: &str) -> Result<T, Failure> {
    T::parse(text).map_err(|e| Failure::bad_request(e.to_string()))
}

async fn status(State(state): State<ApiState>) -> ApiResult<Status> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let peer_scores = match state
        .shared
        .commands
        .send(NetCommand::PeerScores(reply))
        .await
    {
        Ok(()) => answer.await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let net = state.shared.net().clone();
    let engine = state.shared.engine();
    let store = engine.store();
    let mut sync = Vec::new();
    for author in engine.hosted() {
        let log = store.log_state(author)?;
        sync.push(SyncState {
            author: *author,
            contiguous: log.contiguous,
            highest: log.highest,
        });
    }
    Ok(Json(Status {
        author: engine.author(),
        peer_id: net.peer_id,
        listen_addrs: net.listen_addrs,
        peers: net.peers.into_iter().collect(),
        peer_scores: peer_scores
            .into_iter()
            .map(|(peer, score)| PeerScore {
                peer_id: peer.to_string(),
                gossip_score: score,
            })
            .collect(),
        forks: store
            .forks()?
            .into_iter()
            .map(|(author, seq)| ForkView { author, seq })
            .collect(),
        counts: store.counts()?,
        hosted_authors: engine.hosted().len() as u64,
        following: engine.settings().follows.len() as u64,
        sync,
        version: env!("CARGO_PKG_VERSION").to_string(),
    }))
}

async fn connect(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ConnectRequest>,
) -> Result<StatusCode, Failure> {
    let addr: libp2p::Multiaddr = body
        .addr
        .parse()
        .map_err(|e| Failure::bad_request(format!("not a multiaddr: {e}")))?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    state
        .shared
        .commands
        .send(NetCommand::Dial(addr, reply))
        .await
        .map_err(|_| Failure::internal("network loop stopped"))?;
    answer
        .await
        .map_err(|_| Failure::internal("network loop stopped"))?
        .map_err(|e| Failure::bad_request(format!("cannot dial: {e}")))?;
    Ok(StatusCode::ACCEPTED)
}

/// Looks up an event the new event refers to; its author is needed to route the new event.
fn reference(state: &ApiState, id: EventId) -> Result<EventRef, Failure> {
    let engine = state.shared.engine();
    match engine.store().event(&id)? {
        Some(event) => Ok(EventRef {
            author: event.author(),
            id,
        }),
        None => Err(Failure::not_found(format!(
            "event {id} is not stored on this node; follow its author or fetch it first"
        ))),
    }
}

fn payload_of(state: &ApiState, request: PublishRequest) -> Result<Payload, Failure> {
    Ok(match request {
        PublishRequest::Post {
            text,
            reply_to,
            quote,
            tags,
            mentions,
            self_labels,
        } => {
            let reply = match reply_to {
                None => None,
                Some(id) => {
                    let parent = reference(state, id)?;
                    let engine = state.shared.engine();
                    let root = match engine
                        .store()
                        .event(&id)?
                        .and_then(|e| e.content().cloned())
                    {
                        Some(Payload::Post(p)) => p.reply.map_or(parent, |r| r.root),
                        _ => parent,
                    };
                    Some(ReplyRef { root, parent })
                }
            };
            let quote = quote.map(|id| reference(state, id)).transpose()?;
            Payload::Post(Post {
                text,
                reply,
                quote,
                tags: tags
                    .into_iter()
                    .map(|t| t.trim_start_matches('#').to_string())
                    .collect(),
                mentions,
                self_labels,
            })
        }
        PublishRequest::Repost { target } => Payload::Repost(Repost {
            target: reference(state, target)?,
        }),
        PublishRequest::Reaction { target, reaction } => Payload::Reaction(Reaction {
            target: reference(state, target)?,
            reaction,
        }),
        PublishRequest::Profile { name, bio } => Payload::Profile(Profile { name, bio }),
        PublishRequest::Delete { targets } => Payload::Delete(Delete::of(targets)),
        PublishRequest::Label {
            target,
            value,
            reason,
            expires_at,
            negate,
        } => {
            let target = match target {
                TargetId::Author(a) => LabelTarget::Author(a),
                TargetId::Event(id) => LabelTarget::Event(reference(state, id)?),
            };
            Payload::Label(Label {
                target,
                value,
                reason,
                expires_at,
                negate,
            })
        }
        PublishRequest::LabelerDeclaration {
            name,
            description,
            labels,
        } => Payload::LabelerDeclaration(LabelerDeclaration {
            name,
            description,
            labels,
        }),
        PublishRequest::List {
            name,
            description,
            purpose,
            members,
        } => Payload::List(List {
            name,
            description,
            purpose,
            members,
        }),
    })
}

async fn publish(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<PublishRequest>,
) -> Result<(StatusCode, Json<Published>), Failure> {
    let payload = payload_of(&state, body)?;
    let event = state.shared.engine().publish(&payload, now())?;
    state.shared.wake.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(Published {
            id: event.id(),
            seq: event.seq(),
        }),
    ))
}

async fn event(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<FeedItem> {
    let id: EventId = parse(&id)?;
    let engine = state.shared.engine();
    match engine.store().event(&id)? {
        Some(event) => Ok(Json(FeedItem::of(&event, engine.verdict(&event, now())))),
        None => Err(Failure::not_found(format!(
            "event {id} is not stored on this node"
        ))),
    }
}

/// Most events a thread view walks, up and down, so a huge thread cannot stall the daemon.
const THREAD_EVENTS_MAX: usize = 1_000;

async fn thread(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<Thread> {
    let id: EventId = parse(&id)?;
    let engine = state.shared.engine();
    let store = engine.store();
    let t = now();
    let item = |e: &handbill_protocol::VerifiedEvent| FeedItem::of(e, engine.verdict(e, t));
    let Some(focus) = store.event(&id)? else {
        return Err(Failure::not_found(format!(
            "event {id} is not stored on this node"
        )));
    };
    let mut ancestors = Vec::new();
    let mut cursor = FeedItem::of(&focus, engine.verdict(&focus, t)).reply_to;
    while let Some(parent) = cursor {
        if ancestors.len() >= THREAD_EVENTS_MAX {
            break;
        }
        match store.event(&parent)? {
            Some(e) => {
                let i = item(&e);
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
            replies.push(item(&e));
            stack.extend(store.replies(&next)?.into_iter().rev());
        }
    }
    Ok(Json(Thread {
        event: item(&focus),
        ancestors,
        replies,
    }))
}

async fn follows(State(state): State<ApiState>) -> ApiResult<Vec<AuthorId>> {
    Ok(Json(
        state
            .shared
            .engine()
            .settings()
            .follows
            .iter()
            .copied()
            .collect(),
    ))
}

async fn follow(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<FollowRequest>,
) -> Result<(StatusCode, Json<Published>), Failure> {
    let event = state.shared.engine().follow(body.author, now())?;
    state.shared.wake.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(Published {
            id: event.id(),
            seq: event.seq(),
        }),
    ))
}

async fn unfollow(
    State(state): State<ApiState>,
    Path(author): Path<String>,
) -> ApiResult<Published> {
    let author: AuthorId = parse(&author)?;
    let event = state.shared.engine().unfollow(author, now())?;
    state.shared.wake.notify_one();
    Ok(Json(Published {
        id: event.id(),
        seq: event.seq(),
    }))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<usize>,
    before: Option<String>,
}

fn cursor_of(text: &str) -> Result<TimelineCursor, Failure> {
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

async fn timeline(
    State(state): State<ApiState>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Timeline> {
    let limit = page.limit.unwrap_or(50).clamp(1, PAGE_ITEMS_MAX);
    let before = page.before.as_deref().map(cursor_of).transpose()?;
    let entries = state.shared.engine().timeline(before, limit, now())?;
    let items: Vec<FeedItem> = entries
        .iter()
        .map(|(e, v)| FeedItem::of(e, v.clone()))
        .collect();
    let next = (items.len() == limit)
        .then(|| items.last().map(cursor_text))
        .flatten();
    Ok(Json(Timeline { items, next }))
}

async fn author(
    State(state): State<ApiState>,
    Path(author): Path<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<AuthorView> {
    let author: AuthorId = parse(&author)?;
    let limit = page.limit.unwrap_or(50).clamp(1, PAGE_ITEMS_MAX);
    let before = page.before.as_deref().map(cursor_of).transpose()?;
    let engine = state.shared.engine();
    let store = engine.store();
    let log = store.log_state(&author)?;
    let t = now();
    let posts: Vec<FeedItem> = store
        .timeline(&|a| *a == author, before, limit)?
        .iter()
        .map(|e| FeedItem::of(e, engine.verdict(e, t)))
        .collect();
    let profile = match store.latest_of_kind(&author, handbill_protocol::Kind::PROFILE)? {
        Some(id) => store.event(&id)?.and_then(|e| match e.content() {
            Some(Payload::Profile(p)) => Some(p.clone()),
            _ => None,
        }),
        None => None,
    };
    let (name, bio) = match profile {
        Some(p) => (Some(p.name), Some(p.bio)),
        None => (None, None),
    };
    Ok(Json(AuthorView {
        author,
        name,
        bio,
        followed: engine.settings().follows.contains(&author),
        contiguous: log.contiguous,
        highest: log.highest,
        posts,
    }))
}

async fn labels(
    State(state): State<ApiState>,
    Path(target): Path<String>,
) -> ApiResult<Vec<LabelView>> {
    let target = TargetId::parse(&target).map_err(|e| Failure::bad_request(e.to_string()))?;
    let subject = match target {
        TargetId::Event(id) => LabelSubject::Event(id),
        TargetId::Author(a) => LabelSubject::Author(a),
    };
    let engine = state.shared.engine();
    let t = now();
    Ok(Json(
        engine
            .labels()
            .on(&subject)
            .iter()
            .filter(|s| s.in_force(t))
            .map(|s| LabelView {
                feed: s.feed,
                value: s.value.clone(),
                reason: s.reason.clone(),
                expires_at: s.expires_at,
                event: s.event,
            })
            .collect(),
    ))
}

async fn moderation(State(state): State<ApiState>) -> ApiResult<Preferences> {
    Ok(Json(state.shared.engine().settings().moderation.clone()))
}

fn changed(
    state: &ApiState,
    change: impl FnOnce(&mut handbill_protocol::engine::NodeSettings),
) -> Result<StatusCode, Failure> {
    state.shared.engine().update_settings(change, now())?;
    state.shared.wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

async fn subscribe_feed(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<FeedSubscribeRequest>,
) -> Result<StatusCode, Failure> {
    state
        .shared
        .engine()
        .subscribe_feed(body.feed, body.overrides, now())?;
    state.shared.wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

async fn unsubscribe_feed(
    State(state): State<ApiState>,
    Path(feed): Path<String>,
) -> Result<StatusCode, Failure> {
    let feed: AuthorId = parse(&feed)?;
    changed(&state, |s| {
        s.moderation.feeds.remove(&feed);
    })
}

async fn moderation_options(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ModerationOptions>,
) -> Result<StatusCode, Failure> {
    changed(&state, |s| {
        s.moderation.always_show_followed = body.always_show_followed
    })
}

fn one_mute(body: &MuteRequest) -> Result<(), Failure> {
    let set = [
        body.author.is_some(),
        body.word.is_some(),
        body.tag.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err(Failure::bad_request(
            "give exactly one of author, word, tag",
        ));
    }
    Ok(())
}

async fn mute(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<MuteRequest>,
) -> Result<StatusCode, Failure> {
    one_mute(&body)?;
    changed(&state, |s| {
        let m = &mut s.moderation;
        if let Some(a) = body.author {
            m.muted_authors.insert(a);
        }
        if let Some(w) = body.word {
            m.muted_words.insert(w.to_lowercase());
        }
        if let Some(t) = body.tag {
            m.muted_tags
                .insert(t.trim_start_matches('#').to_lowercase());
        }
    })
}

async fn unmute(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<MuteRequest>,
) -> Result<StatusCode, Failure> {
    one_mute(&body)?;
    changed(&state, |s| {
        let m = &mut s.moderation;
        if let Some(a) = body.author {
            m.muted_authors.remove(&a);
        }
        if let Some(w) = body.word {
            m.muted_words.remove(&w.to_lowercase());
        }
        if let Some(t) = body.tag {
            m.muted_tags
                .remove(&t.trim_start_matches('#').to_lowercase());
        }
    })
}

async fn subscribe_list(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ListSubscribeRequest>,
) -> Result<StatusCode, Failure> {
    changed(&state, |s| {
        s.list_subscriptions.insert((body.owner, body.list));
    })
}

async fn unsubscribe_list(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ListSubscribeRequest>,
) -> Result<StatusCode, Failure> {
    changed(&state, |s| {
        s.list_subscriptions.remove(&(body.owner, body.list));
        s.moderation.lists.remove(&body.list);
    })
}

async fn host_policy(State(state): State<ApiState>) -> ApiResult<HostPolicy> {
    Ok(Json(state.shared.engine().settings().host_policy.clone()))
}

fn feed_label(body: &HostPolicyChange) -> Result<(AuthorId, String), Failure> {
    match (&body.feed, &body.label) {
        (Some(f), Some(l)) => Ok((*f, l.clone())),
        _ => Err(Failure::bad_request("give feed and label")),
    }
}

async fn refuse_label(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<HostPolicyChange>,
) -> Result<StatusCode, Failure> {
    let pair = feed_label(&body)?;
    changed(&state, |s| {
        s.host_policy.refused_labels.insert(pair);
    })
}

async fn unrefuse_label(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<HostPolicyChange>,
) -> Result<StatusCode, Failure> {
    let pair = feed_label(&body)?;
    changed(&state, |s| {
        s.host_policy.refused_labels.remove(&pair);
    })
}

async fn block_author(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<HostPolicyChange>,
) -> Result<StatusCode, Failure> {
    let author = body
        .author
        .ok_or_else(|| Failure::bad_request("give author"))?;
    changed(&state, |s| {
        s.host_policy.blocked_authors.insert(author);
    })
}

async fn unblock_author(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<HostPolicyChange>,
) -> Result<StatusCode, Failure> {
    let author = body
        .author
        .ok_or_else(|| Failure::bad_request("give author"))?;
    changed(&state, |s| {
        s.host_policy.blocked_authors.remove(&author);
    })
}

/// Most events of its own log a node scans to list its lists.
const OWN_LOG_SCAN_MAX: usize = 100_000;

async fn feed_declaration(
    State(state): State<ApiState>,
    Path(feed): Path<String>,
) -> ApiResult<LabelerDeclaration> {
    let feed: AuthorId = parse(&feed)?;
    let engine = state.shared.engine();
    let store = engine.store();
    let declaration = store
        .latest_of_kind(&feed, handbill_protocol::Kind::LABELER_DECLARATION)?
        .and_then(|id| store.event(&id).ok().flatten())
        .and_then(|e| match e.content() {
            Some(Payload::LabelerDeclaration(d)) => Some(d.clone()),
            _ => None,
        });
    declaration.map(Json).ok_or_else(|| {
        Failure::not_found(format!(
            "no labeler declaration from {feed} is stored here; subscribe to the feed (or follow it) and wait for it to sync"
        ))
    })
}

async fn own_lists(State(state): State<ApiState>) -> ApiResult<Vec<OwnList>> {
    let engine = state.shared.engine();
    let store = engine.store();
    let me = engine.author();
    let mut newest: std::collections::BTreeMap<String, OwnList> = Default::default();
    let mut pages = handbill_protocol::store::LogPages::new(me);
    let mut scanned = 0;
    while scanned < OWN_LOG_SCAN_MAX {
        let Some(page) = pages.next_page(store)? else {
            break;
        };
        scanned += page.len();
        for e in &page {
            if let Some(Payload::List(l)) = e.content() {
                newest.insert(
                    l.name.clone(),
                    OwnList {
                        id: handbill_protocol::ListId::derive(&me, &l.name),
                        owner: me,
                        name: l.name.clone(),
                        description: l.description.clone(),
                        purpose: l.purpose,
                        members: l.members.clone(),
                    },
                );
            }
        }
    }
    Ok(Json(newest.into_values().collect()))
}

async fn stream(
    State(state): State<ApiState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.shared.stored.subscribe();
    let events = futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(item) => {
                    let event = Event::default()
                        .event("stored")
                        .json_data(&item)
                        .unwrap_or_else(|_| Event::default().comment("unencodable item"));
                    return Some((Ok(event), receiver));
                }
                // A slow reader skips what it missed rather than stalling the node.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        let check = |h: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, h.parse().unwrap());
            host_is_loopback(&headers)
        };
        assert!(check("127.0.0.1:4000"));
        assert!(check("localhost:1"));
        assert!(check("[::1]:80"));
        assert!(!check("evil.example:4000"));
        assert!(!check("127.0.0.1.evil.example"));
        assert!(!check("[::1]evil.example"));
        assert!(!check("[::1]:80x"));
        assert!(!check("127.0.0.1:"));
        assert!(!check("localhost:80:1"));
        assert!(!check("::1"));
        assert!(check("localhost"));
    }
}
