//! The operator subcommands that query a running daemon's admin API: a table for
//! people, `--json` for scripts, and exit codes that mean something:
//! 0 = fine, 1 = the daemon could not be asked or refused, 2 = the check found
//! problems (differences, orphans), 3 = the object is unknown.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use super::api_client::ApiClient;

pub const FOUND_PROBLEMS: u8 = 2;
pub const UNKNOWN: u8 = 3;

/// Send one request to the daemon at `socket`; errors name the daemon and the path.
pub async fn call(socket: &Path, method: &str, path: &str) -> Result<(u16, Value), String> {
    ApiClient::new(socket)
        .call(method, path, None)
        .await
        .map_err(|e| format!("daemon at {} not reachable: {e}", socket.display()))
}

/// Print `body`: as JSON, or every array of objects in it as a table.
pub fn print(body: &Value, json: bool) {
    if json {
        println!("{body}");
        return;
    }
    let mut printed = false;
    if let Some(obj) = body.as_object() {
        for (key, value) in obj {
            match value.as_array() {
                Some(rows) if rows.iter().all(Value::is_object) => {
                    println!("{key}:");
                    table(rows);
                    printed = true;
                }
                _ => println!("{key}: {}", scalar(value)),
            }
        }
    }
    if !printed && !body.is_object() {
        println!("{body}");
    }
}

fn scalar(v: &Value) -> String {
    super::table::cell(v)
}

fn table(rows: &[Value]) {
    println!("{}", super::table::render(rows, None));
}

/// Map an admin answer to an exit code (after printing it).
pub fn finish(code: u16, body: &Value, json: bool, problems: bool) -> Result<ExitCode, String> {
    match code {
        200..=299 => {
            print(body, json);
            Ok(if problems {
                ExitCode::from(FOUND_PROBLEMS)
            } else {
                ExitCode::SUCCESS
            })
        }
        404 => {
            if json {
                println!("{body}");
            } else {
                let why = body.get("error").or_else(|| body.get("message"));
                eprintln!("not found: {}", scalar(why.unwrap_or(body)));
            }
            Ok(ExitCode::from(UNKNOWN))
        }
        _ => Err(format!("daemon answered {code}: {body}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exit_codes_follow_the_answer() {
        let body = json!({"ok": true, "differences": []});
        assert_eq!(finish(200, &body, true, false), Ok(ExitCode::SUCCESS));
        assert_eq!(
            finish(200, &body, true, true),
            Ok(ExitCode::from(FOUND_PROBLEMS))
        );
        assert_eq!(finish(404, &body, true, false), Ok(ExitCode::from(UNKNOWN)));
        assert!(finish(503, &body, true, false).is_err());
    }
}
