//! The cases of a conformance run: each names the row of docs/loxilb-compat.md it checks
//! and what the daemon gets wrong when a LoxiLB behaves otherwise, so a difference in a
//! report is actionable without reading the code.

/// Identifies a case; the order of [`CASES`] is the order of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseId {
    VersionShape,
    ProcessStatusShape,
    Login,
    ErrorShape,
    SwaggerBinding,
    RuleWithoutEndpoints,
    DeleteByAbsentName,
    ProbeDeleteAbsent,
    ProbeHostParse,
    EpHostStateUnknown,
    RuleHttpProbetype,
    RuleProbeport,
    RuleProbetypeForcesMonitor,
    Rule33Endpoints,
    RuleArguments,
    DsrNeedsHash,
    WeightCast,
    UpdateConflicts,
    UpdateKeeps,
    AllowedSourcesQuirk,
    Oper0Hides,
    UpdateRefusalOrder,
    RuleProbeEntries,
    ApiProbeKeepsOptions,
    RuleListing,
    ProbeRepostKeepsHost,
    ProbeListing,
}

/// What a case needs and which promise of the compat table it checks.
#[derive(Debug, Clone, Copy)]
pub struct CaseInfo {
    pub id: CaseId,
    /// Stable name, used in reports and in docs/loxilb-compat.md.
    pub name: &'static str,
    /// The compat table row (its leading words).
    pub row: &'static str,
    /// What the daemon gets wrong if LoxiLB differs here.
    pub consequence: &'static str,
    /// Backends with distinct addresses the case needs (0, 1 or 2).
    pub backends: usize,
    /// The case uses a port of --port-range.
    pub port: bool,
}

const fn case(
    id: CaseId,
    name: &'static str,
    row: &'static str,
    consequence: &'static str,
    backends: usize,
    port: bool,
) -> CaseInfo {
    CaseInfo {
        id,
        name,
        row,
        consequence,
        backends,
        port,
    }
}

