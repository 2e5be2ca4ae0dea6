//! Schema checks for the three request kinds.
//!
//! The real agent writes whatever it is given into Octavia's database and
//! fails (500) on values the database rejects. The simulator checks the
//! documented schema up front and answers the same 500, naming the offending
//! record, so a client that sends typos or nulls fails loudly in tests.

use serde_json::{Map, Value};

use crate::control::COLLECTIONS;

const PROVISIONING: [&str; 6] = [
    "ACTIVE",
    "DELETED",
    "ERROR",
    "PENDING_CREATE",
    "PENDING_UPDATE",
    "PENDING_DELETE",
];
const OPERATING: [&str; 6] = [
    "ONLINE",
    "OFFLINE",
    "DEGRADED",
    "ERROR",
    "DRAINING",
    "NO_MONITOR",
];
const STATS_FIELDS: [&str; 5] = [
    "active_connections",
    "bytes_in",
    "bytes_out",
    "request_errors",
    "total_connections",
];

/// Why a request was refused; becomes the 500 reply's fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rejection {
    pub fault: String,
    pub object: Option<String>,
    pub object_id: Option<String>,
    pub record: Option<Value>,
}

impl Rejection {
    fn whole(fault: impl Into<String>) -> Self {
        Self {
            fault: fault.into(),
            object: None,
            object_id: None,
            record: None,
        }
    }

    fn record(fault: impl Into<String>, object: &str, record: &Value) -> Self {
        Self {
            fault: fault.into(),
            object: Some(object.to_owned()),
            object_id: record.get("id").and_then(Value::as_str).map(str::to_owned),
            record: Some(record.clone()),
        }
    }
}

fn as_object<'a>(msg: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Rejection> {
    msg.as_object()
        .ok_or_else(|| Rejection::whole(format!("{what} request must be a JSON object")))
}

fn check_id(entry: &Map<String, Value>, object: &str, raw: &Value) -> Result<(), Rejection> {
    match entry.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        _ => Err(Rejection::record("record has no string id", object, raw)),
    }
}

/// Validates a status.sock request.
pub(crate) fn status(msg: &Value) -> Result<(), Rejection> {
    for (collection, entries) in as_object(msg, "status")? {
        if !COLLECTIONS.contains(&collection.as_str()) {
            return Err(Rejection::whole(format!(
                "unknown status collection {collection:?}"
            )));
        }
        let entries = entries
            .as_array()
            .ok_or_else(|| Rejection::whole(format!("{collection} must be a list")))?;
        for raw in entries {
            let entry = raw
                .as_object()
                .ok_or_else(|| Rejection::record("record is not an object", collection, raw))?;
            check_id(entry, collection, raw)?;
            for (key, value) in entry {
                let allowed: &[&str] = match key.as_str() {
                    "id" => continue,
                    "provisioning_status" => &PROVISIONING,
                    "operating_status" => &OPERATING,
                    _ => {
                        return Err(Rejection::record(
                            format!("unknown field {key:?}"),
                            collection,
                            raw,
                        ))
                    }
                };
                if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
                    return Err(Rejection::record(
                        format!("invalid {key} {value}"),
                        collection,
                        raw,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Validates a stats.sock request.
pub(crate) fn stats(msg: &Value) -> Result<(), Rejection> {
    let map = as_object(msg, "stats")?;
    if let Some(key) = map.keys().find(|k| k.as_str() != "listeners") {
        return Err(Rejection::whole(format!(
            "unknown stats collection {key:?}"
        )));
    }
    let listeners = map
        .get("listeners")
        .and_then(Value::as_array)
        .ok_or_else(|| Rejection::whole("stats request needs a listeners list"))?;
    for raw in listeners {
        let entry = raw
            .as_object()
            .ok_or_else(|| Rejection::record("record is not an object", "listeners", raw))?;
        check_id(entry, "listeners", raw)?;
        if let Some(key) = entry
            .keys()
            .find(|k| k.as_str() != "id" && !STATS_FIELDS.contains(&k.as_str()))
        {
            return Err(Rejection::record(
                format!("unknown field {key:?}"),
                "listeners",
                raw,
            ));
        }
        for field in STATS_FIELDS {
            if entry.get(field).and_then(Value::as_u64).is_none() {
                return Err(Rejection::record(
                    format!("{field} missing or not a non-negative integer"),
                    "listeners",
                    raw,
                ));
            }
        }
    }
    Ok(())
}

/// Validates a get.sock request; returns (object, id).
pub(crate) fn get(msg: &Value) -> Result<(String, String), Rejection> {
    let map = as_object(msg, "get")?;
    if map.len() != 2 {
        return Err(Rejection::whole(
            "get request must have exactly object and id",
        ));
    }
    let object = map
        .get("object")
        .and_then(Value::as_str)
        .filter(|o| COLLECTIONS.contains(o))
        .ok_or_else(|| Rejection::whole("get request has no valid object"))?;
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Rejection::whole("get request has no string id"))?;
    Ok((object.to_owned(), id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_accepts_documented_shape() {
        assert!(status(&json!({})).is_ok());
        assert!(status(&json!({
            "loadbalancers": [{"id": "lb", "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}],
            "members": [{"id": "m", "operating_status": "NO_MONITOR"}],
            "l7rules": [{"id": "r"}]
        }))
        .is_ok());
    }

    #[test]
    fn status_rejects_bad_records_naming_them() {
        let bad = json!({"id": "m1", "operating_status": "UP"});
        let r = status(&json!({"members": [bad.clone()]})).unwrap_err();
        assert_eq!(r.object.as_deref(), Some("members"));
        assert_eq!(r.object_id.as_deref(), Some("m1"));
        assert_eq!(r.record, Some(bad));
        assert!(status(&json!({"amphorae": []})).is_err());
        assert!(status(&json!({"pools": {}})).is_err());
        assert!(status(&json!({"pools": [{"provisioning_status": "ACTIVE"}]})).is_err());
        assert!(status(&json!({"pools": [{"id": "p", "provisioning_status": null}]})).is_err());
        assert!(status(&json!({"pools": [{"id": "p", "weight": 1}]})).is_err());
        assert!(status(&json!([])).is_err());
    }

    #[test]
    fn stats_requires_all_counters() {
        let ok = json!({"id": "l", "active_connections": 1, "bytes_in": 2, "bytes_out": 3,
                        "request_errors": 0, "total_connections": 9});
        assert!(stats(&json!({"listeners": [ok]})).is_ok());
        let neg = json!({"id": "l", "active_connections": -1, "bytes_in": 2, "bytes_out": 3,
                         "request_errors": 0, "total_connections": 9});
        assert_eq!(
            stats(&json!({"listeners": [neg]}))
                .unwrap_err()
                .object_id
                .as_deref(),
            Some("l")
        );
        assert!(stats(&json!({"listeners": [{"id": "l"}]})).is_err());
        assert!(stats(&json!({})).is_err());
        assert!(stats(&json!({"listeners": [], "pools": []})).is_err());
    }

    #[test]
    fn get_requires_known_object_and_id() {
        assert_eq!(
            get(&json!({"object": "pools", "id": "p"})).unwrap(),
            ("pools".to_owned(), "p".to_owned())
        );
        assert!(get(&json!({"object": "amphorae", "id": "p"})).is_err());
        assert!(get(&json!({"object": "pools"})).is_err());
        assert!(get(&json!({"object": "pools", "id": 5})).is_err());
        assert!(get(&json!({"object": "pools", "id": "p", "x": 1})).is_err());
    }
}
