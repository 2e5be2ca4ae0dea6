//! LoxiLB-shaped API errors.
//!
//! LoxiLB answers failures with `{"code": N, "message": "...", "result": "<error text>"}` and
//! picks the HTTP status from the kind of failure. The variants below carry LoxiLB's own error
//! texts (for example `host-notfound error`) so a client that inspects `result` sees what the
//! real daemon would send.

use serde::Serialize;

/// A failed LoxiLB API call; the payload is LoxiLB's error text (`result`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed arguments.
    #[error("{0}")]
    BadArgs(String),
    /// 401: missing, unknown or expired token, or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: capacity insufficient.
    #[error("{0}")]
    Capacity(String),
    /// 404: the object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 405: known path, wrong method (go-swagger behaviour).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: exists already, still referenced, or an immutable property would change.
    #[error("{0}")]
    Conflict(String),
    /// 503: maintenance mode.
    #[error("{0}")]
    Maintenance(String),
    /// 500 or any other injected status.
    #[error("{1}")]
    Status(u16, String),
}

/// The JSON error body LoxiLB sends.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub code: u16,
    pub message: String,
    pub result: String,
}

impl ApiError {
    /// HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadArgs(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Capacity(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::Maintenance(_) => 503,
            ApiError::Status(code, _) => *code,
        }
    }

    /// The body LoxiLB sends for this error; `message` is the swagger description of the status.
    pub fn body(&self) -> ErrorBody {
        let code = self.status();
        ErrorBody {
            code,
            message: status_message(code).to_string(),
            result: self.to_string(),
        }
    }
}

/// Swagger descriptions of LoxiLB's error statuses, used as `message`.
pub fn status_message(code: u16) -> &'static str {
    match code {
        400 => "Malformed arguments for API call",
        401 => "Invalid authentication credentials",
        403 => "Capacity insufficient",
        404 => "Resource not found",
        405 => "Method not allowed",
        409 => "Resource Conflict",
        503 => "Maintenance mode",
        _ => "Internal service error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_code_message_and_loxilb_text() {
        let e = ApiError::NotFound("host-notfound error".into());
        let b = e.body();
        assert_eq!(b.code, 404);
        assert_eq!(b.message, "Resource not found");
        assert_eq!(b.result, "host-notfound error");
        assert_eq!(ApiError::Status(502, "x".into()).status(), 502);
        assert_eq!(
            ApiError::Status(502, "x".into()).body().message,
            "Internal service error"
        );
    }
}
