//! Files on disk are private: the data directory and every directory under it 0700, every file
//! 0600 — whatever the umask of the process that starts the server. The database, attachments,
//! raw mail, outgoing mail (with status links), text messages and the search indexes hold
//! personal data; nobody but the service account needs to read them.
//!
//! Three layers: the process umask is set to 077 at start (covers files made by libraries:
//! tantivy, SQLite's WAL and SHM); files we write are created with 0600 and directories with
//! 0700 explicitly; at start the data directory and the database files are tightened, so an
//! installation from before this keeps working and becomes private.

use std::io::Write;
use std::path::Path;

/// Mode of every file the service writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the service makes.
pub const DIR_MODE: u32 = 0o700;

/// Files the process creates from now on (by any library) are private to the service account.
pub fn restrict_umask() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Create `dir` (and its parents) if missing; `dir` itself ends up 0700.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Set `path`'s mode (exactly, not through the umask) if it exists.
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Options that create a file 0600 (then set exactly, whatever the umask).
pub fn open_options() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    opts
}

/// Make an open file 0600 exactly (the umask may have taken more away, an old file may be 0644).
pub fn restrict(f: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    #[cfg(not(unix))]
    let _ = f;
    Ok(())
}

/// Write `bytes` to `path` (created or replaced), 0600.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = open_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    restrict(&f)?;
    f.write_all(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_whatever_was_there() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("x");
        std::fs::write(&file, b"old").unwrap();
        set_mode(&file, 0o644).unwrap();
        write(&file, b"new").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        set_mode(&tmp.path().join("missing"), 0o600).unwrap();
    }
}
