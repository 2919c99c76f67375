//! The guard every request passes: no web-page origins, a loopback Host, the bearer token;
//! then the connection's pool (see `serve`).

use super::{ApiState, Failure, serve};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Refuses browser-originated and non-loopback requests, then checks the token.
pub(super) async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
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
