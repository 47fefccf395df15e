//! Validation of a custom-restart request and the argv of every step. Pure: nothing here looks at
//! processes, the store or the service; errors name the field to blame (`pre_commands[2].command`).

use std::time::Duration;

use crate::spec::shell_quote;
use crate::wire::{
    CommandType, CustomRestartRequest, JobStep, StepPhase, StepStatus, WorkflowCommand,
};

/// Commands per phase.
pub const MAX_COMMANDS: usize = 32;
/// Bytes of one command.
pub const MAX_COMMAND_BYTES: usize = 8 * 1024;
/// Extra args of the restart.
pub const MAX_ARGS: usize = 64;
/// Bytes of one extra arg.
pub const MAX_ARG_BYTES: usize = 4 * 1024;
/// Timeout of a command that does not give one.
pub const DEFAULT_TIMEOUT_S: u64 = 600;
pub const MAX_TIMEOUT_S: u64 = 86_400;

/// Why a request is refused, and the field to blame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// One pre- or post-command, checked, with what will be executed.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub phase: StepPhase,
    pub index: u32,
    pub command: WorkflowCommand,
    pub argv: Vec<String>,
    pub timeout: Duration,
}

/// Every command of the request, pre-commands first, in order; or the first problem found.
pub fn plan(req: &CustomRestartRequest) -> Result<Vec<Planned>, Invalid> {
    let mut planned = Vec::new();
    for (phase, list, name) in [
        (StepPhase::Pre, &req.pre_commands, "pre_commands"),
        (StepPhase::Post, &req.post_commands, "post_commands"),
    ] {
        if list.len() > MAX_COMMANDS {
            return Err(invalid(
                name,
                format!("at most {MAX_COMMANDS} commands (got {})", list.len()),
            ));
        }
        for (i, command) in list.iter().enumerate() {
            let field = format!("{name}[{i}]");
            planned.push(Planned {
                phase,
                index: i as u32,
                argv: within_limit(command)
                    .and_then(|()| command_argv(command))
                    .map_err(|m| invalid(format!("{field}.command"), m))?,
                timeout: timeout_of(command)
                    .map_err(|m| invalid(format!("{field}.timeout_s"), m))?,
                command: command.clone(),
            });
        }
    }
    if req.args.len() > MAX_ARGS {
        return Err(invalid(
            "args",
            format!("at most {MAX_ARGS} args (got {})", req.args.len()),
        ));
    }
    for (i, arg) in req.args.iter().enumerate() {
        if arg.len() > MAX_ARG_BYTES {
            return Err(invalid(
                format!("args[{i}]"),
                format!("at most {MAX_ARG_BYTES} bytes"),
            ));
        }
        if arg.contains('\0') {
            return Err(invalid(format!("args[{i}]"), "must not contain NUL"));
        }
    }
    Ok(planned)
}

fn within_limit(c: &WorkflowCommand) -> Result<(), String> {
    if c.command.len() > MAX_COMMAND_BYTES {
        return Err(format!("at most {MAX_COMMAND_BYTES} bytes"));
    }
    Ok(())
}

/// What a command executes: `shell` as `/bin/sh -c COMMAND`, `make` as `make` plus the words of
/// COMMAND, `exec` as the words of COMMAND (split with shell-like quoting, no shell involved). Used by
/// the runner and by the policy's dry run (`POST /api/policy/evaluate`), so both ask about the same argv.
pub fn command_argv(c: &WorkflowCommand) -> Result<Vec<String>, String> {
    if c.command.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if c.command.contains('\0') {
        return Err("must not contain NUL".into());
    }
    let words = || {
        shlex::split(&c.command)
            .ok_or_else(|| "unbalanced quotes or a trailing backslash".to_string())
    };
    Ok(match c.command_type {
        CommandType::Shell => vec!["/bin/sh".into(), "-c".into(), c.command.clone()],
        CommandType::Make => std::iter::once("make".to_string())
            .chain(words()?)
            .collect(),
        CommandType::Exec => words()?,
    })
}

fn timeout_of(c: &WorkflowCommand) -> Result<Duration, String> {
    match c.timeout_s {
        None => Ok(Duration::from_secs(DEFAULT_TIMEOUT_S)),
        Some(s) if (1..=MAX_TIMEOUT_S).contains(&s) => Ok(Duration::from_secs(s)),
        Some(s) => Err(format!("must be 1..={MAX_TIMEOUT_S} seconds (got {s})")),
    }
}

