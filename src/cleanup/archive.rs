//! Bundling files into `tar.gz` archives by period. An archive is written as `name.partial`,
//! fsynced, read back (every entry's name and size checked, every byte decompressed), renamed,
//! and only then are its sources removed. An existing archive is never overwritten.
//!
//! Between the rename and the last source removed, a run can be killed: the sources are then
//! both in the archive and on disk, and the next run would archive them again. So the list of
//! sources goes into `.name.sources` beside the archive (durably) before the rename, and is
//! removed after the sources are; the next run finishes what such a list says.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::read::GzDecoder;

use super::beneath::{Dir, Dirs};
use super::select::Candidate;
use super::spec::GroupBy;
use crate::fsutil::{parent, sync_dir};

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The period a file belongs to, by its mtime in UTC: 2026-11-26, 2026-W48 or 2026-11.
pub fn period(mtime: SystemTime, by: GroupBy) -> String {
    let secs = match mtime.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil(days);
    match by {
        GroupBy::Day => format!("{y:04}-{m:02}-{d:02}"),
        GroupBy::Month => format!("{y:04}-{m:02}"),
        GroupBy::Week => {
            let monday_based = (days + 3).rem_euclid(7);
            let thursday = days - monday_based + 3;
            let (iso_year, _, _) = civil(thursday);
            let week = (thursday - days_from_civil(iso_year, 1, 1)) / 7 + 1;
            format!("{iso_year:04}-W{week:02}")
        }
    }
}

pub fn group(files: Vec<Candidate>, by: GroupBy) -> BTreeMap<String, Vec<Candidate>> {
    let mut groups: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for c in files {
        groups.entry(period(c.mtime, by)).or_default().push(c);
    }
    groups
}

/// `app-2026-11-26.tar.gz`, or the first free `app-2026-11-26.partN.tar.gz` when it exists.
pub fn free_name(dest: &Path, name: &str) -> PathBuf {
    let first = dest.join(name);
    if fs::symlink_metadata(&first).is_err() {
        return first;
    }
    let (stem, ext) = match name.find(".tar") {
        Some(i) => name.split_at(i),
        None => match name.rfind('.') {
            Some(i) => name.split_at(i),
            None => (name, ""),
        },
    };
    (2..)
        .map(|n| dest.join(format!("{stem}.part{n}{ext}")))
        .find(|p| fs::symlink_metadata(p).is_err())
        .expect("a free name")
}

pub struct Archived {
    pub path: PathBuf,
    pub files: usize,
    pub before: u64,
    pub after: u64,
    /// Sources that changed after they were archived: kept, and reported.
    pub kept: Vec<(PathBuf, String)>,
    /// Why the list of sources beside the archive is still there, if it is.
    pub leftover: Option<String>,
}

