//! Writing and reading key files safely.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use secrecy::SecretString;

use super::KeyError;

fn file_error(path: &Path, e: impl std::fmt::Display) -> KeyError {
    KeyError::File {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

pub(crate) fn create_dir(path: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(path).map_err(|e| file_error(path, e))
}

pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::File {
        path: "/dev/urandom".into(),
        message: e.to_string(),
    })
}

/// Writes atomically (temp file + rename) with the given mode, creating parent directories.
fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| file_error(&tmp, e))?;
    f.write_all(contents).map_err(|e| file_error(&tmp, e))?;
    f.sync_all().map_err(|e| file_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
}

/// Writes a private key file, readable only by its owner.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    write_with_mode(path, contents, 0o600)
}

/// Writes a public file (certificates, manifests).
pub fn write_public(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    write_with_mode(path, contents, 0o644)
}

/// Reads a private key file, refusing one that group or others could read.
pub fn read_private(path: &Path) -> Result<SecretString, KeyError> {
    let meta = std::fs::metadata(path).map_err(|e| file_error(path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(KeyError::Permissions(path.to_owned()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    Ok(SecretString::from(text))
}