/// A one-line rendering of an argv for the job record.
pub fn display(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The steps of a new job, all pending: the commands of `plan` around the restart.
pub fn initial_steps(planned: &[Planned], restart_argv: Vec<String>) -> Vec<JobStep> {
    let step = |phase, index, command: String, command_type, argv| JobStep {
        phase,
        index,
        command,
        command_type,
        argv,
        decision: None,
        reason: None,
        status: StepStatus::Pending,
        exit_code: None,
        signal: None,
        pid: None,
        started_at: None,
        duration_ms: None,
        output_tail: String::new(),
        message: None,
    };
    let of = |p: &Planned| {
        step(
            p.phase,
            p.index,
            p.command.command.clone(),
            Some(p.command.command_type),
            p.argv.clone(),
        )
    };
    let mut steps: Vec<JobStep> = planned
        .iter()
        .filter(|p| p.phase == StepPhase::Pre)
        .map(of)
        .collect();
    steps.push(step(
        StepPhase::Restart,
        0,
        display(&restart_argv),
        None,
        restart_argv,
    ));
    steps.extend(
        planned
            .iter()
            .filter(|p| p.phase == StepPhase::Post)
            .map(of),
    );
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(t: CommandType, c: &str) -> WorkflowCommand {
        WorkflowCommand {
            command_type: t,
            command: c.into(),
            is_safe: true,
            allowed_in_production: false,
            timeout_s: None,
        }
    }

    #[test]
    fn argv_per_command_type() {
        assert_eq!(
            command_argv(&cmd(CommandType::Shell, "echo 'a b' && x")).unwrap(),
            ["/bin/sh", "-c", "echo 'a b' && x"]
        );
        assert_eq!(
            command_argv(&cmd(CommandType::Make, "clean  'all tests'")).unwrap(),
            ["make", "clean", "all tests"]
        );
        assert_eq!(
            command_argv(&cmd(CommandType::Exec, r#"touch "a b" c\ d"#)).unwrap(),
            ["touch", "a b", "c d"]
        );
        for bad in ["", "   ", "a\0b"] {
            assert!(
                command_argv(&cmd(CommandType::Shell, bad)).is_err(),
                "{bad:?}"
            );
        }
        assert!(command_argv(&cmd(CommandType::Exec, "echo 'open")).is_err());
        assert!(command_argv(&cmd(CommandType::Make, "x\\")).is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let mut req = CustomRestartRequest {
            pre_commands: vec![
                cmd(CommandType::Shell, "true"),
                cmd(CommandType::Shell, "true"),
                cmd(CommandType::Exec, "echo \"unbalanced"),
            ],
            ..Default::default()
        };
        let e = plan(&req).unwrap_err();
        assert_eq!(e.field, "pre_commands[2].command");
        assert!(e.message.contains("unbalanced"), "{e:?}");

        req.pre_commands.truncate(1);
        req.post_commands = vec![WorkflowCommand {
            timeout_s: Some(0),
            ..cmd(CommandType::Shell, "true")
        }];
        assert_eq!(plan(&req).unwrap_err().field, "post_commands[0].timeout_s");
        req.post_commands[0].timeout_s = Some(MAX_TIMEOUT_S + 1);
        assert_eq!(plan(&req).unwrap_err().field, "post_commands[0].timeout_s");
        req.post_commands[0].timeout_s = Some(MAX_TIMEOUT_S);

        req.args = vec!["ok".into(), "a\0".into()];
        assert_eq!(plan(&req).unwrap_err().field, "args[1]");
        req.args = vec!["x".into(); MAX_ARGS + 1];
        assert_eq!(plan(&req).unwrap_err().field, "args");
        req.args.clear();
        req.pre_commands = vec![cmd(CommandType::Shell, "true"); MAX_COMMANDS + 1];
        assert_eq!(plan(&req).unwrap_err().field, "pre_commands");
        req.pre_commands.truncate(2);

        let planned = plan(&req).unwrap();
        assert_eq!(planned.len(), 3);
        assert_eq!(planned[0].timeout, Duration::from_secs(DEFAULT_TIMEOUT_S));
        assert_eq!((planned[2].phase, planned[2].index), (StepPhase::Post, 0));
        let steps = initial_steps(&planned, vec!["app".into()]);
        let phases: Vec<_> = steps.iter().map(|s| (s.phase, s.index)).collect();
        assert_eq!(
            phases,
            [
                (StepPhase::Pre, 0),
                (StepPhase::Pre, 1),
                (StepPhase::Restart, 0),
                (StepPhase::Post, 0)
            ]
        );
    }

    #[test]
    fn argv_renders_as_one_quoted_line() {
        assert_eq!(display(&["a b".into(), "c".into()]), "'a b' c");
    }
}
