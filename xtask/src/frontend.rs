//! The dashboard (`frontend/`) seen from the Rust side: `cargo xtask gen-types`, which rewrites
//! `frontend/src/gen/api.ts` from the `wire` types (the test in `host/src/wire/typescript.rs` with
//! `TEND_WRITE_TYPES=1`).

use crate::{cargo, run_checked};

/// `cargo xtask gen-types`.
pub fn gen_types(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        anyhow::bail!("`gen-types` takes no arguments, got {arg:?}");
    }
    run_checked(
        cargo()
            .args([
                "test",
                "--package",
                "tend",
                "--lib",
                "--",
                "--exact",
                "wire::typescript::frontend_types_are_up_to_date",
            ])
            .env("TEND_WRITE_TYPES", "1"),
    )?;
    println!("wrote frontend/src/gen/api.ts");
    Ok(())
}
