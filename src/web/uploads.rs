//! Forms with files (a reply with attachments, a citizen's reply on the status page): the
//! multipart body read into its text fields and files, with a cap on the total size, and the
//! files put in the blob store before anything is written to the database (content-addressed,
//! so a post that fails afterwards leaves nothing wrong).

use futures_util::StreamExt as _;

use crate::domain::InvalidValue;
use crate::error::Error;
use crate::mail::intake::StoredAttachment;
use crate::store::blobs::BlobStore;
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
                    format!("at most {} MB in all", MAX_UPLOAD / 1024 / 1024),
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
