//! Tracked-link tokens: everything a redirect needs, signed.
//!
//! A tracked link is `{link_base_url}/{token}`. The token is self-contained so that the link
//! host can answer a click with nothing but the token and the signing keys: no store, no
//! network (invariant 1 in ARCHITECTURE.md). That is what keeps redirects working after the
//! retention window and while storage is down.
//!
//! Layout before base64url (no padding):
//!
//! ```text
//! version u8 (=1) | key id len u8 | key id | sent_at i64 BE (unix s) | location u8
//! | message id: 0x00 + 16 bytes (UUID) or 0x01 + len u8 + bytes | original URL (rest)
//! | tag: first 16 bytes (128 bits) of HMAC-SHA256(secret, DOMAIN || all of the above)
//! ```
//!
//! The tag is compared in constant time. A token whose key id is unknown, whose tag does not
//! match, or which is cut short anywhere is rejected the same way: the link host answers 404
//! and never redirects to a URL that clickhook did not sign (invariant 3).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::message::ClickLocation;

/// Bytes of HMAC-SHA256 kept in a token: 128 bits.
pub const TAG_LEN: usize = 16;
/// The longest original URL that is tracked. Longer links are left as they are.
pub const MAX_URL_LEN: usize = 8192;
/// The longest token text the link host will even try to decode.
pub const MAX_TOKEN_LEN: usize = (MAX_URL_LEN + 512) * 4 / 3 + 4;
const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"clickhook/link/v1\0";

/// One signing key. The id travels in every token so that verification picks the right key.
#[derive(Clone)]
pub struct SigningKey {
    id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

impl SigningKey {
    /// `id`: 1 to 32 bytes of `[A-Za-z0-9_.-]`; `secret`: at least 16 bytes.
    pub fn new(id: impl Into<String>, secret: Vec<u8>) -> Result<Self, String> {
        let id = id.into();
        if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(format!("key id {id:?}: must be 1 to 32 characters of A-Z a-z 0-9 - _ ."));
        }
        if secret.len() < 16 {
            return Err(format!("key {id:?}: secret must be at least 16 bytes, got {}", secret.len()));
        }
        Ok(Self { id, secret })
    }

    /// Parses a base64 secret (standard or URL-safe alphabet, padding optional).
    pub fn from_base64(id: impl Into<String>, secret_b64: &str) -> Result<Self, String> {
        let id = id.into();
        let secret = decode_any_base64(secret_b64.trim())
            .ok_or_else(|| format!("key {id:?}: secret is not valid base64"))?;
        Self::new(id, secret)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn secret_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.secret)
    }

    fn mac(&self, payload: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(DOMAIN);
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }
}

fn decode_any_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|e| e.decode(s).ok())
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPayload {
    pub message_id: String,
    pub original_link: String,
    pub location: ClickLocation,
    /// The message's SentAt, unix seconds.
    pub sent_at: i64,
}

/// Why a token was refused. The link host treats every variant the same (404); the variants
/// exist for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not valid base64url or has the wrong length")]
    Malformed,
    #[error("token was signed with a key this node does not know")]
    UnknownKey,
    #[error("token signature does not match")]
    BadSignature,
    #[error("token content is invalid")]
    BadContent,
}

/// The signing keys: the first signs, all verify (rotation).
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<SigningKey>,
}

