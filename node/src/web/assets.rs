//! The app's files, embedded at build time (no CDN, no runtime download, no Node toolchain:
//! the script is the bundle `web/dist/app.js`, committed beside the modules it is made from).
//! The page at `/` names them under `/app/v-<hash of every file>/`, so a browser keeps them
//! for good (`immutable`) and a new daemon's files arrive under a new name; relative imports
//! between modules stay under the same versioned prefix by themselves.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $mime:literal) => {
        asset!($path, $path, $mime)
    };
    ($path:literal, $file:literal, $mime:literal) => {
        Asset {
            path: $path,
            mime: $mime,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file)),
        }
    };
}

/// Everything under `/app/`, and the page at `/`.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    // One request instead of eight: a cold load spent ~40 ms waiting for the browser's six
    // connections per host (BENCHMARKS.md "The web app").
    asset!("app.js", "dist/app.js", "text/javascript; charset=utf-8"),
];

/// The bytes a first visit downloads: every embedded file.
pub fn page_weight() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}

/// This build's asset version: the hash of every asset together.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hasher = blake3::Hasher::new();
        for a in ASSETS {
            hasher.update(a.path.as_bytes());
            hasher.update(a.body);
        }
        format!("v-{}", &hasher.finalize().to_hex()[..16])
    })
}

/// The page, naming this build's versioned asset paths.
fn index_page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        let index = std::str::from_utf8(ASSETS[0].body).unwrap_or_default();
        index.replace("\"/app/", &format!("\"/app/{}/", version()))
    })
}

fn serve(path: &str) -> Response {
    // Versioned paths never change; anything else (an old version, a bare path) is served
    // fresh every time.
    let (path, cache) = match path.split_once('/') {
        Some((v, rest)) if v == version() => (rest, "public, max-age=31536000, immutable"),
        Some((v, rest)) if v.starts_with("v-") => (rest, "no-cache"),
        _ => (path, "no-cache"),
    };
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, "no such file in the app").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.body,
    )
        .into_response()
}

/// `GET /`.
pub(super) async fn index() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(ASSETS[0].mime),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        index_page(),
    )
        .into_response()
}

/// `GET /app/{file}`.
pub(super) async fn asset(Path(file): Path<String>) -> Response {
    serve(&file)
}

/// The page a refused sign-in shows: what happened and what to do next.
pub(super) fn sign_in_refused(reason: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign-in refused · Handbill</title><link rel=\"stylesheet\" href=\"/app/app.css\">\
         </head><body><main class=\"signin\"><h1>Sign-in refused</h1><p>{}.</p>\
         <p>Sign-in links work once, for a minute. Get a new one in a terminal:</p>\
         <pre>handbill open</pre></main></body></html>",
        escape(reason)
    );
    let mut response = (StatusCode::FORBIDDEN, Html(page)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_embedded_files_and_no_inline_script() {
        let index = std::str::from_utf8(ASSETS[0].body).unwrap();
        for reference in index.split("\"/app/").skip(1) {
            let path = reference.split('"').next().unwrap();
            assert!(
                ASSETS.iter().any(|a| a.path == path),
                "the page names /app/{path}, which is not embedded"
            );
        }
        assert!(index.contains("\"/app/app.js\""));
        assert!(
            !index.contains("<script>"),
            "no inline scripts (the CSP forbids them)"
        );
        let bundle = ASSETS.iter().find(|a| a.path == "app.js").unwrap();
        let bundle = std::str::from_utf8(bundle.body).unwrap();
        assert!(
            !bundle.contains("\nimport ") && !bundle.contains("from \"./"),
            "the bundle imports nothing: every module is inside it"
        );
    }
}
