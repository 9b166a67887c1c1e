//! The directory layout under `deploy.root`, and the atomic switch of `current`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil::sync_dir;

pub struct Layout {
    pub root: PathBuf,
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

    /// Create the layout's directories (a first deploy starts from nothing).
    pub fn prepare(&self) -> io::Result<()> {
        for d in [
            self.releases(),
            self.root.join("shared"),
            self.meta().join("previous"),
        ] {
            fs::create_dir_all(&d)?;
        }
        // The journal names users and the backups hold rendered configs (secrets included).
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(self.meta(), fs::Permissions::from_mode(0o700))?;
        Ok(())
    }

    /// The release `current` points at, if any.
    pub fn current_release(&self) -> Option<String> {
        let target = fs::read_link(self.current()).ok()?;
        target.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    /// Point `current` at `r` atomically: a new symlink renamed over the old one, so there is
    /// never a moment without a `current`.
    pub fn switch(&self, r: &str) -> io::Result<()> {
        let tmp = self
            .root
            .join(format!(".current.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(Path::new("releases").join(r), &tmp)?;
        if let Err(e) = fs::rename(&tmp, self.current()) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(&self.root)
    }

    /// Where pruned releases wait to be deleted.
    pub fn trash(&self) -> PathBuf {
        self.meta().join("trash")
    }

    /// Take a release directory out of `releases/` with one rename. Its files are deleted by
    /// `empty_trash`, which the next deploy runs while its artifact unpacks: deleting a few
    /// megabytes of files already on disk costs tens of milliseconds (more on a filesystem
    /// mounted with `discard`), which a deploy need not wait for.
    pub fn remove_release(&self, r: &str) -> io::Result<()> {
        let dir = self.release(r);
        if fs::symlink_metadata(&dir).is_err() {
            return Ok(());
        }
        fs::create_dir_all(self.trash())?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        fs::rename(&dir, self.trash().join(format!("{r}.{nanos}")))
    }

    /// Delete what pruning moved aside. Never follows symlinks (`remove_dir_all` does not).
    pub fn empty_trash(&self) -> io::Result<()> {
        let entries = match fs::read_dir(self.trash()) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if fs::symlink_metadata(&path)?.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
        Ok(())
    }
}

/// Checks a release name is a plain directory name.
pub fn check_release_name(r: &str) -> Result<(), String> {
    if r.is_empty() {
        return Err("the release name is empty".into());
    }
    if r.contains('/') || r.contains('\0') || r.starts_with('.') || r.ends_with(".partial") {
        return Err(format!(
            "release '{r}' cannot be a directory name: no '/', no leading '.', no '.partial' suffix"
        ));
    }
    if r.len() > 200 {
        return Err(format!("release name '{r}' is longer than 200 bytes"));
    }
    Ok(())
}
