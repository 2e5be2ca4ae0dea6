//! From observation to verdict, without I/O: what our compat table expects of a given
//! LoxiLB release, and small checks that compare one observed answer with it. A case
//! combines checks; it passes when every check does.

use loxilb_version::LoxilbVersion;
use serde::Serialize;
use serde_json::Value;

use super::api::Reply;

/// Last release answering handler errors HTTP 200 `{"result"}` (compat: "Handler errors").
const LAST_ERRORS_AS_200: LoxilbVersion = LoxilbVersion([0, 9, 8, 4]);
/// First release with POST /config/endpointhoststate (compat: "Host state").
const FIRST_EP_HOST_STATE: LoxilbVersion = LoxilbVersion([0, 9, 8, 2]);

/// The release whose behaviour a run expects, derived from `/version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The release the expectations follow.
    pub release: LoxilbVersion,
    /// Why it is not simply the reported one (unknown or unchecked release).
    pub note: Option<String>,
}

impl Expect {
    /// Expectations for the `version` text of `/version` (None: not read, e.g. dry run).
    /// An unknown or newer release is expected to behave like the newest checked one,
    /// and the report says so.
    pub fn from_reported(version: Option<&str>) -> Expect {
        let newest = LoxilbVersion::NEWEST;
        let Some(text) = version else {
            return Expect {
                release: newest,
                note: Some(format!("version not read; expecting v{newest} behaviour")),
            };
        };
        match text.parse::<LoxilbVersion>() {
            Err(_) => Expect {
                release: newest,
                note: Some(format!(
                    "unknown version {text:?}; expecting the newest checked behaviour (v{newest})"
                )),
            },
            Ok(v) if v > newest => Expect {
                release: newest,
                note: Some(format!(
                    "v{v} is newer than the checked releases; expecting v{newest} behaviour"
                )),
            },
            Ok(v) if v < LoxilbVersion::OLDEST => Expect {
                release: v,
                note: Some(format!(
                    "v{v} is older than the oldest supported release v{}",
                    LoxilbVersion::OLDEST
                )),
            },
            Ok(v) => Expect {
                release: v,
                note: None,
            },
        }
    }

    /// Handler errors come as HTTP 200 with `{"result": text}`.
    pub fn errors_as_200(&self) -> bool {
        self.release <= LAST_ERRORS_AS_200
    }

    /// The release has POST /config/endpointhoststate.
    pub fn has_ep_host_state(&self) -> bool {
        self.release >= FIRST_EP_HOST_STATE
    }
}

/// A case's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Pass,
    Diff,
    Skip,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Diff => "DIFF",
            Outcome::Skip => "SKIP",
        }
    }
}

/// One comparison of an observation with our expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub expected: String,
    pub observed: String,
    pub ok: bool,
}

/// What a case found: one expectation and one observation per check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub expected: Vec<String>,
    pub observed: Vec<String>,
}

impl Verdict {
    /// A case that could not run here, and why.
    pub fn skip(expected: &str, reason: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::Skip,
            expected: vec![expected.to_string()],
            observed: vec![reason.into()],
        }
    }

    /// Pass when every check passes. The failing observations are marked `!!`, so a
    /// report shows which one differed.
    pub fn from_checks(checks: Vec<Check>) -> Verdict {
        let ok = checks.iter().all(|c| c.ok);
        let expected = checks.iter().map(|c| c.expected.clone()).collect();
        let observed = checks
            .iter()
            .map(|c| {
                if c.ok {
                    c.observed.clone()
                } else {
                    format!("!! {}", c.observed)
                }
            })
            .collect();
        Verdict {
            outcome: if ok { Outcome::Pass } else { Outcome::Diff },
            expected,
            observed,
        }
    }
}

/// Longest body text quoted in a report cell.
const MAX_QUOTE: usize = 160;

/// An answer in a few words: status, then `result`/`code`/`message` when present, else
/// the body.
pub fn describe(r: &Reply) -> String {
    let mut parts = vec![r.status.to_string()];
    let mut any = false;
    for key in ["result", "code", "message"] {
        if let Some(v) = r.body.get(key) {
            parts.push(format!("{key}={}", short(v)));
            any = true;
        }
    }
    if !any && !r.body.is_null() {
        parts.push(short(&r.body));
    }
    parts.join(" ")
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if s.chars().count() > MAX_QUOTE {
        let cut: String = s.chars().take(MAX_QUOTE).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// A LoxiLB handler error with `text`: HTTP 200 `{"result": text}` up to v0.9.8.4; from
/// v0.9.8.5 `status` with `{code: status, result: text}` (compat: "Handler errors").
pub fn handler_error(e: &Expect, r: &Reply, text: &str, status: u16) -> Check {
    let result_ok = r.result() == Some(text);
    let code = r.body.get("code").and_then(Value::as_u64);
    if e.errors_as_200() {
        Check {
            expected: format!("200 result={text:?}"),
            observed: describe(r),
            ok: r.status == 200 && result_ok && code.is_none(),
        }
    } else {
        Check {
            expected: format!("{status} result={text:?} code={status}"),
            observed: describe(r),
            ok: r.status == status && result_ok && code == Some(u64::from(status)),
        }
    }
}

/// 200 `{"result": "Success"}`, LoxiLB's answer to a write that took effect.
pub fn success(what: &str, r: &Reply) -> Check {
    Check {
        expected: format!("{what}: 200 Success"),
        observed: format!("{what}: {}", describe(r)),
        ok: r.status == 200 && r.result() == Some("Success"),
    }
}

/// Just the status.
pub fn status(what: &str, r: &Reply, want: u16) -> Check {
    Check {
        expected: format!("{what}: {want}"),
        observed: format!("{what}: {}", describe(r)),
        ok: r.status == want,
    }
}

/// A listed field has this value (`None`: the field is omitted).
pub fn field(what: &str, observed: Option<&Value>, want: Option<&Value>) -> Check {
    let show = |v: Option<&Value>| v.map_or_else(|| "omitted".to_string(), short);
    Check {
        expected: format!("{what} {}", show(want)),
        observed: format!("{what} {}", show(observed)),
        ok: observed == want,
    }
}

/// A free-form check whose expectation and observation the caller words.
pub fn that(expected: impl Into<String>, observed: impl Into<String>, ok: bool) -> Check {
    Check {
        expected: expected.into(),
        observed: observed.into(),
        ok,
    }
}

/// The rule entry listed for `vip:port` in a GET /config/loadbalancer/all answer.
pub fn listed_rule<'a>(list: &'a Reply, vip: &str, port: u16) -> Option<&'a Value> {
    list.body
        .get("lbAttr")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| {
            let a = &r["serviceArguments"];
            a["externalIP"].as_str() == Some(vip) && a["port"].as_u64() == Some(u64::from(port))
        })
}

