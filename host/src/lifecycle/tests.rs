use super::*;
use nix::sys::signal::Signal;

fn policy(restart: RestartPolicy, max_restarts: u32) -> Policy {
    Policy {
        restart,
        max_restarts,
        backoff: Backoff {
            initial_delay_ms: 100,
            max_delay_ms: 1000,
            multiplier: 2.0,
            jitter: 0.0,
            reset_after_s: 10,
        },
        depends_timeout: Duration::from_secs(60),
    }
}

fn records(fx: &[Effect]) -> Vec<(Status, Status)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Record(t) => Some((t.from, t.to)),
            _ => None,
        })
        .collect()
}

fn running(t0: Instant) -> Machine {
    Machine {
        state: State::Running { pid: 7, since: t0 },
        attempt: 0,
        restart_count: 0,
    }
}

#[test]
fn start_spawns_and_spawned_runs() {
    let p = policy(RestartPolicy::Always, 3);
    let t0 = Instant::now();
    let (m, fx) = step(
        Machine::default(),
        &p,
        Input::Start {
            reason: "start requested".into(),
        },
    );
    assert_eq!(m.state, State::Starting);
    assert_eq!(records(&fx), vec![(Status::Stopped, Status::Starting)]);
    assert!(fx.contains(&Effect::Spawn));
    let (m, fx) = step(m, &p, Input::Spawned { pid: 9, at: t0 });
    assert_eq!(m.state, State::Running { pid: 9, since: t0 });
    assert_eq!(records(&fx), vec![(Status::Starting, Status::Running)]);
}

#[test]
fn backoff_grows_and_caps() {
    let b = policy(RestartPolicy::Always, 10).backoff;
    let ms: Vec<u128> = (1..=6)
        .map(|n| backoff_delay(&b, n, 0.0).as_millis())
        .collect();
    assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000]);
}

#[test]
fn jitter_spreads_within_bounds() {
    let mut b = policy(RestartPolicy::Always, 10).backoff;
    b.jitter = 0.5;
    assert_eq!(backoff_delay(&b, 1, 1.0).as_millis(), 150);
    assert_eq!(backoff_delay(&b, 1, -1.0).as_millis(), 50);
    assert_eq!(
        backoff_delay(&b, 1, 7.0).as_millis(),
        150,
        "samples are clamped"
    );
}

#[test]
fn crash_backs_off_then_restarts_then_gives_up() {
    let p = policy(RestartPolicy::Always, 2);
    let t0 = Instant::now();
    let mut m = running(t0);
    let mut delays = Vec::new();
    for round in 0..2 {
        let at = t0 + Duration::from_millis(10);
        let (m2, fx) = step(
            m,
            &p,
            Input::Exited {
                exit: Exit::Code(1),
                at,
                jitter: 0.0,
            },
        );
        assert_eq!(
            records(&fx),
            vec![(Status::Running, Status::Backoff)],
            "round {round}"
        );
        let State::Backoff { until } = m2.state else {
            panic!("not backoff: {:?}", m2.state)
        };
        delays.push((until - at).as_millis());
        assert!(fx.contains(&Effect::WakeAt(until)));
        // Too early: nothing.
        let (same, fx) = step(m2, &p, Input::BackoffElapsed { at });
        assert_eq!((same, fx.len()), (m2, 0));
        let (m3, fx) = step(m2, &p, Input::BackoffElapsed { at: until });
        assert_eq!(records(&fx), vec![(Status::Backoff, Status::Starting)]);
        let (m4, _) = step(m3, &p, Input::Spawned { pid: 8, at: t0 });
        m = m4;
    }
    assert_eq!(delays, vec![100, 200]);
    assert_eq!(m.restart_count, 2);
    let (m, fx) = step(
        m,
        &p,
        Input::Exited {
            exit: Exit::Code(1),
            at: t0,
            jitter: 0.0,
        },
    );
    assert_eq!(m.state, State::Fatal);
    assert_eq!(records(&fx), vec![(Status::Running, Status::Fatal)]);
    let Effect::Record(t) = &fx[0] else {
        unreachable!()
    };
    assert!(
        t.reason.contains("gave up after 2 restarts"),
        "{}",
        t.reason
    );
    assert_eq!(t.exit, Some(Exit::Code(1)));
}

#[test]
fn stable_run_resets_the_backoff() {
    let p = policy(RestartPolicy::Always, 5);
    let t0 = Instant::now();
    let mut m = running(t0);
    m.attempt = 4;
    let at = t0 + Duration::from_secs(11);
    let (m, _) = step(
        m,
        &p,
        Input::Exited {
            exit: Exit::Code(1),
            at,
            jitter: 0.0,
        },
    );
    assert_eq!(m.attempt, 1);
    let State::Backoff { until } = m.state else {
        panic!()
    };
    assert_eq!((until - at).as_millis(), 100);
}

