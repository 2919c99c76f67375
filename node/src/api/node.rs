//! The node itself: status and connecting to peers.

use super::extract::ApiJson;
use super::{ApiResult, ApiState, Failure};
use crate::daemon::NetCommand;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use handbill_protocol::api::{ConnectRequest, ForkView, PeerScore, Status, SyncState};
use handbill_protocol::store::Store;

pub(super) async fn status(State(state): State<ApiState>) -> ApiResult<Status> {
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
    let status = state
        .with_engine(move |engine| {
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
            Ok(Status {
                author: engine.author(),
                peer_id: net.peer_id,
                listen_addrs: net.listen_addrs,
                peers: net.peers.into_iter().collect(),
                peer_scores: peer_scores
                    .into_iter()
                    .map(|(peer, score)| {
                        let peer_id = peer.to_string();
                        let (connection, address) =
                            net.links.get(&peer_id).cloned().unwrap_or_default();
                        PeerScore {
                            peer_id,
                            gossip_score: score,
                            connection,
                            address,
                        }
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
                reachability: net.reachability,
                addresses: net.addresses,
            })
        })
        .await?;
    Ok(Json(status))
}

pub(super) async fn connect(
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
