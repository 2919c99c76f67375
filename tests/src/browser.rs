//! Driving the web app in the system's headless Chromium: finding the browser and running a
//! playwright-core script from tests/js with a JSON set-up.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The system Chromium (Debian's `chromium` package; `.ci/run` installs it when absent), or
/// the one `HANDBILL_CHROMIUM` names.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("HANDBILL_CHROMIUM") {
        return PathBuf::from(path);
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect(
        "no Chromium found: install it (apt install chromium) or set HANDBILL_CHROMIUM; \
             .ci/run installs it",
    )
}

/// Where a test's screenshots go: `target/tmp/<name>` (`CARGO_TARGET_TMPDIR`).
pub fn output_dir(target_tmp: &str, name: &str) -> PathBuf {
    let dir = Path::new(target_tmp).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the screenshot folder");
    dir
}

/// Runs `tests/js/<script>` under Node.js with `config` written to a file, and returns its
/// stdout; panics with its stderr if it fails.
pub fn run_script(script: &str, config: &serde_json::Value, scratch: &Path) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci --prefix tests/js`"
    );
    let config_path = scratch.join(format!("{script}.json"));
    std::fs::write(&config_path, config.to_string()).expect("writing the script's set-up");
    let output = Command::new("node")
        .arg(dir.join(script))
        .arg(&config_path)
        .output()
        .expect("starting node (Node.js 20 or later must be installed)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed:\n{stderr}");
    eprint!("{stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
