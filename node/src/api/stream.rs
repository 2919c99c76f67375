//! The event stream (server-sent events): `stored` for newly stored events, `notification` for
//! those that concern this node's author.

use super::ApiState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;

pub(super) async fn stream(
    State(state): State<ApiState>,
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
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
