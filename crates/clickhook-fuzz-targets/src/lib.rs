//! The bodies of clickhook's fuzz targets.
//!
//! `fuzz/` (a cargo-fuzz crate outside the workspace) has one target per function here; each
//! target only hands libFuzzer's bytes to its function. Keeping the bodies here, as plain
//! functions, means that the workspace's own tests (`tests/targets.rs`) run the very same
//! checks over the committed seed corpora and a few thousand generated inputs on every
//! `cargo test`, so CI checks the invariants even where cargo-fuzz is not installed.
//!
//! Every function takes arbitrary bytes, must never panic on its own, and panics (which
//! libFuzzer reports as a crash and saves the input) when an invariant does not hold:
//!
//! - [`token_parse`]: the link host's token parser on any text; tokens of any payload
//!   round-trip; a token with one character changed or cut short is refused.
//! - [`rewrite_html`] and [`rewrite_text`]: the link rewriters on any body; the output is the
//!   input with exactly the offered links replaced, and every replaced link is found again,
//!   unchanged, when the output is parsed once more (what a mail client will do).
//! - [`api_json`]: the API's JSON request bodies (`POST /tracking/messages`, `POST /webhooks`,
//!   `PUT /webhooks/{id}`) through the same parse-and-validate functions the handlers call;
//!   errors are Postmark's 422s, and what is accepted obeys the documented limits.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clickhook_api::error::code;
use clickhook_api::tracking::{self, MAX_LINKS};
use clickhook_api::webhooks;
use clickhook_core::token::{MAX_URL_LEN, is_http_url};
use clickhook_core::{ClickLocation, Keyring, SigningKey, TokenPayload, Webhook};

/// The link base of the API fuzz target.
pub const LINK_BASE: &str = "https://click.example.com/t";

/// Two keys: `k2` signs, `k1` (an older key) still verifies.
pub fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        Keyring::new(vec![
            SigningKey::new("k2", b"fuzzing-secret-number-two-000000".to_vec()).unwrap(),
            SigningKey::new("k1", b"fuzzing-secret-number-one-000000".to_vec()).unwrap(),
        ])
        .unwrap()
    })
}

fn old_keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| Keyring::new(vec![SigningKey::new("k1", b"fuzzing-secret-number-one-000000".to_vec()).unwrap()]).unwrap())
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// ---------------------------------------------------------------------------------------------
// token_parse

/// The token parser.
///
/// 1. The input, as text, is what the link host hands the parser (the path below the link
///    base): it must not panic, and nothing but a real token may verify; a token that does is
///    signed again and verifies to the same payload.
/// 2. The input, read as a payload (sent_at, location, message id, link), is signed by the
///    current key and by the old key: both verify to that payload. Then one character of the
///    token is changed, and it is cut short: both are refused.
pub fn token_parse(data: &[u8]) {
    let ring = keyring();
    // 1. as text, as it arrives in a request path
    let text = String::from_utf8_lossy(data);
    for candidate in [text.as_ref(), text.trim_start_matches('/')] {
        if let Ok(p) = ring.verify(candidate) {
            assert!(is_http_url(&p.original_link), "verified a token whose link is not http(s): {p:?}");
            if let Ok(again) = ring.sign(&p) {
                assert_eq!(ring.verify(&again).as_ref(), Ok(&p), "a re-signed payload does not round-trip");
            }
        }
    }

    // 2. as a payload
    let Some(p) = payload_from(data) else { return };
    for signer in [ring, old_keyring()] {
        let Ok(token) = signer.sign(&p) else {
            assert!(
                p.message_id.is_empty() || p.message_id.len() > 255 || !is_http_url(&p.original_link) || p.original_link.len() > MAX_URL_LEN,
                "refused to sign a signable payload: {p:?}"
            );
            return;
        };
        assert_eq!(ring.verify(&token).as_ref(), Ok(&p), "does not round-trip: {p:?}");
        assert!(token.bytes().all(|b| B64URL.contains(&b)));

        // One character changed: refused.
        let pick = usize::from(data[0]) | usize::from(data[1]) << 8;
        let at = pick % token.len();
        let with = B64URL[usize::from(data[2]) % B64URL.len()];
        if with != token.as_bytes()[at] {
            let mut tampered = token.clone().into_bytes();
            tampered[at] = with;
            let tampered = String::from_utf8(tampered).unwrap();
            assert!(ring.verify(&tampered).is_err(), "a token with position {at} changed verified: {tampered}");
        }
        // Cut short, or made longer: refused.
        assert!(ring.verify(&token[..at]).is_err(), "a prefix of {at} characters verified");
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        raw.push(data[2]);
        assert!(ring.verify(&URL_SAFE_NO_PAD.encode(&raw)).is_err(), "a token one byte longer verified");
    }
}

