use std::net::{Ipv4Addr, TcpListener};

use super::*;
use crate::plugins::{PlanCall, PluginPlan};
use crate::wire::{Author, CommandType, FixCommand, Usage};

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = base.join("shop");
    std::fs::create_dir_all(root.join("web")).unwrap();
    std::fs::write(root.join(".env"), "SECRET=x\n").unwrap();
    let outside = base.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        outside,
    }
}

fn call() -> PlanCall {
    PlanCall {
        plan: Err(crate::plugins::PlanError::Failed(String::new())),
        llm_calls: 0,
        usage: Usage::default(),
        duration_ms: 1,
    }
}

fn service(name: &str, dir: &str, port: Option<u16>) -> crate::plugins::PluginService {
    crate::plugins::PluginService {
        name: name.into(),
        argv: vec!["python3".into(), "app.py".into()],
        working_dir: dir.into(),
        port,
        env: port
            .map(|p| vec![("PORT".to_string(), p.to_string())])
            .unwrap_or_default(),
        env_file: None,
        health_path: None,
        data_dir: false,
        confidence: 0.9,
        evidence: vec![],
    }
}

fn plugin_plan(services: Vec<crate::plugins::PluginService>) -> PluginPlan {
    PluginPlan {
        services,
        cron_jobs: vec![crate::plugins::PluginCron {
            name: "shop-nightly".into(),
            schedule: "0 3 * * *".into(),
            argv: vec!["sh".into(), "-c".into(), "true".into()],
            working_dir: String::new(),
            env: vec![],
            env_file: None,
            evidence: vec![],
        }],
        setup: vec![crate::plugins::PluginSetup {
            command: FixCommand {
                command_type: CommandType::Exec,
                command: "true".into(),
                is_safe: true,
                allowed_in_production: true,
                timeout_s: None,
                reason: "r".into(),
            },
            working_dir: "web".into(),
        }],
        confidence: 0.8,
        evidence: vec![],
        notes: vec![],
        author: Author::Rule,
        source: "python".into(),
    }
}

