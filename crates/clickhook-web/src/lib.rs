//! The operator's web page: a single-page UI served on the API listener at `/ui/`.
//!
//! The page signs in with a server token and then only calls the public API (Webhooks,
//! the delivery log, clicks and click stats) from the browser, like any other client. It
//! has no server-side logic of its own, so it lives in its own crate: the API crate stays
//! the Postmark-compatible JSON API, this crate only knows how to hand out files, and the
//! two meet in one line (`.merge(clickhook_web::routes())` in the API's router).
//!
//! The page is hand-written HTML, CSS and JavaScript modules in `ui/`, embedded with
//! `include_bytes!`. There is deliberately no build step (no bundler, no npm, no generated
//! files): what is in `ui/` is exactly what the browser gets, `cargo build` alone produces a
//! binary with the page inside it, and nothing is fetched from elsewhere at run time (no
//! CDN, no web fonts), so the page works on an air-gapped host.
//!
//! Every response carries a strict `Content-Security-Policy` (`default-src 'self'`, no
//! inline scripts or styles, no framing), `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer` and `X-Frame-Options: DENY`. Assets are served with
//! `Cache-Control: no-cache` and an `ETag`: the browser revalidates each load (a cheap
//! 304), so after an upgrade of the binary it never mixes old and new modules.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The policy every UI response carries: only this origin's own files, no inline code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file of `ui/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// FNV-1a of `body`, computed at compile time: the `ETag`.
    hash: u64,
}

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {{
        const BODY: &[u8] = include_bytes!(concat!("../ui/", $name));
        Asset { name: $name, content_type: $content_type, body: BODY, hash: fnv1a(BODY) }
    }};
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("webhooks.js", JS),
    asset!("webhook-form.js", JS),
    asset!("activity.js", JS),
    asset!("chart.js", JS),
    asset!("deliveries.js", JS),
];

/// The names of the embedded files, as served below `/ui/`.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.name)
}

/// The UI's routes, for any router state: `GET /` and `GET /ui` redirect to `/ui/`, which
/// serves the page; `GET /ui/{file}` serves an embedded file or answers 404.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { redirect_to_ui() }))
        .route("/ui", get(|| async { redirect_to_ui() }))
        .route("/ui/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route("/ui/{*file}", get(|Path(file): Path<String>, headers: HeaderMap| async move { serve(&file, &headers) }))
}

fn redirect_to_ui() -> Response {
    let mut resp = (StatusCode::FOUND, [(header::LOCATION, "/ui/")]).into_response();
    secure(resp.headers_mut());
    resp
}

/// The headers every UI response carries.
fn secure(h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// Whether `If-None-Match` names this entity tag (weak or strong, or `*`).
fn matches(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(v) = if_none_match.and_then(|v| v.to_str().ok()) else { return false };
    v.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        // Postmark-shaped like every other error on the API listener.
        let body = serde_json::json!({ "ErrorCode": 404, "Message": format!("No file at /ui/{name}.") });
        let mut resp = (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        secure(resp.headers_mut());
        return resp;
    };
    let etag = format!("\"{:016x}\"", asset.hash);
    let mut resp = if matches(request.get(header::IF_NONE_MATCH), &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    secure(h);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = Request::get(path);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        routes::<()>().oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn body(resp: Response) -> Vec<u8> {
        axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec()
    }

    fn header<'a>(resp: &'a Response, name: &str) -> &'a str {
        resp.headers().get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
    }

    fn assert_secure(resp: &Response) {
        let csp = header(resp, "content-security-policy");
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header(resp, "x-content-type-options"), "nosniff");
        assert_eq!(header(resp, "referrer-policy"), "no-referrer");
        assert_eq!(header(resp, "x-frame-options"), "DENY");
    }

    #[tokio::test]
    async fn the_root_redirects_to_the_page() {
        for path in ["/", "/ui"] {
            let resp = get(path, &[]).await;
            assert_eq!(resp.status(), StatusCode::FOUND, "{path}");
            assert_eq!(header(&resp, "location"), "/ui/");
            assert_secure(&resp);
        }
    }

    #[tokio::test]
    async fn every_asset_is_served_with_its_type_and_the_security_headers() {
        let index = get("/ui/", &[]).await;
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(header(&index, "content-type"), "text/html; charset=utf-8");
        assert_secure(&index);
        let page = String::from_utf8(body(index).await).unwrap();
        assert!(page.contains("<script type=\"module\" src=\"/ui/app.js\"></script>"));
        for asset in ASSETS {
            let resp = get(&format!("/ui/{}", asset.name), &[]).await;
            assert_eq!(resp.status(), StatusCode::OK, "{}", asset.name);
            assert_eq!(header(&resp, "content-type"), asset.content_type, "{}", asset.name);
            assert_eq!(header(&resp, "cache-control"), "no-cache");
            assert!(header(&resp, "etag").starts_with('"'));
            assert_secure(&resp);
            assert_eq!(body(resp).await, asset.body, "{}", asset.name);
        }
        let types: Vec<_> = ["app.js", "app.css", "favicon.svg"]
            .iter()
            .map(|n| ASSETS.iter().find(|a| a.name == *n).unwrap().content_type)
            .collect();
        assert_eq!(types, ["text/javascript; charset=utf-8", "text/css; charset=utf-8", "image/svg+xml"]);
    }

    #[tokio::test]
    async fn an_unchanged_asset_answers_304() {
        let first = get("/ui/app.js", &[]).await;
        let etag = header(&first, "etag").to_owned();
        let again = get("/ui/app.js", &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_secure(&again);
        assert!(body(again).await.is_empty());
        let weak = get("/ui/app.js", &[("if-none-match", &format!("\"x\", W/{etag}"))]).await;
        assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
        let other = get("/ui/app.js", &[("if-none-match", "\"0000\"")]).await;
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_files_are_404() {
        for path in ["/ui/nope.js", "/ui/APP.JS", "/ui/ui/app.js", "/ui/../Cargo.toml", "/ui/src/lib.rs"] {
            let resp = get(path, &[]).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
            assert_secure(&resp);
            let v: serde_json::Value = serde_json::from_slice(&body(resp).await).unwrap();
            assert_eq!(v["ErrorCode"], 404);
        }
    }

    /// The page's own rules: no inline script or style (the CSP would block them), and
    /// every module it imports is embedded.
    #[test]
    fn the_page_has_no_inline_code_and_every_import_is_embedded() {
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap();
            assert!(!text.contains("innerHTML") && !text.contains("outerHTML") && !text.contains("insertAdjacentHTML"), "{}", asset.name);
            if asset.name.ends_with(".html") {
                assert!(!text.contains("style="), "inline style in {}", asset.name);
                assert!(!text.contains("<style"), "style element in {}", asset.name);
                let handler = text.split(" on").skip(1).any(|rest| {
                    let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                    !name.is_empty() && rest[name.len()..].starts_with('=')
                });
                assert!(!handler, "inline event handler in {}", asset.name);
                for script in text.split("<script").skip(1) {
                    assert!(script.trim_start().contains("src=\""), "inline script in {}", asset.name);
                }
            }
            if asset.name.ends_with(".js") {
                for line in text.lines().filter(|l| l.starts_with("import ")) {
                    let from = line.rsplit_once("from '").map(|(_, f)| f.trim_end_matches("';")).unwrap();
                    let file = from.trim_start_matches("./");
                    assert!(asset_names().any(|n| n == file), "{} imports {from}, which is not embedded", asset.name);
                }
            }
        }
    }
}