/// Reads a payload out of fuzz bytes: `[tamper position: 2][tamper char: 1][flags: 1]
/// [sent_at: 8] message id 0x00 link`. Flag bit 0: Text (else HTML); bit 1: the link is taken
/// as written (else `https://` is put in front).
fn payload_from(data: &[u8]) -> Option<TokenPayload> {
    if data.len() < 12 {
        return None;
    }
    let flags = data[3];
    let sent_at = i64::from_be_bytes(data[4..12].try_into().ok()?);
    let rest = &data[12..];
    let (id, link) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b"example.com/"[..]),
    };
    let link = String::from_utf8_lossy(link);
    Some(TokenPayload {
        message_id: String::from_utf8_lossy(id).into_owned(),
        original_link: if flags & 2 != 0 { link.into_owned() } else { format!("https://{link}") },
        location: if flags & 1 != 0 { ClickLocation::Text } else { ClickLocation::Html },
        sent_at,
    })
}

// ---------------------------------------------------------------------------------------------
// rewrite_html / rewrite_text

/// What a fuzzed `track` callback answers: the first input byte picks the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `None` for every link: the body must come back unchanged.
    Leave,
    /// The link itself: the body must come back unchanged (text), or with only the changed
    /// tags re-serialized (HTML).
    Same,
    /// A new URL per link, with characters that need escaping in an attribute.
    Replace,
    /// Every other link replaced.
    Alternate,
}

fn mode(data: &[u8]) -> (Mode, String) {
    let mode = match data.first().map(|b| b % 4) {
        Some(1) => Mode::Same,
        Some(2) => Mode::Replace,
        Some(3) => Mode::Alternate,
        _ => Mode::Leave,
    };
    (mode, String::from_utf8_lossy(data.get(1..).unwrap_or_default()).into_owned())
}

/// The replacement for the `n`-th link: unique, and with `&` and `"` to escape in HTML.
fn tracked(n: usize) -> String {
    format!("https://t.example/T{n}?a=1&b=\"{n}\"")
}

/// Runs a rewriter with a `track` in `mode`; returns the output, the URLs offered, and the
/// URL each offered link has in the output (the replacement, or itself when left alone).
fn run<T>(rewrite: impl FnOnce(&mut dyn FnMut(&str) -> Option<String>) -> T, mode: Mode) -> (T, Vec<String>, Vec<String>) {
    let mut offered = Vec::new();
    let mut expected = Vec::new();
    let out = rewrite(&mut |url| {
        offered.push(url.to_owned());
        let n = offered.len();
        let answer = match mode {
            Mode::Leave => None,
            Mode::Same => Some(url.to_owned()),
            Mode::Replace => Some(tracked(n)),
            Mode::Alternate => (n % 2 == 1).then(|| tracked(n)),
        };
        expected.push(answer.clone().unwrap_or_else(|| url.to_owned()));
        answer
    });
    (out, offered, expected)
}

fn offered_urls_are_trackable(offered: &[String]) {
    for url in offered {
        assert!(has_http_scheme(url), "offered a link that is not http(s): {url:?}");
        assert_eq!(url.trim_matches(|c: char| c <= ' '), url, "offered a link with spaces or controls around it");
        assert!(!url.contains(['\t', '\n', '\r']), "offered a link with a tab or newline: {url:?}");
    }
}

fn has_http_scheme(url: &str) -> bool {
    let starts = |p: &str| url.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    starts("http:") || starts("https:")
}

/// The HTML rewriter (lol_html): never fails; left alone, a body without `data-pm-no-track`
/// comes back byte for byte; every link it replaced is found again, with the new URL, when
/// the output is rewritten once more, and so is every link it offered and was told to leave.
pub fn rewrite_html(data: &[u8]) {
    let (mode, html) = mode(data);
    let (result, offered, expected) = run(|track| clickhook_rewrite::rewrite_html(&html, track), mode);
    let out = result.unwrap_or_else(|e| panic!("rewrite_html failed on a body: {e}"));
    assert!(std::str::from_utf8(out.as_bytes()).is_ok());
    offered_urls_are_trackable(&offered);
    let no_track = html.to_ascii_lowercase().contains("data-pm-no-track");
    if matches!(mode, Mode::Leave) && !no_track {
        assert_eq!(out, html, "nothing tracked, yet the body changed");
    }
    if no_track {
        // The marker is removed from every link, so a second pass offers more links.
        return;
    }
    // What a mail client sees: the same links, in the same order, with the new URLs.
    let (_, offered_again, _) = run(|track| clickhook_rewrite::rewrite_html(&out, track).expect("the output rewrites again"), Mode::Leave);
    assert_eq!(offered_again, expected, "the rewritten body's links are not the ones written into it");
}

