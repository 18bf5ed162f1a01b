//! A keyring file, written so that no key is ever lost to a crash or a mistake.
//!
//! Every write goes to a temporary file next to the target (`.NAME.tmp`, created exclusively,
//! mode 0600), is flushed to disk, then takes the target's place in one step, and the
//! directory is flushed too: a crash leaves the old file or the new one, never an empty or
//! half-written one. A new file never replaces an existing one (it is linked into place, which
//! fails if the name is taken); an existing keyring is replaced only by the command updating
//! it, and only if it still holds what that command read. A temporary file left by an
//! interrupted write is never overwritten: it may hold the only copy of a new key.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use tether_store::crypto::{CryptoError, Keyring, KeyringSource};

/// Why a keyring file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("keyring file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("keyring file {path}: {reason}")]
    Parse { path: PathBuf, reason: CryptoError },
    #[error(
        "keyring file {0} already exists: refusing to overwrite it, since it may hold the only \
         copy of a key; name another file, or move this one away after checking it"
    )]
    Exists(PathBuf),
    #[error(
        "{0} exists: an earlier write of the keyring was interrupted, or another one is running; \
         check that it holds no key you need, remove it, and run again"
    )]
    PendingWrite(PathBuf),
    #[error(
        "keyring file {0} changed since this command read it (another key command?): run it again"
    )]
    Changed(PathBuf),
}

/// A keyring file at an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// The file at `path`, made absolute against the current directory so that messages and
    /// later writes name one file whatever the process does next.
    pub fn new(path: &Path) -> Self {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keyring in the file.
    pub fn read(&self) -> Result<Keyring, KeyFileError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        Keyring::parse_file(&text).map_err(|reason| KeyFileError::Parse {
            path: self.path.clone(),
            reason,
        })
    }

    /// Whether the file exists (an error other than "not found" counts as existing, so that
    /// nothing is created over a file that could not be looked at).
    pub fn exists(&self) -> bool {
        !matches!(std::fs::symlink_metadata(&self.path), Err(e) if e.kind() == ErrorKind::NotFound)
    }

    /// Writes a new keyring file; refuses if the file exists.
    pub fn create(&self, keyring: &Keyring) -> Result<(), KeyFileError> {
        let temp = self.write_temp(keyring)?;
        let linked = std::fs::hard_link(&temp, &self.path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                Err(KeyFileError::Exists(self.path.clone()))
            }
            Err(e) => Err(self.io(e)),
        }
    }

    /// Replaces the keyring `read` (as this command read it) with `keyring`; refuses if the
    /// file no longer holds `read`.
    pub fn replace(&self, read: &Keyring, keyring: &Keyring) -> Result<(), KeyFileError> {
        if self.read()?.key_ids() != read.key_ids() {
            return Err(KeyFileError::Changed(self.path.clone()));
        }
        let temp = self.write_temp(keyring)?;
        if let Err(e) = std::fs::rename(&temp, &self.path) {
            let _ = std::fs::remove_file(&temp);
            return Err(self.io(e));
        }
        self.sync_dir()
    }

    fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// The keyring written and flushed to `.NAME.tmp` next to the file, created exclusively.
    fn write_temp(&self, keyring: &Keyring) -> Result<PathBuf, KeyFileError> {
        let dir = self.dir();
        std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let temp = dir.join(format!(".{name}.tmp"));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(&temp) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(KeyFileError::PendingWrite(temp));
            }
            Err(e) => return Err(self.io(e)),
        };
        let written = file
            .write_all(keyring.to_file_contents().as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            drop(file);
            let _ = std::fs::remove_file(&temp);
            return Err(self.io(e));
        }
        Ok(temp)
    }

    /// Flushes the directory, so the new name survives a power loss.
    fn sync_dir(&self) -> Result<(), KeyFileError> {
        #[cfg(unix)]
        File::open(self.dir())
            .and_then(|dir| dir.sync_all())
            .map_err(|e| self.io(e))?;
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> KeyFileError {
        KeyFileError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// A running process re-reads its keyring file (on SIGHUP, and when a value names a key it
/// does not hold).
impl KeyringSource for KeyFile {
    fn load(&self) -> Result<Keyring, String> {
        self.read().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tether_store::crypto::MasterKey;

    use super::*;

    fn ring() -> Keyring {
        Keyring::new(MasterKey::generate(), Vec::new())
    }

    /// A key file at `name` in a new temporary folder (removed when the returned one is
    /// dropped), created with a new keyring, which it also answers.
    fn created(name: &str) -> (tempfile::TempDir, KeyFile, Keyring) {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(&dir.path().join(name));
        let keyring = ring();
        file.create(&keyring).unwrap();
        (dir, file, keyring)
    }

    #[test]
    fn a_new_file_is_written_owner_only_and_never_over_an_existing_one() {
        let (dir, file, first) = created("keys/master.key");
        assert_eq!(file.read().unwrap().key_ids(), first.key_ids());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            file.create(&ring()),
            Err(KeyFileError::Exists(path)) if path == file.path()
        ));
        assert_eq!(file.read().unwrap().key_ids(), first.key_ids(), "kept");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_keyring_is_replaced_only_if_it_still_holds_what_was_read() {
        let (_dir, file, read) = created("master.key");
        let added = read.clone().with_key(MasterKey::generate());
        file.replace(&read, &added).unwrap();
        assert_eq!(file.read().unwrap().key_ids(), added.key_ids());
        let stale = file.replace(&read, &ring());
        assert!(matches!(stale, Err(KeyFileError::Changed(_))), "{stale:?}");
        assert_eq!(file.read().unwrap().key_ids(), added.key_ids());
    }

    #[test]
    fn an_interrupted_write_left_behind_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(&dir.path().join("master.key"));
        let pending = dir.path().join(".master.key.tmp");
        std::fs::write(&pending, "the only copy of a key\n").unwrap();
        let refused = file.create(&ring());
        assert!(
            matches!(&refused, Err(KeyFileError::PendingWrite(p)) if *p == pending),
            "{refused:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&pending).unwrap(),
            "the only copy of a key\n"
        );
        assert!(!file.exists());
    }

    #[test]
    fn a_relative_path_is_made_absolute() {
        let file = KeyFile::new(Path::new("tether-data/master.key"));
        assert!(file.path().is_absolute());
        assert!(file.path().ends_with("tether-data/master.key"));
    }
}
