//! `tend export TARGET [--out DIR] [--service NAME]... [--cron NAME]... [--image IMG] [--gateway]
//! [--namespace NS]`: tend's definitions rendered for another engine through
//! `GET /api/export/{target}`. Without `--out` the documents go to stdout as one YAML stream (each
//! preceded by a `# <path>` comment, separated by `---`; JSON documents are YAML too); with `--out
//! DIR` each is written under DIR (subdirectories created, files of the same name replaced), after
//! every path was checked to stay inside DIR, so an escaping path writes nothing. Warnings go to
//! stderr, one line each, whatever the output; `--json` prints the answer.

use std::path::{Component, Path, PathBuf};

use super::client::CliError;
use super::commands::{Ctx, out, out_raw};
use crate::wire::{ExportDocument, ExportResult, ExportWarning};

#[derive(Clone, Debug, clap::Args)]
pub struct ExportArgs {
    /// `k8s`, `nomad`, or another loaded `deploy-export` plugin's name
    #[arg(value_name = "TARGET")]
    target: String,
    /// Write each document under DIR (created if missing) instead of printing them
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Export this service (repeatable); without --service and --cron: every service and cron job
    #[arg(long = "service", value_name = "NAME")]
    services: Vec<String>,
    /// Export this cron job (repeatable)
    #[arg(long = "cron", value_name = "NAME")]
    cron: Vec<String>,
    /// Kubernetes: the container image of services without `[services.NAME.k8s] image`
    #[arg(long, value_name = "IMG")]
    image: Option<String>,
    /// Kubernetes: Gateway API HTTPRoutes instead of Ingresses
    #[arg(long)]
    gateway: bool,
    /// The namespace of every object
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
}

pub async fn export(ctx: &Ctx, args: &ExportArgs) -> Result<(), CliError> {
    let mut query: Vec<(&str, String)> = Vec::new();
    query.extend(args.services.iter().map(|s| ("service", s.clone())));
    query.extend(args.cron.iter().map(|c| ("cron", c.clone())));
    if let Some(image) = &args.image {
        query.push(("image", image.clone()));
    }
    if args.gateway {
        query.push(("gateway", "true".into()));
    }
    if let Some(ns) = &args.namespace {
        query.push(("namespace", ns.clone()));
    }
    let answer = ctx
        .client
        .get(&["api", "export", &args.target], &query)
        .await?;
    let result: ExportResult = answer.parse()?;
    eprint!("{}", render_warnings(&result.warnings));
    let written = match &args.out {
        Some(dir) => write_all(dir, &result.documents)?,
        None => Vec::new(),
    };
    if ctx.json {
        return out_raw(&answer);
    }
    match &args.out {
        Some(_) => out(&written
            .iter()
            .map(|p| format!("wrote {}\n", p.display()))
            .collect::<String>()),
        None => out(&render_stream(&result.documents)),
    }
}

pub fn render_warnings(warnings: &[ExportWarning]) -> String {
    warnings
        .iter()
        .map(|w| format!("warning: {}: {}: {}\n", w.object, w.field, w.reason))
        .collect()
}

/// Every document as one YAML stream: `# <path>`, the body, `---` between documents.
pub fn render_stream(documents: &[ExportDocument]) -> String {
    let mut s = String::new();
    for (i, d) in documents.iter().enumerate() {
        if i > 0 {
            s.push_str("---\n");
        }
        s.push_str(&format!("# {}\n", d.path));
        s.push_str(&d.body);
        if !d.body.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// `path` as a relative path of plain names (the daemon checks this too; the CLI does not write on
/// its word alone).
fn inside(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    let plain = !path.is_empty()
        && !path.contains('\\')
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && !path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    plain.then(|| p.to_path_buf())
}

/// Writes every document under `dir`; checks every path first, so a bad one writes nothing. Each
/// file is written beside its final name and renamed over it: a symlink of that name is replaced,
/// never followed, and no reader sees half a file.
fn write_all(dir: &Path, documents: &[ExportDocument]) -> Result<Vec<PathBuf>, CliError> {
    let mut relative = Vec::new();
    for d in documents {
        let rel = inside(&d.path).ok_or_else(|| {
            CliError::Other(anyhow::anyhow!(
                "the export has a document path outside {}: {:?}; nothing was written",
                dir.display(),
                d.path
            ))
        })?;
        relative.push(rel);
    }
    let fail = |what: String, e: std::io::Error| CliError::Other(anyhow::anyhow!("{what}: {e}"));
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(format!("cannot create {}", dir.display()), e))?;
    let root = dir
        .canonicalize()
        .map_err(|e| fail(format!("cannot resolve {}", dir.display()), e))?;
    let mut written = Vec::new();
    for (d, rel) in documents.iter().zip(relative) {
        let target = dir.join(&rel);
        let parent = target.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)
            .map_err(|e| fail(format!("cannot create {}", parent.display()), e))?;
        // A subdirectory that is a symlink out of DIR would carry the file elsewhere.
        let real_parent = parent
            .canonicalize()
            .map_err(|e| fail(format!("cannot resolve {}", parent.display()), e))?;
        if !real_parent.starts_with(&root) {
            return Err(CliError::Other(anyhow::anyhow!(
                "{} leads outside {} (a symlink); not written",
                target.display(),
                dir.display()
            )));
        }
        let name = rel.file_name().unwrap_or_default().to_string_lossy();
        let tmp = real_parent.join(format!(".{name}.tend-export.tmp"));
        std::fs::write(&tmp, &d.body)
            .and_then(|()| std::fs::rename(&tmp, real_parent.join(&*name)))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                fail(format!("cannot write {}", target.display()), e)
            })?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str, body: &str) -> ExportDocument {
        ExportDocument {
            path: path.into(),
            media_type: "application/yaml".into(),
            body: body.into(),
        }
    }

    #[test]
    fn the_stream_separates_documents_and_names_each() {
        let s = render_stream(&[doc("a.yaml", "kind: A\n"), doc("b/c.json", "{}")]);
        assert_eq!(s, "# a.yaml\nkind: A\n---\n# b/c.json\n{}\n");
        assert_eq!(render_stream(&[]), "");
    }

    #[test]
    fn only_plain_relative_paths_are_written() {
        assert_eq!(inside("k8s/web.yaml"), Some(PathBuf::from("k8s/web.yaml")));
        for bad in ["", "/etc/x", "../x", "a/../../x", "./a", "a//b", "a\\b"] {
            assert_eq!(inside(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_escaping_path_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("tend-export-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let e = write_all(&dir, &[doc("ok.yaml", "x"), doc("../escape", "y")]).unwrap_err();
        assert!(e.to_string().contains("nothing was written"), "{e}");
        assert!(!dir.exists());
        let written = write_all(&dir, &[doc("a/b.yaml", "1"), doc("c.yaml", "2")]).unwrap();
        assert_eq!(written, [dir.join("a/b.yaml"), dir.join("c.yaml")]);
        assert_eq!(std::fs::read_to_string(dir.join("a/b.yaml")).unwrap(), "1");
        write_all(&dir, &[doc("c.yaml", "3")]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("c.yaml")).unwrap(), "3");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