/// The text rewriter (linkify): the output is the input with exactly the replaced links
/// swapped, and a second pass over it finds the replacements, unchanged, where they were put.
pub fn rewrite_text(data: &[u8]) {
    let (mode, text) = mode(data);
    let (out, offered, expected) = run(|track| clickhook_rewrite::rewrite_text(&text, track), mode);
    offered_urls_are_trackable(&offered);
    for url in &offered {
        assert!(text.contains(url.as_str()), "offered {url:?}, which is not in the text");
    }
    match mode {
        Mode::Leave | Mode::Same => assert_eq!(out, text, "the text changed"),
        Mode::Replace | Mode::Alternate => {
            let removed: usize = offered.iter().zip(&expected).filter(|(o, e)| o != e).map(|(o, _)| o.len()).sum();
            let added: usize = offered.iter().zip(&expected).filter(|(o, e)| o != e).map(|(_, e)| e.len()).sum();
            assert_eq!(out.len() + removed, text.len() + added, "more than the links changed");
            for (o, e) in offered.iter().zip(&expected).filter(|(o, e)| o != e) {
                assert!(out.contains(e.as_str()), "{o:?} was replaced by {e:?}, which is not in the output");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// api_json

/// The API's JSON bodies, each through the function its handler calls before the store:
/// `POST /tracking/messages`, `POST /webhooks` and `PUT /webhooks/{id}`.
pub fn api_json(data: &[u8]) {
    track_message(data);
    let allow_private = data.len().is_multiple_of(2);
    match webhooks::parse_and_validate_create(data, "default", allow_private) {
        Ok(w) => {
            assert_eq!((w.id, w.server.as_str()), (0, "default"));
            webhook_is_valid(&w, allow_private);
            // Its own JSON, sent back as an edit, changes nothing.
            let again = webhooks::parse_and_validate_edit(&serde_json::to_vec(&w).unwrap(), &w, allow_private)
                .unwrap_or_else(|e| panic!("a created webhook's own JSON is refused as an edit: {}", e.message));
            assert_eq!(again, w, "a created webhook's own JSON, sent as an edit, changed it");
        }
        Err(e) => is_422(&e),
    }
    let existing = existing_webhook();
    match webhooks::parse_and_validate_edit(data, existing, allow_private) {
        Ok(w) => {
            assert_eq!((w.id, w.server.as_str()), (existing.id, existing.server.as_str()));
            webhook_is_valid(&w, allow_private);
        }
        Err(e) => is_422(&e),
    }
}

fn is_422(e: &clickhook_api::error::ApiError) {
    assert_eq!(e.status.as_u16(), 422, "{}", e.message);
    assert!(matches!(e.code, code::INVALID_REQUEST | code::INVALID_JSON), "{}: {}", e.code, e.message);
}

/// 2026-12-01T00:00:00Z: the fuzz target's now.
fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_796_083_200).unwrap()
}

fn track_message(data: &[u8]) {
    let ring = keyring();
    let prepared = match tracking::parse_and_validate(data, "default", ring, LINK_BASE, now()) {
        Ok(p) => p,
        Err(e) => return is_422(&e),
    };
    let (record, resp) = (&prepared.record, &prepared.response);
    assert_eq!(record.message_id, resp.message_id);
    assert!(!record.message_id.is_empty() && record.message_id.len() <= 255);
    assert!(!record.recipient.is_empty() && record.recipient.len() <= 512);
    assert!(record.tag.len() <= 1000);
    assert!((1..=100).contains(&record.stream.len()));
    assert!(record.metadata.len() <= 10 && record.metadata.values().all(serde_json::Value::is_string));
    assert!(record.sent_at <= now() + time::Duration::days(1));
    assert!(resp.links.len() <= MAX_LINKS);
    for link in &resp.links {
        let token = link.tracked_link.strip_prefix(&format!("{LINK_BASE}/")).expect("a tracked link is under the link base");
        let p = ring.verify(token).expect("a tracked link verifies");
        assert_eq!(p.original_link, link.original_link);
        assert_eq!(p.message_id, record.message_id);
        assert_eq!(p.location, link.click_location);
        assert_eq!(p.sent_at, record.sent_at.unix_timestamp());
        let body = match link.click_location {
            ClickLocation::Html => resp.html_body.as_deref(),
            ClickLocation::Text => resp.text_body.as_deref(),
        };
        assert!(body.is_some_and(|b| b.contains(&link.tracked_link)), "tracked link {} is not in its body", link.tracked_link);
    }
}

fn existing_webhook() -> &'static Webhook {
    static W: OnceLock<Webhook> = OnceLock::new();
    W.get_or_init(|| Webhook {
        id: 7,
        url: "https://hooks.example.com/clicks".into(),
        message_stream: "outbound".into(),
        http_auth: Some(clickhook_core::HttpAuth { username: "user".into(), password: "secret".into() }),
        http_headers: vec![clickhook_core::HttpHeader { name: "X-Env".into(), value: "prod".into() }],
        triggers: clickhook_core::Triggers::default(),
        signing_secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()],
        server: "default".into(),
    })
}

fn webhook_is_valid(w: &Webhook, allow_private: bool) {
    assert!(!w.url.trim().is_empty() && w.url.len() <= 2048);
    assert!(clickhook_dispatch::guard::check_url(&w.url, allow_private).is_ok(), "accepted Url {:?}", w.url);
    assert!((1..=100).contains(&w.message_stream.len()));
    assert!(w.http_headers.len() <= 50);
    assert!(w.signing_secrets.len() <= 5);
    for s in &w.signing_secrets {
        assert!(clickhook_core::signature::WebhookSecret::parse(s).is_ok());
    }
}
