//! `import`: another supervisor's file registered as one batch. The file is converted by `import`
//! (pure), every service checked as the API checks it (`spec::validate`), against the registry (a
//! name taken: `conflict` naming it; a dependency neither in the file nor registered: `invalid`)
//! before anything is created; then the services are created dependencies first through the
//! supervisor's create path, and those already created are removed again (newest first) if a later
//! one fails, so a batch is registered whole or not at all. A dry run stops after the checks.

use std::collections::BTreeSet;

use super::{Error, Ops, Result};
use crate::import::{self, Input};
use crate::wire::{Code, ImportFormat, ImportRequest, ImportResult};

impl Ops {
    /// `POST /api/import`: the services registered (or, for a dry run, that would be) in order, and
    /// the warnings.
    pub async fn import(&self, req: ImportRequest) -> Result<ImportResult> {
        if !req.base_dir.is_absolute() {
            return Err(Error::invalid(
                "base_dir",
                format!("{} is not an absolute path", req.base_dir.display()),
            ));
        }
        let format = match req.format {
            Some(f) => f,
            None => import::detect(&req.file_name, &req.content).ok_or_else(|| {
                Error::invalid(
                    "format",
                    format!(
                        "cannot tell the format of {:?}: give one of {}",
                        req.file_name,
                        ImportFormat::ALL.map(ImportFormat::as_str).join(", ")
                    ),
                )
            })?,
        };
        let converted = import::convert(
            format,
            &Input {
                file_name: &req.file_name,
                content: &req.content,
                base_dir: &req.base_dir,
                env_name: req.env_name.as_deref(),
                environment: &req.environment,
            },
        )
        .map_err(|e| Error::invalid("content", format!("{}: {e}", req.file_name)))?;
        if converted.services.is_empty() {
            return Err(Error::invalid(
                "content",
                format!("{}: no service to import", req.file_name),
            ));
        }
        let batch: BTreeSet<&str> = converted.services.iter().map(|s| s.name.as_str()).collect();
        for s in &converted.services {
            crate::spec::validate(s).map_err(|e| {
                Error::invalid(
                    "content",
                    format!(
                        "{}: service {}: {}: {}",
                        req.file_name, s.name, e.field, e.message
                    ),
                )
            })?;
            if self.sup.get(&s.name).is_ok() {
                return Err(Error::new(
                    Code::Conflict,
                    format!(
                        "a service named {:?} already exists: remove it or rename it in {} \
                         (nothing was imported)",
                        s.name, req.file_name
                    ),
                ));
            }
            for dep in s.depends_on.names() {
                if !batch.contains(dep) && self.sup.get(dep).is_err() {
                    return Err(Error::invalid(
                        "content",
                        format!(
                            "{}: service {}: depends_on: {dep:?} is neither in the file nor \
                             registered",
                            req.file_name, s.name
                        ),
                    ));
                }
            }
        }
        if !req.dry_run {
            let mut created: Vec<String> = Vec::new();
            for s in &converted.services {
                if let Err(e) = self.sup.create(s.clone()).await {
                    for name in created.iter().rev() {
                        if let Err(undo) = self.sup.remove(name).await {
                            tracing::error!(service = %name, error = %undo, "import: cannot remove a service of a failed batch");
                        }
                    }
                    let e = Error::from(e);
                    return Err(Error {
                        message: format!(
                            "service {}: {} (nothing was imported)",
                            s.name, e.message
                        ),
                        ..e
                    });
                }
                created.push(s.name.clone());
            }
        }
        Ok(ImportResult {
            format,
            dry_run: req.dry_run,
            services: converted.services,
            warnings: converted.warnings,
        })
    }
}