impl Keyring {
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("at least one signing key is needed".into());
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(format!("signing key id {:?} is used twice", k.id));
            }
        }
        Ok(Self { keys })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// Signs a payload. Errors when the URL is not http(s), too long, or the message id is
    /// longer than 255 bytes.
    pub fn sign(&self, p: &TokenPayload) -> Result<String, String> {
        if p.original_link.len() > MAX_URL_LEN {
            return Err(format!("link is longer than {MAX_URL_LEN} bytes"));
        }
        if !is_http_url(&p.original_link) {
            return Err("only http and https links are tracked".into());
        }
        let key = self.signing_key();
        let mut buf = Vec::with_capacity(64 + p.original_link.len());
        buf.push(VERSION);
        buf.push(key.id.len() as u8);
        buf.extend_from_slice(key.id.as_bytes());
        buf.extend_from_slice(&p.sent_at.to_be_bytes());
        buf.push(p.location.as_byte());
        match uuid::Uuid::try_parse(&p.message_id) {
            Ok(u) if u.hyphenated().to_string() == p.message_id => {
                buf.push(0);
                buf.extend_from_slice(u.as_bytes());
            }
            _ => {
                let id = p.message_id.as_bytes();
                if id.is_empty() || id.len() > 255 {
                    return Err("MessageID must be 1 to 255 bytes".into());
                }
                buf.push(1);
                buf.push(id.len() as u8);
                buf.extend_from_slice(id);
            }
        }
        buf.extend_from_slice(p.original_link.as_bytes());
        let tag = key.mac(&buf);
        buf.extend_from_slice(&tag[..TAG_LEN]);
        Ok(URL_SAFE_NO_PAD.encode(buf))
    }

    /// Verifies a token and returns what it says. Constant time in the tag comparison.
    pub fn verify(&self, token: &str) -> Result<TokenPayload, TokenError> {
        if token.len() > MAX_TOKEN_LEN || token.len() < 8 {
            return Err(TokenError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| TokenError::Malformed)?;
        if raw.len() < 2 + TAG_LEN || raw[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let (body, tag) = raw.split_at(raw.len() - TAG_LEN);
        let id_len = body[1] as usize;
        let key_id = body.get(2..2 + id_len).ok_or(TokenError::Malformed)?;
        let key = self.keys.iter().find(|k| k.id.as_bytes() == key_id).ok_or(TokenError::UnknownKey)?;
        let expected = key.mac(body);
        if !bool::from(expected[..TAG_LEN].ct_eq(tag)) {
            return Err(TokenError::BadSignature);
        }
        parse_body(&body[2 + id_len..]).ok_or(TokenError::BadContent)
    }
}

fn parse_body(b: &[u8]) -> Option<TokenPayload> {
    let sent_at = i64::from_be_bytes(b.get(..8)?.try_into().ok()?);
    let location = ClickLocation::from_byte(*b.get(8)?)?;
    let (message_id, rest) = match *b.get(9)? {
        0 => {
            let u = uuid::Uuid::from_slice(b.get(10..26)?).ok()?;
            (u.hyphenated().to_string(), b.get(26..)?)
        }
        1 => {
            let n = *b.get(10)? as usize;
            let id = std::str::from_utf8(b.get(11..11 + n)?).ok()?.to_owned();
            (id, b.get(11 + n..)?)
        }
        _ => return None,
    };
    let original_link = std::str::from_utf8(rest).ok()?.to_owned();
    if !is_http_url(&original_link) {
        return None;
    }
    Some(TokenPayload { message_id, original_link, location, sent_at })
}

/// True for `http://` and `https://` URLs (scheme case-insensitive) with something after.
pub fn is_http_url(s: &str) -> bool {
    let lower_prefix = |p: &str| s.len() > p.len() && s[..p.len()].eq_ignore_ascii_case(p);
    (s.is_char_boundary(7) && lower_prefix("http://")) || (s.is_char_boundary(8) && lower_prefix("https://"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring(ids: &[&str]) -> Keyring {
        Keyring::new(ids.iter().map(|id| SigningKey::new(*id, format!("secret-of-{id}-0123456789").into_bytes()).unwrap()).collect()).unwrap()
    }

    fn payload() -> TokenPayload {
        TokenPayload {
            message_id: "9a4c2b4e-2f0e-4a57-9a51-7c0e1f3d2b11".into(),
            original_link: "https://example.com/a?b=c&d=%20e#f".into(),
            location: ClickLocation::Html,
            sent_at: 1_796_000_000,
        }
    }

    #[test]
    fn round_trip_uuid_and_free_form_ids() {
        let r = ring(&["k1"]);
        let p = payload();
        assert_eq!(r.verify(&r.sign(&p).unwrap()).unwrap(), p);
        let p2 = TokenPayload { message_id: "<abc@mail.example>".into(), location: ClickLocation::Text, ..payload() };
        assert_eq!(r.verify(&r.sign(&p2).unwrap()).unwrap(), p2);
        // an upper-case UUID is kept exactly as sent, not normalised
        let p3 = TokenPayload { message_id: "9A4C2B4E-2F0E-4A57-9A51-7C0E1F3D2B11".into(), ..payload() };
        assert_eq!(r.verify(&r.sign(&p3).unwrap()).unwrap(), p3);
    }

    #[test]
    fn rotation_old_keys_verify_new_key_signs() {
        let old = ring(&["k1"]);
        let t_old = old.sign(&payload()).unwrap();
        let rotated = ring(&["k2", "k1"]);
        assert_eq!(rotated.verify(&t_old).unwrap(), payload());
        let t_new = rotated.sign(&payload()).unwrap();
        assert_eq!(old.verify(&t_new), Err(TokenError::UnknownKey));
    }

    #[test]
    fn same_id_other_secret_is_rejected() {
        let a = ring(&["k1"]);
        let b = Keyring::new(vec![SigningKey::new("k1", b"a-different-secret-000".to_vec()).unwrap()]).unwrap();
        assert_eq!(b.verify(&a.sign(&payload()).unwrap()), Err(TokenError::BadSignature));
    }

    #[test]
    fn refuses_non_http_links() {
        let r = ring(&["k1"]);
        for url in ["mailto:a@b.c", "javascript:alert(1)", "ftp://x", "http://", "//example.com"] {
            assert!(r.sign(&TokenPayload { original_link: url.into(), ..payload() }).is_err(), "{url}");
        }
    }

    #[test]
    fn truncations_are_rejected() {
        let r = ring(&["k1"]);
        let t = r.sign(&payload()).unwrap();
        for n in 0..t.len() {
            assert!(r.verify(&t[..n]).is_err(), "prefix of {n} chars verified");
        }
    }

    proptest! {
        #[test]
        fn any_payload_round_trips(id in "[ -~]{1,60}", path in "[a-zA-Z0-9/?&=%._~-]{0,200}", sent in any::<i64>(), text in any::<bool>()) {
            let r = ring(&["key-1"]);
            let p = TokenPayload {
                message_id: id,
                original_link: format!("https://example.com/{path}"),
                location: if text { ClickLocation::Text } else { ClickLocation::Html },
                sent_at: sent,
            };
            prop_assert_eq!(r.verify(&r.sign(&p).unwrap()).unwrap(), p);
        }

        #[test]
        fn any_single_byte_change_is_rejected(pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let r = ring(&["k1"]);
            let t = r.sign(&payload()).unwrap();
            let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
            let i = pos.index(raw.len());
            raw[i] ^= flip;
            let tampered = URL_SAFE_NO_PAD.encode(raw);
            prop_assert!(r.verify(&tampered).is_err());
        }

        #[test]
        fn arbitrary_text_never_verifies(s in "[A-Za-z0-9_-]{0,300}") {
            let r = ring(&["k1"]);
            prop_assert!(r.verify(&s).is_err());
        }
    }
}
