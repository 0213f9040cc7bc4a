//! The `file` output: appends every batch to a JSON-lines file and flushes it.
//!
//! The embedded default output, and a useful one in production for a local copy.
//! A write that fails (disk full, permissions) is answered with RETRY and the
//! reason, so nothing is lost while the operator fixes it.

#![forbid(unsafe_code)]

use serde::Deserialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use syslane_plugin_sdk::{export_plugin, Host, Outcome, Output, Payload};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    path: PathBuf,
    /// `fsync` after every batch (default false: the data reaches the page cache).
    #[serde(default)]
    fsync: bool,
}

pub struct FileOutput {
    path: PathBuf,
    fsync: bool,
    file: Option<File>,
}

impl FileOutput {
    fn open(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("file not open"))
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
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
        let c: Config =
            serde_json::from_str(config).map_err(|e| format!("file output config: {e}"))?;
        let path = host.resolve_path(&c.path);
        let mut out = FileOutput {
            path,
            fsync: c.fsync,
            file: None,
        };
        if let Err(e) = out.open() {
            return Err(format!(
                "file output: cannot open `{}` for appending: {e}",
                out.path.display()
            ));
        }
        Ok(out)
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
