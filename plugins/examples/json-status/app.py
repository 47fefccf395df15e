"""`json-status`: a tend health probe written in Python (world `probe` of `wit/`), built into a
WebAssembly component by componentize-py (`cargo xtask build-plugins`, see plugins/README.md).

One GET per check through the host's `http` import (the daemon performs the request and enforces the
manifest's `hosts` grant); healthy when a field of the JSON body says so. Config (JSON, all optional):

    url            the URL to GET, instead of `port`/`path`
    port           port on the service's host (default: the service's `port`)
    path           path on the service's host (default "/health")
    key            dotted path of the field to read (default "status"; "checks.db" reads
                   body["checks"]["db"])
    healthy        values of that field meaning healthy (default ["ok"])
    degraded       values meaning degraded (default ["degraded"]); anything else is unhealthy
    message_key    a field whose text is added to the message (default "message")
    timeout_ms     request timeout (default and cap: nine tenths of the check's budget)

Unknown keys are an error, so a typo does not go unnoticed. The message says what was seen, e.g.
"GET http://127.0.0.1:8000/health: status='failing' (database unreachable), expected 'ok'".
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import http, log, types
from wit_world.imports.types import Health, HealthStatus

KNOWN_KEYS = {"url", "port", "path", "key", "healthy", "degraded", "message_key", "timeout_ms"}
# The longest body excerpt quoted in a message: a probe's message is a line, not a log.
EXCERPT = 120


class ConfigError(Exception):
    """The service's `health.config` is unusable; the check says so as unhealthy."""


class WitWorld(wit_world.WitWorld):
    def check(self, target: types.Target) -> Health:
        try:
            return check(target)
        except ConfigError as e:
            return Health(HealthStatus.UNHEALTHY, "invalid probe config: %s" % e, 0)


def check(target: types.Target) -> Health:
    config = parse_config(target.config)
    url = target_url(target, config)
    key = string(config, "key", "status")
    healthy = string_list(config, "healthy", ["ok"])
    degraded = string_list(config, "degraded", ["degraded"])
    message_key = string(config, "message_key", "message")
    request = http.Request(
        method="GET",
        url=url,
        headers=[("accept", "application/json")],
        body=None,
        timeout_ms=io_timeout_ms(target, config.get("timeout_ms")),
    )
    try:
        response = http.send(request)
    except Err as e:
        reason = describe(e.value)
        log.log(types.Level.WARN, "GET %s: %s" % (url, reason))
        return Health(HealthStatus.UNHEALTHY, "GET %s: %s" % (url, reason), 0)

    def answer(status: HealthStatus, text: str) -> Health:
        return Health(status, "GET %s: %s" % (url, text), response.elapsed_ms)

    if not 200 <= response.status <= 299:
        return answer(HealthStatus.UNHEALTHY, "HTTP status %d" % response.status)
    try:
        body = json.loads(response.body)
    except ValueError as e:
        excerpt = response.body[:EXCERPT].decode("utf-8", "replace")
        return answer(HealthStatus.UNHEALTHY, "the body is not JSON (%s): %r" % (e, excerpt))
    found, value = lookup(body, key)
    if not found:
        return answer(HealthStatus.UNHEALTHY, "no %r in the body" % key)
    seen = "%s=%r" % (key, value)
    found, detail = lookup(body, message_key)
    if found and isinstance(detail, str) and detail:
        seen += " (%s)" % detail[:EXCERPT]
    value = value if isinstance(value, str) else json.dumps(value)
    if value in healthy:
        return answer(HealthStatus.HEALTHY, seen)
    if value in degraded:
        return answer(HealthStatus.DEGRADED, seen)
    expected = " or ".join(repr(v) for v in healthy)
    return answer(HealthStatus.UNHEALTHY, "%s, expected %s" % (seen, expected))


def parse_config(text: str) -> dict:
    try:
        config = json.loads(text.strip() or "{}")
    except ValueError as e:
        raise ConfigError("not JSON: %s" % e)
    if not isinstance(config, dict):
        raise ConfigError("not a JSON object")
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            "unknown key %r (known: %s)" % (unknown[0], ", ".join(sorted(KNOWN_KEYS)))
        )
    return config


def target_url(target: types.Target, config: dict) -> str:
    """`url` as given, else `http://<service host>:<port><path>`."""
    if "url" in config:
        if "port" in config or "path" in config:
            raise ConfigError("give either `url` or `port`/`path`, not both")
        return string(config, "url", "")
    port = config.get("port", target.port)
    if port is None:
        raise ConfigError("no port to probe: set `port` or `url`, or give the service a `port`")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError("`port` must be a port number, got %r" % (port,))
    path = string(config, "path", "/health")
    host = "[%s]" % target.host if ":" in target.host else target.host
    return "http://%s:%d%s%s" % (host, port, "" if path.startswith("/") else "/", path)


def io_timeout_ms(target: types.Target, configured) -> int:
    """The request's timeout: `configured` if given, capped so a tenth of the check's budget is
    left to answer (a request using all of it would race the daemon's deadline and count as a hung
    plugin rather than a failed check). As the Rust SDK's `Target::io_timeout_ms`."""
    cap = max(target.timeout_ms - target.timeout_ms // 10, 1)
    if configured is None:
        return cap
    if not isinstance(configured, int) or isinstance(configured, bool):
        raise ConfigError("`timeout_ms` must be a number of milliseconds, got %r" % (configured,))
    return min(max(configured, 1), cap)


def lookup(body, dotted: str):
    """(found, value) of a dotted path into nested JSON objects."""
    value = body
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def string(config: dict, key: str, default: str) -> str:
    value = config.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError("`%s` must be a non-empty string, got %r" % (key, value))
    return value


def string_list(config: dict, key: str, default: list) -> list:
    value = config.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("`%s` must be a string or a list of strings, got %r" % (key, value))
    return value


def describe(error) -> str:
    """The host's `http` error as a sentence, like the Rust SDK's `Error::describe`."""
    if isinstance(error, http.Error_Denied):
        return "denied by the plugin's grants: %s" % error.value
    if isinstance(error, http.Error_Timeout):
        return "timed out"
    if isinstance(error, http.Error_Connect):
        return "connection failed: %s" % error.value
    if isinstance(error, http.Error_TooLarge):
        return "response body too large"
    if isinstance(error, http.Error_Invalid):
        return "invalid request: %s" % error.value
    return repr(error)
