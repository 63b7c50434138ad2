//! The journal, `vauto report` and the log files, through the binary against the OCI simulator.

use std::collections::BTreeMap;
use std::time::Duration;

use vauto::sim::oci::{AdCapacity, CapacityModel};

use crate::harness::Test;
use crate::oci::Env;

const SECRET: &str = "T0PSECRET-hook-4f9a2c";

/// The shared OCI test environment, with every AD answering "Out of host capacity" once.
fn env(project_extra: &str) -> Env {
    let busy = AdCapacity {
        free_after_attempts: 1,
        ..AdCapacity::default()
    };
    Env::with(
        |o| {
            o.provision_delay = Duration::from_millis(200);
            o.transition_delay = Duration::from_millis(200);
            o.capacity = CapacityModel {
                per_ad: BTreeMap::from([
                    ("AD-1".into(), busy.clone()),
                    ("AD-2".into(), busy.clone()),
                    ("AD-3".into(), busy),
                ]),
                ..CapacityModel::default()
            };
        },
        project_extra,
    )
}

#[test]
fn report_json_after_a_capacity_hunt_shows_errors_per_ad_and_the_launch() {
    let env = env("");
    env.t
        .cmd("p s deploy")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    let run = env.t.cmd("report -o json").stdout_unchecked().run();
    let r: serde_json::Value = serde_json::from_str(&run.raw_stdout).unwrap();
    // One full round of three "Out of host capacity" answers, then a launch in the first AD.
    assert_eq!(r["total"]["attempts"], 4, "{r:#}");
    assert_eq!(r["total"]["capacity"], 3, "{r:#}");
    assert_eq!(r["total"]["successes"], 1, "{r:#}");
    assert_eq!(r["malformed_lines"], 0);
    let spec = &r["specs"][0];
    assert_eq!(
        (spec["project"].as_str(), spec["spec"].as_str()),
        (Some("p"), Some("s"))
    );
    assert_eq!(spec["time_to_success"]["launches"], 1);
    let ads = r["ads"].as_array().unwrap();
    assert_eq!(ads.len(), 3, "{r:#}");
    let launched: Vec<&str> = ads
        .iter()
        .filter(|a| a["successes"] == 1)
        .map(|a| a["ad"].as_str().unwrap())
        .collect();
    assert_eq!(launched.len(), 1);
    assert!(launched[0].ends_with("AD-1"), "{launched:?}");
    assert!(ads.iter().all(|a| a["capacity"] == 1), "{r:#}");
    // The hour-of-day table has the current hour with every AD in it.
    let hours = r["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 1, "{r:#}");
    assert_eq!(hours[0]["ads"].as_object().unwrap().len(), 3);

    // Filters: the spec by name (positional after the word), and an unknown project.
    let run = env
        .t
        .cmd("report p s")
        // The window ends now, and the hour-of-day table has the current hour (same widths).
        .normalize(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "YYYY-MM-DD hh:mm UTC")
        .normalize(r"│ \d\d:00 ", "│ hh:00 ")
        // The median time to success is the 1s retry interval plus the simulator's delays;
        // its column is 24 wide (the header's width), which the padding keeps.
        .normalize(r"┆ \d{1,2}s +│", "┆ [T]                      │")
        .stdout_unchecked()
        .run();
    run.stdout_has("p/s")
        .stdout_has("capacity errors / launches by hour");
    insta::assert_snapshot!("report", run.stdout);
    let run = env.t.cmd("report other -o json").stdout_unchecked().run();
    let r: serde_json::Value = serde_json::from_str(&run.raw_stdout).unwrap();
    assert_eq!(r["total"]["attempts"], 0);
    // A window that starts in the future holds nothing.
    let run = env
        .t
        .cmd("report --since 2999-01-01 -o json")
        .stdout_unchecked()
        .run();
    let r: serde_json::Value = serde_json::from_str(&run.raw_stdout).unwrap();
    assert_eq!(r["specs"].as_array().unwrap().len(), 0);
}

#[test]
fn report_rejects_a_bad_since_and_skips_malformed_lines() {
    let t = Test::new().file(
        ".vauto/journal.jsonl",
        "garbage\n{\"ts\":\"2999-01-01T00:00:00.000Z\",\"event\":\"attempt\",\"project\":\"p\",\"spec\":\"s\",\"instance\":\"s-01\",\"ad\":\"AD-1\",\"outcome\":\"capacity\",\"duration_ms\":5}\n",
    );
    t.cmd("report --since yesterday")
        .status(2)
        .stderr("error: invalid --since `yesterday`: expected a duration like `24h` or `7d`, or a date like `2026-11-01`\n")
        .run();
    // The line dated 2999 is counted: the window has a start and no end.
    t.cmd("report --since 7d")
        .normalize(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "YYYY-MM-DD hh:mm UTC")
        .stdout(
            "\
journal report from YYYY-MM-DD hh:mm UTC to YYYY-MM-DD hh:mm UTC
skipped 1 malformed line(s) of 2
┌──────────────┬──────────┬──────────┬───────────┬──────────────┬──────────┬────────┬──────────────────────────┐
│ PROJECT/SPEC ┆ ATTEMPTS ┆ CAPACITY ┆ THROTTLED ┆ OTHER ERRORS ┆ LAUNCHED ┆ FAILED ┆ TIME TO SUCCESS (MEDIAN) │
╞══════════════╪══════════╪══════════╪═══════════╪══════════════╪══════════╪════════╪══════════════════════════╡
│ p/s          ┆ 1        ┆ 1        ┆ 0         ┆ 0            ┆ 0        ┆ 0      ┆ -                        │
└──────────────┴──────────┴──────────┴───────────┴──────────────┴──────────┴────────┴──────────────────────────┘
┌───────────┬──────────┬──────────┬───────────┬──────────────┬──────────┐
│ AD / NODE ┆ ATTEMPTS ┆ CAPACITY ┆ THROTTLED ┆ OTHER ERRORS ┆ LAUNCHED │
╞═══════════╪══════════╪══════════╪═══════════╪══════════════╪══════════╡
│ AD-1      ┆ 1        ┆ 1        ┆ 0         ┆ 0            ┆ 0        │
└───────────┴──────────┴──────────┴───────────┴──────────────┴──────────┘
capacity errors / launches by hour of day:
┌────────────┬───────┐
│ HOUR (UTC) ┆ AD-1  │
╞════════════╪═══════╡
│ 00:00      ┆ 1 / 0 │
└────────────┴───────┘
",
        )
        .run();
}

#[test]
fn secrets_stay_out_of_logs_and_journal_and_old_logs_are_pruned() {
    let env = env(
        "notify: {webhook: \"http://127.0.0.1:9/hooks/${VAUTO_TEST_HOOK}\"}\nlogs: {dir: mylogs, keep_days: 7}\n",
    );
    env.t.put("mylogs/2020-01-01.log", "old\n");
    env.t.put("mylogs/keep-me.txt", "not a log\n");
    // Run the deploy with the secret in the environment and debug logging for vauto.
    let t = &env.t;
    let vauto = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("vauto")
            .unwrap()
            .current_dir(t.path())
            .args(args)
            .env("HOME", t.path())
            .env("VAUTO_TEST_HOOK", SECRET)
            .env_remove("RUST_LOG")
            .env_remove("VAUTO_STATE_DIR")
            .env_remove("VAUTO_CONFIG_DIR")
            .output()
            .unwrap()
    };
    let out = vauto(&["p", "s", "deploy", "-v"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let today = chrono::Utc::now().format("%Y-%m-%d.log").to_string();
    let log = std::fs::read_to_string(t.path().join("mylogs").join(&today)).unwrap();
    assert!(log.contains("attempt 1"), "{log}");
    assert!(log.contains("capacity"), "{log}");
    let journal = std::fs::read_to_string(t.path().join(".vauto/journal.jsonl")).unwrap();
    assert!(journal.lines().count() >= 5, "{journal}");
    for (what, text) in [
        ("log file", log.as_str()),
        ("journal", journal.as_str()),
        ("stdout", &String::from_utf8_lossy(&out.stdout)),
        ("stderr", &String::from_utf8_lossy(&out.stderr)),
    ] {
        assert!(
            !text.contains(SECRET),
            "the secret leaked into the {what}:\n{text}"
        );
        assert!(
            !text.contains("/hooks/"),
            "the webhook URL leaked into the {what}:\n{text}"
        );
    }
    assert!(!t.path().join("mylogs/2020-01-01.log").exists());
    assert!(t.path().join("mylogs/keep-me.txt").exists());

    // --log-dir overrides logs.dir.
    let other = t.path().join("elsewhere");
    let other_arg = other.display().to_string();
    let out = vauto(&["p", "s", "status", "--log-dir", &other_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(other.join(&today).is_file());
}

#[test]
fn a_torn_journal_line_keeps_the_next_record_whole_and_report_counts_it() {
    let env = Env::with(|_| {}, "");
    // A record cut short by a crash or a full disk: no closing brace, no newline.
    let torn = "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":\"attempt\",\"proj";
    env.t.put(".vauto/journal.jsonl", torn);
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr(crate::oci::IMAGE_NOTE)
        .run();
    let journal = std::fs::read_to_string(env.t.path().join(".vauto/journal.jsonl")).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    assert_eq!(
        lines[0], torn,
        "the torn line is left as it was:\n{journal}"
    );
    // The attempt and the result each parse as a whole record on a line of their own.
    assert_eq!(lines.len(), 3, "{journal}");
    for l in &lines[1..] {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["instance"], "s-01", "{l}");
    }
    let run = env.t.cmd("report -o json").stdout_unchecked().run();
    let r: serde_json::Value = serde_json::from_str(&run.raw_stdout).unwrap();
    assert_eq!(r["lines_read"], 3, "{r:#}");
    assert_eq!(r["malformed_lines"], 1, "{r:#}");
    assert_eq!(r["total"]["attempts"], 1, "{r:#}");
    assert_eq!(r["total"]["successes"], 1, "{r:#}");
}

#[test]
fn report_of_a_project_tells_hours_in_its_notify_timezone() {
    let t = Test::new()
        .file(
            "projects/p.yaml",
            "provider: oci\nsim: true\noci: {subnet: s}\nnotify: {timezone: Asia/Seoul}\n",
        )
        .file(
            ".vauto/journal.jsonl",
            "{\"ts\":\"2999-01-01T00:00:00.000Z\",\"event\":\"attempt\",\"project\":\"p\",\"spec\":\"s\",\"instance\":\"s-01\",\"ad\":\"AD-1\",\"outcome\":\"capacity\",\"duration_ms\":5}\n",
        );
    // Midnight UTC is 09:00 in Seoul (UTC+9 all year).
    t.cmd("report p --since 7d")
        .normalize(
            r"\d{4}-\d\d-\d\d \d\d:\d\d Asia/Seoul",
            "YYYY-MM-DD hh:mm Asia/Seoul",
        )
        .stdout(
            "\
journal report from YYYY-MM-DD hh:mm Asia/Seoul to YYYY-MM-DD hh:mm Asia/Seoul
┌──────────────┬──────────┬──────────┬───────────┬──────────────┬──────────┬────────┬──────────────────────────┐
│ PROJECT/SPEC ┆ ATTEMPTS ┆ CAPACITY ┆ THROTTLED ┆ OTHER ERRORS ┆ LAUNCHED ┆ FAILED ┆ TIME TO SUCCESS (MEDIAN) │
╞══════════════╪══════════╪══════════╪═══════════╪══════════════╪══════════╪════════╪══════════════════════════╡
│ p/s          ┆ 1        ┆ 1        ┆ 0         ┆ 0            ┆ 0        ┆ 0      ┆ -                        │
└──────────────┴──────────┴──────────┴───────────┴──────────────┴──────────┴────────┴──────────────────────────┘
┌───────────┬──────────┬──────────┬───────────┬──────────────┬──────────┐
│ AD / NODE ┆ ATTEMPTS ┆ CAPACITY ┆ THROTTLED ┆ OTHER ERRORS ┆ LAUNCHED │
╞═══════════╪══════════╪══════════╪═══════════╪══════════════╪══════════╡
│ AD-1      ┆ 1        ┆ 1        ┆ 0         ┆ 0            ┆ 0        │
└───────────┴──────────┴──────────┴───────────┴──────────────┴──────────┘
capacity errors / launches by hour of day:
┌───────────────────┬───────┐
│ HOUR (Asia/Seoul) ┆ AD-1  │
╞═══════════════════╪═══════╡
│ 09:00             ┆ 1 / 0 │
└───────────────────┴───────┘
",
        )
        .run();
}
