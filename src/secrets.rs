//! The installation's secret key material and what is derived from it: the JWT signing key, the
//! CSRF key and the key that encrypts stored credentials (mailbox passwords). The key is generated
//! on first start into `<data_dir>/secret.key` with mode 0600, or given as `secret_key` in config.
//! It is never logged: `Debug` prints only that a key is present.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

const KEY_FILE: &str = "secret.key";
const KEY_BYTES: usize = 64;

pub struct Keys {
    root: SecretBox<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("secret key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("secret key must be hex and at least 32 bytes long")]
    Malformed,
    #[error("stored secret could not be decrypted (was the secret key changed?)")]
    Decrypt,
}

impl Keys {
    /// The configured key, else the key file in `data_dir`, else a new key written there (0600).
    pub fn load_or_create(
        configured: Option<&SecretString>,
        data_dir: &Path,
    ) -> Result<Keys, KeyError> {
        if let Some(k) = configured {
            return Self::from_hex(k.expose_secret());
        }
        let path = data_dir.join(KEY_FILE);
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_hex(text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let bytes: [u8; KEY_BYTES] = rand::random();
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts.open(&path).map_err(io)?;
                f.write_all(hex::encode(bytes).as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "generated a new secret key");
                Ok(Keys {
                    root: SecretBox::new(Box::new(bytes.to_vec())),
                })
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn from_hex(text: &str) -> Result<Keys, KeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Malformed)?;
        if bytes.len() < 32 {
            return Err(KeyError::Malformed);
        }
        Ok(Keys {
            root: SecretBox::new(Box::new(bytes)),
        })
    }

    /// A purpose-bound subkey: HMAC-SHA256(root, purpose).
    fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.root.expose_secret())
            .expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    pub fn jwt_key(&self) -> [u8; 32] {
        self.derive("arendo/jwt/v1")
    }

    /// HMAC-SHA256 under the CSRF subkey, base64.
    pub fn csrf_mac(&self, data: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.derive("arendo/csrf/v1"))
            .expect("HMAC takes any key length");
        mac.update(data);
        B64.encode(mac.finalize().into_bytes())
    }

    /// Encrypt a stored credential (XChaCha20-Poly1305, random nonce) → base64 text.
    pub fn seal(&self, plaintext: &str) -> String {
        let cipher = XChaCha20Poly1305::new(&self.derive("arendo/credentials/v1").into());
        let nonce_bytes: [u8; 24] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let ct = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("encryption of a short string cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ct);
        format!("v1:{}", B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<SecretString, KeyError> {
        let raw = sealed
            .strip_prefix("v1:")
            .and_then(|b| B64.decode(b).ok())
            .ok_or(KeyError::Decrypt)?;
        if raw.len() < 24 {
            return Err(KeyError::Decrypt);
        }
        let (nonce, ct) = raw.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| KeyError::Decrypt)?;
        let cipher = XChaCha20Poly1305::new(&self.derive("arendo/credentials/v1").into());
        let pt = cipher
            .decrypt(&XNonce::from(nonce), ct)
            .map_err(|_| KeyError::Decrypt)?;
        String::from_utf8(pt)
            .map(SecretString::from)
            .map_err(|_| KeyError::Decrypt)
    }
}

/// A random id for sessions, tokens and Message-IDs (128 bits, hex).
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Keys::load_or_create(None, dir.path()).unwrap();
        let b = Keys::load_or_create(None, dir.path()).unwrap();
        assert_eq!(a.jwt_key(), b.jwt_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{a:?}"), "Keys([redacted])");
    }

    #[test]
    fn sealed_credentials_round_trip_and_detect_tampering() {
        let k = Keys::from_hex(&"ab".repeat(32)).unwrap();
        let sealed = k.seal("hemligt lösenord");
        assert!(!sealed.contains("hemligt"));
        assert_eq!(k.open(&sealed).unwrap().expose_secret(), "hemligt lösenord");
        let other = Keys::from_hex(&"cd".repeat(32)).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(Keys::from_hex("abcd").is_err());
    }
}