/// Every case, in run order.
pub const CASES: &[CaseInfo] = &[
    case(CaseId::VersionShape, "version_shape",
        "/version answers exactly {version, buildInfo}",
        "the node's release is not detected: logs, metrics and health show it wrong, and release-dependent expectations (error shape) are guessed",
        0, false),
    case(CaseId::ProcessStatusShape, "process_status_shape",
        "/version answers exactly {version, buildInfo}; /status/process answers {processAttr}",
        "the simulator's /status/process differs from LoxiLB's, so tests built on it may mislead",
        0, false),
    case(CaseId::Login, "login_behaviour",
        "Auth: /auth/login only with the user service",
        "login or token renewal fails: every call is refused once a token expires, or the daemon cannot start against this node",
        0, false),
    case(CaseId::ErrorShape, "error_shape",
        "Handler errors: up to v0.9.8.4 HTTP 200 {result}; from v0.9.8.5 status codes",
        "errors are classified wrongly: an absent rule is taken as a failure (retries, ERROR status) or a failure as success",
        0, true),
    case(CaseId::SwaggerBinding, "swagger_binding_errors",
        "Swagger binding: 400 for unparsable bodies, 422 for missing fields, never a result",
        "a request LoxiLB cannot bind is reported without its reason, or taken for a handler error",
        0, true),
    case(CaseId::RuleWithoutEndpoints, "rule_without_endpoints_refused",
        "1..=32 endpoints (endpoints-range error)",
        "a pool without members is sent as a rule LoxiLB handles differently than planned",
        0, true),
    case(CaseId::DeleteByAbsentName, "delete_by_absent_name_succeeds",
        "DELETE /config/loadbalancer/name/{name} answers 200 Success even when no rule matches",
        "none for rules (the daemon deletes by address), but orphan clean-up by name could not tell gone from deleted",
        0, false),
    case(CaseId::ProbeDeleteAbsent, "probe_delete_absent_404",
        "Probe delete: 404 host-notfound error, 409 LB Rule-referred",
        "deleting an already absent probe is taken as a failure and retried instead of counted as done",
        0, false),
    case(CaseId::ProbeHostParse, "probe_host_parse_refused",
        "Probe validation order and texts (host-parse error, host-args error)",
        "a refused probe is reported with the wrong reason",
        0, false),
    case(CaseId::EpHostStateUnknown, "ep_host_state_unknown_refused",
        "Host state: unknown ep-host-state (400)",
        "none today (the daemon does not set host states); the simulator differs from LoxiLB",
        0, false),
    case(CaseId::RuleHttpProbetype, "rule_http_probetype_refused",
        "Rule probetype only tcp/udp/sctp/ping/none",
        "HTTP/HTTPS monitors would be posted inside rules and refused (or half applied) instead of as endpoint probes before the rule",
        1, true),
    case(CaseId::RuleProbeport, "rule_probeport_checks",
        "Rule probetype only tcp/udp/sctp/ping/none (probeport rules)",
        "rules with TCP or PING monitors are refused or probe the wrong port",
        1, true),
    case(CaseId::RuleProbetypeForcesMonitor, "rule_probetype_forces_monitor",
        "Rule probetype only tcp/udp/sctp/ping/none (probetype forces monitor)",
        "drift checks see a monitor flag the daemon did not set and re-create rules",
        1, true),
    case(CaseId::Rule33Endpoints, "rule_33_endpoints_refused",
        "1..=32 endpoints (endpoints-range error)",
        "the member limit the API enforces (32 serving members) is not LoxiLB's: members beyond it fail, or are refused needlessly",
        1, true),
    case(CaseId::RuleArguments, "rule_argument_checks",
        "1..=32 endpoints; inactiveTimeOut > 86400, portMax < port, sel n3 only for udp",
        "listener timeouts or port ranges LoxiLB refuses reach it and put listeners in ERROR with an unexpected reason",
        1, true),
    case(CaseId::DsrNeedsHash, "dsr_requires_hash",
        "DSR (mode 3) with sel other than hash: 200 result Error: Only Hash Selection criteria allowed for DSR mode",
        "DSR pools with round robin are accepted by the API but then refused (or silently changed) by LoxiLB",
        1, true),
    case(CaseId::WeightCast, "weight_cast_to_8_bits",
        "Endpoint weight cast to 8 bits (300 -> 44)",
        "member weights are sent as percentages to stay below 256; a different cast changes selection",
        1, true),
    case(CaseId::UpdateConflicts, "update_409_on_uncompared_fields",
        "Update of an existing rule: re-post differing only in monitor/inactiveTimeOut is 409 lbrule-exists",
        "timeout or monitor changes are taken as applied while LoxiLB kept the old values (or rules are re-created needlessly)",
        1, true),
    case(CaseId::UpdateKeeps, "update_keeps_creation_settings",
        "Update of an existing rule: stores sel/mode/probe options, keeps name and monitor",
        "updated rules keep or lose settings other than planned: drift the daemon does not see or repairs in a loop",
        1, true),
    case(CaseId::AllowedSourcesQuirk, "allowed_sources_comparison_quirk",
        "allowedSources comparison quirk",
        "allowed CIDR changes are taken as applied while LoxiLB refused them (or re-created needlessly)",
        1, true),
    case(CaseId::Oper0Hides, "oper0_hides_and_detach_deletes",
        "oper 0 hides dropped endpoints; a re-post brings them back; detach of all endpoints deletes the rule",
        "removed members keep receiving traffic or come back; a rule left without endpoints is not re-created",
        1, true),
    case(CaseId::UpdateRefusalOrder, "update_refusal_order",
        "Order of refusals on update (lbrule-exists before security)",
        "an update refusal is read as the wrong kind: a permanent refusal retried, or a no-op put in ERROR",
        1, true),
    case(CaseId::RuleProbeEntries, "rule_creates_probe_entries",
        "Every endpoint of a rule gets a probe entry <ip>_<proto>_<port>; release deletes it at 0 refs",
        "member health is read from probes that do not exist (or have other options); probes leak or vanish when rules go",
        1, true),
    case(CaseId::ApiProbeKeepsOptions, "api_probe_kept_then_deleted_with_last_rule",
        "A rule's probe options reach only the probes it creates; an API probe is deleted with the last rule referring to it",
        "probes posted before rules get the rule's options, or survive/vanish differently when rules go: wrong member health",
        1, true),
    case(CaseId::RuleListing, "rule_listing_shape",
        "GET /config/loadbalancer/all lists only the handler's fields, zero values omitted",
        "drift checks compare fields LoxiLB does not list (or lists differently) and repair rules in a loop",
        1, true),
    case(CaseId::ProbeRepostKeepsHost, "probe_repost_keeps_host",
        "POST of an existing probe key replaces the options but keeps hostName",
        "a probe whose host must move is re-posted in place instead of re-created, and keeps probing the old host",
        2, false),
    case(CaseId::ProbeListing, "probe_listing_shape",
        "Probe key is name or <host>_<type>_<port>; listing omits empty fields; probeType none lists no options",
        "probe validation and health reads misread LoxiLB's listing",
        1, false),
];

/// The entry of `id`.
pub fn info(id: CaseId) -> Option<&'static CaseInfo> {
    CASES.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_case_is_listed_once_with_a_row_and_a_consequence() {
        let names: HashSet<_> = CASES.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CASES.len());
        let ids: HashSet<_> = CASES.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), CASES.len());
        for c in CASES {
            assert!(!c.row.is_empty() && !c.consequence.is_empty(), "{}", c.name);
            assert!(c.backends <= 2);
            assert_eq!(info(c.id).map(|i| i.name), Some(c.name));
        }
    }

    #[test]
    fn the_port_count_the_help_and_readme_name_is_right() {
        assert_eq!(CASES.iter().filter(|c| c.port).count(), 18);
    }

    #[test]
    fn the_compat_doc_maps_every_case() {
        let doc = include_str!("../../docs/loxilb-compat.md");
        for c in CASES {
            assert!(doc.contains(&format!("`{}`", c.name)), "{} missing", c.name);
        }
    }
}
