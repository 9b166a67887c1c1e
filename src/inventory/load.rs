//! Reading inventories into one tree: a file is YAML when it reads as a YAML mapping, else
//! INI; a directory is every file in it and its subdirectories that Ansible would read.

use std::path::{Path, PathBuf};

use super::resolve::Inventory;
use super::tree::Tree;
use super::{files, ini, yaml};
use crate::playbook::Invalid;

/// Read the inventories at `paths` (files, or directories of them), with the `group_vars/` and
/// `host_vars/` beside each and beside the playbook (`playbook_dir`) to resolve hosts by.
pub fn load(paths: &[PathBuf], playbook_dir: Option<&Path>) -> Result<Inventory, Invalid> {
    let mut tree = Tree::new();
    let mut dirs = vec![];
    for path in paths {
        let mut found = vec![];
        sources(path, &mut found, 0)?;
        dirs.push(if path.is_dir() {
            path.clone()
        } else {
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        });
        for source in found {
            read(&source, &mut tree)?;
        }
    }
    tree.settle()?;
    let mut levels: Vec<PathBuf> = vec![];
    for d in dirs.into_iter().chain(playbook_dir.map(Path::to_path_buf)) {
        if !levels.contains(&d) {
            levels.push(d);
        }
    }
    Inventory::new(tree, &levels)
}

/// The files an inventory path stands for: itself, or a directory's files and subdirectories'
/// by name, without `group_vars`/`host_vars`, hidden entries or the extensions Ansible skips
/// (`INVENTORY_IGNORE_EXTS`).
fn sources(path: &Path, found: &mut Vec<PathBuf>, depth: usize) -> Result<(), Invalid> {
    if !path.is_dir() {
        found.push(path.to_path_buf());
        return Ok(());
    }
    if depth > 32 {
        return Err(format!("inventory {}: nested more than 32 deep", path.display()).into());
    }
    const SKIPPED: [&str; 11] = [
        "pyc", "pyo", "swp", "bak", "rpm", "md", "txt", "rst", "orig", "cfg", "retry",
    ];
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .and_then(|l| l.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| {
            format!(
                "cannot read inventory {}: {}",
                path.display(),
                crate::sys::describe_io(&e)
            )
        })?;
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let skipped = name.starts_with('.')
            || name.ends_with('~')
            || ["group_vars", "host_vars", "vars_plugins"].contains(&name.as_str())
            || p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SKIPPED.contains(&e));
        if !skipped {
            sources(&p, found, depth + 1)?;
        }
    }
    Ok(())
}

/// One inventory file, into `tree`: YAML when it reads as a YAML mapping, else INI (as Ansible
/// tries its yaml plugin before its ini one); when neither reads it, both say why.
fn read(path: &Path, tree: &mut Tree) -> Result<(), Invalid> {
    let shown = path.display().to_string();
    if executable_script(path) {
        return Err(crate::playbook::diagnostic::with_hint(
            format!("{shown} is a program (a dynamic inventory script), which tend does not run"),
            format!(
                "write out what it prints: ansible-inventory -i {shown} --list -y > inventory.yml"
            ),
        ));
    }
    let text = files::text_of(path, "inventory ")?;
    if path.extension().is_some_and(|e| e == "toml") {
        return Err(crate::playbook::diagnostic::with_hint(
            format!("{shown} is a TOML inventory, which tend does not read"),
            format!("write it out as YAML: ansible-inventory -i {shown} --list -y > inventory.yml"),
        ));
    }
    if !maybe_yaml(&text) {
        return ini::read(&text, &shown, tree);
    }
    match files::yaml_of(&text, &shown) {
        Ok(serde_yaml::Value::Mapping(top)) => yaml::read(top, &shown, tree),
        // A bare host name reads as YAML text: only a mapping is a YAML inventory.
        Ok(_) => ini::read(&text, &shown, tree),
        Err(yaml_error) => ini::read(&text, &shown, tree).map_err(|ini_error| {
            let yaml_like = text.lines().any(|l| {
                let l = l.trim_end();
                l.ends_with(':') && !l.trim_start().starts_with(['#', ';', '['])
            });
            if yaml_like {
                format!("{} (and not an INI inventory either)", yaml_error.0).into()
            } else {
                ini_error
            }
        }),
    }
}

/// Whether a YAML parser should be asked at all: an INI file's first line is a `[section]` or a
/// host (`web1 ansible_port=2222`), which YAML could only read as text, not as a mapping. A
/// 7,000-line INI file costs YAML's scanner a tenth of a run to refuse.
fn maybe_yaml(text: &str) -> bool {
    let Some(first) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with(['#', ';']))
    else {
        return true;
    };
    first.starts_with("---")
        || first.starts_with(['{', '%'])
        || first.ends_with(':')
        || first.contains(": ")
}

/// An executable file that starts with `#!`: what Ansible's script plugin would run.
fn executable_script(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    let mut start = [0u8; 2];
    executable
        && std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut start))
            .is_ok()
        && &start == b"#!"
}
