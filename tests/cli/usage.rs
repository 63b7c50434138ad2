//! Command-line usage: version, help, completions, usage errors.

use crate::harness::Test;

#[test]
fn version_prints_the_version_file() {
    let v = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/VERSION")).unwrap();
    Test::new()
        .args("--version")
        // The target triple and the git commit are baked in at build time.
        .normalize(
            r"\([a-z0-9_]+(-[a-z0-9_]+)+, commit ([0-9a-f]{12}|unknown)\)",
            "([TARGET], commit [COMMIT])",
        )
        .stdout(format!("vauto {} ([TARGET], commit [COMMIT])\n", v.trim()))
        .run();
}

#[test]
fn help_has_examples() {
    let run = Test::new().args("--help").stdout_unchecked().run();
    // The examples a user copies from --help, then the whole text (wrapped at clap's default
    // width: the harness clears COLUMNS and stdout is not a terminal).
    run.stdout_has("vauto demo-oci a1 deploy")
        .stdout_has("--replicas");
    insta::assert_snapshot!("help", run.stdout);
}

#[test]
fn sim_serve_words_and_options_are_checked_before_anything_starts() {
    for (line, err) in [
        (
            "sim",
            "error: usage: vauto sim serve kubevirt|oci [--listen 127.0.0.1:PORT] [--state-dir DIR] [--faults ...]\n",
        ),
        (
            "sim serve vmware",
            "error: unknown simulator `vmware`: expected kubevirt or oci\n",
        ),
        (
            "sim serve oci --listen 8443",
            "error: --listen `8443` is not an address with a port, e.g. 127.0.0.1:8443\n",
        ),
        (
            "sim serve kubevirt --faults lost_launch=0.1",
            "error: --faults: unknown key `lost_launch` for the kubevirt simulator; keys: throttle, error, latency\n",
        ),
        (
            "sim serve oci --faults throttle=1.5",
            "error: --faults: throttle `1.5` must be a share from 0 to 1, e.g. 0.05\n",
        ),
        ("lab sim serve oci", "error: `sim` takes no PROJECT\n"),
    ] {
        Test::new().args(line).status(2).stderr(err).run();
    }
}

#[test]
fn completions_for_each_shell() {
    for (sh, marker) in [
        ("bash", "complete -F _vauto"),
        ("zsh", "#compdef vauto"),
        ("fish", "complete -c vauto"),
    ] {
        let run = Test::new()
            .args(&format!("completions {sh}"))
            .stdout_unchecked()
            .run();
        assert!(run.stdout.contains(marker), "{sh}: {}", run.stdout);
        assert!(
            run.stdout.contains("replicas"),
            "{sh} completes the options"
        );
    }
    Test::new()
        .args("completions tcsh")
        .status(2)
        .stderr("error: unknown shell `tcsh`: expected bash, zsh or fish\n")
        .run();
}

#[test]
fn usage_errors_exit_2() {
    Test::new()
        .args("lab web")
        .status(2)
        .stderr("error: no action given: expected one of deploy, delete, status, start, stop, plan, daemon, report, validate, completions, sim, ssh, adopt\n")
        .run();
    Test::new()
        .args("lab web deplyo")
        .status(2)
        .stderr("error: unknown action `deplyo` (did you mean `deploy`?)\n")
        .run();
    Test::new()
        .args("lab deploy")
        .status(2)
        .stderr("error: `deploy` needs a project and a spec: vauto PROJECT SPEC deploy\n")
        .run();
    Test::new()
        .args("lab web deploy --parallel")
        .status(2)
        .stderr(
            "error: a value is required for '--parallel <PARALLEL>' but none was supplied\n\
             \n\
             For more information, try '--help'.\n",
        )
        .run();
}

#[test]
fn events_takes_a_count_and_goes_with_kubevirt_status() {
    for (line, err) in [
        (
            "lab web status --events x",
            "error: invalid value 'x' for '--events <N>': invalid digit found in string\n\nFor more information, try '--help'.\n",
        ),
        (
            "lab web status --events -1",
            "error: unexpected argument '-1' found\n\n  tip: to pass '-1' as a value, use '-- -1'\n\nUsage: vauto [PROJECT] [SPEC] ACTION [OPTIONS]\n       vauto --project P --spec S ACTION [OPTIONS]\n\nFor more information, try '--help'.\n",
        ),
        (
            "lab web status --events",
            "error: a value is required for '--events <N>' but none was supplied\n\nFor more information, try '--help'.\n",
        ),
        (
            "lab web deploy --events 2",
            "error: --events goes with `status`, not `deploy`\n",
        ),
        (
            "demo-oci a1 status --events 2",
            "error: --events applies to KubeVirt; `oci` keeps no events about an instance (its state and addresses are all `status` shows)\n",
        ),
    ] {
        Test::with_examples().args(line).status(2).stderr(err).run();
    }
}

#[test]
fn stop_dry_run_names_the_selector_and_contacts_nothing() {
    // The dry-run path needs no credentials and says what it would select (a delete dry
    // run reads what it would delete: tests/cli/kubevirt.rs).
    Test::with_examples()
        .args("lab web stop --dry-run")
        .stdout("dry run: `stop` would act on the resources labelled v-auto/managed=true,v-auto/project=lab,v-auto/spec=web (nothing was contacted)\n")
        .run();
}
