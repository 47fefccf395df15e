//! `import`: another supervisor's file registered as one batch. The file is converted by `import`
//! (pure), every service checked as the API checks it (`spec::validate`), against the registry (a
//! name taken: `conflict` naming it; a dependency neither in the file nor registered: `invalid`)
//! before anything is created; then the services are created dependencies first through the
//! supervisor's create path, and those already created are removed again (newest first) if a later
//! one fails, so a batch is registered whole or not at all. A dry run stops after the checks.

use std::collections::BTreeSet;

use futures_util::future::BoxFuture;

use super::{Error, Ops, Result};
use crate::import::{self, Input};
use crate::wire::{Code, ImportFormat, ImportRequest, ImportResult, ServiceSpec};

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
            let (sup, undo) = (self.sup.clone(), self.sup.clone());
            create_all(
                &converted.services,
                move |s| {
                    let sup = sup.clone();
                    Box::pin(async move { sup.create(s).await.map(|_| ()) })
                },
                move |name| {
                    let sup = undo.clone();
                    Box::pin(async move { sup.remove(&name).await.map(|_| ()) })
                },
            )
            .await
            .map_err(|(name, e)| {
                let e = Error::from(e);
                Error {
                    message: format!("service {name}: {} (nothing was imported)", e.message),
                    ..e
                }
            })?;
        }
        Ok(ImportResult {
            format,
            dry_run: req.dry_run,
            services: converted.services,
            warnings: converted.warnings,
        })
    }
}

/// Creates `specs` in order; when one fails, removes the ones created before it (newest first, so
/// dependents go before their dependencies) and answers the failing name and its error.
async fn create_all<E: std::fmt::Display>(
    specs: &[ServiceSpec],
    mut create: impl FnMut(ServiceSpec) -> BoxFuture<'static, Result<(), E>>,
    mut remove: impl FnMut(String) -> BoxFuture<'static, Result<(), E>>,
) -> Result<(), (String, E)> {
    let mut created: Vec<&str> = Vec::new();
    for s in specs {
        if let Err(e) = create(s.clone()).await {
            for name in created.iter().rev() {
                if let Err(undo) = remove(name.to_string()).await {
                    tracing::error!(service = %name, error = %undo, "import: cannot remove a service of a failed batch");
                }
            }
            return Err((s.name.clone(), e));
        }
        created.push(&s.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn spec(name: &str) -> ServiceSpec {
        serde_json::from_value(serde_json::json!({"name": name, "command": "true"})).unwrap()
    }

    #[tokio::test]
    async fn a_failed_create_removes_what_the_batch_created_newest_first() {
        let specs = [spec("db"), spec("api"), spec("web"), spec("never")];
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l1, l2) = (log.clone(), log.clone());
        let result = create_all(
            &specs,
            move |s| {
                l1.lock().unwrap().push(format!("create {}", s.name));
                Box::pin(async move {
                    if s.name == "web" {
                        Err("refused".to_string())
                    } else {
                        Ok(())
                    }
                })
            },
            move |name| {
                l2.lock().unwrap().push(format!("remove {name}"));
                Box::pin(async { Ok(()) })
            },
        )
        .await;
        assert_eq!(result, Err(("web".to_string(), "refused".to_string())));
        assert_eq!(
            *log.lock().unwrap(),
            [
                "create db",
                "create api",
                "create web",
                "remove api",
                "remove db"
            ]
        );
    }

    #[tokio::test]
    async fn a_whole_batch_is_created_in_order() {
        let specs = [spec("db"), spec("api")];
        let log = Arc::new(Mutex::new(Vec::new()));
        let l1 = log.clone();
        let result: Result<(), (String, String)> = create_all(
            &specs,
            move |s| {
                l1.lock().unwrap().push(s.name);
                Box::pin(async { Ok(()) })
            },
            |_| unreachable!("nothing to undo"),
        )
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(*log.lock().unwrap(), ["db", "api"]);
    }
}
