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

    // ---- Any payload, any tampering, any keys. ----

    /// Message ids of every kind a sender uses: UUIDs (encoded in 16 bytes when lower-case
    /// hyphenated, kept as text otherwise), printable ASCII, and any Unicode up to 255 bytes.
    fn any_message_id() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).hyphenated().to_string()),
            any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).hyphenated().to_string().to_uppercase()),
            "[ -~]{1,255}",
            "(?s).{1,60}".prop_filter("at most 255 bytes", |s| s.len() <= 255),
        ]
    }

    /// http(s) links with any scheme case and any text after the scheme, up to the limit.
    fn any_link() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![Just("http://"), Just("https://"), Just("HTTPS://"), Just("hTtP://")];
        let rest = prop_oneof![
            8 => "(?s).{1,200}",
            1 => (0..=MAX_URL_LEN - 8).prop_map(|n| "a".repeat(n.max(1))),
        ];
        (scheme, rest).prop_map(|(s, r)| format!("{s}{r}")).prop_filter("at most MAX_URL_LEN", |u| u.len() <= MAX_URL_LEN)
    }

    fn any_payload() -> impl Strategy<Value = TokenPayload> {
        (any_message_id(), any_link(), any::<bool>(), any::<i64>()).prop_map(|(message_id, original_link, text, sent_at)| TokenPayload {
            message_id,
            original_link,
            location: if text { ClickLocation::Text } else { ClickLocation::Html },
            sent_at,
        })
    }

    /// A key id (1 to 32 of `[A-Za-z0-9_.-]`) and a secret of 16 to 64 bytes.
    fn any_key() -> impl Strategy<Value = SigningKey> {
        ("[A-Za-z0-9_.-]{1,32}", prop::collection::vec(any::<u8>(), 16..64)).prop_map(|(id, secret)| SigningKey::new(id, secret).unwrap())
    }

    /// 1 to 5 keys with distinct ids.
    fn any_keys() -> impl Strategy<Value = Vec<SigningKey>> {
        prop::collection::vec(any_key(), 1..=5).prop_map(|mut keys| {
            let mut seen = std::collections::HashSet::new();
            keys.retain(|k| seen.insert(k.id.clone()));
            keys
        })
    }

    const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    #[test]
    fn every_other_base64url_character_anywhere_is_rejected() {
        let r = ring(&["k1"]);
        for p in [payload(), TokenPayload { message_id: "m".into(), original_link: "http://x".into(), ..payload() }] {
            let t = r.sign(&p).unwrap();
            for i in 0..t.len() {
                for &c in B64URL.iter().filter(|&&c| c != t.as_bytes()[i]) {
                    let mut tampered = t.clone().into_bytes();
                    tampered[i] = c;
                    let tampered = String::from_utf8(tampered).unwrap();
                    assert!(r.verify(&tampered).is_err(), "position {i}: {tampered} verified");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_signable_payload_round_trips(p in any_payload(), key in any_key()) {
            let r = Keyring::new(vec![key]).unwrap();
            let t = r.sign(&p).unwrap();
            prop_assert!(t.len() <= MAX_TOKEN_LEN, "{} > {}", t.len(), MAX_TOKEN_LEN);
            prop_assert!(t.bytes().all(|b| B64URL.contains(&b)), "a token is one URL path segment of base64url");
            prop_assert_eq!(r.verify(&t).unwrap(), p);
        }

        #[test]
        fn sign_refuses_exactly_what_a_token_cannot_carry(
            id in prop_oneof![any_message_id(), "(?s).{0,300}"],
            link in prop_oneof![any_link(), "(?s).{0,40}", "(?i)https?:.{0,3}"],
            long in prop::bool::weighted(0.05),
        ) {
            let r = ring(&["k1"]);
            let link = if long { format!("https://e.example/{}", "x".repeat(MAX_URL_LEN)) } else { link };
            let p = TokenPayload { message_id: id.clone(), original_link: link.clone(), location: ClickLocation::Html, sent_at: 0 };
            let uuid_form = uuid::Uuid::try_parse(&id).is_ok_and(|u| u.hyphenated().to_string() == id);
            let ok = (uuid_form || (1..=255).contains(&id.len())) && is_http_url(&link) && link.len() <= MAX_URL_LEN;
            match r.sign(&p) {
                Ok(t) => {
                    prop_assert!(ok, "signed what it should refuse: {:?}", p);
                    prop_assert_eq!(r.verify(&t).unwrap(), p);
                }
                Err(_) => prop_assert!(!ok, "refused a signable payload: {:?}", p),
            }
        }

        /// Any one character of the token text replaced by any other character is refused,
        /// including changes to the last character that only touch its unused low bits.
        #[test]
        fn any_change_to_one_character_is_rejected(p in any_payload(), pos in any::<prop::sample::Index>(), other in any::<char>(), b64 in any::<prop::sample::Index>(), pick_b64 in any::<bool>()) {
            let r = ring(&["k1"]);
            let t = r.sign(&p).unwrap();
            let i = pos.index(t.len());
            let replacement = if pick_b64 { char::from(B64URL[b64.index(B64URL.len())]) } else { other };
            prop_assume!(replacement != char::from(t.as_bytes()[i]));
            let tampered = format!("{}{replacement}{}", &t[..i], &t[i + 1..]);
            prop_assert!(r.verify(&tampered).is_err(), "{} verified", tampered);
        }

        #[test]
        fn any_change_to_one_byte_of_any_token_is_rejected(p in any_payload(), pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let r = ring(&["k1"]);
            let mut raw = URL_SAFE_NO_PAD.decode(r.sign(&p).unwrap()).unwrap();
            let i = pos.index(raw.len());
            raw[i] ^= flip;
            prop_assert!(r.verify(&URL_SAFE_NO_PAD.encode(raw)).is_err());
        }

        #[test]
        fn any_truncation_or_extension_is_rejected(
            p in any_payload(),
            cut in any::<prop::sample::Index>(),
            text_tail in "(?s).{1,40}",
            byte_tail in prop::collection::vec(any::<u8>(), 1..40),
        ) {
            let r = ring(&["k1"]);
            let t = r.sign(&p).unwrap();
            let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
            // cut short, as text and as bytes
            let n = cut.index(t.len());
            prop_assert!(r.verify(&t[..n]).is_err());
            let n = cut.index(raw.len());
            prop_assert!(r.verify(&URL_SAFE_NO_PAD.encode(&raw[..n])).is_err());
            // made longer, as text and as bytes
            let longer_text = format!("{t}{text_tail}");
            prop_assert!(r.verify(&longer_text).is_err());
            let mut longer = raw.clone();
            longer.extend_from_slice(&byte_tail);
            prop_assert!(r.verify(&URL_SAFE_NO_PAD.encode(&longer)).is_err());
        }

        #[test]
        fn tokens_of_keys_not_in_the_ring_are_rejected(p in any_payload(), signer in any_key(), others in any_keys(), other_secret in prop::collection::vec(any::<u8>(), 16..64)) {
            let t = Keyring::new(vec![signer.clone()]).unwrap().sign(&p).unwrap();
            // a ring without the signer's id: unknown key
            let strangers: Vec<SigningKey> = others.into_iter().filter(|k| k.id != signer.id).collect();
            if !strangers.is_empty() {
                prop_assert_eq!(Keyring::new(strangers.clone()).unwrap().verify(&t), Err(TokenError::UnknownKey));
            }
            // the signer's id with another secret: a bad signature, wherever it sits in the ring
            prop_assume!(other_secret != signer.secret);
            let impostor = SigningKey::new(signer.id.clone(), other_secret).unwrap();
            let mut keys = strangers;
            keys.push(impostor);
            prop_assert_eq!(Keyring::new(keys).unwrap().verify(&t), Err(TokenError::BadSignature));
        }

        /// Rotation: a ring holding several keys verifies tokens signed by any of them, signs
        /// with its first, and a ring that dropped a key no longer verifies that key's tokens.
        #[test]
        fn rotation_any_key_in_the_ring_verifies(p in any_payload(), keys in any_keys(), rot in any::<prop::sample::Index>()) {
            let tokens: Vec<String> = keys.iter().map(|k| Keyring::new(vec![k.clone()]).unwrap().sign(&p).unwrap()).collect();
            let mut order = keys.clone();
            order.rotate_left(rot.index(keys.len()));
            let ring = Keyring::new(order.clone()).unwrap();
            for t in &tokens {
                prop_assert_eq!(&ring.verify(t).unwrap(), &p);
            }
            prop_assert_eq!(&ring.sign(&p).unwrap(), &tokens[keys.iter().position(|k| k.id == order[0].id).unwrap()]);
            if order.len() > 1 {
                let dropped = order.pop().unwrap();
                let smaller = Keyring::new(order).unwrap();
                let t = &tokens[keys.iter().position(|k| k.id == dropped.id).unwrap()];
                prop_assert_eq!(smaller.verify(t), Err(TokenError::UnknownKey));
            }
        }

        /// Bodies that no signer would write, but with a valid tag (as if the key leaked, or a
        /// bug wrote them): parsing them never panics, and what it accepts is a payload that
        /// could have been signed.
        #[test]
        fn any_body_with_a_valid_tag_parses_safely(body in prop::collection::vec(any::<u8>(), 0..120), prefix in prop::sample::select(vec![
            vec![],
            1_796_000_000i64.to_be_bytes().to_vec(),
            [1_796_000_000i64.to_be_bytes().as_slice(), &[0, 1]].concat(),
            [1_796_000_000i64.to_be_bytes().as_slice(), &[1, 0]].concat(),
            [1_796_000_000i64.to_be_bytes().as_slice(), &[0, 1, 3, b'a', b'b', b'c']].concat(),
        ]), link in prop::option::of(any_link())) {
            let r = ring(&["k1"]);
            let key = r.signing_key();
            let mut raw = vec![VERSION, key.id.len() as u8];
            raw.extend_from_slice(key.id.as_bytes());
            raw.extend_from_slice(&prefix);
            raw.extend_from_slice(&body);
            if let Some(link) = link {
                raw.extend_from_slice(link.as_bytes());
            }
            let tag = key.mac(&raw);
            raw.extend_from_slice(&tag[..TAG_LEN]);
            let token = URL_SAFE_NO_PAD.encode(&raw);
            if let Ok(p) = r.verify(&token) {
                prop_assert!(is_http_url(&p.original_link));
                if p.original_link.len() <= MAX_URL_LEN && !p.message_id.is_empty() {
                    prop_assert_eq!(r.verify(&r.sign(&p).unwrap()).unwrap(), p);
                }
            }
        }

        #[test]
        fn any_string_is_refused_without_panicking(s in "(?s).{0,400}") {
            let r = ring(&["k1"]);
            prop_assert!(r.verify(&s).is_err());
        }
    }
}
