//! Behaviour tests of the whole loading pipeline (file + environment + validation).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::loader::{self, FileText, Format};
use super::*;

const SAMPLE_TOML: &str = include_str!("../../config/loxilb-coordinator.toml");
const SEED_INI: &str = include_str!("../../config/health_monitoring.ini");

fn from_ini(text: &str) -> Result<Config, ConfigError> {
    loader::load(
        Some(FileText {
            text,
            format: Format::Ini,
            origin: "test.ini".to_owned(),
        }),
        HashMap::new(),
    )
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Writes `text` to a file named `name` in a fresh temporary directory.
fn write_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn err_of(toml: &str) -> String {
    match Config::from_toml_str(toml) {
        Ok(c) => panic!("accepted {toml:?}: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_equal_the_seed_values() {
    let c = Config::default();
    let h = &c.health_monitoring;
    assert_eq!(
        (
            h.default_delay,
            h.default_timeout,
            h.default_max_retries,
            h.max_concurrent_checks
        ),
        (30, 10, 3, 50)
    );
    assert!(h.enable_coordination);
    assert_eq!((h.coordination_timeout, h.coordination_retries), (30, 3));
    assert_eq!((h.status_update_interval, h.status_cache_ttl), (60, 300));
    assert!(h.enable_status_reconciliation);
    assert_eq!(h.reconciliation_interval, 3600);
    assert_eq!((h.batch_size, h.rate_limit_calls), (10, 100));
    assert!(h.async_processing);
    assert_eq!((h.orphan_max_fraction, h.orphan_max_count), (0.10, 5));

    assert_eq!(c.loxilb.nodes, vec!["http://127.0.0.1:11111".to_owned()]);
    assert_eq!(c.loxilb.nat_mode, NatMode::Fullnat);
    assert_eq!(c.loxilb.request_timeout, 10);
    assert_eq!(
        c.octavia.status_socket,
        Path::new("/var/run/octavia/status.sock")
    );
    assert_eq!(
        (c.octavia.request_timeout, c.octavia.reply_timeout),
        (5, 30)
    );
    assert_eq!(c.ingress.socket_mode, 0o660);
    assert_eq!(c.ingress.max_body_bytes, 1 << 20);
    assert_eq!(
        c.database.url,
        "sqlite:///var/lib/loxilb-coordinator/coordinator.db"
    );
    assert_eq!(c.logging.format, LogFormat::Text);
    assert_eq!(c.metrics.address, None);
    c.validate().unwrap();
}

#[test]
fn seed_advanced_ini_fixture_is_accepted_with_seed_values() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/health_monitoring.ini");
    let c = Config::load_with_env(Some(&path), HashMap::new()).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.health_monitoring.reconciliation_interval, 3600);
}

#[test]
fn seed_basic_ini_example_is_accepted() {
    let c = from_ini(
        "[health_monitoring]\ndefault_delay = 30\ndefault_timeout = 10\ndefault_max_retries = 3\n\
         enable_coordination = true\nstatus_update_interval = 60\n",
    )
    .unwrap();
    assert_eq!(c, Config::default());
}

#[test]
fn ini_values_are_really_read() {
    // Same keys as the fixture with every value changed, so the test cannot pass on defaults.
    let text = SEED_INI
        .replace("default_delay = 30", "default_delay = 45")
        .replace("default_timeout = 10", "default_timeout = 7")
        .replace("enable_coordination = true", "enable_coordination = no")
        .replace("batch_size = 10", "batch_size = 25")
        .replace("status_cache_ttl = 300", "status_cache_ttl = 120");
    let c = from_ini(&text).unwrap();
    let h = &c.health_monitoring;
    assert_eq!(
        (
            h.default_delay,
            h.default_timeout,
            h.batch_size,
            h.status_cache_ttl
        ),
        (45, 7, 25, 120)
    );
    assert!(!h.enable_coordination);
}

#[test]
fn ini_other_sections_in_all_sections_work() {
    let c = from_ini(
        "[DEFAULT]\ndebug = true\n[api_settings]\nenabled_provider_drivers = amphora:x\n\
         [loxilb]\nnodes = http://10.0.0.1:11111, https://10.0.0.2:8091\nnat_mode = dsr\n\
         username = admin\npassword = pw\n[ingress]\nsocket_mode = 0600\n\
         [metrics]\naddress = 127.0.0.1:9100\n",
    )
    .unwrap();
    assert_eq!(
        c.loxilb.nodes,
        vec!["http://10.0.0.1:11111", "https://10.0.0.2:8091"]
    );
    assert_eq!(c.loxilb.nat_mode, NatMode::Dsr);
    assert_eq!(c.loxilb.password.as_ref().map(Secret::expose), Some("pw"));
    assert_eq!(c.ingress.socket_mode, 0o600);
    assert_eq!(
        c.metrics.address,
        Some("127.0.0.1:9100".parse::<SocketAddr>().unwrap())
    );
}

#[test]
fn unknown_key_in_known_section_is_rejected_in_both_formats() {
    let msg = err_of("[health_monitoring]\ndefault_dealy = 5\n");
    assert!(msg.contains("health_monitoring.default_dealy"), "{msg}");
    assert!(msg.contains("default_delay"), "known keys listed: {msg}");
    let msg = from_ini("[health_monitoring]\ndefault_dealy = 5\n")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("health_monitoring.default_dealy"), "{msg}");
    let msg = err_of("[loxilb.tls]\nca = \"x\"\n");
    assert!(msg.contains("loxilb.tls"), "{msg}");
}

