//! Which LoxiLB releases the daemon was checked against (docs/loxilb-compat.md).
//!
//! The release type itself is shared with the simulator (`loxilb_version::LoxilbVersion`),
//! which plays each release; the daemon only needs to know whether a node's `GET /version`
//! names one of them. An unknown or newer release is not refused: the daemon copes with
//! both error shapes and all the behaviours listed in the compatibility table, so it only
//! warns that the table was not checked against that release.

use loxilb_version::LoxilbVersion;

/// `Ok` when `reported` (as `GET /version` answers it) is a release the compatibility
/// table covers; otherwise why not, for a warning.
pub fn support(reported: &str) -> Result<(), String> {
    let v: LoxilbVersion = reported
        .parse()
        .map_err(|_| format!("unrecognised release text; checked against {}", range()))?;
    if v < LoxilbVersion::OLDEST {
        return Err(format!("older than the supported releases {}", range()));
    }
    if v > LoxilbVersion::NEWEST {
        return Err(format!("newer than the releases checked ({})", range()));
    }
    Ok(())
}

fn range() -> String {
    format!("v{} to v{}", LoxilbVersion::OLDEST, LoxilbVersion::NEWEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_in_the_table_are_supported_others_warned() {
        assert!(support("0.9.8.4").is_ok());
        assert!(support("v0.9.8.8").is_ok());
        assert!(support("0.9.8-dev").is_ok());
        assert!(support("0.9.2").unwrap_err().contains("older"));
        assert!(support("0.9.9").unwrap_err().contains("newer"));
        assert!(support("garbage").unwrap_err().contains("unrecognised"));
    }
}
