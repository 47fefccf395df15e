//! tend's built-in command-safety policy (plugin `policy`, world `command-policy`): an allow-list
//! that is sound by construction. Shell text is accepted only in the subset of sh the analyser
//! models completely (`gate`); what it does not model is denied with the construct named. Programs
//! must be on the allow-list (`rules::allow`, `[policy] programs`) with argv shapes it understands
//! (`rules::shape`); wrappers, `sh -c` and `eval` texts are analysed in turn; interpreters' inline
//! code needs `[policy] interpreters`. Writes and deletes must stay inside a meaningful working dir,
//! never touching tend's data or process (`targets`). The walk (`lex` -> `parse` -> `analyse` with
//! `expand`) is bounded by a budget. A command is also denied in production unless declared
//! `allowed_in_production`, and when declared `is_safe: false` without `[policy] allow_unsafe`.
//! The plugin cannot see the file system: when paths matter it answers `resolve(paths)` and judges
//! again with the host's canonical forms (`judge`).

// Generated code: the canonical ABI passes flattened records as many arguments.
#![allow(clippy::too_many_arguments)]

pub mod analyse;
pub mod expand;
pub mod gate;
pub mod lex;
pub mod parse;
pub mod paths;
pub mod rules;
pub mod targets;

pub use analyse::Ctx;
use analyse::{Analyser, Binding, Frame};
use expand::Field;

/// What the policy needs of a request (the WIT record, without the bindings' types).
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub argv: Vec<String>,
    pub shell: Option<String>,
    pub command_type: String,
    pub cwd: String,
    pub production: bool,
    pub is_safe: bool,
    pub allowed_in_production: bool,
    pub allow_unsafe: bool,
    pub vars: Vec<(String, String)>,
    /// What the host says about itself and the operator's `[policy]` lists.
    pub ctx: analyse::Ctx,
    /// The second question: the paths asked about, canonical (see `Verdict::Resolve`).
    pub resolved: Option<Vec<(String, String)>>,
}

/// The plugin's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(String),
    /// The command would be allowed as written; ask again with these absolute paths canonical
    /// (the plugin cannot see symlinks).
    Resolve(Vec<String>),
}

/// `None` to allow, or the reason to deny; a `Resolve` is answered by `resolve` (the host's job in
/// the daemon, a table in tests) and the question asked again once.
pub fn decide_with(r: &Request, resolve: impl Fn(&str) -> String) -> Option<String> {
    match judge(r) {
        Verdict::Allow => None,
        Verdict::Deny(reason) => Some(reason),
        Verdict::Resolve(paths) => {
            let again = Request {
                resolved: Some(paths.iter().map(|p| (p.clone(), resolve(p))).collect()),
                ..r.clone()
            };
            match judge(&again) {
                Verdict::Allow => None,
                Verdict::Deny(reason) => Some(reason),
                Verdict::Resolve(_) => Some("paths to resolve asked twice".into()),
            }
        }
    }
}

/// `decide_with` where no path is a symlink.
pub fn decide(r: &Request) -> Option<String> {
    decide_with(r, str::to_string)
}

/// One question, one answer.
pub fn judge(r: &Request) -> Verdict {
    match content(r) {
        Err(reason) => Verdict::Deny(reason),
        Ok(paths) if !paths.is_empty() => Verdict::Resolve(paths),
        Ok(_) => match declarations(r) {
            Some(reason) => Verdict::Deny(reason),
            None => Verdict::Allow,
        },
    }
}

/// The production and `is_safe` declarations.
fn declarations(r: &Request) -> Option<String> {
    if r.production && !r.allowed_in_production {
        return Some(
            "the daemon's environment is production and the command is not declared allowed_in_production"
                .into(),
        );
    }
    if !r.is_safe && !r.allow_unsafe {
        return Some(
            "the command is declared is_safe: false and unsafe commands are not allowed ([policy] allow_unsafe = false)"
                .into(),
        );
    }
    None
}

