//! Content-addressed files under the data directory: `blobs/ab/cdef…` named by their SHA-256.
//! Used for attachments and raw mail sources. Writing the same content twice stores it once.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn new(data_dir: &Path) -> std::io::Result<BlobStore> {
        let root = data_dir.join("blobs");
        super::private::create_dir(&root)?;
        Ok(BlobStore { root })
    }

    fn path_of(&self, sha256_hex: &str) -> Option<PathBuf> {
        if sha256_hex.len() != 64 || !sha256_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(self.root.join(&sha256_hex[..2]).join(&sha256_hex[2..]))
    }

    /// Store `bytes` durably and return its SHA-256.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let hash = self.stage(bytes)?;
        self.sync()?;
        Ok(hash)
    }

    /// Write `bytes` (temp file, then rename) without waiting for the disk; call `sync` before
    /// anything that refers to the blob is committed. Staging many blobs and syncing once is what
    /// makes batched mail intake fast.
    pub fn stage(&self, bytes: &[u8]) -> std::io::Result<String> {
        let hash = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&hash).expect("sha256 hex is valid");
        if path.exists() {
            return Ok(hash);
        }
        let dir = path.parent().expect("blob path has a parent");
        if !dir.exists() {
            super::private::create_dir(dir)?;
        }
        let mut tmp = tempfile_in(dir)?;
        tmp.1.write_all(bytes)?;
        std::fs::rename(&tmp.0, &path)?;
        Ok(hash)
    }

    /// Make every staged blob (contents and directory entries) durable: one `syncfs` of the
    /// blob store's file system.
    pub fn sync(&self) -> std::io::Result<()> {
        let dir = std::fs::File::open(&self.root)?;
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: syncfs only reads the descriptor, which `dir` keeps open for the call.
            if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        #[cfg(not(target_os = "linux"))]
        dir.sync_all()?;
        Ok(())
    }

    pub fn get(&self, sha256_hex: &str) -> std::io::Result<Vec<u8>> {
        let path = self
            .path_of(sha256_hex)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad blob id"))?;
        std::fs::read(path)
    }
}

/// A blob written piece by piece (an upload streamed to disk rather than held in memory):
/// hashed as it is written, put at its content address by [`BlobWriter::finish`], removed if
/// dropped unfinished. Call [`BlobStore::sync`] before anything refers to it.
pub struct BlobWriter {
    store: BlobStore,
    tmp: Option<(PathBuf, std::fs::File)>,
    hasher: Sha256,
    size: u64,
}

impl BlobStore {
    pub fn writer(&self) -> std::io::Result<BlobWriter> {
        Ok(BlobWriter {
            tmp: Some(tempfile_in(&self.root)?),
            store: self.clone(),
            hasher: Sha256::new(),
            size: 0,
        })
    }
}

impl BlobWriter {
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let (_, f) = self.tmp.as_mut().expect("not finished");
        f.write_all(bytes)?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Name the blob by its content: (SHA-256, size).
    pub fn finish(mut self) -> std::io::Result<(String, u64)> {
        let (tmp, f) = self.tmp.take().expect("not finished");
        drop(f);
        let hash = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let path = self.store.path_of(&hash).expect("sha256 hex is valid");
        if path.exists() {
            std::fs::remove_file(&tmp)?;
        } else {
            std::fs::create_dir_all(path.parent().expect("blob path has a parent"))?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok((hash, self.size))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some((tmp, _)) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = format!(".tmp-{}", hex::encode(rand::random::<[u8; 8]>()));
    let path = dir.join(name);
    let f = super::private::open_options()
        .write(true)
        .create_new(true)
        .open(&path)?;
    super::private::restrict(&f)?;
    Ok((path, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_address() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path()).unwrap();
        let a = store.put(b"hej").unwrap();
        let b = store.put(b"hej").unwrap();
        assert_eq!(a, b);
        assert_eq!(store.get(&a).unwrap(), b"hej");
        assert!(store.get("../../etc/passwd").is_err());
    }

    #[test]
    fn a_streamed_blob_is_named_by_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path()).unwrap();
        let mut w = store.writer().unwrap();
        w.write(b"h").unwrap();
        w.write(b"ej").unwrap();
        assert_eq!(w.finish().unwrap(), (store.put(b"hej").unwrap(), 3));
        let unfinished = store.writer().unwrap();
        drop(unfinished);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(left.is_empty(), "an unfinished upload leaves no file");
    }

    #[cfg(unix)]
    #[test]
    fn blobs_are_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: sets this test process's mask (nextest runs each test in its own process).
        unsafe { libc::umask(0o022) };
        let store = BlobStore::new(dir.path()).unwrap();
        let id = store.put(b"personnummer").unwrap();
        let file = store.path_of(&id).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("blobs")), 0o700);
    }
}