#[test]
fn on_failure_and_never_policies() {
    let t0 = Instant::now();
    let p = policy(RestartPolicy::OnFailure, 3);
    let (m, fx) = step(
        running(t0),
        &p,
        Input::Exited {
            exit: Exit::Code(0),
            at: t0,
            jitter: 0.0,
        },
    );
    assert_eq!(
        (m.state, records(&fx)),
        (State::Exited, vec![(Status::Running, Status::Exited)])
    );
    let (m, _) = step(
        running(t0),
        &p,
        Input::Exited {
            exit: Exit::Code(2),
            at: t0,
            jitter: 0.0,
        },
    );
    assert!(matches!(m.state, State::Backoff { .. }));
    let (m, _) = step(
        running(t0),
        &p,
        Input::Exited {
            exit: Exit::Signal(Signal::SIGSEGV),
            at: t0,
            jitter: 0.0,
        },
    );
    assert!(
        matches!(m.state, State::Backoff { .. }),
        "a signal death is a failure"
    );
    let p = policy(RestartPolicy::Never, 3);
    let (m, _) = step(
        running(t0),
        &p,
        Input::Exited {
            exit: Exit::Code(1),
            at: t0,
            jitter: 0.0,
        },
    );
    assert_eq!(m.state, State::Exited);
    let p = policy(RestartPolicy::Always, 3);
    let (m, _) = step(
        running(t0),
        &p,
        Input::Exited {
            exit: Exit::Code(0),
            at: t0,
            jitter: 0.0,
        },
    );
    assert!(
        matches!(m.state, State::Backoff { .. }),
        "always restarts clean exits too"
    );
}

#[test]
fn stop_and_restart() {
    let p = policy(RestartPolicy::Always, 3);
    let t0 = Instant::now();
    let (m, fx) = step(running(t0), &p, Input::Stop);
    assert_eq!(
        m.state,
        State::Stopping {
            pid: 7,
            then: AfterStop::Stay
        }
    );
    assert!(fx.contains(&Effect::Terminate));
    let (m, fx) = step(
        m,
        &p,
        Input::TreeGone {
            exit: Some(Exit::Signal(Signal::SIGKILL)),
            killed: true,
            at: t0,
            jitter: 0.0,
        },
    );
    assert_eq!(m.state, State::Stopped);
    let Effect::Record(t) = &fx[0] else {
        unreachable!()
    };
    assert!(
        t.reason.contains("SIGKILL after stop timeout"),
        "{}",
        t.reason
    );

    let (m, _) = step(
        running(t0),
        &p,
        Input::Restart {
            reason: "restart requested".into(),
        },
    );
    assert_eq!(
        m.state,
        State::Stopping {
            pid: 7,
            then: AfterStop::Start
        }
    );
    let (m, fx) = step(
        m,
        &p,
        Input::TreeGone {
            exit: Some(Exit::Code(0)),
            killed: false,
            at: t0,
            jitter: 0.0,
        },
    );
    assert_eq!(m.state, State::Starting);
    assert_eq!(
        records(&fx),
        vec![
            (Status::Stopping, Status::Stopped),
            (Status::Stopped, Status::Starting)
        ]
    );
    assert!(fx.contains(&Effect::Spawn));
}

#[test]
fn stop_during_backoff_and_redundant_inputs() {
    let p = policy(RestartPolicy::Always, 3);
    let t0 = Instant::now();
    let backoff = Machine {
        state: State::Backoff { until: t0 },
        attempt: 1,
        restart_count: 1,
    };
    let (m, fx) = step(backoff, &p, Input::Stop);
    assert_eq!(
        (m.state, records(&fx)),
        (State::Stopped, vec![(Status::Backoff, Status::Stopped)])
    );
    // Stale wake-up after the stop does nothing.
    let (m2, fx) = step(m, &p, Input::BackoffElapsed { at: t0 });
    assert_eq!((m2, fx.len()), (m, 0));
    // Starting a running service and stopping a stopped one are no-ops.
    let (m, fx) = step(running(t0), &p, Input::Start { reason: "x".into() });
    assert_eq!((m, fx.len()), (running(t0), 0));
    let (m, fx) = step(Machine::default(), &p, Input::Stop);
    assert_eq!((m, fx.len()), (Machine::default(), 0));
    // A start while stopping turns the stop into a restart.
    let stopping = Machine {
        state: State::Stopping {
            pid: 7,
            then: AfterStop::Stay,
        },
        ..Machine::default()
    };
    let (m, _) = step(stopping, &p, Input::Start { reason: "x".into() });
    assert_eq!(
        m.state,
        State::Stopping {
            pid: 7,
            then: AfterStop::Start
        }
    );
}