#[test]
fn unknown_section_is_rejected_in_toml_but_ignored_in_ini() {
    let msg = err_of("[health_monitor]\ndefault_delay = 5\n");
    assert!(
        msg.contains("[health_monitor]") && msg.contains("health_monitoring"),
        "{msg}"
    );
    let msg = err_of("default_delay = 5\n");
    assert!(msg.contains("default_delay"), "{msg}");
    assert_eq!(
        from_ini("top = 1\n[health_monitor]\ndefault_delay = 5\n").unwrap(),
        Config::default()
    );
}

#[test]
fn section_given_as_plain_value_is_rejected() {
    let msg = err_of("loxilb = 5\n");
    assert!(msg.contains("loxilb") && msg.contains("section"), "{msg}");
}

/// (TOML, key that must be named, value that must be named)
const INVALID: &[(&str, &str, &str)] = &[
    ("[health_monitoring]\ndefault_delay = 0", "health_monitoring.default_delay", "= 0: must be between 1 and 86400"),
    ("[health_monitoring]\ndefault_delay = 86401\ndefault_timeout = 5", "health_monitoring.default_delay", "86401"),
    ("[health_monitoring]\ndefault_timeout = 0", "health_monitoring.default_timeout", "= 0"),
    ("[health_monitoring]\ndefault_timeout = 30", "health_monitoring.default_timeout", "= 30: must be at least 1 and less than health_monitoring.default_delay (30)"),
    ("[health_monitoring]\ndefault_max_retries = 0", "health_monitoring.default_max_retries", "= 0"),
    ("[health_monitoring]\ndefault_max_retries = 11", "health_monitoring.default_max_retries", "= 11"),
    ("[health_monitoring]\nmax_concurrent_checks = 0", "health_monitoring.max_concurrent_checks", "= 0"),
    ("[health_monitoring]\ncoordination_timeout = 0", "health_monitoring.coordination_timeout", "= 0"),
    ("[health_monitoring]\ncoordination_retries = 11", "health_monitoring.coordination_retries", "= 11"),
    ("[health_monitoring]\nstatus_update_interval = 0", "health_monitoring.status_update_interval", "= 0"),
    ("[health_monitoring]\nstatus_cache_ttl = 59", "health_monitoring.status_cache_ttl", "= 59"),
    ("[health_monitoring]\nreconciliation_interval = 59", "health_monitoring.reconciliation_interval", "= 59"),
    ("[health_monitoring]\nreconciliation_interval = 99999999999", "health_monitoring.reconciliation_interval", "99999999999"),
    ("[health_monitoring]\nbatch_size = 0", "health_monitoring.batch_size", "= 0"),
    ("[health_monitoring]\nbatch_size = 1001", "health_monitoring.batch_size", "= 1001"),
    ("[health_monitoring]\nrate_limit_calls = 0", "health_monitoring.rate_limit_calls", "= 0"),
    ("[health_monitoring]\nstale_cycles_before_error = 0", "health_monitoring.stale_cycles_before_error", "= 0"),
    ("[health_monitoring]\norphan_max_fraction = 1.5", "health_monitoring.orphan_max_fraction", "= 1.5"),
    ("[health_monitoring]\norphan_max_fraction = -0.1", "health_monitoring.orphan_max_fraction", "non-negative"),
    ("[health_monitoring]\norphan_max_count = 100001", "health_monitoring.orphan_max_count", "= 100001"),
    ("[health_monitoring]\nstale_cycles_before_error = 101", "health_monitoring.stale_cycles_before_error", "= 101"),
    ("[health_monitoring]\nstats_interval = 0", "health_monitoring.stats_interval", "= 0"),
    ("[health_monitoring]\nstats_interval = 3601", "health_monitoring.stats_interval", "= 3601"),
    ("[loxilb]\nnodes = []", "loxilb.nodes", "at least one"),
    ("[loxilb]\nnodes = [\"ftp://a:1\"]", "loxilb.nodes[0]", "\"ftp://a:1\""),
    ("[loxilb]\nnodes = [\"http://a:1\", \"not a url\"]", "loxilb.nodes[1]", "\"not a url\""),
    ("[loxilb]\nnodes = [\"http://a:1\", \"http://a:1/\"]", "loxilb.nodes[1]", "duplicate"),
    ("[loxilb]\nusername = \"admin\"", "loxilb.username", "\"admin\""),
    ("[loxilb]\npassword = \"pw\"", "loxilb.password", "loxilb.username"),
    ("[loxilb]\nclient_cert = \"/c.pem\"", "loxilb.client_cert", "\"/c.pem\""),
    ("[loxilb]\nclient_key = \"/k.pem\"", "loxilb.client_key", "\"/k.pem\""),
    ("[loxilb]\nrequest_timeout = 0", "loxilb.request_timeout", "= 0"),
    ("[octavia]\nstatus_socket = \"\"", "octavia.status_socket", "non-empty"),
    ("[octavia]\nrequest_timeout = 0", "octavia.request_timeout", "= 0"),
    ("[octavia]\nreply_timeout = 4", "octavia.reply_timeout", "= 4"),
    ("[ingress]\nsocket_path = \"\"", "ingress.socket_path", "non-empty"),
    ("[ingress]\nsocket_mode = \"1777\"", "ingress.socket_mode", "\"1777\""),
    ("[ingress]\ntcp_address = \"127.0.0.1:9443\"", "ingress.tcp_address", "ingress.tcp_token_file"),
    ("[ingress]\nmax_body_bytes = 10", "ingress.max_body_bytes", "= 10"),
    ("[ingress]\nsync_timeout = 0", "ingress.sync_timeout", "= 0"),
    ("[ingress]\nmax_connections = 8", "ingress.max_connections", "= 8"),
    ("[ingress]\nheader_read_timeout = 0", "ingress.header_read_timeout", "= 0"),
    ("[database]\nurl = \"postgres://db/x\"", "database.url", "a mysql:// URL (cluster mode)"),
    ("[database]\nurl = \"sqlite:\"", "database.url", "\"sqlite:\""),
    ("[database]\nmax_connections = 0", "database.max_connections", "= 0"),
    ("[database]\nfile_group = \"no-such-group-loxilb\"", "database.file_group", "not a group"),
    ("[database]\nretention_days = 0", "database.retention_days", "more than 0"),
    ("[database]\nretention_days = 4000", "database.retention_days", "3650"),
    ("[database]\nretention_days = -1", "database.retention_days", "non-negative number"),
    ("[database]\nretention_days = \"1e3\"", "database.retention_days", "non-negative number"),
    ("[database]\nretention_max_events = 0", "database.retention_max_events", "= 0"),
    ("[logging]\nlevel = \"info,foo=loud\"", "logging.level", "\"info,foo=loud\""),
    ("[logging]\nlevel = \"\"", "logging.level", "must not be empty"),
    ("[metrics]\naddress = \"127.0.0.1:9443\"\n[ingress]\ntcp_address = \"127.0.0.1:9443\"\ntcp_token_file = \"/t\"\ninsecure = true", "metrics.address", "ingress.tcp_address"),
    ("[ingress]\ntcp_address = \"127.0.0.1:9443\"\ntcp_token_file = \"/t\"", "ingress.tcp_address", "ingress.insecure = true"),
    ("[ingress]\ntcp_address = \"127.0.0.1:9443\"\ntcp_token_file = \"/t\"\ntls_cert_file = \"/c\"", "ingress.tls_cert_file", "requires ingress.tls_key_file"),
    ("[ingress]\ntcp_address = \"127.0.0.1:9443\"\ntcp_token_file = \"/t\"\ntls_cert_file = \"/c\"\ntls_key_file = \"/k\"\ninsecure = true", "ingress.insecure", "choose one"),
    ("[ingress]\ntls_client_ca_file = \"/ca\"", "ingress.tls_client_ca_file", "requires ingress.tls_cert_file"),
    ("[ingress]\ninsecure = true", "ingress.insecure", "ingress.tcp_address"),
];