pub fn archive(
    files: &[Candidate],
    dest: &Path,
    name: &str,
    level: u32,
    progress: &dyn Fn(u64),
) -> Result<Archived, Unarchived> {
    fs::create_dir_all(dest).map_err(|e| {
        format!(
            "cannot create {}: {}",
            dest.display(),
            crate::sys::describe_io(&e)
        )
    })?;
    // A file written again since the walk chose it is not expired: it stays out.
    let mut dirs = Dirs::default();
    let mut changed = vec![];
    let files: Vec<Candidate> = files
        .iter()
        .filter(|c| {
            let same = dirs
                .of(c)
                .and_then(|d| d.holds(super::beneath::file_name(c), c));
            match &same {
                Ok(true) => {}
                // Gone since (another cleaner, a rotation): nothing to archive.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                _ => changed.push((
                    c.path.clone(),
                    "changed since it was selected: left alone".into(),
                )),
            }
            matches!(same, Ok(true))
        })
        .cloned()
        .collect();
    let files = &files[..];
    let target = free_name(dest, name);
    if files.is_empty() {
        return Ok(Archived {
            path: target,
            files: changed.len(),
            before: 0,
            after: 0,
            kept: changed,
            leftover: None,
        });
    }
    let mut partial = target.as_os_str().to_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io =
        |what: &str, e: io::Error| Unarchived(format!("{what}: {}", crate::sys::describe_io(&e)));
    let written = write(&mut dirs, files, &partial, level, progress);
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(io(&format!("writing {}", partial.display()), e));
        }
    };
    if let Err(e) = verify(&partial, &written) {
        let _ = fs::remove_file(&partial);
        return Err(format!(
            "{} did not read back whole: {e}; the sources are kept",
            partial.display()
        )
        .into());
    }
    let after = fs::metadata(&partial)
        .map(|m| m.blocks() * 512)
        .unwrap_or(0);
    let intent = sources_file(&target);
    let listed: Vec<Source> = files
        .iter()
        .zip(&written)
        .map(|(c, (_, size, mtime))| Source {
            path: c.path.clone(),
            size: *size,
            mtime_ns: nanos(*mtime),
        })
        .collect();
    let json = serde_json::to_vec(&listed).map_err(|e| e.to_string())?;
    if let Err(e) = crate::fsutil::atomic_write(&intent, &json, 0o600) {
        let _ = fs::remove_file(&partial);
        return Err(io(&format!("writing {}", intent.display()), e));
    }
    crate::crash::point("archive:listed");
    if let Err(e) = crate::fsutil::rename_noreplace(&partial, &target) {
        let _ = fs::remove_file(&partial);
        let _ = fs::remove_file(&intent);
        return Err(io(
            &format!(
                "renaming the archive to {} (the sources are kept)",
                target.display()
            ),
            e,
        ));
    }
    sync_dir(dest).map_err(|e| io("syncing the archive directory", e))?;
    crate::crash::point("archive:renamed");

    // The archive is durable: now the sources may go, unless they changed since they were read.
    let (before, mut kept) = remove_sources(&mut dirs, files, &written);
    let left_out = changed.len();
    kept.extend(changed);
    // The list goes only once the removals are durable: until then it is what lets the next run
    // finish them after a crash. A list left behind is harmless (the next run finds every
    // source gone and removes it), but say so rather than lose it silently.
    let leftover = match dirs.sync() {
        Err(e) => Some(format!(
            "the sources' directories could not be synced ({}): {} is kept for the next run to finish",
            crate::sys::describe_io(&e),
            intent.display()
        )),
        Ok(()) => fs::remove_file(&intent)
            .and_then(|()| sync_dir(dest))
            .err()
            .map(|e| {
                format!(
                    "{} could not be removed ({}): the next run finds its sources gone and removes it",
                    intent.display(),
                    crate::sys::describe_io(&e)
                )
            }),
    };
    Ok(Archived {
        path: target,
        files: written.len() + left_out,
        before,
        after,
        kept,
        leftover,
    })
}

/// The archived sources removed, each only if it is still as it was read; the bytes freed, and
/// the sources kept with why.
fn remove_sources(
    dirs: &mut Dirs,
    files: &[Candidate],
    written: &[Entry],
) -> (u64, Vec<(PathBuf, String)>) {
    let mut kept = vec![];
    let mut before = 0;
    for (c, _) in files.iter().zip(written) {
        match dirs.of(c).and_then(|dir| super::delete::unlink(dir, c)) {
            Ok(true) => {
                dirs.changed(c);
                before += c.allocated;
                crate::crash::point("archive:source-removed");
            }
            Ok(false) => kept.push((c.path.clone(), "changed after it was archived: kept".into())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => kept.push((c.path.clone(), crate::sys::describe_io(&e))),
        }
    }
    (before, kept)
}

/// A source as it was archived: removed later only if it is still exactly that.
#[derive(serde::Serialize, serde::Deserialize)]
struct Source {
    path: PathBuf,
    size: u64,
    mtime_ns: u128,
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// `.app-2026-11-26.tar.gz.sources` beside `app-2026-11-26.tar.gz`.
fn sources_file(archive: &Path) -> PathBuf {
    let name = archive.file_name().unwrap_or_default().to_string_lossy();
    parent(archive).join(format!(".{name}.sources"))
}

/// What a source list left by a killed run came to.
pub struct Finished {
    pub archive: PathBuf,
    /// Sources removed now: their bytes were already in the archive.
    pub removed: Vec<(PathBuf, u64)>,
    /// Sources changed since: kept.
    pub kept: Vec<PathBuf>,
    /// The run died before the archive was in place: nothing to finish.
    pub abandoned: bool,
}

/// A source list a killed run left in `dest`, read: what finishing it would do.
pub struct Leftover {
    list: PathBuf,
    root: PathBuf,
    pub found: Finished,
}

/// The source lists killed runs left half done in `dest` by the rule over `root`, read
/// (nothing is changed): a dry run says what they say, a real run then finishes each.
pub fn interrupted(dest: &Path, root: &Path) -> Vec<Result<Leftover, Unarchived>> {
    let Ok(entries) = fs::read_dir(dest) else {
        return vec![];
    };
    let mut out = vec![];
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(archive) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".sources"))
        else {
            continue;
        };
        out.push(read_leftover(e.path(), dest.join(archive), root));
    }
    out
}

