//! Octavia's API limits on the strings of an event: ids are UUIDs, text has
//! Octavia's lengths, and control characters are refused.
//!
//! What this follows (openstack/octavia, `octavia/api/v2/types/*.py` and
//! `octavia/common/validate.py`):
//! - every id Octavia or Neutron assigns (`*_id` of our objects, VIP port,
//!   network, subnet, QoS policy, security groups, flavor) is a
//!   `wtypes.UuidType()`, which Octavia hands to drivers in the canonical
//!   8-4-4-4-12 form;
//! - `name`, `description`, tags, container refs and availability zone are
//!   `StringType(max_length=255)`; `project_id` is capped at 255 (Octavia says
//!   36, keystone ids from other backends may be longer; 255 is the issue's
//!   bound); `tls_ciphers` and `url_path` 2048; flavor metadata 4096
//!   (`flavor_data`). Any other string gets 255: nothing else Octavia sends a
//!   provider is longer, and the journal keeps what we accept;
//! - Octavia refuses `[\x00-\x20\x7f-\x9f]` in URLs (`INVALID_URL_CHARS_RE`),
//!   which we apply to `url_path`. Octavia's `StringType` itself takes any
//!   character, but NUL, CR and LF in a name end up in log lines and in
//!   databases that refuse NUL; we refuse control characters (C0, DEL, C1)
//!   everywhere, except tab, CR and LF in `description` and in PEM blobs
//!   (`*_data` keys), where multi-line text is legitimate.
//!
//! Keys are checked by name at any depth, so a nested listener's pool gets the
//! same rules as a top-level one. Type errors are left to the field reader.

use serde_json::{Map, Value};

use super::super::error::EventError;
use super::super::fields::{index, join};

/// Keys whose string value (or whose list items) must be a UUID.
const UUID_KEYS: &[&str] = &[
    "loadbalancer_id",
    "listener_id",
    "pool_id",
    "member_id",
    "healthmonitor_id",
    "default_pool_id",
    "redirect_pool_id",
    "l7policy_id",
    "l7rule_id",
    "vip_port_id",
    "vip_network_id",
    "vip_subnet_id",
    "vip_qos_policy_id",
    "vip_sg_ids",
    "subnet_id",
    "port_id",
    "flavor_id",
];

/// The longest string accepted under a key that has no other bound.
pub const MAX_TEXT: usize = 255;
/// `tls_ciphers` and `url_path` (Octavia's `StringType(max_length=2048)` and
/// the URL path bound).
pub const MAX_LONG_TEXT: usize = 2048;
/// Values inside `flavor` / `availability_zone` metadata (Octavia's flavor
/// profile `flavor_data` is at most 4096 characters in all).
pub const MAX_METADATA_TEXT: usize = 4096;

/// How a key's strings are bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Uuid,
    /// At most this many characters; `multiline` allows tab, CR and LF.
    Text {
        max: usize,
        multiline: bool,
    },
    /// Like `Text`, but with Octavia's URL character set (no space either).
    UrlPath,
    /// PEM and other blobs: no length bound besides the body's, multi-line.
    Blob,
}

fn rule_for(key: &str, in_metadata: bool) -> Rule {
    if UUID_KEYS.contains(&key) {
        return Rule::Uuid;
    }
    match key {
        "description" => Rule::Text {
            max: MAX_TEXT,
            multiline: true,
        },
        "url_path" => Rule::UrlPath,
        "tls_ciphers" => Rule::Text {
            max: MAX_LONG_TEXT,
            multiline: false,
        },
        k if k.ends_with("_data") => Rule::Blob,
        _ if in_metadata => Rule::Text {
            max: MAX_METADATA_TEXT,
            multiline: false,
        },
        _ => Rule::Text {
            max: MAX_TEXT,
            multiline: false,
        },
    }
}

/// True for the canonical 8-4-4-4-12 hexadecimal form, either case.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_control(c: char, multiline: bool) -> bool {
    c.is_control() && !(multiline && matches!(c, '\t' | '\n' | '\r'))
}

fn check_string(path: &str, s: &str, rule: Rule) -> Result<(), EventError> {
    let (max, multiline) = match rule {
        Rule::Uuid if is_uuid(s) => return Ok(()),
        Rule::Uuid => {
            return Err(EventError::invalid(
                path,
                format!("{:?} is not a UUID", shorten(s)),
            ))
        }
        Rule::UrlPath => (MAX_LONG_TEXT, false),
        Rule::Text { max, multiline } => (max, multiline),
        Rule::Blob => (usize::MAX, true),
    };
    let chars = s.chars().count();
    if chars > max {
        return Err(EventError::invalid(
            path,
            format!("{chars} characters, more than {max}"),
        ));
    }
    let bad = |c: char| is_control(c, multiline) || (rule == Rule::UrlPath && c == ' ');
    if let Some(c) = s.chars().find(|&c| bad(c)) {
        return Err(EventError::invalid(
            path,
            format!("contains the control character {c:?}"),
        ));
    }
    Ok(())
}