#[test]
fn invalid_values_are_rejected_naming_key_and_value() {
    for (toml, key, detail) in INVALID {
        let msg = err_of(toml);
        assert!(
            msg.contains(key),
            "{toml:?}: message lacks key {key}: {msg}"
        );
        assert!(
            msg.contains(detail),
            "{toml:?}: message lacks {detail:?}: {msg}"
        );
    }
}

#[test]
fn all_problems_are_reported_together() {
    let e = Config::from_toml_str(
        "[health_monitoring]\nbatch_size = 0\n[database]\nmax_connections = 0\n",
    )
    .unwrap_err();
    let ConfigError::Invalid(problems) = e else {
        panic!("{e}")
    };
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["health_monitoring.batch_size", "database.max_connections"]
    );
    // A bad interval is reported once, not again through the values compared with it.
    let e = Config::from_toml_str(
        "[health_monitoring]\ndefault_delay = 0\nstatus_update_interval = 0\n",
    )
    .unwrap_err();
    let ConfigError::Invalid(problems) = e else {
        panic!("{e}")
    };
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "health_monitoring.default_delay",
            "health_monitoring.status_update_interval"
        ]
    );
}

/// (TOML, key that must be named, text that must appear)
const WRONG_TYPES: &[(&str, &str, &str)] = &[
    (
        "[health_monitoring]\ndefault_delay = \"abc\"",
        "health_monitoring.default_delay",
        "\"abc\"",
    ),
    (
        "[health_monitoring]\ndefault_delay = 30.5",
        "health_monitoring.default_delay",
        "30.5",
    ),
    (
        "[health_monitoring]\ndefault_delay = -1",
        "health_monitoring.default_delay",
        "-1",
    ),
    (
        "[health_monitoring]\ndefault_delay = true",
        "health_monitoring.default_delay",
        "true",
    ),
    (
        "[health_monitoring]\ncoordination_retries = 99999999999",
        "health_monitoring.coordination_retries",
        "99999999999`, expected an integer between 0 and 4294967295",
    ),
    (
        "[health_monitoring]\nenable_coordination = \"maybe\"",
        "health_monitoring.enable_coordination",
        "\"maybe\"",
    ),
    (
        "[health_monitoring]\nenable_coordination = 1",
        "health_monitoring.enable_coordination",
        "1",
    ),
    ("[loxilb]\nnodes = 5", "loxilb.nodes", "5"),
    (
        "[loxilb]\nnodes = [\"http://a:1\", 7]",
        "loxilb.nodes[1]",
        "7",
    ),
    (
        "[loxilb]\nnat_mode = \"snat\"",
        "loxilb.nat_mode",
        "\"snat\"",
    ),
    ("[loxilb]\npassword = 1234", "loxilb.password", "1234"),
    ("[ingress]\nsocket_mode = 660", "ingress.socket_mode", "660"),
    (
        "[ingress]\nsocket_mode = \"0689\"",
        "ingress.socket_mode",
        "\"0689\"",
    ),
    (
        "[ingress]\ntcp_address = \"localhost\"",
        "ingress.tcp_address",
        "\"localhost\"",
    ),
    (
        "[logging]\nformat = \"xml\"",
        "logging.format",
        "text, json",
    ),
    ("[metrics]\naddress = 9100", "metrics.address", "9100"),
];

