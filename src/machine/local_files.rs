//! The file half of `Machine` for this machine.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Local, UnpackError};
use crate::fsutil::{parent, sync_dir};

impl Local {
    pub(super) fn read_file_impl(&self, path: &Path) -> io::Result<Option<(Vec<u8>, u32)>> {
        match fs::read(path) {
            Ok(bytes) => {
                let mode = fs::metadata(path)?.permissions().mode() & 0o7777;
                Ok(Some((bytes, mode)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) fn read_config_impl(
        &self,
        dest: &Path,
        root: Option<&Path>,
    ) -> io::Result<super::ConfigDest> {
        use super::ConfigDest;
        use std::os::unix::fs::OpenOptionsExt;
        if let Ok(to) = fs::read_link(dest) {
            return Ok(ConfigDest::Refused(super::symlink_refused(&to)));
        }
        if let Some(root) = root {
            let links = super::dirs_between(root, dest)
                .iter()
                .any(|d| fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_symlink()));
            if links {
                let real = crate::fsutil::real_path(&parent(dest));
                if !real.starts_with(crate::fsutil::real_path(root)) {
                    return Ok(ConfigDest::Refused(super::outside_refused(&real, root)));
                }
            }
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(dest);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ConfigDest::Absent),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Ok(ConfigDest::Refused("it is not a regular file".into()));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes)?;
        Ok(ConfigDest::Present(
            bytes,
            meta.permissions().mode() & 0o7777,
        ))
    }

    pub(super) fn write_file_impl(&self, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
        fs::create_dir_all(parent(path))?;
        crate::fsutil::atomic_write(path, bytes, mode)?;
        // atomic_write's mode is filtered by the umask; the caller's mode is what is asked for.
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }

    pub(super) fn remove_file_impl(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Ok(()) => sync_dir(&parent(path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) fn create_dirs_impl(&self, path: &Path, mode: Option<u32>) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(path)?;
        if let Some(m) = mode {
            fs::set_permissions(path, fs::Permissions::from_mode(m))?;
        }
        Ok(())
    }

    pub(super) fn replace_symlink_impl(&self, link: &Path, to: &Path) -> io::Result<()> {
        let name = link
            .file_name()
            .map_or("link".into(), |n| n.to_string_lossy());
        let tmp = parent(link).join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(to, &tmp)?;
        if let Err(e) = fs::rename(&tmp, link) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(&parent(link))
    }

    pub(super) fn rename_impl(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)?;
        sync_dir(&parent(to))
    }

    pub(super) fn remove_tree_impl(&self, path: &Path) -> io::Result<()> {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            // remove_dir_all does not follow symlinks.
            Ok(m) if m.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
        }
    }

    pub(super) fn list_dir_impl(&self, path: &Path) -> io::Result<Vec<String>> {
        match fs::read_dir(path) {
            Ok(rd) => rd
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(e),
        }
    }

    pub(super) fn unpack_impl(
        &self,
        archive: &mut (dyn Read + Send),
        dest: &Path,
        strip: usize,
        limit: u64,
    ) -> Result<u64, UnpackError> {
        super::unpack::unpack(archive, dest, strip, limit)
    }

    /// One syncfs makes every unpacked file durable, instead of an fsync per file.
    pub(super) fn sync_all_impl(&self, path: &Path) -> io::Result<()> {
        let f = fs::File::open(path)?;
        rustix::fs::syncfs(&f).map_err(io::Error::from)
    }

    pub(super) fn read_link_impl(&self, path: &Path) -> Option<PathBuf> {
        fs::read_link(path).ok()
    }
}