/// The start of an offending value, for the error message only.
fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Checks every string under `value` (an event's `args`), `path` naming it.
/// `uuid_ids` false treats id keys as plain text (see `[ingress] require_uuid_ids`).
pub fn check(value: &Value, path: &str, uuid_ids: bool) -> Result<(), EventError> {
    Walk { uuid_ids }.value(value, path, "", false)
}

struct Walk {
    uuid_ids: bool,
}

impl Walk {
    fn value(
        &self,
        value: &Value,
        path: &str,
        key: &str,
        in_metadata: bool,
    ) -> Result<(), EventError> {
        match value {
            Value::String(s) => {
                let rule = match rule_for(key, in_metadata) {
                    Rule::Uuid if !self.uuid_ids => Rule::Text {
                        max: MAX_TEXT,
                        multiline: false,
                    },
                    rule => rule,
                };
                check_string(path, s, rule)
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| self.value(v, &index(path, i), key, in_metadata)),
            Value::Object(map) => self.object(map, path, in_metadata || is_metadata(key)),
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        }
    }

    fn object(
        &self,
        map: &Map<String, Value>,
        path: &str,
        in_metadata: bool,
    ) -> Result<(), EventError> {
        for (key, v) in map {
            let child = join(path, key);
            // Keys are text too: journaled verbatim and echoed in errors.
            check_string(
                &child,
                key,
                Rule::Text {
                    max: MAX_TEXT,
                    multiline: false,
                },
            )?;
            self.value(v, &child, key, in_metadata)?;
        }
        Ok(())
    }
}

fn is_metadata(key: &str) -> bool {
    matches!(key, "flavor" | "availability_zone")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "8d7c2a3e-5b1f-4c6a-9e0d-1f2a3b4c5d6e";

    fn field(v: Value) -> Option<String> {
        check(&v, "", true)
            .err()
            .and_then(|e| e.field().map(str::to_owned))
    }

    #[test]
    fn ids_must_be_canonical_uuids() {
        assert!(is_uuid(ID));
        assert!(is_uuid(&ID.to_uppercase()));
        for bad in [
            "x",
            "80",
            "1e400",
            &ID.replace('-', ""),
            &format!("{{{ID}}}"),
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
        assert_eq!(
            field(json!({"pool": {"pool_id": "p1"}})),
            Some("pool.pool_id".into())
        );
        assert_eq!(
            field(json!({"loadbalancer": {"loadbalancer_id": ID, "vip_sg_ids": [ID, "sg"]}})),
            Some("loadbalancer.vip_sg_ids[1]".into())
        );
        assert_eq!(
            field(json!({"pool_id": ID, "members": [{"member_id": ID}]})),
            None
        );
        // The harness's short ids pass only with the check turned off.
        assert!(check(&json!({"pool": {"pool_id": "p1"}}), "", false).is_ok());
    }

    #[test]
    fn lengths_follow_octavia() {
        let long = "n".repeat(256);
        assert_eq!(
            field(json!({"member": {"name": long}})),
            Some("member.name".into())
        );
        assert_eq!(
            field(json!({"pool": {"description": "d".repeat(255)}})),
            None
        );
        assert_eq!(
            field(json!({"lb": {"project_id": "p".repeat(256)}})),
            Some("lb.project_id".into())
        );
        assert_eq!(
            field(json!({"hm": {"url_path": format!("/{}", "a".repeat(2000))}})),
            None
        );
        assert_eq!(
            field(json!({"l": {"default_tls_container_data": "P".repeat(9000)}})),
            None
        );
        assert_eq!(
            field(json!({"lb": {"flavor": {"k": "v".repeat(1000)}}})),
            None
        );
        assert_eq!(
            field(json!({"x".repeat(256): 1})).map(|f| f.len()),
            Some(256)
        );
        // Characters, not bytes: 255 two-byte characters fit.
        assert_eq!(field(json!({"name": "é".repeat(255)})), None);
    }

    #[test]
    fn control_characters_are_refused_where_octavia_or_logs_would_break() {
        for bad in ["a\u{0}b", "a\r\nb", "a\u{7f}", "a\u{85}"] {
            assert_eq!(
                field(json!({"pool": {"name": bad}})),
                Some("pool.name".into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            field(json!({"pool": {"description": "two\nlines\ttab"}})),
            None
        );
        assert_eq!(
            field(json!({"pool": {"description": "nul\u{0}"}})),
            Some("pool.description".into())
        );
        assert_eq!(
            field(json!({"hm": {"url_path": "/a b"}})),
            Some("hm.url_path".into())
        );
        assert_eq!(
            field(json!({"l": {"sni_container_data": ["-----BEGIN\nX\n"]}})),
            None
        );
    }
}
