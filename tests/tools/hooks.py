"""Schemathesis hooks for fuzzing a live tend daemon (tests/tests/openapi_fuzz.rs, `cargo xtask schemathesis`).

The daemon runs whatever `command` it is given (as root on the test machines), and reads or creates the
paths it is given. Every request is rewritten just before it is sent (`before_call`, after generation and
after every other hook), so no generated value reaches the daemon unchanged where it could:

- run a program: every `command` becomes `true` (a service's: `sleep 60`, so it stays up); onboarding
  setup steps are dropped; custom-restart `args` are dropped;
- touch the file system outside the test's scratch dir: every path field (`working_dir`, `env_file`,
  `log_file`, `root`, `data_dir`, `cwd`, `watch_dirs`, `paths`) and the onboarding `project` point into
  `TEND_FUZZ_SCRATCH`;
- change the environment of a child: `env` / `env_vars` are emptied;
- hold a request past the client's timeout: waits (`stop_timeout_s`, `depends_timeout_s`, `timeout_s`,
  `timeout`) above 5 s become 5 s (values the daemon must refuse, like negative ones, are kept).

Path parameters `name` are sometimes replaced by a service registered before the run (`TEND_FUZZ_NAMES`,
comma-separated), so operations on existing objects are exercised too, not only 404s; likewise the export
`target` is sometimes one of the built-in exporters (`k8s`, `nomad`), so their answers to generated options
are fuzzed, not only the unknown-target 404.
"""

import os
import random

import schemathesis

SCRATCH = os.environ["TEND_FUZZ_SCRATCH"]
NAMES = [n for n in os.environ.get("TEND_FUZZ_NAMES", "").split(",") if n]

PATH_KEYS = {"working_dir", "env_file", "log_file", "root", "cwd"}
PATH_LIST_KEYS = {"watch_dirs", "paths"}
ENV_KEYS = {"env", "env_vars"}
# Waits a request may sit through (a stop whose signal the program ignores, dependencies that never
# become ready, a step's command): capped so that no request outlasts schemathesis' request timeout.
WAIT_KEYS = {"stop_timeout_s", "depends_timeout_s", "timeout_s", "timeout"}
MAX_WAIT_S = 5

_rng = random.Random(int(os.environ.get("TEND_FUZZ_SEED", "0")))


def _scratch_path(value):
    """A path inside the scratch dir, keeping only the generated value's characters that are harmless."""
    tail = "".join(c for c in str(value) if c.isalnum())[:32] or "x"
    return os.path.join(SCRATCH, tail)


def _harmless_command(value, service):
    if isinstance(value, list):
        return ["sleep", "60"] if service else ["true"]
    if isinstance(value, str):
        return "sleep 60" if service else "true"
    return value


def _sanitize(value, service=False):
    """Rewrites, in place, every field of a (nested) JSON body that could run or touch something."""
    if isinstance(value, list):
        for item in value:
            _sanitize(item, service)
        return
    if not isinstance(value, dict):
        return
    for key in list(value):
        item = value[key]
        if key == "command":
            if isinstance(item, dict):
                _sanitize(item, service)
            else:
                value[key] = _harmless_command(item, service)
        elif key in PATH_KEYS and isinstance(item, str):
            value[key] = _scratch_path(item)
        elif key == "data_dir" and isinstance(item, str):
            value[key] = _scratch_path(item)
        elif key in PATH_LIST_KEYS and isinstance(item, list):
            value[key] = [_scratch_path(p) for p in item]
        elif key in WAIT_KEYS and isinstance(item, int) and not isinstance(item, bool) and item > MAX_WAIT_S:
            value[key] = MAX_WAIT_S
        elif key in ENV_KEYS and isinstance(item, dict):
            value[key] = {}
        elif key == "setup" and isinstance(item, list):
            value[key] = []
        elif key == "args" and isinstance(item, list):
            value[key] = []
        elif key in ("pre_commands", "post_commands") and isinstance(item, list):
            for step in item:
                _sanitize(step, False)
        else:
            _sanitize(item, service)


@schemathesis.hook
def before_call(context, case, **kwargs):
    path = case.operation.path
    service = path.endswith("/services") or path.endswith("/services/{name}")
    if case.body is not None and not isinstance(case.body, (bytes, str)):
        _sanitize(case.body, service)
    if isinstance(case.query, dict) and "project" in case.query:
        case.query["project"] = _scratch_path(case.query["project"])
    if isinstance(case.body, dict) and isinstance(case.body.get("project"), str):
        case.body["project"] = _scratch_path(case.body["project"])
    if NAMES and isinstance(case.path_parameters, dict) and "name" in case.path_parameters:
        if "/plugins/" not in path and _rng.random() < 0.5:
            case.path_parameters["name"] = _rng.choice(NAMES)
    if isinstance(case.path_parameters, dict) and "target" in case.path_parameters and _rng.random() < 0.5:
        case.path_parameters["target"] = _rng.choice(["k8s", "nomad"])
