//! `[caddy] tls = "internal"` against a real Caddy (Debian's `caddy`, started by the harness on
//! loopback ports, its local CA kept out of every trust store, its storage in a temp dir): an exposed
//! service is served over HTTPS with a certificate of Caddy's local CA, through a server tend creates
//! and tend's TLS policy; unexposed, the policy is gone. Caddy never turns to a public ACME issuer.

use tend_tests::caddy::{CaddyProxy, HttpsAnswer, NAMING_SERVER, OUTSIDE_BODY, OUTSIDE_HOST};
use tend_tests::{Daemon, Value, free_port, json, merge, python3, secs, wait_for};

const HOST: &str = "myapp.example.test";

/// A spec running [`NAMING_SERVER`] as `myapp` on `port`, deep-merged with `patch`.
fn myapp(d: &Daemon, port: u16, patch: Value) -> Value {
    d.service_with(
        "myapp",
        json!([python3(), "-c", NAMING_SERVER, port.to_string(), "myapp"]),
        merge(json!({"port": port, "expose_caddy": true}), patch),
    )
}

fn wait_https(caddy: &CaddyProxy, path: &str) -> HttpsAnswer {
    wait_for(secs(30), || match caddy.https_request(HOST, path) {
        Ok(a) if a.status == 200 => Ok(a),
        other => Err(format!("{other:?}")),
    })
    .unwrap_or_else(|e| {
        panic!(
            "https://{HOST}{path} never answered 200: {e}\ncaddy config: {}\ncaddy log:\n{}",
            caddy.config(),
            caddy.log()
        )
    })
}

#[test]
fn internal_tls_serves_an_exposed_service_with_a_local_ca_certificate_until_unexposed() {
    let caddy = CaddyProxy::for_internal_tls();
    let d = Daemon::builder()
        .config_toml(&format!(
            "[caddy]\nadmin_url = \"{}\"\nbase_domain = \"example.test\"\nport = {}\n\
             bind = \"127.0.0.1\"\ntls = \"internal\"\nretry_initial_ms = 200\nretry_max_ms = 1000\n",
            caddy.admin_url(),
            caddy.tls_port()
        ))
        .start();
    let port = free_port();
    d.create(&myapp(&d, port, json!({})));

    // Verified against the root in this Caddy's storage, for the name sent as SNI: the certificate
    // comes from Caddy's local CA.
    let answer = wait_https(&caddy, "/hello");
    assert_eq!(answer.body, "myapp path=/hello x-env=-\n", "{answer:?}");
    assert!(
        answer.issuer.starts_with("Caddy Local Authority"),
        "{answer:?}"
    );
    assert_eq!(answer.names, vec![HOST.to_string()], "{answer:?}");

    // tend's policy came first among the automation policies, for tend's host only, with the internal
    // issuer; tend created the server on the port (none listened there); the outside route is intact.
    let policies = caddy.admin_get("/config/apps/tls/automation/policies");
    assert_eq!(policies.as_array().map(Vec::len), Some(1), "{policies}");
    assert_eq!(
        policies[0],
        json!({"@id": "tend-tls", "subjects": [HOST], "issuers": [{"module": "internal"}]}),
        "{policies}"
    );
    let server = caddy.admin_get("/config/apps/http/servers/tend");
    assert_eq!(
        server["listen"],
        json!([format!("127.0.0.1:{}", caddy.tls_port())]),
        "{server}"
    );
    assert_eq!(server["routes"][0]["@id"], "tend-routes", "{server}");
    assert_eq!(
        caddy.request(OUTSIDE_HOST, "/").expect("caddy answers"),
        (200, OUTSIDE_BODY.to_string())
    );
    let (code, status) = d.get("/api/status");
    assert_eq!(code, 200, "{status}");
    assert_eq!(
        status["supervisor"]["caddy"]["state"], "applied",
        "{status}"
    );

    // Unexposed: tend's TLS policy is removed (README: tend owns it only while it has hosts), and
    // the host is no longer served.
    let (code, body) = d.put(
        "/api/services/myapp",
        &myapp(&d, port, json!({"expose_caddy": false})),
    );
    assert_eq!(code, 200, "{body}");
    wait_for(secs(30), || {
        let policy = caddy.admin_get("/id/tend-tls");
        if policy.is_null() {
            Ok(())
        } else {
            Err(policy.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("tend-tls stayed: {e}\nconfig: {}", caddy.config()));
    let policies = caddy.admin_get("/config/apps/tls/automation/policies");
    assert_eq!(policies, json!([]), "{policies}");
    let group = caddy.admin_get("/id/tend-routes");
    assert!(!group.to_string().contains(HOST), "{group}");
    wait_for(secs(30), || match caddy.https_request(HOST, "/") {
        Ok(a) if a.body.contains("myapp") => Err(format!("{a:?}")),
        _ => Ok(()),
    })
    .unwrap_or_else(|e| panic!("{HOST} is still served: {e}"));

    // At no point did Caddy try a public issuer for tend's host (it would, for a routed host that no
    // policy covers).
    let log = caddy.log();
    assert!(!log.to_ascii_lowercase().contains("acme"), "{log}");
}