fn io_at(what: &Path, e: io::Error) -> Unarchived {
    Unarchived(format!(
        "{}: {}",
        what.display(),
        crate::sys::describe_io(&e)
    ))
}

/// The sources a list names that are in its archive and still exactly as archived (they go),
/// and those changed since (they stay). The list is only trusted that far: whoever can write
/// the archive directory can write a list, so a source must lie below the rule's root and be
/// an entry of the archive with its size, or nothing of the list is acted on.
fn read_leftover(list: PathBuf, archive: PathBuf, root: &Path) -> Result<Leftover, Unarchived> {
    let mut found = Finished {
        archive,
        removed: vec![],
        kept: vec![],
        abandoned: false,
    };
    let root = root.to_path_buf();
    if fs::symlink_metadata(&found.archive).is_err() {
        found.abandoned = true;
        return Ok(Leftover { list, root, found });
    }
    let bytes = fs::read(&list).map_err(|e| io_at(&list, e))?;
    let sources: Vec<Source> = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a list of archived sources: {e}", list.display()))?;
    let members = members(&found.archive)?;
    for s in sources {
        let rel = below(&root, &s.path).ok_or_else(|| {
            format!(
                "{} names {}, which is not below {}: not a list tend wrote; left alone",
                list.display(),
                s.path.display(),
                root.display()
            )
        })?;
        if members.get(rel) != Some(&s.size) {
            found.kept.push(s.path);
            continue;
        }
        match fs::symlink_metadata(&s.path) {
            Ok(m)
                if m.is_file()
                    && m.len() == s.size
                    && m.modified().map(nanos).ok() == Some(s.mtime_ns) =>
            {
                found.removed.push((s.path, m.blocks() * 512));
            }
            Ok(_) => found.kept.push(s.path),
            Err(_) => {}
        }
    }
    Ok(Leftover { list, root, found })
}

/// `path` below `root`, made only of plain names (no `..`).
fn below<'p>(root: &Path, path: &'p Path) -> Option<&'p Path> {
    let rel = path.strip_prefix(root).ok()?;
    let plain = rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    (plain && rel.parent().is_some()).then_some(rel)
}

/// An archive's entries: each name and size.
fn members(archive: &Path) -> Result<std::collections::HashMap<PathBuf, u64>, Unarchived> {
    let f = File::open(archive).map_err(|e| io_at(archive, e))?;
    let mut ar = tar::Archive::new(GzDecoder::new(io::BufReader::new(f)));
    let mut out = std::collections::HashMap::new();
    let bad = |e: io::Error| io_at(archive, e);
    for entry in ar.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        out.insert(entry.path().map_err(bad)?.into_owned(), entry.size());
    }
    Ok(out)
}

