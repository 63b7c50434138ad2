//! `vauto P S ssh NAME [-- COMMAND...]`: runs the OpenSSH client against one instance, with
//! the key vauto generated or was given, the image's login user and the instance's address.
//! A KubeVirt VM on the pod network has no address the client can reach: then it prints the
//! `virtctl` commands that get in through the API server instead.

use crate::config::{DiskSource, ProviderKind};
use crate::engine::retry::{RetryPolicy, retry_reads};
use crate::error::{Error, exit};
use crate::model::{InstanceStatus, Scope, StatusOptions};
use crate::plan::{DesiredInstance, Plan, private_key};
use crate::provider::Provider;

/// The login user: `ssh.user`, else the image's usual one.
pub(crate) fn login_user(plan: &Plan) -> String {
    if let Some(u) = plan.spec.ssh.user.as_ref().filter(|u| !u.is_empty()) {
        return u.to_string();
    }
    if let Some(oci) = plan.spec.oci() {
        return crate::provider::oci::resources::ssh_user(
            oci.image.os.as_deref().unwrap_or_default(),
        )
        .to_string();
    }
    let source = plan
        .spec
        .kubevirt()
        .map(|k| match &k.disk.source {
            DiskSource::Registry(i) | DiskSource::Http(i) => i.url.to_ascii_lowercase(),
            DiskSource::Pvc(p) => p.name.to_ascii_lowercase(),
            DiskSource::DataSource(d) => d.name.to_ascii_lowercase(),
        })
        .unwrap_or_default();
    // The cloud images' default users (cloud-init `default_user` of each distribution).
    [
        ("ubuntu", "ubuntu"),
        ("fedora", "fedora"),
        ("debian", "debian"),
    ]
    .iter()
    .find(|(needle, _)| source.contains(needle))
    .map_or("cloud-user", |(_, user)| user)
    .to_string()
}

/// The ssh client's arguments for `user@ip`, with the private key when vauto knows it.
pub(crate) fn ssh_args(
    key: Option<&std::path::Path>,
    user: &str,
    ip: &str,
    command: &[String],
) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(k) = key {
        // Only this key: an agent full of keys would otherwise use up the server's
        // MaxAuthTries before this one is offered.
        args.extend([
            "-i".to_string(),
            k.display().to_string(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
        ]);
    }
    args.push(format!("{user}@{ip}"));
    args.extend(command.iter().cloned());
    args
}

/// The `virtctl` commands that reach a VM through the API server.
fn virtctl_lines(key: Option<&std::path::Path>, user: &str, name: &str, namespace: &str) -> String {
    let identity = key.map_or(String::new(), |k| format!("-i {} ", k.display()));
    format!(
        "`{name}` has no address reachable from here (it is on the pod network; `network.ipam` gives VMs a bridge address). Get in through the API server:\n  virtctl ssh {identity}--local-ssh {user}@vm/{name} -n {namespace}\n  virtctl console {name} -n {namespace}\n"
    )
}

