//! Postmark's error shape: `{"ErrorCode": n, "Message": "..."}` with a fitting HTTP status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clickhook_store::StoreError;
use serde_json::json;

/// Error codes clickhook returns. Where Postmark has a code for the case, it is Postmark's.
pub mod code {
    /// Missing or wrong `X-Postmark-Server-Token` (Postmark 10).
    pub const BAD_TOKEN: i64 = 10;
    /// A request field is missing or invalid (Postmark 300, "Invalid email request").
    pub const INVALID_REQUEST: i64 = 300;
    /// The body is not valid JSON or has a wrong type (Postmark 402, "Invalid JSON").
    pub const INVALID_JSON: i64 = 402;
    /// The body is larger than the endpoint accepts.
    pub const TOO_LARGE: i64 = 413;
    /// No such path.
    pub const NOT_FOUND: i64 = 404;
    /// Unknown message (Postmark 701).
    pub const MESSAGE_NOT_FOUND: i64 = 701;
    /// Unknown webhook id.
    pub const WEBHOOK_NOT_FOUND: i64 = 1200;
    /// Unknown delivery id (clickhook's delivery log API).
    pub const DELIVERY_NOT_FOUND: i64 = 1201;
    /// The store is unavailable; retry later.
    pub const UNAVAILABLE: i64 = 503;
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code::INVALID_REQUEST, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::invalid(m),
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "store unavailable during an API request");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, code::UNAVAILABLE, "The store is unavailable; retry later.")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "ErrorCode": self.code, "Message": self.message }))).into_response()
    }
}