/// The probe listed under `name` in a GET /config/endpoint/all answer.
pub fn listed_probe<'a>(list: &'a Reply, name: &str) -> Option<&'a Value> {
    list.body
        .get("Attr")
        .and_then(Value::as_array)?
        .iter()
        .find(|p| p["name"].as_str() == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(v: &str) -> Expect {
        Expect::from_reported(Some(v))
    }

    #[test]
    fn the_release_decides_the_error_shape_and_unknown_means_newest() {
        assert!(expect("0.9.8.4").errors_as_200());
        assert!(!expect("0.9.8.5").errors_as_200());
        assert!(!expect("0.9.8.8").errors_as_200());
        let unknown = expect("nightly");
        assert_eq!(unknown.release, LoxilbVersion::NEWEST);
        assert!(unknown.note.is_some_and(|n| n.contains("unknown")));
        let newer = expect("0.9.9.1");
        assert_eq!(newer.release, LoxilbVersion::NEWEST);
        assert!(newer.note.is_some());
        assert_eq!(expect("0.9.8.8").note, None);
        assert!(!expect("0.9.8.1").has_ep_host_state());
        assert!(expect("0.9.8.2").has_ep_host_state());
    }

    #[test]
    fn handler_errors_follow_the_release() {
        let old = expect("0.9.8.4");
        let new = expect("0.9.8.5");
        let as_200 = Reply::new(200, json!({"result": "no-rule error"}));
        let as_404 = Reply::new(
            404,
            json!({"code": 404, "message": "Resource not found", "result": "no-rule error", "fields": null}),
        );
        assert!(handler_error(&old, &as_200, "no-rule error", 404).ok);
        assert!(!handler_error(&old, &as_404, "no-rule error", 404).ok);
        assert!(handler_error(&new, &as_404, "no-rule error", 404).ok);
        assert!(!handler_error(&new, &as_200, "no-rule error", 404).ok);
        let other_text = Reply::new(404, json!({"code": 404, "result": "x"}));
        assert!(!handler_error(&new, &other_text, "no-rule error", 404).ok);
    }

    #[test]
    fn a_verdict_passes_only_when_every_check_does_and_marks_the_failing_one() {
        let ok = that("a", "a", true);
        let bad = that("b", "c", false);
        let v = Verdict::from_checks(vec![ok.clone(), ok.clone()]);
        assert_eq!(v.outcome, Outcome::Pass);
        let v = Verdict::from_checks(vec![ok, bad]);
        assert_eq!(v.outcome, Outcome::Diff);
        assert_eq!(v.expected, ["a", "b"]);
        assert_eq!(v.observed, ["a", "!! c"]);
        assert_eq!(Verdict::skip("x", "no backend").outcome, Outcome::Skip);
    }

    #[test]
    fn answers_are_described_briefly() {
        let r = Reply::new(200, json!({"result": "Success"}));
        assert_eq!(describe(&r), "200 result=\"Success\"");
        assert!(success("create", &r).ok);
        let r = Reply::new(
            422,
            json!({"code": 601, "message": "endpoints in body is required"}),
        );
        assert_eq!(
            describe(&r),
            "422 code=601 message=\"endpoints in body is required\""
        );
        let long = Reply::new(200, json!({"x": "y".repeat(500)}));
        assert!(describe(&long).chars().count() < 200);
        assert!(field("sel", None, None).ok);
        assert!(!field("sel", Some(&json!(1)), None).ok);
    }

    #[test]
    fn listings_are_searched_by_key() {
        let rules = Reply::new(
            200,
            json!({"lbAttr": [{"serviceArguments": {"externalIP": "10.0.0.1", "port": 80}}]}),
        );
        assert!(listed_rule(&rules, "10.0.0.1", 80).is_some());
        assert!(listed_rule(&rules, "10.0.0.1", 81).is_none());
        let probes = Reply::new(200, json!({"Attr": [{"name": "a"}]}));
        assert!(listed_probe(&probes, "a").is_some());
        assert!(listed_probe(&Reply::new(200, json!({"Attr": null})), "a").is_none());
    }
}
