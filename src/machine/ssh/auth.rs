//! Host keys and authentication, checked the way `ssh` checks them.

use std::path::PathBuf;

use ssh2::{CheckResult, KnownHostFileKind, Session};

use super::{HostKeyCheck, SshSpec, expand, fingerprint, home, key_type};
use crate::inventory::Host;

pub(super) fn check_host_key(
    sess: &Session,
    host: &Host,
    spec: &SshSpec,
    shown: &str,
) -> Result<Option<String>, super::Unreachable> {
    let (key, ktype) = sess
        .host_key()
        .ok_or_else(|| format!("{shown}: the server sent no host key"))?;
    let fp = fingerprint(sess);
    let kt = key_type(ktype);
    if spec.host_key_check == HostKeyCheck::Off {
        return Ok(Some(format!(
            "{shown}: host key checking is off: accepted {kt} key {fp} unchecked"
        )));
    }
    let path = spec
        .known_hosts
        .as_deref()
        .map_or_else(|| home().join(".ssh/known_hosts"), expand);
    let mut kh = sess
        .known_hosts()
        .map_err(|e| format!("{shown}: {}", e.message()))?;
    if path.exists() {
        kh.read_file(&path, KnownHostFileKind::OpenSSH)
            .map_err(|e| format!("{shown}: cannot read {}: {}", path.display(), e.message()))?;
    }
    let name = if host.port == 22 {
        host.address.clone()
    } else {
        format!("[{}]:{}", host.address, host.port)
    };
    match kh.check_port(&host.address, host.port, key) {
        CheckResult::Match => Ok(None),
        CheckResult::Mismatch => Err(format!(
            "{shown}: REMOTE HOST KEY HAS CHANGED: it now offers {kt} key {fp}, which does not match {} for {name}; refused (someone may be intercepting, or the host was rebuilt: check, then fix known_hosts)",
            path.display()
        ).into()),
        CheckResult::NotFound if spec.host_key_check == HostKeyCheck::AcceptNew => {
            kh.add(&name, key, "added by tend", ktype.into())
                .and_then(|()| {
                    if let Some(dir) = path.parent() {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    kh.write_file(&path, KnownHostFileKind::OpenSSH)
                })
                .map_err(|e| {
                    format!(
                        "{shown}: cannot record its key in {}: {}",
                        path.display(),
                        e.message()
                    )
                })?;
            Ok(Some(format!(
                "{shown}: new host, {kt} key {fp} recorded in {}",
                path.display()
            )))
        }
        CheckResult::NotFound => Err(format!(
            "{shown}: unknown host key: {kt} key fingerprint is {fp}, not in {}; refused (host_key_check: strict). If it is right, add it (ssh-keyscan -p {} {} >> {}) or set host_key_check: accept_new",
            path.display(),
            host.port,
            host.address,
            path.display()
        ).into()),
        CheckResult::Failure => Err(format!(
            "{shown}: cannot check the host key against {}",
            path.display()
        ).into()),
    }
}

pub(super) fn authenticate(
    sess: &Session,
    user: &str,
    host: &Host,
    spec: &SshSpec,
    passphrase: Option<&str>,
    shown: &str,
) -> Result<(), super::Unreachable> {
    let mut tried = vec![];
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        tried.push("ssh-agent".to_string());
        if sess.userauth_agent(user).is_ok() && sess.authenticated() {
            return Ok(());
        }
    }
    let keys: Vec<PathBuf> = match host
        .identity
        .clone()
        .or_else(|| spec.identity.as_deref().map(expand))
    {
        Some(k) => vec![k],
        None => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|k| home().join(".ssh").join(k))
            .filter(|p| p.exists())
            .collect(),
    };
    let mut last = String::new();
    for k in &keys {
        tried.push(format!("key {}", k.display()));
        match sess.userauth_pubkey_file(user, None, k, passphrase) {
            Ok(()) if sess.authenticated() => return Ok(()),
            Ok(()) => {}
            Err(e) => last = e.message().to_string(),
        }
    }
    Err(format!(
        "{shown}: authentication failed for user {user} (tried {}){}",
        if tried.is_empty() {
            "no key: none given and none in ~/.ssh".to_string()
        } else {
            tried.join(", ")
        },
        if last.is_empty() {
            String::new()
        } else {
            format!(": {last}")
        }
    )
    .into())
}
