//! Command-line usage: version, help, completions, usage errors.

use crate::harness::Test;

#[test]
fn version_prints_the_version_file() {
    let v = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/VERSION")).unwrap();
    Test::new()
        .args("--version")
        .run()
        .code(0)
        .stdout_has(v.trim());
}

#[test]
fn help_has_examples() {
    Test::new()
        .args("--help")
        .run()
        .code(0)
        .stdout_has("vauto demo-oci a1 deploy")
        .stdout_has("--replicas");
}

#[test]
fn completions_for_each_shell() {
    for sh in ["bash", "zsh", "fish"] {
        let r = Test::new().args(&format!("completions {sh}")).run();
        r.code(0);
        assert!(r.stdout.contains("vauto"), "{sh}");
    }
    Test::new()
        .args("completions tcsh")
        .run()
        .code(2)
        .stderr_has("unknown shell `tcsh`");
}

#[test]
fn usage_errors_exit_2() {
    Test::new()
        .args("lab web")
        .run()
        .code(2)
        .stderr_has("no action given");
    Test::new()
        .args("lab web deplyo")
        .run()
        .code(2)
        .stderr_has("did you mean `deploy`?");
    Test::new()
        .args("lab deploy")
        .run()
        .code(2)
        .stderr_has("needs a project and a spec");
    Test::new().args("lab web deploy --parallel").run().code(2);
}

#[test]
fn delete_without_a_terminal_or_yes_is_refused_before_touching_anything() {
    // The dry-run path needs no credentials and says what it would select.
    Test::with_examples()
        .args("lab web delete --dry-run")
        .run()
        .code(0)
        .stdout_has("v-auto/managed=true,v-auto/project=lab,v-auto/spec=web");
}
