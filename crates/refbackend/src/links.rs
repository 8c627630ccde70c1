//! Signed download links: HMAC-SHA256 over what the link grants and until
//! when, with a 32-byte key generated on first start (`link.key`, mode 0600).
//!
//! A token is base64url (no padding) of
//! `kind (1) ‖ job id (16) ‖ [attachment id (16)] ‖ expires (8, big-endian unix seconds) ‖ mac (32)`,
//! the MAC taken over a domain-separation prefix and everything before it.
//! Verification is constant-time ([`hmac::Mac::verify_slice`]); a token
//! whose MAC does not verify is indistinguishable from one that never
//! existed (404), while a genuine but expired one is reported as expired (410).

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::path::Path;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

const DOMAIN: &[u8] = b"concierge-export-link-v1";
const KIND_DOWNLOAD: u8 = 1;
const KIND_ATTACHMENT: u8 = 2;

/// The signing key. `Debug` does not show it.
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(***)")
    }
}

/// What a verified token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The ZIP of a job.
    Download { job: Uuid, expires: i64 },
    /// A large attachment referenced from a job's ZIP.
    Attachment {
        job: Uuid,
        attachment: Uuid,
        expires: i64,
    },
}

impl Grant {
    pub fn job(&self) -> Uuid {
        match *self {
            Grant::Download { job, .. } | Grant::Attachment { job, .. } => job,
        }
    }
    pub fn expires(&self) -> i64 {
        match *self {
            Grant::Download { expires, .. } | Grant::Attachment { expires, .. } => expires,
        }
    }
}

impl LinkKey {
    /// A fresh random key.
    pub fn generate() -> LinkKey {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        LinkKey(k)
    }

    /// Reads the key at `path`, or creates it (mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> Result<LinkKey> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let Ok(k) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                    bail!(
                        "{} is not a link key (expected 32 bytes, found {}); remove it to generate a new one (existing links stop working)",
                        path.display(),
                        bytes.len()
                    );
                };
                restrict(path)?;
                Ok(LinkKey(k))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = LinkKey::generate();
                write_private(path, &key.0)
                    .with_context(|| format!("could not create {}", path.display()))?;
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
        }
    }

    /// The token of a download link for `job`, valid until `expires`.
    pub fn sign_download(&self, job: Uuid, expires: i64) -> String {
        let mut body = Vec::with_capacity(1 + 16 + 8 + 32);
        body.push(KIND_DOWNLOAD);
        body.extend_from_slice(job.as_bytes());
        body.extend_from_slice(&expires.to_be_bytes());
        self.seal(body)
    }

    /// The token of a large-attachment URL of `job`'s export.
    pub fn sign_attachment(&self, job: Uuid, attachment: Uuid, expires: i64) -> String {
        let mut body = Vec::with_capacity(1 + 32 + 8 + 32);
        body.push(KIND_ATTACHMENT);
        body.extend_from_slice(job.as_bytes());
        body.extend_from_slice(attachment.as_bytes());
        body.extend_from_slice(&expires.to_be_bytes());
        self.seal(body)
    }

    fn mac(&self) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(DOMAIN);
        m
    }

    fn seal(&self, mut body: Vec<u8>) -> String {
        let mut m = self.mac();
        m.update(&body);
        body.extend_from_slice(&m.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(body)
    }

    /// The grant of a token whose signature verifies (expired or not), or
    /// `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Grant> {
        if token.len() > 200 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (kind, rest_len) = match *raw.first()? {
            KIND_DOWNLOAD => (KIND_DOWNLOAD, 16 + 8),
            KIND_ATTACHMENT => (KIND_ATTACHMENT, 32 + 8),
            _ => return None,
        };
        if raw.len() != 1 + rest_len + 32 {
            return None;
        }
        let (body, tag) = raw.split_at(1 + rest_len);
        let mut m = self.mac();
        m.update(body);
        m.verify_slice(tag).ok()?;
        let job = Uuid::from_slice(&body[1..17]).ok()?;
        let exp_at = body.len() - 8;
        let expires = i64::from_be_bytes(body[exp_at..].try_into().ok()?);
        Some(match kind {
            KIND_DOWNLOAD => Grant::Download { job, expires },
            _ => Grant::Attachment {
                job,
                attachment: Uuid::from_slice(&body[17..33]).ok()?,
                expires,
            },
        })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// NOTE: a key file readable by others is tightened to 0600 rather than
/// refused: the key is not known to be leaked, and refusing would only stop
/// the backend.
#[cfg(unix)]
fn restrict(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "link key was readable by others; setting mode 0600");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("could not set mode 0600 on {}", path.display()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> Result<()> {
    Ok(())
}

/// Constant-time equality of two secrets of any length: both are hashed
/// first, so neither the position of the first difference nor the length
/// shows in the time taken.
pub fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest;
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    let mut diff = 0u8;
    for (p, q) in x.iter().zip(y.iter()) {
        diff |= p ^ q;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = LinkKey::generate();
        let job = Uuid::new_v4();
        let t = k.sign_download(job, 1_800_000_000);
        assert_eq!(
            k.verify(&t),
            Some(Grant::Download {
                job,
                expires: 1_800_000_000
            })
        );
        // flip one character: never verifies
        let mut bad: Vec<char> = t.chars().collect();
        bad[5] = if bad[5] == 'A' { 'B' } else { 'A' };
        assert_eq!(k.verify(&bad.into_iter().collect::<String>()), None);
        // another key: never verifies
        assert_eq!(LinkKey::generate().verify(&t), None);
        assert_eq!(k.verify("not-a-token"), None);
        assert_eq!(k.verify(""), None);
        let att = Uuid::new_v4();
        let a = k.sign_attachment(job, att, 5);
        assert_eq!(
            k.verify(&a),
            Some(Grant::Attachment {
                job,
                attachment: att,
                expires: 5
            })
        );
    }

    #[test]
    fn key_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("link.key");
        let k1 = LinkKey::load_or_create(&p).unwrap();
        let k2 = LinkKey::load_or_create(&p).unwrap();
        assert_eq!(k1.0, k2.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&p, b"short").unwrap();
        assert!(LinkKey::load_or_create(&p).is_err());
        assert!(!format!("{k1:?}").contains(&hex::encode(k1.0)));
    }

    #[test]
    fn secret_eq_works() {
        assert!(secret_eq(b"abc", b"abc"));
        assert!(!secret_eq(b"abc", b"abd"));
        assert!(!secret_eq(b"abc", b"abcd"));
    }
}
