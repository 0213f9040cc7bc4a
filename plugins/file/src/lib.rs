//! The `file` output: appends every batch to a JSON-lines file and flushes it.
//!
//! The embedded default output, and a useful one in production for a local copy.
//! A write that fails (disk full, permissions) is answered with RETRY and the
//! reason, so nothing is lost while the operator fixes it. With `max_bytes` the
//! file is rotated (`path.1` … `path.<keep>`) before a batch would take it past
//! that size, so a host that is never connected to a workspace does not fill its
//! disk; a file moved away by logrotate is noticed and `path` opened anew.
//!
//! Creating an instance changes nothing on disk (`check-config` creates one): it
//! checks that the file, or the directory it would be created in, can be
//! written; the file is opened (and created) at the first batch.

#![forbid(unsafe_code)]

use serde::Deserialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use syslane_plugin_sdk::{export_plugin, Host, Level, Outcome, Output, Payload};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    path: PathBuf,
    /// `fsync` after every batch (default false: the data reaches the page cache).
    #[serde(default)]
    fsync: bool,
    /// Rotate before the file would grow past this many bytes (default: never).
    max_bytes: Option<u64>,
    /// Rotated files kept beside it (default 5).
    #[serde(default = "default_keep")]
    keep: u32,
}

fn default_keep() -> u32 {
    5
}

pub struct FileOutput {
    host: Host,
    path: PathBuf,
    fsync: bool,
    max_bytes: Option<u64>,
    keep: u32,
    file: Option<File>,
}

/// Cuts a last line that has no newline (a write interrupted by a crash) and
/// returns how many bytes went.
fn cut_torn_tail(file: &File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let mut last = [0u8];
    if len == 0 || {
        file.read_exact_at(&mut last, len - 1)?;
        last[0] == b'\n'
    } {
        return Ok(0);
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            let keep = start + i as u64 + 1;
            file.set_len(keep)?;
            return Ok(len - keep);
        }
        end = start;
    }
    file.set_len(0)?;
    Ok(len)
}

/// Whether `path` can be appended to, or created, by this process, without
/// creating or changing anything.
fn writable(path: &Path) -> Result<(), String> {
    use rustix::fs::{access, Access};
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err("it is a directory; name a file".into()),
        Ok(_) => access(path, Access::WRITE_OK)
            .map_err(|e| format!("{e}; the agent's user must be able to write it")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // The first existing directory on the way must take new entries.
            let dir = path
                .ancestors()
                .skip(1)
                .find(|a| a.as_os_str().is_empty() || a.exists())
                .filter(|a| !a.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(format!("{} is not a directory", dir.display()));
            }
            access(dir, Access::WRITE_OK | Access::EXEC_OK).map_err(|e| {
                format!(
                    "it does not exist and cannot be created in {}: {e}; the agent's user must be able to write that directory",
                    dir.display()
                )
            })
        }
        Err(e) => Err(e.to_string()),
    }
}

/// `path` with `.n` appended.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn ignore_missing(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl FileOutput {
    fn open(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&self.path)?;
            let cut = cut_torn_tail(&file)?;
            if cut > 0 {
                self.host.log(
                    Level::Warn,
                    &format!(
                        "{}: cut {cut} bytes of a line left unfinished by a crash; its batch was not acknowledged and is written again",
                        self.path.display()
                    ),
                );
            }
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("file not open"))
    }

    /// Forgets the open file when `path` no longer names it (moved or deleted by
    /// logrotate or the operator).
    fn notice_moved(&mut self) {
        let Some(file) = &self.file else { return };
        let same = match (file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(open), Ok(named)) => open.ino() == named.ino() && open.dev() == named.dev(),
            _ => false,
        };
        if !same {
            self.file = None;
        }
    }

    /// `path` becomes `path.1`, `path.1` becomes `path.2`, …; the oldest beyond
    /// `keep` is deleted.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        if self.keep == 0 {
            return ignore_missing(std::fs::remove_file(&self.path));
        }
        ignore_missing(std::fs::remove_file(numbered(&self.path, self.keep)))?;
        for n in (1..self.keep).rev() {
            ignore_missing(std::fs::rename(
                numbered(&self.path, n),
                numbered(&self.path, n + 1),
            ))?;
        }
        ignore_missing(std::fs::rename(&self.path, numbered(&self.path, 1)))
    }

    /// Writes a payload (JSON lines), rotating between whole lines whenever the
    /// next would take the file past `max_bytes`; a line longer than that gets a
    /// file of its own.
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.notice_moved();
        let Some(max) = self.max_bytes else {
            return self.append(data);
        };
        let mut rest = data;
        while !rest.is_empty() {
            let size = self.open()?.metadata()?.len();
            let room = usize::try_from(max.saturating_sub(size)).unwrap_or(usize::MAX);
            let mut take = if rest.len() <= room {
                rest.len()
            } else {
                rest[..room]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
            };
            if take == 0 {
                if size > 0 {
                    self.rotate()?;
                    continue;
                }
                take = rest
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
            }
            self.append(&rest[..take])?;
            rest = &rest[take..];
        }
        Ok(())
    }

    fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
        let fsync = self.fsync;
        let file = self.open()?;
        let before = file.metadata()?.len();
        let written = file
            .write_all(data)
            .and_then(|()| file.flush())
            .and_then(|()| match fsync {
                true => file.sync_data(),
                false => Ok(()),
            });
        if written.is_err() {
            // Leave no torn line behind: the retry appends the whole batch again.
            let _ = file.set_len(before);
        }
        written
    }
}

impl Output for FileOutput {
    fn create(host: Host, config: &str) -> Result<Self, String> {
        let c: Config = syslane_plugin_sdk::parse_config(config)?;
        let path = host.resolve_path(&c.path);
        if c.max_bytes == Some(0) {
            return Err(
                "file output: max_bytes must be at least 1 (leave it out to never rotate)".into(),
            );
        }
        if let Err(e) = writable(&path) {
            return Err(format!(
                "file output: cannot append to `{}`: {e}",
                path.display()
            ));
        }
        Ok(FileOutput {
            host,
            path,
            fsync: c.fsync,
            max_bytes: c.max_bytes,
            keep: c.keep,
            file: None,
        })
    }

    fn send(&mut self, payload: &Payload<'_>) -> Outcome {
        match self.write(payload.data) {
            Ok(()) => Outcome::Ok,
            Err(e) => {
                // Reopen next time: the file may have been rotated or the disk remounted.
                self.file = None;
                Outcome::Retry {
                    after: None,
                    reason: format!(
                        "writing to `{}` failed: {e}; the batch is kept and retried",
                        self.path.display()
                    ),
                }
            }
        }
    }
}

export_plugin!(
    output,
    FileOutput,
    "file",
    "Appends records to a JSON-lines file"
);
