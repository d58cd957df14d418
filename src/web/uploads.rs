//! Forms with files (a reply with attachments, a citizen's reply on the status page): the
//! multipart body read into its text fields and files, with a cap on the total size, and the
//! files put in the blob store before anything is written to the database (content-addressed,
//! so a post that fails afterwards leaves nothing wrong).

use futures_util::StreamExt as _;

use crate::BlobStore;
use crate::domain::InvalidValue;
use crate::domain::Reason;
use crate::error::Error;
use crate::tickets::StoredAttachment;
use crate::web::errors::Failure;

/// Largest upload per form (all files together).
pub const MAX_UPLOAD: usize = 25 * 1024 * 1024;

/// A form's text fields (in order; a name may repeat) and its non-empty `files`.
#[derive(Default)]
pub struct Upload {
    pub fields: Vec<(String, String)>,
    /// (file name as sent, content type, bytes).
    pub files: Vec<(String, String, Vec<u8>)>,
}

impl Upload {
    /// The first value of a text field ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of a repeated text field.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a form could not be read: too large (a refused value, shown next to the form) or broken.
pub enum UploadError {
    TooBig(InvalidValue),
    Broken(Failure),
}

/// Read a multipart form: file parts named `files_field`, everything else as text.
pub async fn read(
    mut form: actix_multipart::Multipart,
    files_field: &str,
) -> Result<Upload, UploadError> {
    let mut up = Upload::default();
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| UploadError::Broken(Failure::BadRequest(e.to_string())))?;
        let name = field.name().unwrap_or("").to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_string));
        let content_type = field
            .content_type()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut bytes = vec![];
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| UploadError::Broken(Failure::BadRequest(e.to_string())))?;
            total += chunk.len();
            if total > MAX_UPLOAD {
                return Err(UploadError::TooBig(InvalidValue::new(
                    "attachments",
                    Reason::TooBig {
                        mb: MAX_UPLOAD / 1024 / 1024,
                    },
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == files_field {
            if let Some(f) = filename.filter(|f| !f.is_empty())
                && !bytes.is_empty()
            {
                up.files.push((f, content_type, bytes));
            }
        } else {
            up.fields
                .push((name, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    Ok(up)
}

/// Put the files in the blob store; what the ticket records about them.
pub async fn store(
    blobs: &BlobStore,
    files: Vec<(String, String, Vec<u8>)>,
) -> Result<Vec<StoredAttachment>, Failure> {
    let blobs = blobs.clone();
    tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|(filename, content_type, bytes)| {
                let sha256 = blobs.put(&bytes)?;
                Ok(StoredAttachment {
                    filename: crate::mail::parse::sanitize_filename(&filename),
                    content_type,
                    size: bytes.len() as i64,
                    sha256,
                    inline: false,
                    content_id: None,
                })
            })
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await
    .map_err(|e| Failure::Domain(Error::Internal(e.to_string())))?
    .map_err(|e| Failure::Domain(Error::Internal(format!("attachment file: {e}"))))
}

/// Text a streamed form may carry in all its text fields (a reply of 10,000 characters is at
/// most 40 KB).
pub const MAX_TEXT_FIELDS: usize = 256 * 1024;

/// Bytes of a file held in memory before they go to disk.
const WRITE_CHUNK: usize = 256 * 1024;

/// A form whose files went straight to the blob store while it was read.
#[derive(Default)]
pub struct StreamedUpload {
    pub fields: Vec<(String, String)>,
    pub files: Vec<StoredAttachment>,
}

impl StreamedUpload {
    /// The first value of a text field ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        field(&self.fields, name)
    }
}

/// The first value of `name` among text fields ("" when absent).
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Why a streamed form was not taken.
pub enum StreamError {
    /// The check of the text fields read so far (e.g. the CSRF token) refused the form.
    Refused(Failure),
    /// The files are larger than allowed (`limit` bytes); the text fields read before them.
    TooBig {
        fields: Vec<(String, String)>,
        limit: u64,
    },
    Broken(Failure),
}

/// Read a multipart form whose file parts are named `files_field`, streaming each file to the
/// blob store as it arrives (memory holds at most a chunk per form), at most `max_bytes` of
/// files in all. `check` sees the text fields that came before the first file — the form puts
/// its CSRF token and text first — and runs before a byte of any file is read (or at the end
/// when there is none); when it refuses, the rest of the body is never read.
pub async fn read_streamed(
    mut form: actix_multipart::Multipart,
    files_field: &str,
    blobs: &BlobStore,
    max_bytes: u64,
    mut check: impl FnMut(&[(String, String)]) -> Result<(), Failure>,
) -> Result<StreamedUpload, StreamError> {
    let mut up = StreamedUpload::default();
    let (mut text_bytes, mut file_bytes) = (0usize, 0u64);
    let mut checked = false;
    while let Some(part) = form.next().await {
        let mut part = part.map_err(|e| broken(&e))?;
        let name = part.name().unwrap_or("").to_string();
        let filename = part
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_string));
        let Some(filename) = filename.filter(|_| name == files_field) else {
            let text = read_text(&mut part, &mut text_bytes).await?;
            up.fields.push((name, text));
            continue;
        };
        if !checked {
            check(&up.fields).map_err(StreamError::Refused)?;
            checked = true;
        }
        let content_type = part
            .content_type()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let keep = !filename.is_empty();
        match stream_file(&mut part, blobs, keep, &mut file_bytes, max_bytes).await? {
            FileRead::TooBig => {
                return Err(StreamError::TooBig {
                    fields: up.fields,
                    limit: max_bytes,
                });
            }
            FileRead::Nothing => {}
            FileRead::Stored { sha256, size } => up.files.push(StoredAttachment {
                filename: crate::mail::parse::sanitize_filename(&filename),
                content_type,
                size: size as i64,
                sha256,
                inline: false,
                content_id: None,
            }),
        }
    }
    if !checked {
        check(&up.fields).map_err(StreamError::Refused)?;
    }
    if !up.files.is_empty() {
        let blobs = blobs.clone();
        tokio::task::spawn_blocking(move || blobs.sync())
            .await
            .map_err(|e| internal(&e))?
            .map_err(|e| internal(&e))?;
    }
    Ok(up)
}

fn broken(e: &dyn std::fmt::Display) -> StreamError {
    StreamError::Broken(Failure::BadRequest(e.to_string()))
}

fn internal(e: &dyn std::fmt::Display) -> StreamError {
    StreamError::Broken(Failure::Domain(Error::Internal(format!(
        "attachment file: {e}"
    ))))
}

/// A text part, counted against [`MAX_TEXT_FIELDS`] for the whole form.
async fn read_text(
    part: &mut actix_multipart::Field,
    text_bytes: &mut usize,
) -> Result<String, StreamError> {
    let mut bytes = vec![];
    while let Some(chunk) = part.next().await {
        let chunk = chunk.map_err(|e| broken(&e))?;
        *text_bytes += chunk.len();
        if *text_bytes > MAX_TEXT_FIELDS {
            return Err(broken(&"the form's text is too long"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What became of a file part.
enum FileRead {
    /// The files together passed the limit.
    TooBig,
    /// Nameless or empty: not kept.
    Nothing,
    /// In the blob store.
    Stored { sha256: String, size: u64 },
}

/// Stream a file part to the blob store in chunks of [`WRITE_CHUNK`] (written on the blocking
/// pool), counting its bytes into `file_bytes` against `max_bytes`; a part not to `keep` is read
/// all the same but not stored.
async fn stream_file(
    part: &mut actix_multipart::Field,
    blobs: &BlobStore,
    keep: bool,
    file_bytes: &mut u64,
    max_bytes: u64,
) -> Result<FileRead, StreamError> {
    let mut writer = Some(blobs.writer().map_err(|e| internal(&e))?);
    let mut pending: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
    loop {
        let chunk = part.next().await.transpose().map_err(|e| broken(&e))?;
        let done = chunk.is_none();
        if let Some(chunk) = chunk {
            *file_bytes += chunk.len() as u64;
            if *file_bytes > max_bytes {
                return Ok(FileRead::TooBig);
            }
            pending.extend_from_slice(&chunk);
        }
        if pending.len() >= WRITE_CHUNK || (done && !pending.is_empty()) {
            let mut w = writer.take().expect("writer is back");
            let bytes = std::mem::take(&mut pending);
            let (w, bytes, written) = tokio::task::spawn_blocking(move || {
                let r = w.write(&bytes);
                (w, bytes, r)
            })
            .await
            .map_err(|e| internal(&e))?;
            written.map_err(|e| internal(&e))?;
            writer = Some(w);
            pending = bytes;
            pending.clear();
        }
        if done {
            break;
        }
    }
    let w = writer.take().expect("writer is back");
    if !keep || w.size() == 0 {
        return Ok(FileRead::Nothing);
    }
    let (sha256, size) = tokio::task::spawn_blocking(move || w.finish())
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| internal(&e))?;
    Ok(FileRead::Stored { sha256, size })
}
