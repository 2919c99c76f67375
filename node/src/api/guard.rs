//! The guard every request passes: no pages but the app's own, a loopback Host, then a
//! credential (the bearer token, or a browser session: its cookie, the app's origin and its
//! key); then the connection's pool (see `serve`).

use super::{ApiState, Caller, Failure, serve};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use handbill_protocol::sessions::{
    BrowserRefusal, BrowserRequest, constant_time_eq, judge_browser_request,
};
use std::sync::Arc;

/// Refuses other pages and non-loopback hosts, then finds who is calling.
pub(super) async fn guard(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if headers.contains_key(header::ORIGIN) && origin != Some(state.web.origin.as_str()) {
        return forbidden_origin();
    }
    if !host_is_loopback(headers) {
        return Failure(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "the API answers only to a loopback Host".into(),
        )
        .into_response();
    }
    let caller = match bearer(headers) {
        // The token is for the CLI and scripts: a page, even the app's, never presents it.
        Some(_) if origin.is_some() => return forbidden_origin(),
        Some(presented) => {
            if !constant_time_eq(presented.as_bytes(), state.token.as_bytes()) {
                return unauthorized();
            }
            Caller::Owner
        }
        None => {
            let now = crate::daemon::now();
            let Some(session) = state.web.session_of(headers, now) else {
                return unauthorized();
            };
            let browser = BrowserRequest {
                changes_state: !matches!(
                    *request.method(),
                    Method::GET | Method::HEAD | Method::OPTIONS
                ),
                origin,
                fetch_site: headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
                key: headers
                    .get(crate::web::KEY_HEADER)
                    .and_then(|v| v.to_str().ok()),
            };
            match judge_browser_request(browser, &state.web.origin, &session) {
                Ok(()) => {
                    // Only accepted requests count as use: a refused one must not keep a
                    // session looking alive.
                    state.web.sessions.record_use(&session.id, now);
                    Caller::Browser(session)
                }
                Err(refusal @ BrowserRefusal::CrossOrigin) => {
                    return Failure(
                        StatusCode::FORBIDDEN,
                        "forbidden_origin",
                        refusal.to_string(),
                    )
                    .into_response();
                }
                Err(refusal @ BrowserRefusal::MissingKey) => {
                    return Failure(StatusCode::FORBIDDEN, "session_key", refusal.to_string())
                        .into_response();
                }
            }
        }
    };
    request.extensions_mut().insert(caller);
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
            let code = match refusal {
                serve::Refusal::TooManyStreams(_) => "too_many_streams",
                serve::Refusal::Closed => "connection_closed",
            };
            return Failure(StatusCode::SERVICE_UNAVAILABLE, code, refusal.to_string())
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

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn forbidden_origin() -> Response {
    Failure(
        StatusCode::FORBIDDEN,
        "forbidden_origin",
        "requests from web pages other than this node's app are refused".into(),
    )
    .into_response()
}

fn unauthorized() -> Response {
    Failure(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or wrong credentials: scripts use the token in api.token in the node's home; \
         a browser signs in with the link `handbill open` gives"
            .into(),
    )
    .into_response()
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
