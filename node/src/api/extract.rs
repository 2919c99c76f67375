//! Request extractors whose rejections come back in the API's error shape
//! (`{"error":{"code","message"}}`) instead of axum's plain-text bodies, so every client can
//! parse every error the same way.

use super::Failure;
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

/// A query string.
pub struct ApiQuery<T>(pub T);

/// A rejected request part as an API failure, its code chosen by the status axum chose.
fn failure(status: StatusCode, message: String) -> Failure {
    let code = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        _ => "bad_request",
    };
    Failure(status, code, message)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Failure;

    async fn from_request(request: Request, state: &S) -> Result<Self, Failure> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(failure(rejection.status(), rejection.body_text())),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(failure(rejection.status(), rejection.body_text())),
        }
    }
}
