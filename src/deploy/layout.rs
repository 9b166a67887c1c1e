//! The directory layout under `deploy.root` on the target, and the atomic switch of `current`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::machine::Machine;

pub struct Layout {
    pub root: PathBuf,
    /// Where the releases live; every file operation of a deploy goes through it.
    pub target: Arc<dyn Machine>,
}

/// Why a deploy root is not used.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{}", crate::sys::describe_io(.0))]
    Unread(io::Error),
    #[error("{0}")]
    SystemRoot(String),
    #[error(
        "{} is a symlink: tend keeps releases and its records only in directories of the deploy root itself; replace the link with a directory",
        .0.display()
    )]
    Link(PathBuf),
}

impl Layout {
    pub fn releases(&self) -> PathBuf {
        self.root.join("releases")
    }

    pub fn release(&self, r: &str) -> PathBuf {
        self.releases().join(r)
    }

    pub fn partial(&self, r: &str) -> PathBuf {
        self.releases().join(format!("{r}.partial"))
    }

    pub fn current(&self) -> PathBuf {
        self.root.join("current")
    }

    pub fn meta(&self) -> PathBuf {
        self.root.join(".tend")
    }

    pub fn journal(&self) -> PathBuf {
        self.meta().join("releases.json")
    }

    /// How far a running deploy got, a line per migration begun.
    pub fn progress(&self) -> PathBuf {
        self.meta().join("progress")
    }

    pub fn lock(&self) -> PathBuf {
        self.meta().join("lock")
    }

    pub fn cache(&self) -> PathBuf {
        self.meta().join("cache")
    }

    /// The config files a release's `configure` replaced, kept to restore them.
    pub fn backup(&self, r: &str) -> PathBuf {
        self.meta().join("previous").join(format!("{r}.json"))
    }

    /// Where pruned releases wait to be deleted.
    pub fn trash(&self) -> PathBuf {
        self.meta().join("trash")
    }

    /// The root as the target resolves it must not be a system directory (a link to `/etc` is
    /// `/etc`): checked on the host itself before anything is created there.
    pub fn check_real(&self) -> Result<(), Refused> {
        let real = self.target.real_path(&self.root).map_err(Refused::Unread)?;
        match system_root(&self.root, &real) {
            Some(why) => Err(Refused::SystemRoot(why)),
            None => Ok(()),
        }
    }

    /// None of the layout's own directories and records is a symlink.
    pub fn check_links(&self) -> Result<(), Refused> {
        // Releases, journals and backups are written below these: a link among them (planted
        // by whoever can write the root) would carry a root-run deploy's writes anywhere.
        let own = [
            self.releases(),
            self.meta(),
            self.meta().join("previous"),
            self.trash(),
            self.cache(),
            self.progress(),
            self.journal(),
            self.lock(),
        ];
        let links = self.target.links_among(&own).map_err(Refused::Unread)?;
        match links.into_iter().next() {
            Some(link) => Err(Refused::Link(link)),
            None => Ok(()),
        }
    }

    /// Create the layout's directories (a first deploy starts from nothing).
    pub fn prepare(&self) -> io::Result<()> {
        self.target.create_all(&[
            (self.releases(), None),
            (self.root.join("shared"), None),
            // The journal names users and the backups hold rendered configs (secrets included).
            (self.meta(), Some(0o700)),
            (self.meta().join("previous"), Some(0o700)),
        ])
    }

    /// Where the stop commands of a deploy of `release` run: in it once `current` points there
    /// (`switched`), else in the release it was to replace (the root when there is none).
    pub fn stop_dir(&self, release: &str, switched: bool, replaced: Option<&str>) -> PathBuf {
        match (switched, replaced) {
            (true, _) => self.release(release),
            (false, Some(r)) => self.release(r),
            (false, None) => self.root.clone(),
        }
    }

    /// The release `current` points at, if any.
    pub fn current_release(&self) -> Option<String> {
        let target = self.target.read_link(&self.current())?;
        target.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    /// Point `current` at `r` atomically: a new symlink renamed over the old one, so there is
    /// never a moment without a `current`.
    pub fn switch(&self, r: &str) -> io::Result<()> {
        self.target
            .replace_symlink(&self.current(), &Path::new("releases").join(r))
    }

    /// Take a release directory out of `releases/` with one rename. Its files are deleted by
    /// `empty_trash`, which the next deploy runs while its artifact unpacks: deleting a few
    /// megabytes of files already on disk costs tens of milliseconds (more on a filesystem
    /// mounted with `discard`), which a deploy need not wait for.
    pub fn remove_release(&self, r: &str) -> io::Result<()> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        self.target
            .move_into(&self.release(r), &self.trash(), &format!("{r}.{nanos}"))
    }