/// Finish what a killed run's list says: its sources still as archived go (their bytes are in
/// the archive), each from the directory below the root it was archived from, durably; then
/// the list.
pub fn finish(l: Leftover) -> Result<Finished, Unarchived> {
    let mut dirs: BTreeMap<&Path, Dir> = BTreeMap::new();
    for (path, _) in &l.found.removed {
        let rel = below(&l.root, path).unwrap_or(path);
        let parent = rel.parent().unwrap_or(Path::new(""));
        if !dirs.contains_key(parent) {
            let dir = Dir::below(&l.root, parent).map_err(|e| io_at(path, e))?;
            dirs.insert(parent, dir);
        }
        let name = path.file_name().unwrap_or_default();
        dirs[parent].remove(name).map_err(|e| io_at(path, e))?;
    }
    for (parent, dir) in &dirs {
        dir.sync().map_err(|e| io_at(&l.root.join(parent), e))?;
    }
    fs::remove_file(&l.list).map_err(|e| io_at(&l.list, e))?;
    Ok(l.found)
}

type Entry = (PathBuf, u64, SystemTime);

fn write(
    dirs: &mut Dirs,
    files: &[Candidate],
    partial: &Path,
    level: u32,
    progress: &dyn Fn(u64),
) -> io::Result<Vec<Entry>> {
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(partial)?;
    // An archive has no single name or mtime for its gzip header.
    let enc = super::gzip::Gzip::new(BufWriter::with_capacity(256 * 1024, out), level, b"", 0)?;
    let mut tar = tar::Builder::new(enc);
    tar.mode(tar::HeaderMode::Complete);
    let mut written = vec![];
    for c in files {
        let mut f = dirs.of(c)?.open_read(super::beneath::file_name(c))?;
        let meta = f.metadata()?;
        if !meta.is_file() || meta.ino() != c.ino || meta.len() != c.size {
            return Err(io::Error::other(format!(
                "{} changed since it was selected (or is no longer a regular file)",
                c.path.display()
            )));
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        // Names are relative to the rule's root: an archive can never write outside where it
        // is unpacked.
        tar.append_data(&mut header, &c.rel, &mut f)?;
        progress(meta.len());
        written.push((c.rel.clone(), meta.len(), meta.modified()?));
    }
    let enc = tar.into_inner()?;
    let buf = enc.finish()?;
    let file = buf.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(written)
}

fn verify(path: &Path, expected: &[Entry]) -> Result<(), Unarchived> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut ar = tar::Archive::new(GzDecoder::new(io::BufReader::with_capacity(256 * 1024, f)));
    let mut n = 0;
    for entry in ar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let (name, size, _) = expected.get(n).ok_or("more entries than written")?;
        let got = entry.path().map_err(|e| e.to_string())?.into_owned();
        if &got != name || entry.size() != *size {
            return Err(format!(
                "entry {} is {} ({} bytes), expected {} ({size} bytes)",
                n + 1,
                got.display(),
                entry.size(),
                name.display()
            )
            .into());
        }
        // Decompress every byte: the gzip CRC is checked at the end of the stream.
        let copied = io::copy(&mut entry.by_ref().take(u64::MAX), &mut io::sink())
            .map_err(|e| e.to_string())?;
        if copied != *size {
            return Err(format!(
                "entry {} has {copied} bytes, expected {size}",
                name.display()
            )
            .into());
        }
        n += 1;
    }
    if n != expected.len() {
        return Err(format!("{n} entries, expected {}", expected.len()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn periods() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_651_200); // 2026-11-26T00:00:00Z
        assert_eq!(period(t, GroupBy::Day), "2026-11-26");
        assert_eq!(period(t, GroupBy::Month), "2026-11");
        assert_eq!(period(t, GroupBy::Week), "2026-W48");
        let jan1 = UNIX_EPOCH + Duration::from_secs(1_609_459_200); // 2021-01-01, ISO week 53 of 2020
        assert_eq!(period(jan1, GroupBy::Week), "2020-W53");
    }
}

crate::reason::reason! {
    /// Why an archive was not made (or not finished): the sources stay where they are.
    pub struct Unarchived;
}