#[test]
fn wrong_types_name_the_key() {
    for (toml, key, detail) in WRONG_TYPES {
        let e = Config::from_toml_str(toml).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, ConfigError::WrongType { .. }),
            "{toml:?}: {msg}"
        );
        assert!(
            msg.contains(key),
            "{toml:?}: message lacks key {key}: {msg}"
        );
        assert!(
            msg.contains(detail),
            "{toml:?}: message lacks {detail:?}: {msg}"
        );
    }
}

#[test]
fn strings_spelling_numbers_and_booleans_are_accepted() {
    let c = Config::from_toml_str(
        "[health_monitoring]\ndefault_delay = \"40\"\nasync_processing = \"off\"\n",
    )
    .unwrap();
    assert_eq!(c.health_monitoring.default_delay, 40);
    assert!(!c.health_monitoring.async_processing);
}

#[test]
fn toml_syntax_error_is_reported() {
    let e = Config::from_toml_str("[health_monitoring\n").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
}

#[test]
fn env_overrides_file_including_lists() {
    let (_dir, path) = write_file(
        "c.toml",
        "[health_monitoring]\ndefault_delay = 20\nbatch_size = 50\n[loxilb]\nnodes = [\"http://f:1\"]\n",
    );
    let c = Config::load_with_env(
        Some(&path),
        env(&[
            ("LOXILB_COORDINATOR__HEALTH_MONITORING__DEFAULT_DELAY", "5"),
            (
                "LOXILB_COORDINATOR__HEALTH_MONITORING__DEFAULT_TIMEOUT",
                "2",
            ),
            ("LOXILB_COORDINATOR__LOXILB__NODES", "http://a:1,http://b:2"),
            ("LOXILB_COORDINATOR__LOXILB__NAT_MODE", "onearm"),
            ("LOXILB_COORDINATOR__INGRESS__SOCKET_MODE", "0600"),
            ("PATH", "/usr/bin"),
            ("LOXILB_COORDINATOR_SINGLE_UNDERSCORE", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(c.health_monitoring.default_delay, 5);
    assert_eq!(c.health_monitoring.default_timeout, 2);
    assert_eq!(c.health_monitoring.batch_size, 50, "file value kept");
    assert_eq!(c.loxilb.nodes, vec!["http://a:1", "http://b:2"]);
    assert_eq!(c.loxilb.nat_mode, NatMode::Onearm);
    assert_eq!(c.ingress.socket_mode, 0o600);
}

#[test]
fn env_without_file_and_empty_value_unsets_option() {
    let (_dir, path) = write_file("c.toml", "[metrics]\naddress = \"127.0.0.1:9100\"\n");
    let c = Config::load_with_env(
        Some(&path),
        env(&[("LOXILB_COORDINATOR__METRICS__ADDRESS", "")]),
    )
    .unwrap();
    assert_eq!(c.metrics.address, None);
    let c = Config::load_with_env(
        None,
        env(&[("LOXILB_COORDINATOR__LOGGING__FORMAT", "json")]),
    )
    .unwrap();
    assert_eq!(c.logging.format, LogFormat::Json);
}

#[test]
fn env_errors_name_the_variable() {
    let msg = Config::load_with_env(
        None,
        env(&[("LOXILB_COORDINATOR__HEALTH_MONITORING__DEFAULT_DELAI", "5")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("health_monitoring.default_delai")
            && msg.contains("LOXILB_COORDINATOR__HEALTH_MONITORING__DEFAULT_DELAI"),
        "{msg}"
    );
    let msg = Config::load_with_env(None, env(&[("LOXILB_COORDINATOR__NOPE__X", "5")]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("[nope]"), "{msg}");
    let msg = Config::load_with_env(None, env(&[("LOXILB_COORDINATOR__LOGGING", "5")]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("LOXILB_COORDINATOR__LOGGING"), "{msg}");
    let msg = Config::load_with_env(
        None,
        env(&[("LOXILB_COORDINATOR__HEALTH_MONITORING__BATCH_SIZE", "ten")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("health_monitoring.batch_size")
            && msg.contains("\"ten\"")
            && msg.contains("LOXILB_COORDINATOR__HEALTH_MONITORING__BATCH_SIZE"),
        "{msg}"
    );
}

#[test]
fn file_format_follows_extension() {
    let (_d1, conf) = write_file("octavia.conf", "[health_monitoring]\nbatch_size = 7\n");
    assert_eq!(
        Config::load_with_env(Some(&conf), HashMap::new())
            .unwrap()
            .health_monitoring
            .batch_size,
        7
    );
    let (_d2, yaml) = write_file("c.yaml", "x: 1\n");
    let e = Config::load_with_env(Some(&yaml), HashMap::new()).unwrap_err();
    assert!(matches!(e, ConfigError::UnsupportedFormat { .. }), "{e}");
    let missing = Path::new("/nonexistent/loxilb-coordinator.toml");
    let msg = Config::load_with_env(Some(missing), HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("/nonexistent/loxilb-coordinator.toml"),
        "{msg}"
    );
}

#[test]
fn file_errors_name_the_file() {
    let (_d, path) = write_file("bad.toml", "[health_monitoring]\nbatch_size = \"x\"\n");
    let msg = Config::load_with_env(Some(&path), HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("bad.toml") && msg.contains("health_monitoring.batch_size"),
        "{msg}"
    );
}

#[test]
fn redaction_hides_password_and_token() {
    let (dir, token_path) = write_file("token", "s3cr3t-token-value\n");
    set_mode(&token_path, 0o600);
    let toml = format!(
        "[loxilb]\nusername = \"admin\"\npassword = \"hunter2-pw\"\n[ingress]\ntcp_address = \"127.0.0.1:9443\"\ninsecure = true\ntcp_token_file = {:?}\n",
        token_path.to_str().unwrap()
    );
    let c = Config::from_toml_str(&toml).unwrap();
    let token = c.tcp_token().unwrap().unwrap();
    assert_eq!(token.expose(), "s3cr3t-token-value");
    let dumped = c.redacted_toml();
    let debug = format!("{c:?} {token:?} {token}");
    for text in [&dumped, &debug] {
        assert!(!text.contains("hunter2-pw"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
    assert!(dumped.contains("password = \"***\""), "{dumped}");
    assert!(dumped.contains("username = \"admin\""), "{dumped}");
    drop(dir);
}

#[test]
fn redacted_toml_reads_back_to_the_same_config() {
    let c = Config::from_toml_str(
        "[loxilb]\nnodes = [\"https://a:8091\", \"http://b:1\"]\nca_file = \"/ca \\\"q\\\".pem\"\nnat_mode = \"dsr\"\n\
         [ingress]\nsocket_mode = \"0600\"\n[metrics]\naddress = \"[::1]:9100\"\n[logging]\nformat = \"json\"\n",
    )
    .unwrap();
    let dumped = c.redacted_toml();
    assert!(dumped.contains("socket_mode = \"0600\""), "{dumped}");
    assert!(dumped.contains("# password is not set"), "{dumped}");
    assert_eq!(Config::from_toml_str(&dumped).unwrap(), c, "{dumped}");
    assert_eq!(
        Config::from_toml_str(&Config::default().redacted_toml()).unwrap(),
        Config::default()
    );
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

fn token_config(path: &Path) -> Config {
    let mut c = Config::default();
    c.ingress.tcp_token_file = Some(path.to_owned());
    c
}

#[test]
fn tcp_token_file_rules() {
    assert!(Config::default().tcp_token().unwrap().is_none());

    let (_d, path) = write_file("token", "  abc  \n");
    set_mode(&path, 0o600);
    assert_eq!(
        token_config(&path).tcp_token().unwrap().unwrap().expose(),
        "abc"
    );
    set_mode(&path, 0o400);
    assert!(token_config(&path).tcp_token().is_ok());

    let (_d2, empty) = write_file("empty", " \n");
    set_mode(&empty, 0o600);
    let msg = token_config(&empty).tcp_token().unwrap_err().to_string();
    assert!(
        msg.contains("ingress.tcp_token_file") && msg.contains("empty"),
        "{msg}"
    );

    let missing = token_config(Path::new("/nonexistent/token"))
        .tcp_token()
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/token"), "{missing}");

    let (_d3, big) = write_file("big", &"x".repeat(5000));
    set_mode(&big, 0o600);
    assert!(token_config(&big)
        .tcp_token()
        .unwrap_err()
        .to_string()
        .contains("too large"));
}

#[cfg(unix)]
#[test]
fn tcp_token_file_readable_by_others_is_refused() {
    let (_d, path) = write_file("token", "abc\n");
    set_mode(&path, 0o644);
    let msg = token_config(&path).tcp_token().unwrap_err().to_string();
    assert!(msg.contains("0644") && msg.contains("0600"), "{msg}");
    set_mode(&path, 0o640);
    assert!(token_config(&path).tcp_token().is_err());
}

#[test]
fn sample_toml_equals_defaults() {
    assert_eq!(
        Config::from_toml_str(SAMPLE_TOML).unwrap(),
        Config::default()
    );
}

#[test]
fn sample_toml_documents_every_key() {
    let value = serde_json::to_value(Config::default()).unwrap();
    for (section, fields) in value.as_object().unwrap() {
        assert!(
            SAMPLE_TOML.contains(&format!("[{section}]\n")),
            "section {section} missing"
        );
        for key in fields.as_object().unwrap().keys() {
            let set = SAMPLE_TOML.lines().any(|l| {
                let l = l.trim_start_matches("# ");
                l.starts_with(&format!("{key} = "))
            });
            assert!(set, "{section}.{key} missing from the sample file");
        }
    }
}

#[test]
fn load_reads_process_environment_prefix_only() {
    // Only checks that the process environment is readable; no variable is set here, so
    // parallel tests are unaffected.
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(b"[database]\nmax_connections = 2\n").unwrap();
    if loader::process_env().unwrap().is_empty() {
        assert_eq!(
            Config::load(Some(f.path()))
                .unwrap()
                .database
                .max_connections,
            2
        );
    }
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any value for any key, in either format, gives Ok or Err, never a panic.
        #[test]
        fn arbitrary_values_never_panic(
            key in prop::sample::select(vec![
                "health_monitoring.default_delay", "health_monitoring.enable_coordination",
                "loxilb.nodes", "loxilb.password", "ingress.socket_mode", "ingress.tcp_address",
                "logging.level", "database.url", "metrics.address", "loxilb.nat_mode",
            ]),
            value in "[ -~]{0,40}",
        ) {
            let (section, field) = key.split_once('.').unwrap();
            let _ = from_ini(&format!("[{section}]\n{field} = {value}\n"));
            let _ = Config::from_toml_str(&format!("[{section}]\n{field} = {value}\n"));
            let _ = Config::load_with_env(None, env(&[(
                &format!("LOXILB_COORDINATOR__{}__{}", section.to_uppercase(), field.to_uppercase()),
                &value,
            )]));
        }
    }
}

#[test]
fn journal_retention_defaults_and_decimal_days() {
    let c = Config::from_toml_str("").unwrap();
    assert_eq!(c.database.retention_days, 7.0);
    assert_eq!(c.database.retention_max_events, 1_000_000);
    assert_eq!(
        c.database.retention(),
        std::time::Duration::from_secs(7 * 86_400)
    );
    // Decimals, as a TOML float or (INI, environment) a string, for short retentions.
    let c = Config::from_toml_str("[database]\nretention_days = 0.01\n").unwrap();
    assert_eq!(c.database.retention(), std::time::Duration::from_secs(864));
    let c = Config::from_toml_str("[database]\nretention_days = \"2\"\n").unwrap();
    assert_eq!(c.database.retention_days, 2.0);
}
