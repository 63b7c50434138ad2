//! Notifications received by a real local HTTP receiver, and `vauto daemon` end to end on the
//! OCI simulator: a scheduled stop fires, stops the instance and notifies.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use serde_json::Value;
use vauto::sim::oci::{AdCapacity, CapacityModel};

use crate::harness::{Cmd, Run, Test};
use crate::oci::{Env, SPEC};

/// Every secret in the test configs contains this; no output line may.
const MARK: &str = "SECRET";
const TG_TOKEN: &str = "123456:SECRETTG";

#[derive(Clone, Copy)]
enum Mode {
    Ok,
    Fail,
    Hang,
}

/// A webhook receiver on 127.0.0.1 that records (path, JSON body) of every POST.
struct Receiver {
    addr: String,
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    fn start(mode: Mode) -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let g = got.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut s) = conn else { continue };
                let g = g.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, len) = loop {
                        let n = s.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                    };
                    while buf.len() < head_end + len {
                        let n = s.read(&mut chunk).unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                    g.lock().unwrap().push((path, body));
                    let resp: &[u8] = match mode {
                        Mode::Ok => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                        Mode::Fail => {
                            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
                        }
                        Mode::Hang => {
                            std::thread::sleep(Duration::from_secs(120));
                            return;
                        }
                    };
                    let _ = s.write_all(resp);
                });
            }
        });
        Receiver { addr, got }
    }

    fn got(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap().clone()
    }

    /// Bodies posted to paths starting with `prefix`.
    fn bodies(&self, prefix: &str) -> Vec<Value> {
        self.got()
            .into_iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, b)| b)
            .collect()
    }

    fn wait_for(&self, what: impl Fn(&[(String, Value)]) -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            if what(&self.got()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

/// The `notify:` section sending to all four services at `addr`.
fn notify_yaml(addr: &str, extra: &str) -> String {
    format!(
        "notify:
  slack: http://{addr}/slack/T0/{MARK}SLACK
  discord: http://{addr}/discord/{MARK}DISCORD
  webhook: http://{addr}/hook/{MARK}HOOK
  telegram: {{token: \"{TG_TOKEN}\", chat_id: \"42\"}}
{extra}"
    )
}

/// `line` in `env` with the Telegram API pointed at the local receiver. Timing decides much
/// of what the daemon prints, so these tests read the streams themselves.
fn run_tg<'a>(env: &'a Env, line: &str, telegram_api: &str) -> Cmd<'a> {
    env.t
        .cmd(line)
        .env("VAUTO_TELEGRAM_API", telegram_api)
        .stdout_unchecked()
        .stderr_unchecked()
}

/// The shared OCI test environment with `capacity` and `notify` in project `p`.
fn env(capacity: CapacityModel, notify: &str) -> Env {
    Env::with(
        |o| {
            o.provision_delay = Duration::from_millis(200);
            o.transition_delay = Duration::from_millis(200);
            o.seed = 3;
            o.capacity = capacity;
        },
        notify,
    )
}

fn no_secret(run: &Run) {
    for line in run.stdout.lines().chain(run.stderr.lines()) {
        assert!(!line.contains(MARK), "a secret leaked: {line}");
    }
}

fn busy(n: u64) -> AdCapacity {
    AdCapacity {
        free_after_attempts: n,
        ..AdCapacity::default()
    }
}

#[test]
fn a_capacity_hunt_notifies_start_every_n_attempts_and_success_in_each_services_shape() {
    let rx = Receiver::start(Mode::Ok);
    let capacity = CapacityModel {
        default: busy(1),
        ..CapacityModel::default()
    };
    let env = env(
        capacity,
        &notify_yaml(
            &rx.addr,
            "  every_n_attempts: 2\n  events: [run_started, attempts, success, failed]\n",
        ),
    );
    let run = run_tg(&env, "p s deploy -v", &format!("http://{}", rx.addr)).run();
    run.stdout_has("[SUCCESS] Instance s-01: launched");
    no_secret(&run);

    let slack = rx.bodies("/slack/T0/SECRETSLACK");
    let texts: Vec<&str> = slack.iter().filter_map(|b| b["text"].as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t
                .starts_with("vauto p/s: deploy started: 1 x VM.Standard.A1.Flex 2 OCPU/12 GB")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("still trying `s-01`: attempt 2 failed (capacity")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("`s-01` launched")),
        "{texts:?}"
    );

    let discord = rx.bodies("/discord/SECRETDISCORD");
    assert_eq!(discord.len(), slack.len());
    assert!(
        discord.iter().all(|b| b["content"].is_string()),
        "{discord:?}"
    );

    let tg = rx.bodies(&format!("/bot{TG_TOKEN}/sendMessage"));
    assert_eq!(tg.len(), slack.len(), "{:?}", rx.got());
    assert!(
        tg.iter()
            .all(|b| b["chat_id"] == "42" && b["text"].is_string())
    );

    let hooks = rx.bodies("/hook/SECRETHOOK");
    let success = hooks
        .iter()
        .find(|b| b["event"] == "success")
        .expect("a success event");
    assert_eq!(success["project"], "p");
    assert_eq!(success["spec"], "s");
    assert_eq!(success["instance"], "s-01");
    assert_eq!(success["simulated"], false);
    assert!(
        success["details"]["id"]
            .as_str()
            .unwrap()
            .starts_with("ocid1.instance")
    );
    assert!(success["time"].is_string());
    let events: Vec<&str> = hooks.iter().filter_map(|b| b["event"].as_str()).collect();
    assert!(
        events.contains(&"run_started") && events.contains(&"attempts"),
        "{events:?}"
    );
}

#[test]
fn a_failing_or_hanging_receiver_neither_fails_nor_holds_the_run() {
    let hang = Receiver::start(Mode::Hang);
    let fail = Receiver::start(Mode::Fail);
    // The telegram API base points at a closed port: connection refused.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let notify = format!(
        "notify:
  slack: http://{}/slack/{MARK}
  webhook: http://{}/hook/{MARK}
  telegram: {{token: \"{TG_TOKEN}\", chat_id: \"42\"}}
",
        hang.addr, fail.addr
    );
    let env = env(CapacityModel::default(), &notify);
    let started = Instant::now();
    let run = run_tg(&env, "p s deploy -v", &format!("http://{closed}")).run();
    let took = started.elapsed();
    run.stdout_has("[SUCCESS] Instance s-01: launched");
    no_secret(&run);
    // The receivers were asked (so the run did try), and the hang cost at most the flush
    // timeout, not the receiver's two minutes.
    assert!(!hang.got().is_empty() && !fail.got().is_empty());
    assert!(took < Duration::from_secs(60), "run took {took:?}");
    // A 500 is retried (bounded): the same note arrives more than once, fewer than ten times.
    let first = fail.got()[0].1["event"].clone();
    let tries = fail
        .got()
        .iter()
        .filter(|(_, b)| b["event"] == first)
        .count();
    assert!((2..10).contains(&tries), "{tries} tries");
}

#[test]
fn the_daemon_runs_a_scheduled_stop_notifies_and_stops_cleanly_on_sigterm() {
    let rx = Receiver::start(Mode::Ok);
    let env = env(CapacityModel::default(), &notify_yaml(&rx.addr, ""));
    let api = format!("http://{}", rx.addr);
    run_tg(&env, "p s deploy --wait", &api).run();
    // Every fourth second, with seconds: the first fire comes right after the daemon starts.
    env.t.put(
        "specs/s.yaml",
        &format!("{SPEC}schedules:\n  - {{cron: \"*/4 * * * * *\", action: stop, timezone: Asia/Seoul}}\n"),
    );
    let bin = assert_cmd::cargo::cargo_bin("vauto");
    let child = std::process::Command::new(bin)
        .args(["daemon", "--wait"])
        .current_dir(env.t.path())
        .env("HOME", env.t.path())
        .env("VAUTO_TELEGRAM_API", &api)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let fired = rx.wait_for(|got| {
        got.iter()
            .any(|(p, b)| p.starts_with("/hook/") && b["event"] == "scheduled")
    });
    // A second daemon on the same state directory would run every schedule twice.
    run_tg(&env, "daemon --once", &api)
        .status(3)
        .run()
        .stderr_has("daemon-all.lock");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        raw_stdout: stdout.clone(),
        raw_stderr: stderr.clone(),
        stdout,
        stderr,
    };
    assert!(
        fired,
        "no scheduled notification\n{}\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout_has("p/s: scheduled stop (cron `*/4 * * * * *`, Asia/Seoul)")
        .stdout_has("p/s: scheduled stop done")
        .stdout_has("[SUCCESS] Instance s-01: stopped")
        .stdout_has("daemon stopped");
    no_secret(&run);
    let hook = rx
        .bodies("/hook/")
        .into_iter()
        .find(|b| b["event"] == "scheduled")
        .unwrap();
    assert_eq!(hook["details"]["result"], "ok");
    assert_eq!(hook["details"]["action"], "stop");
    assert!(rx.bodies("/slack/").iter().any(|b| {
        b["text"]
            .as_str()
            .is_some_and(|t| t.contains("scheduled stop done"))
    }));
    run_tg(&env, "p s status", &api).run().stdout_has("STOPPED");
}

/// A six-field cron for the wall-clock second `t` (UTC).
fn at(t: chrono::DateTime<Utc>) -> String {
    format!("{} {} {} * * *", t.second(), t.minute(), t.hour())
}

#[test]
fn once_runs_what_is_due_since_the_last_run_and_skips_missed_runs_unless_catch_up() {
    let rx = Receiver::start(Mode::Ok);
    let env = env(CapacityModel::default(), "");
    let api = format!("http://{}", rx.addr);
    run_tg(&env, "p s deploy --wait", &api).run();

    // Due ten seconds ago: the first --once runs it, the second finds nothing new.
    let cron = at(Utc::now() - chrono::Duration::seconds(10));
    env.t.put(
        "specs/s.yaml",
        &format!("{SPEC}schedules:\n  - {{cron: \"{cron}\", action: stop}}\n"),
    );
    // --wait passes on to the action: the stop waits for STOPPED.
    run_tg(&env, "daemon --once --wait", &api)
        .run()
        .stdout_has("p/s: scheduled stop done");
    let again = run_tg(&env, "daemon --once", &api).run();
    again.stdout_has("nothing due");
    assert!(!again.stdout.contains("scheduled stop"), "{}", again.stdout);

    // A start due an hour ago, last looked at two hours ago: vauto was down, so it is missed.
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    let cron = at(hour_ago);
    let key = format!("p/s/0/start/{cron}");
    let state = env.t.path().join(".vauto/daemon/last-runs.json");
    let two_hours_ago = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let write_state = || {
        let mut m = BTreeMap::new();
        m.insert(key.clone(), two_hours_ago.clone());
        std::fs::write(&state, serde_json::to_string(&m).unwrap()).unwrap();
    };
    write_state();
    env.t.put(
        "specs/s.yaml",
        &format!("{SPEC}schedules:\n  - {{cron: \"{cron}\", action: start}}\n"),
    );
    let missed = run_tg(&env, "daemon --once", &api).run();
    missed
        .stdout_has("missed the run at")
        .stdout_has("not replayed");
    assert!(
        !missed.stdout.contains("scheduled start"),
        "{}",
        missed.stdout
    );
    run_tg(&env, "p s status", &api).run().stdout_has("STOPPED");

    // With catch_up: true the missed start runs once.
    write_state();
    env.t.put(
        "specs/s.yaml",
        &format!("{SPEC}schedules:\n  - {{cron: \"{cron}\", action: start, catch_up: true}}\n"),
    );
    run_tg(&env, "daemon --once", &api)
        .run()
        .stdout_has("catching up the run missed at")
        .stdout_has("p/s: scheduled start done");
}

#[test]
fn daemon_takes_a_project_filter_and_rejects_an_unknown_one() {
    let t = Test::new()
        .file(
            "projects/p.yaml",
            "provider: oci\nsim: true\noci: {subnet: s}\n",
        )
        .file("specs/s.yaml", SPEC);
    t.cmd("daemon --project nope --once")
        .status(2)
        .stderr("error: [DIR]/projects: unknown project `nope`: no projects/nope.yaml; known: p\n")
        .run();
    t.cmd("daemon --project p --once")
        .normalize(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", "[NOW] ")
        .stdout("[NOW] nothing due\n")
        .run();
}

#[test]
fn default_events_send_launches_and_done_notes_but_no_start_attempt_or_capacity_miss() {
    let rx = Receiver::start(Mode::Ok);
    let env = env(
        CapacityModel {
            default: busy(2),
            ..CapacityModel::default()
        },
        &notify_yaml(&rx.addr, ""),
    );
    let api = format!("http://{}", rx.addr);
    let hook_events = || -> Vec<String> {
        rx.bodies("/hook/")
            .iter()
            .map(|b| {
                format!(
                    "{}: {}",
                    b["event"].as_str().unwrap_or(""),
                    b["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    // A cron run that finds no capacity: not `failed`, and no start note either.
    run_tg(&env, "p s deploy --max-attempts 1", &api)
        .status(1)
        .run();
    assert_eq!(hook_events(), Vec::<String>::new());
    // Capacity turns up: only the launch is told.
    run_tg(&env, "p s deploy --wait", &api).run();
    let got = hook_events();
    assert!(
        !got.is_empty() && got.iter().all(|e| e.starts_with("success: `s-01` ")),
        "{got:?}"
    );
    let before = got.len();
    // Nothing to do: nothing sent.
    run_tg(&env, "p s deploy", &api).run();
    assert_eq!(hook_events().len(), before, "{:?}", hook_events());
    // A manual stop says it is done.
    run_tg(&env, "p s stop --wait", &api).run();
    assert_eq!(
        hook_events().get(before..).map(<[String]>::to_vec),
        Some(vec!["success: stop done: s-01 stopped".to_string()])
    );
}

#[test]
fn a_missed_schedule_reaches_the_receivers_and_the_log_file() {
    let rx = Receiver::start(Mode::Ok);
    let env = env(CapacityModel::default(), &notify_yaml(&rx.addr, ""));
    let api = format!("http://{}", rx.addr);
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    let cron = at(hour_ago);
    let key = format!("p/s/0/start/{cron}");
    let mut m = BTreeMap::new();
    m.insert(key, (Utc::now() - chrono::Duration::hours(2)).to_rfc3339());
    std::fs::create_dir_all(env.t.path().join(".vauto/daemon")).unwrap();
    std::fs::write(
        env.t.path().join(".vauto/daemon/last-runs.json"),
        serde_json::to_string(&m).unwrap(),
    )
    .unwrap();
    env.t.put(
        "specs/s.yaml",
        &format!("{SPEC}schedules:\n  - {{cron: \"{cron}\", action: start}}\n"),
    );
    let run = run_tg(&env, "daemon --once", &api).run();
    run.stdout_has("p/s start: missed the run at");
    no_secret(&run);
    let hook = rx
        .bodies("/hook/")
        .into_iter()
        .find(|b| b["event"] == "scheduled")
        .expect("a scheduled note");
    assert_eq!(hook["details"]["result"], "missed");
    let message = hook["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("scheduled start missed at ")
            && message.ends_with(&format!("(cron `{cron}`, UTC): not run")),
        "{message}"
    );
    let logs: String = std::fs::read_dir(env.t.path().join("logs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(logs.contains("p/s start: missed the run at"), "{logs}");
}

#[test]
fn notify_events_accepts_the_six_events_and_refuses_others_or_none() {
    let project = |events: &str| {
        format!(
            "provider: oci\nsim: true\noci: {{subnet: s}}\nnotify:\n  webhook: http://127.0.0.1:9/h\n  events: {events}\n"
        )
    };
    Test::new()
        .file(
            "projects/p.yaml",
            &project("[run_started, attempts, success, failed, scheduled, daily_report]"),
        )
        .args("validate")
        .stdout_unchecked()
        .run();
    Test::new()
        .file("projects/p.yaml", &project("[success, deploy_started]"))
        .args("validate")
        .status(2)
        .stderr("error: [DIR]/projects/p.yaml:6:21: `notify.events[1]`: unknown variant `deploy_started`, expected one of `run_started`, `attempts`, `success`, `failed`, `scheduled`, `daily_report`\n")
        .run();
    Test::new()
        .file("projects/p.yaml", &project("[]"))
        .args("validate")
        .status(2)
        .stderr("error: [DIR]/projects/p.yaml:6:3: `notify.events`: is empty: no note would ever be sent (remove the receivers, or list events)\n")
        .run();
}

/// What a run of `vauto daemon` (a child killed with SIGTERM) printed, read from files.
fn daemon_until(env: &Env, args: &[&str], api: &str, done: impl Fn(&str) -> bool) -> String {
    let out_path = env.t.path().join("daemon.out");
    let out = std::fs::File::create(&out_path).unwrap();
    let err = std::fs::File::create(env.t.path().join("daemon.err")).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("vauto"))
        .args(args)
        .current_dir(env.t.path())
        .env("HOME", env.t.path())
        .env("VAUTO_TELEGRAM_API", api)
        .env_remove("RUST_LOG")
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(90);
    while Instant::now() < until && !done(&std::fs::read_to_string(&out_path).unwrap_or_default()) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::fs::read_to_string(&out_path).unwrap_or_default()
}

/// Lines of `text` without the daemon's leading `2026-12-01T18:00:00Z ` time.
fn untimed(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ").unwrap();
    text.lines()
        .map(|l| re.replace(l, "").into_owned())
        .collect()
}

#[test]
fn a_hunt_pass_without_capacity_is_not_failed_and_its_attempts_go_on() {
    let rx = Receiver::start(Mode::Ok);
    let env = env(
        CapacityModel {
            default: busy(1000),
            ..CapacityModel::default()
        },
        &notify_yaml(&rx.addr, ""),
    );
    let api = format!("http://{}", rx.addr);
    env.t.put("specs/s.yaml", &format!("{SPEC}hunt: true\n"));
    // Two attempts a pass: the second pass goes on from the first's numbers.
    let out = daemon_until(&env, &["daemon", "--max-attempts", "2"], &api, |o| {
        o.matches("still hunting").count() >= 2
    });
    let lines = untimed(&out);
    let took = regex::Regex::new(r"in \d+\.\ds$").unwrap();
    for want in [
        "[SKIPPED] Instance s-01: no capacity yet (attempt 2); the hunt goes on",
        "deploy: 1 instance: 1 no capacity yet in [T]",
        "p/s: still hunting: no capacity yet; next pass in turn",
        "[SKIPPED] Instance s-01: no capacity yet (attempt 4); the hunt goes on",
    ] {
        assert!(
            lines.iter().any(|l| took.replace(l, "in [T]") == want),
            "no line `{want}` in\n{out}"
        );
    }
    assert!(!out.contains("[FAILED]"), "{out}");
    let events: Vec<String> = rx
        .bodies("/hook/")
        .iter()
        .filter_map(|b| b["event"].as_str().map(str::to_string))
        .collect();
    assert!(!events.iter().any(|e| e == "failed"), "{events:?}");
}

#[test]
fn a_scheduled_deploy_without_capacity_is_no_capacity_yet_and_a_manual_one_fails() {
    let rx = Receiver::start(Mode::Ok);
    let env = env(
        CapacityModel {
            default: busy(1000),
            ..CapacityModel::default()
        },
        &notify_yaml(&rx.addr, ""),
    );
    let api = format!("http://{}", rx.addr);
    let schedule = |cron: &str| {
        env.t.put(
            "specs/s.yaml",
            &format!("{SPEC}schedules:\n  - {{cron: \"{cron}\", action: deploy}}\n"),
        );
    };
    let first = at(Utc::now() - chrono::Duration::seconds(10));
    schedule(&first);
    let run = run_tg(&env, "daemon --once --max-attempts 2", &api).run();
    let lines = untimed(&run.stdout);
    for want in [
        format!("p/s: scheduled deploy (cron `{first}`, UTC)"),
        "[SKIPPED] Instance s-01: no capacity yet (attempt 2); the hunt goes on".to_string(),
        "p/s: scheduled deploy found no capacity yet; the next run goes on".to_string(),
    ] {
        assert!(lines.contains(&want), "no line `{want}` in\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("[FAILED]"), "{}", run.stdout);
    let notes = rx.bodies("/hook/");
    let scheduled: Vec<&Value> = notes.iter().filter(|b| b["event"] == "scheduled").collect();
    assert_eq!(scheduled.len(), 1, "{notes:?}");
    assert_eq!(scheduled[0]["details"]["result"], "no_capacity");
    assert_eq!(
        scheduled[0]["message"],
        format!(
            "scheduled deploy found no capacity yet; the next run goes on (cron `{first}`, UTC)"
        )
    );
    assert!(!notes.iter().any(|b| b["event"] == "failed"), "{notes:?}");

    // The next scheduled run goes on numbering from the journal.
    let second = at(Utc::now() - chrono::Duration::seconds(5));
    schedule(&second);
    let run = run_tg(&env, "daemon --once --max-attempts 2", &api).run();
    assert!(
        untimed(&run.stdout).contains(
            &"[SKIPPED] Instance s-01: no capacity yet (attempt 4); the hunt goes on".to_string()
        ),
        "{}",
        run.stdout
    );

    // A manual deploy that runs out of attempts has failed, and cron sees exit 1.
    env.t
        .cmd("p s deploy --max-attempts 1")
        .status(1)
        .stdout_unchecked()
        .stderr_unchecked()
        .run()
        .stdout_has("[FAILED] Instance s-01: gave up after 1 attempt, last: ");
}

#[test]
fn the_daily_report_says_last_24_h_with_hours_in_the_project_zone() {
    let rx = Receiver::start(Mode::Ok);
    let tz: chrono_tz::Tz = "Asia/Seoul".parse().unwrap();
    let due = (Utc::now() - chrono::Duration::seconds(10)).with_timezone(&tz);
    let cron = format!("{} {} {} * * *", due.second(), due.minute(), due.hour());
    let env = env(
        CapacityModel::default(),
        &format!(
            "notify:\n  webhook: http://{}/hook/{MARK}HOOK\n  daily_report: \"{cron}\"\n  timezone: Asia/Seoul\n",
            rx.addr
        ),
    );
    let api = format!("http://{}", rx.addr);
    // One launch: what the report counts.
    env.t
        .cmd("p s deploy")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    let landed = Utc::now().with_timezone(&tz).hour();
    let run = run_tg(&env, "daemon --once", &api).run();
    run.stdout_has("p: daily report");
    no_secret(&run);
    let report = rx
        .bodies("/hook/")
        .into_iter()
        .find(|b| b["event"] == "daily_report")
        .expect("a daily_report note");
    let text = report["message"].as_str().unwrap_or_default().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "vauto, last 24 h: 1 attempt, 0 capacity errors, 0 throttled, 0 other errors, 1 launched"
        ),
        "{text}"
    );
    let spec_line = regex::Regex::new(
        r"^- p/s: 1 attempt, 1 launched \(median \d+(\.\d+)?s from first attempt\)$",
    )
    .unwrap();
    assert!(
        lines.get(1).is_some_and(|l| spec_line.is_match(l)),
        "{text}"
    );
    assert_eq!(
        lines.get(2).copied(),
        Some(
            format!("launches landed at {landed:02}:00 Asia/Seoul in SIM-REGION-1-AD-1 (1)")
                .as_str()
        ),
        "{text}"
    );
}