#[test]
fn spawn_failure_counts_as_a_failed_run() {
    let p = policy(RestartPolicy::Always, 0);
    let t0 = Instant::now();
    let starting = Machine {
        state: State::Starting,
        ..Machine::default()
    };
    let (m, fx) = step(
        starting,
        &p,
        Input::SpawnFailed {
            error: "no such file".into(),
            at: t0,
            jitter: 0.0,
        },
    );
    assert_eq!(m.state, State::Fatal);
    assert_eq!(records(&fx), vec![(Status::Starting, Status::Fatal)]);
}

#[test]
fn unhealthy_restarts_like_a_crash_unless_policy_is_never() {
    let t0 = Instant::now();
    let p = policy(RestartPolicy::OnFailure, 3);
    let (m, fx) = step(
        running(t0),
        &p,
        Input::Failing {
            reason: "health check failed 3 times".into(),
        },
    );
    assert_eq!(
        m.state,
        State::Stopping {
            pid: 7,
            then: AfterStop::Fail
        }
    );
    assert!(fx.contains(&Effect::Terminate));
    let gone = Input::TreeGone {
        exit: Some(Exit::Signal(Signal::SIGTERM)),
        killed: false,
        at: t0,
        jitter: 0.0,
    };
    let (m, fx) = step(m, &p, gone);
    assert!(matches!(m.state, State::Backoff { .. }), "{:?}", m.state);
    assert_eq!(m.restart_count, 1);
    assert_eq!(records(&fx), vec![(Status::Stopping, Status::Backoff)]);
    let Effect::Record(t) = &fx[0] else {
        unreachable!()
    };
    assert!(
        t.reason
            .starts_with("stopped after a failure, killed by SIGTERM"),
        "{}",
        t.reason
    );

    let never = policy(RestartPolicy::Never, 3);
    let (m, fx) = step(running(t0), &never, Input::Failing { reason: "x".into() });
    assert_eq!((m, fx.len()), (running(t0), 0));
}

fn waiting(p: &Policy, t0: Instant, blocked: bool) -> (Machine, Vec<Effect>) {
    step(
        Machine::default(),
        p,
        Input::StartWaiting {
            reason: "waiting for db (healthy): db is starting".into(),
            blocked,
            at: t0,
        },
    )
}

#[test]
fn a_start_with_unready_dependencies_waits_with_a_deadline() {
    let p = policy(RestartPolicy::Always, 3);
    let t0 = Instant::now();
    let (m, fx) = waiting(&p, t0, false);
    let deadline = t0 + Duration::from_secs(60);
    assert_eq!(
        m.state,
        State::Waiting {
            deadline: Some(deadline)
        }
    );
    assert_eq!(m.state.status(), Status::Waiting);
    assert_eq!(records(&fx), vec![(Status::Stopped, Status::Waiting)]);
    assert!(fx.contains(&Effect::WakeAt(deadline)));
    assert!(!fx.contains(&Effect::Spawn));
    // Start and restart requests while waiting change nothing.
    for input in [
        Input::Start { reason: "x".into() },
        Input::Restart { reason: "x".into() },
    ] {
        let (m2, fx) = step(m, &p, input);
        assert_eq!(m2, m);
        assert!(fx.is_empty());
    }
    let (m, fx) = step(
        m,
        &p,
        Input::DepsReady {
            reason: "dependencies ready".into(),
        },
    );
    assert_eq!(m.state, State::Starting);
    assert_eq!(records(&fx), vec![(Status::Waiting, Status::Starting)]);
    assert!(fx.contains(&Effect::Spawn));
}

