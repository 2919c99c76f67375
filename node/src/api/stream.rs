//! The event stream (server-sent events): `stored` for newly stored events, `notification` for
//! those that concern this node's author. A browser session's stream ends when the session is
//! revoked or expires.

use super::{ApiState, Caller};
use axum::extract::{Extension, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;

pub(super) async fn stream(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.shared.stored.subscribe();
    let events = futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(item) => {
                    let event = Event::default()
                        .event(item.name())
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
    let web = state.web.clone();
    let ended = async move {
        let Caller::Browser(session) = caller else {
            return futures::future::pending().await;
        };
        let mut revocations = web.sessions.revocations();
        loop {
            // Expiry has no event of its own: look again at least every minute.
            let _ = tokio::time::timeout(Duration::from_secs(60), revocations.changed()).await;
            if !web.sessions.is_live(&session.id, crate::daemon::now()) {
                return;
            }
        }
    };
    Sse::new(events.take_until(ended))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
