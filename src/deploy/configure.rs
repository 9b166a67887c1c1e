//! `configure`: rendered templates written atomically, the files they replace kept (in
//! `.tend/previous/<release>.json`) so a rollback, even a manual one days later, restores them.

use std::io;
use std::path::{Path, PathBuf};

use crate::machine::{ConfigDest, Machine};

use serde::{Deserialize, Serialize};

/// A config file to write, its template already rendered. The content may hold secrets and is
/// never shown.
#[derive(Clone)]
pub struct Config {
    pub template: String,
    pub dest: PathBuf,
    /// The deploy root, when `dest` was given relative to it: the file must stay inside.
    pub root: Option<PathBuf>,
    /// As given in the playbook, for messages.
    pub shown: String,
    pub mode: u32,
    pub content: String,
}

/// What a destination held before `configure` wrote it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Previous {
    pub dest: PathBuf,
    /// `None`: the file did not exist, so restoring removes it.
    #[serde(with = "text_or_bytes")]
    pub content: Option<Vec<u8>>,
    pub mode: u32,
}

pub enum Written {
    Unchanged,
    Replaced(Previous),
}

/// Write `c` unless it already has that content and mode; the previous state is returned for
/// the caller to keep durably *before* calling `commit`.
pub fn prepare(t: &dyn Machine, c: &Config) -> io::Result<Written> {
    Ok(match t.read_config(&c.dest, c.root.as_deref())? {
        ConfigDest::Refused(why) => return Err(io::Error::other(why)),
        ConfigDest::Present(old, mode) if old == c.content.as_bytes() && mode == c.mode => {
            Written::Unchanged
        }
        ConfigDest::Present(old, mode) => Written::Replaced(Previous {
            dest: c.dest.clone(),
            content: Some(old),
            mode,
        }),
        ConfigDest::Absent => Written::Replaced(Previous {
            dest: c.dest.clone(),
            content: None,
            mode: c.mode,
        }),
    })
}

/// The config files a deploy replaced, and which run wrote the list: a run killed midway is
/// undone with its own list, never with one an earlier deploy of the same release left.
#[derive(Serialize, Deserialize, Default, Debug)]
pub struct Backup {
    pub run: Option<String>,
    pub files: Vec<Previous>,
}

/// Keep `previous` (the backups of the release, `c`'s among them) at `backup`, durably, then
/// write `c`.
pub fn commit(
    t: &dyn Machine,
    backup: &Path,
    run: &str,
    previous: &[Previous],
    c: &Config,
) -> io::Result<()> {
    let json = serde_json::to_vec(&Backup {
        run: Some(run.to_string()),
        files: previous.to_vec(),
    })
    .map_err(io::Error::other)?;
    t.write_files(&[
        (backup, &json, 0o600),
        (&c.dest, c.content.as_bytes(), c.mode),
    ])
}

pub fn restore(t: &dyn Machine, p: &Previous) -> io::Result<()> {
    match &p.content {
        Some(bytes) => t.write_file(&p.dest, bytes, p.mode),
        None => t.remove_file(&p.dest),
    }
}

pub fn load(t: &dyn Machine, path: &Path) -> io::Result<Backup> {
    /// Backups written before they named their run are a bare list.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Named(Backup),
        List(Vec<Previous>),
    }
    match t.read_file(path)? {
        Some((b, _)) => Ok(
            match serde_json::from_slice(&b).map_err(io::Error::other)? {
                Form::Named(b) => b,
                Form::List(files) => Backup { run: None, files },
            },
        ),
        None => Ok(Backup::default()),
    }
}

/// A backup's bytes as a JSON string when they are UTF-8 (configs are), else as an array of
/// byte values: an array costs four times the file's size, and is read and written on every
/// deploy that changes the file.
mod text_or_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Form {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|b| match std::str::from_utf8(b) {
                Ok(text) => Form::Text(text.to_string()),
                Err(_) => Form::Bytes(b.clone()),
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<Form>::deserialize(d)?.map(|f| match f {
            Form::Text(t) => t.into_bytes(),
            Form::Bytes(b) => b,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_keeps_text_as_a_string_and_other_bytes_exactly() {
        for content in [
            Some(b"port=8080\n".to_vec()),
            Some(vec![0xff, 0x00, b'a']),
            None,
        ] {
            let p = Previous {
                dest: "/srv/app.conf".into(),
                content: content.clone(),
                mode: 0o640,
            };
            let json = serde_json::to_string(&p).unwrap();
            let back: Previous = serde_json::from_str(&json).unwrap();
            assert_eq!(back.content, content, "{json}");
        }
        let json = serde_json::to_string(&Previous {
            dest: "/a".into(),
            content: Some(b"x=1\n".to_vec()),
            mode: 0o600,
        })
        .unwrap();
        assert!(json.contains(r#""content":"x=1\n""#), "{json}");
        // Backups written as byte arrays still load.
        let old: Previous =
            serde_json::from_str(r#"{"dest":"/a","content":[120,61,49],"mode":384}"#).unwrap();
        assert_eq!(old.content.as_deref(), Some(&b"x=1"[..]));
    }
}
