//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>, spec 1.0.0, symmetric).
//!
//! A delivery attempt carries three headers:
//!
//! ```text
//! webhook-id:        {id}          the event's id, the same on every retry
//! webhook-timestamp: {timestamp}   this attempt's time, integer unix seconds
//! webhook-signature: v1,{sig} ...  one entry per signing secret, space-delimited
//! ```
//!
//! where `sig` is standard base64 (with padding) of
//! `HMAC-SHA256(key, "{id}.{timestamp}.{body}")` over the exact body bytes sent. A secret is
//! written `whsec_` + standard base64 of its key bytes; the spec asks for 24 to 64 bytes
//! (192 to 512 bits).
//!
//! Rotation: [`sign`] signs with every secret it is given, so a receiver that holds either
//! the new or the old secret verifies the same request.
//!
//! Everything here is pure: the time and the secrets are handed in. The id must not be
//! user controlled and should not contain `.` (the spec's advice); clickhook's ids are UUIDs.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

/// The prefix of a written secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The shortest key the spec allows: 24 bytes (192 bits).
pub const MIN_KEY_LEN: usize = 24;
/// The longest key the spec allows: 64 bytes (512 bits).
pub const MAX_KEY_LEN: usize = 64;
/// The version tag of a symmetric (HMAC-SHA256) signature.
const VERSION: &str = "v1";

/// A webhook signing secret, `whsec_` + base64 (24 to 64 key bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecret").field("key", &"<redacted>").finish()
    }
}

impl WebhookSecret {
    /// Parses `whsec_` + standard base64 (`A-Z a-z 0-9 + /`, `=` padding optional) of 24 to
    /// 64 key bytes. Surrounding whitespace is ignored. The prefix is required. Error
    /// messages never repeat the secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some(b64) = text.strip_prefix(SECRET_PREFIX) else {
            return Err(format!(
                "webhook secret must start with {SECRET_PREFIX:?} followed by the base64 key \
                 (Standard Webhooks format, e.g. whsec_ + 32 to 88 base64 characters)"
            ));
        };
        if b64.is_empty() {
            return Err(format!("webhook secret has nothing after {SECRET_PREFIX:?}: the base64 key is missing"));
        }
        let key = STANDARD_PAD_INDIFFERENT.decode(b64).map_err(|_| {
            format!(
                "webhook secret: the text after {SECRET_PREFIX:?} is not valid standard base64 \
                 (only A-Z a-z 0-9 + / and trailing = padding are allowed)"
            )
        })?;
        Self::from_key(key)
    }

    /// A secret from raw key bytes: 24 to 64 of them.
    pub fn from_key(key: Vec<u8>) -> Result<Self, String> {
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) {
            return Err(format!(
                "webhook secret key must be {MIN_KEY_LEN} to {MAX_KEY_LEN} bytes, got {}",
                key.len()
            ));
        }
        Ok(Self { key })
    }

    /// The secret as written: `whsec_` + standard base64 with padding. [`parse`](Self::parse)
    /// reads it back to an equal secret.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// HMAC-SHA256(key, "{id}.{timestamp}.{body}").
    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// The `webhook-signature` header value for one attempt; `webhook-id` is `id` and
/// `webhook-timestamp` is `timestamp` (unix seconds, written in decimal). Each secret signs;
/// the header lists one `v1,` signature per secret, in the given order (rotation: receivers
/// holding either the new or the old secret verify). `None` when `secrets` is empty.
pub fn sign(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    if secrets.is_empty() {
        return None;
    }
    let entries: Vec<String> = secrets
        .iter()
        .map(|s| format!("{VERSION},{}", STANDARD.encode(s.mac(id, timestamp, body))))
        .collect();
    Some(entries.join(" "))
}

