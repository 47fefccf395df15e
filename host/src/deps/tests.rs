use super::*;

fn spec(name: &str, deps: serde_json::Value) -> ServiceSpec {
    serde_json::from_value(serde_json::json!({"name": name, "command": "true", "depends_on": deps}))
        .unwrap()
}

fn graph(specs: &[ServiceSpec]) -> Graph {
    Graph::of(specs)
}

fn gs(groups: &[&[&str]]) -> Vec<Vec<String>> {
    groups
        .iter()
        .map(|g| g.iter().map(|s| s.to_string()).collect())
        .collect()
}

fn stack() -> Vec<ServiceSpec> {
    vec![
        spec("worker", serde_json::json!(["api"])),
        spec("api", serde_json::json!({"db": {"condition": "healthy"}})),
        spec("db", serde_json::json!([])),
        spec("cache", serde_json::json!([])),
        spec("web", serde_json::json!(["api", "cache"])),
    ]
}

#[test]
fn start_groups_are_kahn_levels_sorted_by_name() {
    let g = graph(&stack());
    assert_eq!(
        g.start_groups(),
        gs(&[&["cache", "db"], &["api"], &["web", "worker"]])
    );
    assert_eq!(
        g.stop_groups(),
        gs(&[&["web", "worker"], &["api"], &["cache", "db"]])
    );
}

#[test]
fn groups_within_a_set_ignore_edges_leaving_it() {
    let g = graph(&stack());
    let set: BTreeSet<String> = ["api", "web"].iter().map(|s| s.to_string()).collect();
    assert_eq!(g.groups_within(&set), gs(&[&["api"], &["web"]]));
}

#[test]
fn requires_is_transitive_and_dependents_are_direct_or_all() {
    let g = graph(&stack());
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(g.requires("web"), set(&["api", "cache", "db"]));
    assert_eq!(g.requires("db"), set(&[]));
    assert_eq!(g.dependents("api"), set(&["web", "worker"]));
    assert_eq!(g.dependents("db"), set(&["api"]));
    assert_eq!(g.all_dependents("db"), set(&["api", "web", "worker"]));
}

#[test]
fn a_cycle_is_named_in_order_from_the_changed_service() {
    let specs = vec![
        spec("a", serde_json::json!(["b"])),
        spec("b", serde_json::json!(["c"])),
        spec("c", serde_json::json!(["a"])),
        spec("d", serde_json::json!(["a"])),
    ];
    let g = graph(&specs);
    assert_eq!(g.cycle(Some("b")).unwrap(), vec!["b", "c", "a", "b"]);
    assert_eq!(g.cycle(None).unwrap(), vec!["a", "b", "c", "a"]);
    assert_eq!(g.cycle(Some("d")).unwrap(), vec!["a", "b", "c", "a"]);
    assert!(graph(&stack()).cycle(None).is_none());
    // Start groups still cover every service.
    let all: usize = g.start_groups().iter().map(Vec::len).sum();
    assert_eq!(all, 4);
}

#[test]
fn check_names_unknown_dependencies_and_cycles() {
    let mut specs = stack();
    specs.push(spec("new", serde_json::json!(["nope"])));
    let refs: Vec<&ServiceSpec> = specs.iter().collect();
    let e = check(&refs, Some("new")).unwrap_err();
    assert_eq!(e.field, "depends_on");
    assert!(e.message.contains("\"nope\""), "{}", e.message);

    let specs = [
        spec("a", serde_json::json!(["b"])),
        spec("b", serde_json::json!(["a"])),
    ];
    let refs: Vec<&ServiceSpec> = specs.iter().collect();
    let e = check(&refs, Some("b")).unwrap_err();
    assert_eq!(e.field, "depends_on");
    assert_eq!(e.message, "a dependency cycle: b -> a -> b");
    // At boot the unknown name's service is named.
    let specs = [spec("a", serde_json::json!(["zz"]))];
    let e = check(&specs.iter().collect::<Vec<_>>(), None).unwrap_err();
    assert!(e.message.contains("service \"a\""), "{}", e.message);
}

#[test]
fn check_needs_a_health_check_for_healthy_and_no_always_restart_for_completed() {
    let specs = stack();
    let refs: Vec<&ServiceSpec> = specs.iter().collect();
    let e = check(&refs, Some("api")).unwrap_err();
    assert_eq!(e.field, "depends_on.db.condition");
    assert!(e.message.contains("health check"), "{}", e.message);
    // Seen from the dependency being replaced: its own field.
    let e = check(&refs, Some("db")).unwrap_err();
    assert_eq!(e.field, "health");
    assert!(e.message.starts_with("service \"api\""), "{}", e.message);

    let mut db = spec("db", serde_json::json!([]));
    db.health_check_url = Some("http://127.0.0.1:1/".into());
    let mut setup = spec("setup", serde_json::json!([]));
    let job = spec(
        "job",
        serde_json::json!({"setup": {"condition": "completed"}}),
    );
    let api = spec("api", serde_json::json!({"db": {"condition": "healthy"}}));
    assert!(check(&[&db, &api], Some("api")).is_ok());
    let e = check(&[&setup, &job], Some("job")).unwrap_err();
    assert_eq!(e.field, "depends_on.setup.condition");
    let e = check(&[&setup, &job], Some("setup")).unwrap_err();
    assert_eq!(e.field, "restart");
    setup.restart = RestartPolicy::Never;
    assert!(check(&[&setup, &job], Some("job")).is_ok());
    setup.restart = RestartPolicy::OnFailure;
    assert!(check(&[&setup, &job], None).is_ok());
}

fn st(status: Status) -> DepState<'static> {
    DepState {
        status,
        health: None,
        exit_code: None,
        reason: "",
    }
}

#[test]
fn started_holds_while_running() {
    use DependencyCondition::Started;
    assert!(readiness("db", Started, st(Status::Running)).is_ready());
    assert_eq!(
        readiness("db", Started, st(Status::Starting)),
        Readiness::Pending("db is starting".into())
    );
    assert!(matches!(
        readiness("db", Started, st(Status::Stopped)),
        Readiness::Pending(_)
    ));
}

#[test]
fn healthy_needs_a_passed_check() {
    use DependencyCondition::Healthy;
    let mut s = st(Status::Running);
    s.health = Some(HealthState::Unknown);
    assert_eq!(
        readiness("db", Healthy, s),
        Readiness::Pending("db is running, not healthy yet".into())
    );
    s.health = Some(HealthState::Healthy);
    assert!(readiness("db", Healthy, s).is_ready());
}

#[test]
fn completed_needs_exit_zero_and_a_failure_blocks() {
    use DependencyCondition::Completed;
    let mut s = st(Status::Exited);
    s.exit_code = Some(0);
    assert!(readiness("setup", Completed, s).is_ready());
    assert!(matches!(
        readiness("setup", Completed, st(Status::Running)),
        Readiness::Pending(_)
    ));
    s.exit_code = Some(3);
    s.reason = "exit code 3";
    assert_eq!(
        readiness("setup", Completed, s),
        Readiness::Blocked("setup exited unsuccessfully: exit code 3".into())
    );
}

#[test]
fn a_fatal_dependency_blocks_every_condition() {
    let mut s = st(Status::Fatal);
    s.reason = "gave up after 10 restarts";
    for c in [
        DependencyCondition::Started,
        DependencyCondition::Healthy,
        DependencyCondition::Completed,
    ] {
        assert_eq!(
            readiness("db", c, s),
            Readiness::Blocked("db is fatal: gave up after 10 restarts".into())
        );
    }
}