#[test]
fn the_wait_deadline_makes_it_fatal_with_the_reason() {
    let p = policy(RestartPolicy::Always, 3);
    let t0 = Instant::now();
    let (m, _) = waiting(&p, t0, false);
    let early = step(
        m,
        &p,
        Input::WaitElapsed {
            reason: "r".into(),
            at: t0 + Duration::from_secs(59),
        },
    );
    assert_eq!(early.0, m, "a wake-up before the deadline changes nothing");
    let (m, fx) = step(
        m,
        &p,
        Input::WaitElapsed {
            reason: "dependencies not ready after 60 s: db (healthy): db is starting".into(),
            at: t0 + Duration::from_secs(60),
        },
    );
    assert_eq!(m.state, State::Fatal);
    match &fx[..] {
        [Effect::Record(t)] => {
            assert_eq!((t.from, t.to), (Status::Waiting, Status::Fatal));
            assert!(t.reason.contains("db (healthy)"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_blocked_wait_has_no_deadline_until_unblocked() {
    let p = policy(RestartPolicy::Always, 3);
    let t0 = Instant::now();
    let (m, fx) = waiting(&p, t0, true);
    assert_eq!(m.state, State::Waiting { deadline: None });
    assert!(!fx.iter().any(|e| matches!(e, Effect::WakeAt(_))));
    let (m2, fx) = step(
        m,
        &p,
        Input::WaitElapsed {
            reason: "r".into(),
            at: t0 + Duration::from_secs(3600),
        },
    );
    assert_eq!(m2, m, "no timeout while blocked");
    assert!(fx.is_empty());
    // Still blocked: nothing recorded (no event storm).
    let (m2, fx) = step(
        m,
        &p,
        Input::DepsPending {
            reason: "r".into(),
            blocked: true,
            at: t0,
        },
    );
    assert_eq!(m2, m);
    assert!(fx.is_empty());
    // Unblocked (the dependency was started again): a whole timeout from now.
    let t1 = t0 + Duration::from_secs(500);
    let (m, fx) = step(
        m,
        &p,
        Input::DepsPending {
            reason: "db is starting".into(),
            blocked: false,
            at: t1,
        },
    );
    let deadline = t1 + Duration::from_secs(60);
    assert_eq!(
        m.state,
        State::Waiting {
            deadline: Some(deadline)
        }
    );
    assert_eq!(records(&fx), vec![(Status::Waiting, Status::Waiting)]);
    assert!(fx.contains(&Effect::WakeAt(deadline)));
    // And blocked again: the deadline goes.
    let (m, fx) = step(
        m,
        &p,
        Input::DepsPending {
            reason: "db is fatal".into(),
            blocked: true,
            at: t1,
        },
    );
    assert_eq!(m.state, State::Waiting { deadline: None });
    assert_eq!(records(&fx), vec![(Status::Waiting, Status::Waiting)]);
}

#[test]
fn stop_while_waiting_stops() {
    let p = policy(RestartPolicy::Always, 3);
    let (m, _) = waiting(&p, Instant::now(), true);
    let (m, fx) = step(m, &p, Input::Stop);
    assert_eq!(m.state, State::Stopped);
    assert_eq!(records(&fx), vec![(Status::Waiting, Status::Stopped)]);
    assert!(!fx.contains(&Effect::Terminate));
}

#[test]
fn a_lost_dependency_stops_the_run_then_waits_again() {
    let p = policy(RestartPolicy::Always, 3);
    let t0 = Instant::now();
    let (m, fx) = step(
        running(t0),
        &p,
        Input::DepsLost {
            reason: "db restarted".into(),
            at: t0,
        },
    );
    assert_eq!(
        m.state,
        State::Stopping {
            pid: 7,
            then: AfterStop::Wait
        }
    );
    assert_eq!(records(&fx), vec![(Status::Running, Status::Stopping)]);
    assert!(fx.contains(&Effect::Terminate));
    let t1 = t0 + Duration::from_secs(1);
    let (m, fx) = step(
        m,
        &p,
        Input::TreeGone {
            exit: Some(Exit::Signal(Signal::SIGTERM)),
            killed: false,
            at: t1,
            jitter: 0.0,
        },
    );
    let deadline = t1 + Duration::from_secs(60);
    assert_eq!(
        m.state,
        State::Waiting {
            deadline: Some(deadline)
        }
    );
    assert_eq!(
        records(&fx),
        vec![
            (Status::Stopping, Status::Stopped),
            (Status::Stopped, Status::Waiting)
        ]
    );
    assert!(
        !fx.contains(&Effect::Spawn),
        "it waits: no spawn before ready"
    );
    // A stop requested while the lost run stops wins: stopped, not waiting.
    let (m, _) = step(
        running(t0),
        &p,
        Input::DepsLost {
            reason: "db restarted".into(),
            at: t0,
        },
    );
    let (m, _) = step(m, &p, Input::Stop);
    let (m, _) = step(
        m,
        &p,
        Input::TreeGone {
            exit: None,
            killed: false,
            at: t1,
            jitter: 0.0,
        },
    );
    assert_eq!(m.state, State::Stopped);
}

#[test]
fn a_lost_dependency_during_backoff_waits_and_is_ignored_when_idle() {
    let p = policy(RestartPolicy::Always, 3);
    let t0 = Instant::now();
    let backoff = Machine {
        state: State::Backoff {
            until: t0 + Duration::from_secs(1),
        },
        attempt: 1,
        restart_count: 1,
    };
    let lost = Input::DepsLost {
        reason: "db restarted".into(),
        at: t0,
    };
    let (m, _) = step(backoff, &p, lost.clone());
    assert_eq!(m.state.status(), Status::Waiting);
    for idle in [State::Stopped, State::Exited, State::Fatal] {
        let m = Machine {
            state: idle,
            ..Machine::default()
        };
        let (m2, fx) = step(m, &p, lost.clone());
        assert_eq!(m2, m);
        assert!(fx.is_empty());
    }
}