/// Verifies like a receiver would, for tests and for `clickhook` users: true when any `v1`
/// signature in `header` matches `secret` (compared in constant time) and
/// `|now - timestamp| <= tolerance_secs`. Entries of other versions (`v1a`, ...) and
/// malformed entries are skipped. A negative tolerance never passes.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    // i128: no overflow for any pair of i64s.
    let fresh = (i128::from(now) - i128::from(timestamp)).abs() <= i128::from(tolerance_secs);
    let expected = secret.mac(id, timestamp, body);
    let mut matched = Choice::from(0u8);
    for entry in header.split_ascii_whitespace() {
        let Some((version, sig)) = entry.split_once(',') else { continue };
        if version != VERSION {
            continue;
        }
        let Ok(sig) = STANDARD_PAD_INDIFFERENT.decode(sig) else { continue };
        // Slices of different lengths compare unequal.
        matched |= expected[..].ct_eq(&sig[..]);
    }
    fresh && bool::from(matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The example secret of the Standard Webhooks / Svix test suites (24 key bytes).
    const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    /// Key bytes 0x00..=0x1f.
    const SECRET_B: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    const ID: &str = "0190a6c2-7f3e-7c1a-9b1e-3f2d4c5b6a79";
    const TS: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"RecordType":"Click","MessageID":"m-1"}"#;

    #[test]
    fn known_answer_single_secret() {
        // Expected value computed independently with the Python standard library:
        // python3 -c 'import base64,hashlib,hmac; k=base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); print(len(k)); print("v1,"+base64.b64encode(hmac.new(k, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}", hashlib.sha256).digest()).decode())'
        // 24
        // v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
        let header = sign(&[secret(SECRET_A)], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#);
        assert_eq!(header.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn known_answer_two_secrets_in_order() {
        // Expected value computed independently with the Python standard library:
        // python3 -c 'import base64,hashlib,hmac; m=b"0190a6c2-7f3e-7c1a-9b1e-3f2d4c5b6a79.1700000000.{\"RecordType\":\"Click\",\"MessageID\":\"m-1\"}"; print(" ".join("v1,"+base64.b64encode(hmac.new(base64.b64decode(s), m, hashlib.sha256).digest()).decode() for s in ["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]))'
        // v1,DDhb6fzZxclhGX50WYcl24Y3i5X4C8pMRXzShRPpA8k= v1,9YFsi9eYZnm6dvyYiBq7el6/Q7yVBNF0nKhD6W6fpos=
        let header = sign(&[secret(SECRET_B), secret(SECRET_A)], ID, TS, BODY).unwrap();
        assert_eq!(
            header,
            "v1,DDhb6fzZxclhGX50WYcl24Y3i5X4C8pMRXzShRPpA8k= v1,9YFsi9eYZnm6dvyYiBq7el6/Q7yVBNF0nKhD6W6fpos="
        );
        let reversed = sign(&[secret(SECRET_A), secret(SECRET_B)], ID, TS, BODY).unwrap();
        assert_eq!(
            reversed,
            "v1,9YFsi9eYZnm6dvyYiBq7el6/Q7yVBNF0nKhD6W6fpos= v1,DDhb6fzZxclhGX50WYcl24Y3i5X4C8pMRXzShRPpA8k="
        );
    }

    #[test]
    fn no_secrets_no_header() {
        assert_eq!(sign(&[], ID, TS, BODY), None);
    }

    #[test]
    fn round_trip() {
        let s = secret(SECRET_A);
        let header = sign(std::slice::from_ref(&s), ID, TS, BODY).unwrap();
        assert!(header.starts_with("v1,") && !header.contains(' '));
        assert!(verify(&s, ID, TS, BODY, &header, TS, 300));
        // negative and i64::MIN timestamps sign and verify too
        for ts in [0, -1, i64::MIN, i64::MAX] {
            let h = sign(std::slice::from_ref(&s), ID, ts, b"").unwrap();
            assert!(verify(&s, ID, ts, b"", &h, ts, 0));
        }
    }

    #[test]
    fn rotation_each_secret_verifies() {
        let (new, old) = (secret(SECRET_B), secret(SECRET_A));
        let header = sign(&[new.clone(), old.clone()], ID, TS, BODY).unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(verify(&new, ID, TS, BODY, &header, TS, 300));
        assert!(verify(&old, ID, TS, BODY, &header, TS, 300));
        let other = WebhookSecret::from_key(vec![7; 32]).unwrap();
        assert!(!verify(&other, ID, TS, BODY, &header, TS, 300));
        // each entry on its own is a complete single-secret header
        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries[0], sign(std::slice::from_ref(&new), ID, TS, BODY).unwrap());
        assert_eq!(entries[1], sign(std::slice::from_ref(&old), ID, TS, BODY).unwrap());
    }

    #[test]
    fn tampering_fails() {
        let s = secret(SECRET_A);
        let header = sign(std::slice::from_ref(&s), ID, TS, BODY).unwrap();
        assert!(verify(&s, ID, TS, BODY, &header, TS, 300));
        // body
        assert!(!verify(&s, ID, TS, br#"{"RecordType":"Click","MessageID":"m-2"}"#, &header, TS, 300));
        assert!(!verify(&s, ID, TS, &BODY[..BODY.len() - 1], &header, TS, 300));
        assert!(!verify(&s, ID, TS, b"", &header, TS, 300));
        // id
        assert!(!verify(&s, "0190a6c2-7f3e-7c1a-9b1e-3f2d4c5b6a70", TS, BODY, &header, TS, 300));
        assert!(!verify(&s, "", TS, BODY, &header, TS, 300));
        // timestamp (still well within the tolerance)
        assert!(!verify(&s, ID, TS + 1, BODY, &header, TS, 300));
        assert!(!verify(&s, ID, TS - 1, BODY, &header, TS, 300));
        // moving the dot between id and timestamp changes the signed string
        let h2 = sign(std::slice::from_ref(&s), "a", 12, b"3").unwrap();
        assert!(!verify(&s, "a.1", 2, b"3", &h2, 2, 300));
        // the signature itself
        let mut bad = header.clone().into_bytes();
        bad[5] = if bad[5] == b'A' { b'B' } else { b'A' };
        assert!(!verify(&s, ID, TS, BODY, std::str::from_utf8(&bad).unwrap(), TS, 300));
        // wrong secret
        assert!(!verify(&secret(SECRET_B), ID, TS, BODY, &header, TS, 300));
    }

    #[test]
    fn timestamp_tolerance() {
        let s = secret(SECRET_A);
        let header = sign(std::slice::from_ref(&s), ID, TS, BODY).unwrap();
        let ok = |now: i64, tol: i64| verify(&s, ID, TS, BODY, &header, now, tol);
        assert!(ok(TS, 0));
        assert!(ok(TS + 300, 300));
        assert!(ok(TS - 300, 300));
        assert!(!ok(TS + 301, 300));
        assert!(!ok(TS - 301, 300));
        assert!(!ok(TS + 1, 0));
        assert!(!ok(TS, -1));
        // no overflow at the extremes
        assert!(!ok(i64::MAX, 300));
        assert!(!ok(i64::MIN, 300));
        assert!(ok(TS - i64::MAX, i64::MAX));
        assert!(!ok(i64::MIN, i64::MAX)); // the distance is 2^63 + TS, more than any tolerance
        let h = sign(std::slice::from_ref(&s), ID, i64::MIN, BODY).unwrap();
        assert!(!verify(&s, ID, i64::MIN, BODY, &h, i64::MAX, i64::MAX));
    }

    #[test]
    fn header_parsing_is_lenient_but_exact() {
        let s = secret(SECRET_A);
        let good = sign(std::slice::from_ref(&s), ID, TS, BODY).unwrap();
        let sig = good.strip_prefix("v1,").unwrap();
        let ok = |h: &str| verify(&s, ID, TS, BODY, h, TS, 300);
        assert!(ok(&format!("v1a,AAAA {good}")));
        assert!(ok(&format!("garbage v2,{sig} {good} v1,!!!")));
        assert!(ok(&format!("  {good}  ")));
        assert!(ok(&format!("v1,{}", sig.trim_end_matches('='))));
        // the same signature under another version does not count
        assert!(!ok(&format!("v1a,{sig} v2,{sig}")));
        assert!(!ok(sig));
        assert!(!ok(""));
        assert!(!ok("v1,"));
        // a prefix of the signature does not match
        let short = STANDARD.encode(&STANDARD.decode(sig).unwrap()[..16]);
        assert!(!ok(&format!("v1,{short}")));
    }

    #[test]
    fn secret_text_round_trip() {
        for text in [SECRET_A, SECRET_B] {
            let s = secret(text);
            assert_eq!(s.to_text(), text);
            assert_eq!(WebhookSecret::parse(&s.to_text()).unwrap(), s);
        }
        // padding is optional on input, always written on output
        let s = WebhookSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
        assert_eq!(s, secret(SECRET_B));
        assert_eq!(WebhookSecret::parse(&format!(" {SECRET_A}\n")).unwrap(), secret(SECRET_A));
        assert_eq!(WebhookSecret::from_key((0u8..32).collect()).unwrap(), secret(SECRET_B));
        assert!(WebhookSecret::from_key(vec![1; 24]).is_ok());
        assert!(WebhookSecret::from_key(vec![1; 64]).is_ok());
    }

    #[test]
    fn bad_secrets_rejected_with_clear_messages() {
        let err = |t: &str| WebhookSecret::parse(t).unwrap_err();
        // no prefix (even when the rest is a fine key)
        let e = err("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(e.contains("must start with \"whsec_\""), "{e}");
        assert!(!e.contains("MfKQ9r8G"), "the secret must not be echoed: {e}");
        assert!(err("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").contains("must start with"));
        assert!(err("").contains("must start with"));
        // nothing after the prefix
        assert!(err("whsec_").contains("base64 key is missing"));
        // bad base64: characters outside the standard alphabet, URL-safe alphabet, bad padding
        for bad in ["whsec_not base64 at all!!", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La-_Sw", "whsec_AAAA=AAA"] {
            let e = err(bad);
            assert!(e.contains("not valid standard base64"), "{bad}: {e}");
            assert!(!e.contains(&bad[6..]), "the secret must not be echoed: {e}");
        }
        // too short / too long
        let e = err("whsec_AAECAwQFBgcICQoLDA0ODw=="); // 16 bytes
        assert_eq!(e, "webhook secret key must be 24 to 64 bytes, got 16");
        let e = err(&format!("whsec_{}", STANDARD.encode([0u8; 65])));
        assert_eq!(e, "webhook secret key must be 24 to 64 bytes, got 65");
        assert_eq!(WebhookSecret::from_key(vec![1; 23]).unwrap_err(), "webhook secret key must be 24 to 64 bytes, got 23");
        assert!(WebhookSecret::from_key(Vec::new()).is_err());
    }

    #[test]
    fn debug_redacts_the_key() {
        let s = WebhookSecret::from_key(vec![0xAB; 32]).unwrap();
        let d = format!("{s:?} {:#?}", s);
        assert!(d.contains("<redacted>"), "{d}");
        assert!(!d.contains("171") && !d.contains(&s.to_text()[6..]), "{d}");
    }

    proptest! {
        #[test]
        fn sign_then_verify(
            key in proptest::collection::vec(any::<u8>(), MIN_KEY_LEN..=MAX_KEY_LEN),
            key2 in proptest::collection::vec(any::<u8>(), MIN_KEY_LEN..=MAX_KEY_LEN),
            id in any::<String>(),
            ts in any::<i64>(),
            body in proptest::collection::vec(any::<u8>(), 0..512),
            flip in any::<proptest::sample::Index>(),
        ) {
            let s = WebhookSecret::from_key(key).unwrap();
            let s2 = WebhookSecret::from_key(key2).unwrap();
            prop_assert_eq!(WebhookSecret::parse(&s.to_text()).unwrap(), s.clone());
            let header = sign(&[s.clone(), s2.clone()], &id, ts, &body).unwrap();
            prop_assert!(verify(&s, &id, ts, &body, &header, ts, 0));
            prop_assert!(verify(&s2, &id, ts, &body, &header, ts, 0));
            if !body.is_empty() {
                let mut tampered = body.clone();
                tampered[flip.index(body.len())] ^= 1;
                prop_assert!(!verify(&s, &id, ts, &tampered, &header, ts, 0));
            }
        }
    }
}
