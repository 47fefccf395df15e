//! The Python tools the API-contract and export tests run (`openapi-spec-validator`, `schemathesis`,
//! `kubernetes-validate`), from the venv `cargo xtask tools-venv` installs (`$TEND_TOOLS_BIN`, else
//! `target/tools-venv/bin`), and `promtool` from Debian's `prometheus` (`cargo xtask test` installs
//! it).

use std::path::{Path, PathBuf};

/// The executable `name` of the tools venv; panics saying how to install it when missing.
pub fn tool(name: &str) -> PathBuf {
    let dir = match std::env::var_os("TEND_TOOLS_BIN") {
        Some(dir) => PathBuf::from(dir),
        None => {
            // The test executable is target/<profile>/deps/main-<hash>: the venv is target/tools-venv.
            let exe = std::env::current_exe().expect("current_exe");
            let target = exe
                .ancestors()
                .find(|d| d.join("tools-venv").is_dir())
                .or_else(|| exe.ancestors().nth(3))
                .expect("the test executable is inside a target dir")
                .to_path_buf();
            target.join("tools-venv").join("bin")
        }
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask tools-venv` (`cargo xtask test` does it; needs python3 with \
         venv), or set TEND_TOOLS_BIN to a bin dir with the packages of tests/tools/requirements.txt",
        path.display()
    );
    path
}

/// `promtool`; panics saying how to install it when missing.
pub fn promtool() -> PathBuf {
    let path = Path::new("/usr/bin/promtool");
    assert!(
        path.is_file(),
        "/usr/bin/promtool is missing: `apt-get install prometheus` (`cargo xtask test` does it)"
    );
    path.to_path_buf()
}

/// tests/tools/`name`.
pub fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools")
        .join(name)
}
