//! `group_vars/` and `host_vars/` beside an inventory (and beside the playbook): `NAME`,
//! `NAME.yml`, `NAME.yaml`, `NAME.json`, or every file under a directory `NAME/`, as Ansible's
//! `host_group_vars` plugin finds them. A vault-encrypted file is refused, not read as garbage.

use std::path::{Path, PathBuf};

use crate::playbook::{Invalid, Vars};

/// The vars `dir/{group_vars,host_vars}/name` hold (empty when there are none).
pub fn vars_of(dir: &Path, kind: &str, name: &str) -> Result<Vars, Invalid> {
    let base = dir.join(kind);
    let mut found: Vec<PathBuf> = ["", ".yml", ".yaml", ".json"]
        .iter()
        .map(|ext| base.join(format!("{name}{ext}")))
        .filter(|p| p.is_file())
        .collect();
    let sub = base.join(name);
    if sub.is_dir() {
        let mut inside: Vec<PathBuf> = walkdir::WalkDir::new(&sub)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && wanted(e.path()))
            .map(|e| e.into_path())
            .collect();
        found.append(&mut inside);
    }
    let mut vars = Vars::new();
    for path in found {
        vars.extend(read(&path)?);
    }
    Ok(vars)
}

/// What Ansible reads in a vars directory: YAML and JSON, not backups or editors' leftovers.
fn wanted(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    !name.starts_with('.')
        && !name.ends_with('~')
        && match p.extension().and_then(|e| e.to_str()) {
            None => true,
            Some(e) => ["yml", "yaml", "json"].contains(&e),
        }
}

fn read(path: &Path) -> Result<Vars, Invalid> {
    let text = text_of(path, "")?;
    if text.trim().is_empty() {
        return Ok(Vars::new());
    }
    serde_yaml::from_str::<Option<Vars>>(&text)
        .map(Option::unwrap_or_default)
        .map_err(|e| format!("{} is not a mapping of vars: {e}", path.display()).into())
}

/// A file's text (`what` names it in an error: "inventory "), a Vault file refused.
pub fn text_of(path: &Path, what: &str) -> Result<String, Invalid> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {what}{}: {}",
            path.display(),
            crate::sys::describe_io(&e)
        )
    })?;
    refuse_vault(&text, path)?;
    Ok(text)
}

/// An Ansible Vault file: tend cannot decrypt it, and must not read it as text.
fn refuse_vault(text: &str, path: &Path) -> Result<(), Invalid> {
    if text.trim_start().starts_with("$ANSIBLE_VAULT;") {
        return Err(crate::playbook::diagnostic::with_hint(
            format!(
                "{} is encrypted with Ansible Vault, which tend cannot read",
                path.display()
            ),
            "decrypt it where tend runs (ansible-vault view), or give the value as a secret: in the playbook",
        ));
    }
    Ok(())
}
