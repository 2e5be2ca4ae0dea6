//! The shape of a successful LoxiLB answer, shared by every resource handler.

use serde_json::json;

/// A successful answer: HTTP status and JSON body bytes.
pub(crate) type Answer = (u16, Vec<u8>);

/// 200 with a JSON body.
pub(crate) fn ok_json(v: &serde_json::Value) -> Answer {
    (200, serde_json::to_vec(v).unwrap_or_default())
}

/// 200 `{"result":"Success"}`, LoxiLB's ResultResponse for a successful write.
pub(crate) fn success() -> Answer {
    ok_json(&json!({"result": "Success"}))
}