/// Runs `ssh` against instance `name` of `plan`; its exit code.
pub(super) async fn ssh<P: Provider>(
    p: &P,
    plan: &Plan,
    name: &str,
    command: &[String],
) -> Result<u8, Error> {
    let where_ = format!("{}/{}", plan.project.name.0, plan.spec.name.0);
    let inst: &DesiredInstance =
        plan.instances
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| {
                let known: Vec<String> = plan.instances.iter().map(|i| i.name.clone()).collect();
                let hint = crate::config::did_you_mean(name, &known)
                    .map(|b| format!(" (did you mean `{b}`?)"))
                    .unwrap_or_default();
                Error::Other(format!(
                    "no instance `{name}` in {where_}; known: {}{hint}",
                    known.join(", ")
                ))
            })?;
    let policy = RetryPolicy::from_config(&plan.project.retry);
    let scope = Scope {
        spec: Some(plan.spec.name.0.clone()),
        target: Some(name.to_string()),
        select: None,
    };
    // The address is all ssh needs: no events.
    let options = StatusOptions { events: 0 };
    let rows: Vec<InstanceStatus> = retry_reads(&policy, || p.status(&scope, &options)).await?;
    let row = rows.into_iter().find(|r| r.name == name).ok_or_else(|| {
        Error::Other(format!(
            "`{name}` does not exist in {where_}: deploy it first (`vauto {} {} deploy --target {name} --wait`)",
            plan.project.name.0, plan.spec.name.0
        ))
    })?;
    if !row.state.eq_ignore_ascii_case("running") {
        return Err(Error::Other(format!(
            "`{name}` is {}, not running: start it first (`vauto {} {} start --target {name} --wait`)",
            row.state, plan.project.name.0, plan.spec.name.0
        )));
    }
    if inst.ssh_authorized_keys.is_empty() {
        return Err(Error::Other(format!(
            "no ssh key is authorised on `{name}`: set `ssh.authorized_keys` or `ssh.generate` in the spec (cloud-init puts keys in only when the instance is created)"
        )));
    }
    let key = private_key(plan, inst);
    let user = login_user(plan);
    let address = match p.kind() {
        ProviderKind::Oci => row.public_ip.clone().or(row.ip.clone()),
        // Only a bridge address from `network.ipam` is reachable from outside the cluster.
        ProviderKind::Kubevirt => plan.project.ipam.as_ref().and(row.ip.clone()),
    };
    let Some(ip) = address else {
        if p.kind() == ProviderKind::Kubevirt {
            let ns = row.extra.namespace.as_deref().unwrap_or("default");
            print!("{}", virtctl_lines(key.as_deref(), &user, name, ns));
            return Ok(exit::OK);
        }
        return Err(Error::Other(format!(
            "`{name}` has no IP address yet: wait for it (`vauto {} {} status --target {name}`)",
            plan.project.name.0, plan.spec.name.0
        )));
    };
    // The destination only: the remote command may carry what the user would not log.
    tracing::info!("ssh to {user}@{ip}");
    let args = ssh_args(key.as_deref(), &user, &ip, command);
    // The client owns the terminal until it exits; this thread only waits for it.
    let status =
        tokio::task::spawn_blocking(move || std::process::Command::new("ssh").args(&args).status())
            .await
            .map_err(|e| Error::Other(format!("the ssh task failed: {e}")))?
            .map_err(|e| {
                Error::Other(format!(
                    "cannot run `ssh`: {e}; install the OpenSSH client (Debian: openssh-client)"
                ))
            })?;
    // ssh's own code (255 for its errors); killed by a signal: 255 as well.
    Ok(status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(255))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_put_the_key_first_and_the_command_last() {
        let key = std::path::Path::new("/k/lab");
        assert_eq!(
            ssh_args(
                Some(key),
                "opc",
                "203.0.113.5",
                &["uptime".into(), "-p".into()]
            ),
            [
                "-i",
                "/k/lab",
                "-o",
                "IdentitiesOnly=yes",
                "opc@203.0.113.5",
                "uptime",
                "-p"
            ]
        );
        assert_eq!(
            ssh_args(None, "ubuntu", "10.0.0.2", &[]),
            ["ubuntu@10.0.0.2"]
        );
    }

    #[test]
    fn virtctl_lines_name_the_vm_the_namespace_and_the_key() {
        assert_eq!(
            virtctl_lines(
                Some(std::path::Path::new("/k/lab")),
                "cloud-user",
                "web-01",
                "lab"
            ),
            "`web-01` has no address reachable from here (it is on the pod network; `network.ipam` gives VMs a bridge address). Get in through the API server:\n  virtctl ssh -i /k/lab --local-ssh cloud-user@vm/web-01 -n lab\n  virtctl console web-01 -n lab\n"
        );
    }
}