fn free_port() -> u16 {
    // Bound and dropped: free now (the range of the OS's ephemeral ports, not the offered one).
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn make(f: &Fixture, services: Vec<crate::plugins::PluginService>) -> Result<Plan, FieldError> {
    let data_dir = f.root.parent().unwrap().join(".shop");
    to_wire(
        &call(),
        plugin_plan(services),
        &Target {
            root: &f.root,
            project: "shop",
            data_dir: &data_dir,
            plugin: "onboarder",
        },
    )
}

fn invalid_field(e: Failure) -> String {
    match e {
        Failure::Invalid(f) => f.field,
        other => panic!("not invalid: {other}"),
    }
}

#[test]
fn plugin_plans_become_absolute_with_data_dir_and_no_escape() {
    let f = fixture();
    let mut s = service("shop", "web", Some(free_port()));
    s.data_dir = true;
    s.env_file = Some(".env".into());
    s.health_path = Some("health".into());
    let plan = make(&f, vec![s]).unwrap();
    let svc = &plan.services[0];
    assert_eq!(svc.working_dir, f.root.join("web"));
    assert_eq!(svc.env_file.as_deref(), Some(f.root.join(".env").as_path()));
    assert_eq!(
        svc.env.get(DATA_DIR_VAR).map(String::as_str),
        Some(plan.data_dir.to_str().unwrap())
    );
    assert_eq!(plan.cron_jobs[0].working_dir, f.root);
    assert_eq!(plan.setup[0].working_dir, f.root.join("web"));
    assert_eq!(
        (plan.project.as_str(), plan.plugin.as_str()),
        ("shop", "onboarder")
    );
    assert!(plan.usage.is_none());
    // The definition: health path as an http check on the port, DATA_DIR, enabled.
    let spec = service_spec(&plan, svc);
    assert_eq!(
        spec.health_check_url,
        Some(format!("http://127.0.0.1:{}/health", svc.port.unwrap()))
    );
    assert!(spec.enabled && spec.env.contains_key(DATA_DIR_VAR));
    // Paths that climb or are absolute reject the plan, naming the service and the field.
    for bad in ["../outside", "/etc", "web/../../x"] {
        let e = make(&f, vec![service("shop", bad, None)]).unwrap_err();
        assert_eq!(e.field, "plan.services[0].working_dir", "{bad}");
    }
    let mut s = service("shop", "web", None);
    s.env_file = Some("../.env".into());
    assert_eq!(
        make(&f, vec![s]).unwrap_err().field,
        "plan.services[0].env_file"
    );
}

#[test]
fn validation_names_fields_conflicts_and_ports() {
    let f = fixture();
    let (p1, p2) = (free_port(), free_port());
    let plan = make(
        &f,
        vec![
            service("shop-api", "web", Some(p1)),
            service("shop-web", "", Some(p2)),
        ],
    )
    .unwrap();
    let none = Registered::default();
    assert_eq!(
        validate(&plan, &f.root, &none).unwrap(),
        Vec::<String>::new()
    );
    // Names already registered are answered (the caller makes them a 409 or a note).
    let taken = Registered {
        services: ["shop-web".to_string()].into(),
        cron_jobs: ["shop-nightly".to_string()].into(),
        ports: Default::default(),
    };
    assert_eq!(
        validate(&plan, &f.root, &taken).unwrap(),
        ["service \"shop-web\"", "cron job \"shop-nightly\""]
    );
    let check = |edit: &dyn Fn(&mut Plan), reg: &Registered| {
        let mut p = plan.clone();
        edit(&mut p);
        invalid_field(validate(&p, &f.root, reg).unwrap_err())
    };
    // The same validation as POST /api/services and POST /api/cron, under the plan's path.
    assert_eq!(
        check(&|p| p.services[1].name = "Bad Name".into(), &none),
        "plan.services[1].name"
    );
    assert_eq!(
        check(&|p| p.services[1].port = Some(0), &none),
        "plan.services[1].port"
    );
    assert_eq!(
        check(&|p| p.cron_jobs[0].schedule = "every day".into(), &none),
        "plan.cron_jobs[0].schedule"
    );
    assert_eq!(
        check(&|p| p.services[1].name = "shop-api".into(), &none),
        "plan.services[1].name"
    );
    assert_eq!(check(&|p| p.root = f.outside.clone(), &none), "plan.root");
    // Working dirs inside the root, also through symlinks; setup steps too.
    assert_eq!(
        check(&|p| p.services[0].working_dir = f.outside.clone(), &none),
        "plan.services[0].working_dir"
    );
    assert_eq!(
        check(
            &|p| p.services[0].working_dir = f.root.join("escape"),
            &none
        ),
        "plan.services[0].working_dir"
    );
    assert_eq!(
        check(&|p| p.setup[0].working_dir = f.root.join("escape"), &none),
        "plan.setup[0].working_dir"
    );
    assert_eq!(
        check(&|p| p.setup[0].command.command = " ".into(), &none),
        "plan.setup[0].command"
    );
    // Ports: distinct, not a registered service's, free now (an edited one the host did not offer
    // is fine when free).
    assert_eq!(
        check(&|p| p.services[1].port = Some(p1), &none),
        "plan.services[1].port"
    );
    let claimed = Registered {
        ports: [(p2, "other".to_string())].into(),
        ..Registered::default()
    };
    assert_eq!(check(&|_| {}, &claimed), "plan.services[1].port");
    let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let busy = held.local_addr().unwrap().port();
    assert_eq!(
        check(&|p| p.services[0].port = Some(busy), &none),
        "plan.services[0].port"
    );
    let other = free_port();
    let mut edited = plan.clone();
    edited.services[0].port = Some(other);
    assert!(validate(&edited, &f.root, &none).is_ok());
}
