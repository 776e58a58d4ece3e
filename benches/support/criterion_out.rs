//! Reading criterion's own results back, for the ratio tables the benches print: shared by
//! `benches/hot.rs` and `benches/yaserde.rs` (included with `#[path]`; not a bench itself).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where criterion writes its results: `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`,
/// else the target directory this executable was built in (`target/release/deps/NAME-…`).
pub fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// Criterion's median (ns) of this case if it was measured by this run.
pub fn median_ns(dir: &Path, group: &str, case: &str, since: SystemTime) -> Option<f64> {
    let path = dir
        .join(group)
        .join(case)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if modified < since {
        return None;
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}