    /// Start deleting what pruning moved aside, without waiting for it (the trash directory
    /// goes as a whole; pruning makes a new one).
    pub fn empty_trash_later(&self) {
        self.target.remove_later(vec![self.trash()]);
    }

    /// Delete what pruning moved aside. Never follows symlinks.
    pub fn empty_trash(&self) -> io::Result<()> {
        for name in self.target.list_dir(&self.trash())? {
            self.target.remove_tree(&self.trash().join(name))?;
        }
        Ok(())
    }
}

/// Checks a release name is a plain directory name.
pub fn check_release_name(r: &str) -> Result<(), crate::playbook::Invalid> {
    if r.is_empty() {
        return Err("the release name is empty".into());
    }
    if r.chars().any(char::is_control) {
        return Err(format!(
            "release '{}' has a control character (a line break, a tab...): it would garble every list of releases",
            crate::report::printable(r)
        ).into());
    }
    // Invisible characters that reorder or hide text: a listing would show another name.
    if let Some(c) = r
        .chars()
        .find(|c| matches!(*c as u32, 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2069 | 0xFEFF))
    {
        return Err(format!(
            "release '{}' has the invisible character U+{:04X}: a list of releases would show another name",
            crate::report::printable(r),
            c as u32
        ).into());
    }
    if r.contains('/') || r.contains('\0') || r.starts_with('.') || r.ends_with(".partial") {
        return Err(format!(
            "release '{r}' cannot be a directory name: no '/', no leading '.', no '.partial' suffix"
        )
        .into());
    }
    if r.len() > 200 {
        return Err(format!("release name '{r}' is longer than 200 bytes").into());
    }
    Ok(())
}

/// Why `root` (resolving to `real`) cannot be a deploy root, if it cannot.
pub fn system_root(root: &Path, real: &Path) -> Option<String> {
    let lexical: PathBuf = {
        let mut p = PathBuf::from("/");
        for c in root.components() {
            match c {
                std::path::Component::ParentDir => {
                    p.pop();
                }
                std::path::Component::Normal(n) => p.push(n),
                _ => {}
            }
        }
        p
    };
    let bad = |p: &Path| p == Path::new("/") || is_system(p);
    if root.as_os_str().is_empty() || bad(&lexical) || bad(real) {
        // `root: /` reaches here trimmed of its slash: show it as written.
        let written = if root.as_os_str().is_empty() {
            "/".into()
        } else {
            root.display().to_string()
        };
        let shown = if real != Path::new(&written) {
            format!(" (it resolves to {})", real.display())
        } else {
            String::new()
        };
        return Some(format!(
            "deploy root '{written}'{shown} is a system directory; give the app one of its own, like /srv/app"
        ));
    }
    None
}

/// A directory the system owns: one of the shared places apps live under (an app gets a
/// directory of its own there), or anything inside the system's own trees.
fn is_system(root: &Path) -> bool {
    const SHARED: &[&str] = &[
        "/home",
        "/media",
        "/mnt",
        "/opt",
        "/root",
        "/run",
        "/srv",
        "/tmp",
        "/usr",
        "/usr/local",
        "/var",
        "/var/cache",
        "/var/lib",
        "/var/log",
        "/var/opt",
        "/var/spool",
        "/var/tmp",
        "/var/www",
    ];
    const OWN: &[&str] = &[
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/proc",
        "/sbin",
        "/sys",
        "/usr/bin",
        "/usr/include",
        "/usr/lib",
        "/usr/lib32",
        "/usr/lib64",
        "/usr/libexec",
        "/usr/sbin",
        "/usr/share",
        "/usr/local/bin",
        "/usr/local/lib",
        "/usr/local/sbin",
        "/usr/local/share",
    ];
    SHARED.iter().any(|s| root == Path::new(s)) || OWN.iter().any(|s| root.starts_with(s))
}