/// The destructive and escaping patterns, over the command's text: the deny reason, or the paths
/// still to canonicalise (empty when there are none or they were given).
pub fn content(r: &Request) -> Result<Vec<String>, String> {
    let mut an = Analyser::with_ctx(&r.cwd, r.ctx.clone());
    an.resolved = r.resolved.as_ref().map(|v| v.iter().cloned().collect());
    let mut frame = Frame {
        dir: r.cwd.starts_with('/').then(|| paths::normalise(&r.cwd)),
        ..Frame::default()
    };
    if let Some(reason) = environment(r) {
        return Err(reason);
    }
    for (k, v) in &r.vars {
        frame
            .vars
            .insert(k.clone(), Binding::Known(vec![v.clone()]));
    }
    match r.command_type.as_str() {
        "shell" => {
            let shell = match (&r.shell, r.argv.as_slice()) {
                (Some(s), _) => s.clone(),
                (None, [sh, c, s]) if c == "-c" && paths::basename(sh).ends_with("sh") => s.clone(),
                _ => return Err("a `shell` command without its shell text".into()),
            };
            if shell.trim().is_empty() {
                return Err("an empty command".into());
            }
            an.script(&shell, &mut frame);
        }
        "exec" | "make" => {
            if r.argv.is_empty() || r.argv[0].is_empty() {
                return Err("an empty command".into());
            }
            let total: usize = r.argv.iter().map(String::len).sum();
            if total > analyse::MAX_LEN {
                return Err(format!(
                    "command longer than {} bytes; too long to analyse",
                    analyse::MAX_LEN
                ));
            }
            let argv: Vec<Field> = r.argv.iter().map(|a| Field::known(a.clone())).collect();
            an.command_in(&argv, &mut frame, &analyse::Stdin::Inherit, &[]);
        }
        other => {
            return Err(format!(
                "unknown command type {other:?} (expected shell, make or exec)"
            ));
        }
    }
    match an.findings.into_iter().next() {
        Some(reason) => Err(reason),
        None if an.resolved.is_some() => Ok(Vec::new()),
        None if an.asked.len() > analyse::MAX_PATHS => Err(format!(
            "more than {} paths to check; over the policy budget",
            analyse::MAX_PATHS
        )),
        None => Ok(an.asked.into_iter().collect()),
    }
}

/// The service's environment must not change how the shell or programs are found or read.
fn environment(r: &Request) -> Option<String> {
    for (k, v) in &r.vars {
        let shell_reads = matches!(
            k.as_str(),
            "CDPATH" | "ENV" | "BASH_ENV" | "SHELLOPTS" | "BASHOPTS" | "GLOBIGNORE" | "IFS"
        ) || k.starts_with("BASH_FUNC_")
            || k.starts_with("LD_")
            || k.starts_with("DYLD_");
        if shell_reads {
            return Some(format!(
                "the command's environment sets `{k}`, which changes how commands are read or programs loaded; refused"
            ));
        }
        if k == "PATH" && v.split(':').any(|d| !d.starts_with('/')) {
            return Some(
                "the command's PATH has an empty or relative entry, so a program name could run a file of the working dir; refused"
                    .into(),
            );
        }
    }
    None
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        world: "command-policy",
        path: "../../wit",
    });

    struct Policy;

    impl Guest for Policy {
        fn evaluate(request: CommandRequest) -> Decision {
            let r = super::Request {
                argv: request.argv,
                shell: request.shell,
                command_type: request.command_type,
                cwd: request.cwd,
                production: request.production,
                is_safe: request.is_safe,
                allowed_in_production: request.allowed_in_production,
                allow_unsafe: request.allow_unsafe,
                vars: request.vars,
                ctx: super::Ctx {
                    protected: request.protected_paths,
                    daemon_pid: request.daemon_pid,
                    daemon_names: request.daemon_names,
                    daemon_cwd: request.daemon_cwd,
                    interpreters: request.interpreters,
                    programs: request.programs,
                },
                resolved: request.resolved_paths,
            };
            match super::judge(&r) {
                super::Verdict::Allow => Decision::Allow,
                super::Verdict::Deny(reason) => Decision::Deny(reason),
                super::Verdict::Resolve(paths) => Decision::Resolve(paths),
            }
        }
    }

    export!(Policy);
}

#[cfg(test)]
mod tests;
