//! `group_vars/` and `host_vars/` beside an inventory (and beside the playbook), as Ansible's
//! `host_group_vars` plugin finds them: the first of `NAME`, `NAME.yml`, `NAME.yaml` and
//! `NAME.json` there is, and when that is a directory, every YAML or JSON file under it by
//! name (so `group_vars/web/` hides a `group_vars/web.yml` beside it).
//! A vault-encrypted file or value is refused, not read as garbage.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::playbook::{Invalid, Vars};

/// One `group_vars/` or `host_vars/` directory, listed once: a lookup per host costs no system
/// call, and a host named `/etc/passwd` cannot reach outside it.
pub struct VarsDir {
    base: PathBuf,
    /// By the group or host name it is for: the entry that wins (`NAME` before `NAME.yml`,
    /// `.yaml`, `.json`), its rank among those, and whether it is a directory (symbolic links
    /// followed).
    entries: HashMap<String, (String, usize, bool)>,
}

/// The names a `*_vars` entry may have for NAME, in the order Ansible tries them.
const SUFFIXES: [&str; 4] = ["", ".yml", ".yaml", ".json"];

impl VarsDir {
    pub fn open(dir: &Path, kind: &str) -> Result<VarsDir, Invalid> {
        let base = dir.join(kind);
        let mut entries = HashMap::new();
        match std::fs::read_dir(&base) {
            Ok(listing) => {
                for e in listing {
                    let e = e.map_err(|e| unreadable(&base, &e))?;
                    let Ok(name) = e.file_name().into_string() else {
                        continue;
                    };
                    // The entry's type from the listing itself; a link's is looked up.
                    let is_dir = match e.file_type() {
                        Ok(t) if !t.is_symlink() => t.is_dir(),
                        _ => e.path().is_dir(),
                    };
                    for (rank, suffix) in SUFFIXES.iter().enumerate() {
                        let Some(stem) = name.strip_suffix(suffix) else {
                            continue;
                        };
                        let best = entries
                            .entry(stem.to_string())
                            .or_insert_with(|| (name.clone(), rank, is_dir));
                        if rank < best.1 {
                            *best = (name.clone(), rank, is_dir);
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {}
            Err(e) => return Err(unreadable(&base, &e)),
        }
        Ok(VarsDir { base, entries })
    }

    /// The vars this directory holds for `name` (empty when there are none).
    pub fn vars_of(&self, name: &str) -> Result<Vars, Invalid> {
        let Some((entry, _, is_dir)) = self.entries.get(name) else {
            return Ok(Vars::new());
        };
        let path = self.base.join(entry);
        let mut found = vec![];
        if *is_dir {
            inside(&path, &mut found, 0)?;
        } else {
            found.push(path);
        }
        let mut vars = Vars::new();
        for path in found {
            vars.extend(read(&path)?);
        }
        Ok(vars)
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> Invalid {
    format!(
        "cannot read {}: {}",
        path.display(),
        crate::sys::describe_io(e)
    )
    .into()
}

/// A vars directory's files, as Ansible's `_get_dir_vars_files`: by name, hidden entries and
/// backups skipped, subdirectories without an extension walked, files without one or with a
/// YAML or JSON one read.
fn inside(dir: &Path, found: &mut Vec<PathBuf>, depth: usize) -> Result<(), Invalid> {
    if depth > 32 {
        return Err(format!(
            "{}: vars directories nested more than 32 deep",
            dir.display()
        )
        .into());
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, &e))?
        .map(|e| {
            e.map(|e| e.file_name().to_string_lossy().into_owned())
                .map_err(|e| unreadable(dir, &e))
        })
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        let ext = Path::new(&name).extension().and_then(|e| e.to_str());
        if path.is_dir() {
            if ext.is_none() {
                inside(&path, found, depth + 1)?;
            }
        } else if path.is_file() && ext.is_none_or(|e| ["yml", "yaml", "json"].contains(&e)) {
            found.push(path);
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vars, Invalid> {
    let text = text_of(path, "")?;
    if text.trim().is_empty() {
        return Ok(Vars::new());
    }
    let shown = path.display().to_string();
    let value = yaml_of(&text, &shown)?;
    super::yaml11::vars(value, &shown, "the file")
}

/// The most an inventory, vars or `--limit @` file may hold: a 400,000-host INI file is 30 MiB;
/// `/dev/zero` must not fill the memory.
const MAX_SIZE: u64 = 64 * 1024 * 1024;

/// A file's text (`what` names it in an error: "inventory "), a Vault file refused. Only a
/// regular file, and at most `MAX_SIZE`: a FIFO would wait for ever, a device never end.
pub fn text_of(path: &Path, what: &str) -> Result<String, Invalid> {
    use std::io::Read;
    let cannot =
        |why: String| Invalid::from(format!("cannot read {what}{}: {why}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| cannot(crate::sys::describe_io(&e)))?;
    if !meta.is_file() {
        return Err(cannot("not a regular file".into()));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_SIZE) as usize + 1);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SIZE + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot(crate::sys::describe_io(&e)))?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(cannot("larger than 64 MiB".into()));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        cannot(format!(
            "not UTF-8 text (byte {} is not)",
            e.utf8_error().valid_up_to()
        ))
    })?;
    refuse_vault(&text, path)?;
    Ok(text)
}

/// `text` parsed as Ansible's YAML, its nesting measured first: the parser's time grows with
/// the square of it (a 160 KB file of `[` took 80 s).
pub fn yaml_of(text: &str, shown: &str) -> Result<serde_yaml::Value, Invalid> {
    if let Some(at) = crate::playbook::depth::too_deep(text) {
        let line = text[..at].matches('\n').count() + 1;
        return Err(format!(
            "{shown}:{line}: nested more than {} deep: not an inventory or vars file",
            crate::playbook::depth::MAX
        )
        .into());
    }
    super::yaml11::parse(text).map_err(|e| format!("{shown} is not YAML: {e}").into())
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
