//! `GET /openapi.json`: the OpenAPI 3.1 description of this API, hand-written in
//! `crates/clickhook-api/openapi.json` and compiled into the binary. No token is needed.
//!
//! The tests below keep it in step with the code: its operations are exactly
//! [`crate::ROUTES`], `ROUTES` is exactly what [`crate::router`] registers (read from
//! `lib.rs`), every route answers (never the fallback's 404 or a 405), every answer has a
//! documented status and a body that matches the documented schema, and every `$ref`
//! resolves.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use clickhook_core::{Keyring, RetentionDays, SigningKey};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::DOCUMENT;
    use crate::{ApiState, ROUTES, router};

    const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options", "trace"];
    const TOKEN: &str = "openapi-test-token";

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    /// (METHOD, path template) of every operation in the document.
    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths is an object") {
            for (k, _) in item.as_object().expect("a path item is an object") {
                if METHODS.contains(&k.as_str()) {
                    out.insert((k.to_ascii_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    fn routes() -> BTreeSet<(String, String)> {
        let set: BTreeSet<_> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        assert_eq!(set.len(), ROUTES.len(), "ROUTES lists an entry twice");
        set
    }

    /// The `.route("path", get(..).post(..))` calls in `router()`'s body in lib.rs, as
    /// (METHOD, path). Routers merged or nested into it are not seen here.
    fn registered_in_source() -> BTreeSet<(String, String)> {
        let src = include_str!("lib.rs");
        let start = src.find("pub fn router(").expect("lib.rs has pub fn router(");
        let body = &src[start..];
        let end = body.find("\n}\n").expect("router() ends with a closing brace on its own line");
        let body = &body[..end];
        let mut out = BTreeSet::new();
        let mut rest = body;
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let open = rest.find('"').expect("a route's path is a string literal");
            let close = open + 1 + rest[open + 1..].find('"').expect("the path literal ends");
            let path = &rest[open + 1..close];
            // The method router: from the comma after the path to the `.route(`'s own `)`.
            let after = &rest[close + 1..];
            let mut depth = 0i32;
            let mut ident = String::new();
            for c in after.chars() {
                match c {
                    '(' => {
                        if depth == 0 && METHODS.contains(&ident.as_str()) {
                            out.insert((ident.to_ascii_uppercase(), path.to_owned()));
                        }
                        depth += 1;
                        ident.clear();
                    }
                    ')' if depth == 0 => break,
                    ')' => {
                        depth -= 1;
                        ident.clear();
                    }
                    c if c.is_ascii_alphanumeric() || c == '_' => ident.push(c),
                    _ => ident.clear(),
                }
            }
        }
        out
    }

    /// Resolves a local `$ref` (`#/components/...`).
    fn resolve<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
        r.strip_prefix('#').and_then(|p| doc.pointer(p))
    }

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => resolve(doc, r).unwrap_or_else(|| panic!("{r} does not resolve")),
            None => v,
        }
    }

    fn type_matches(t: &str, v: &Value) -> bool {
        match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            other => panic!("unknown JSON Schema type {other:?}"),
        }
    }

    /// Checks `v` against the subset of JSON Schema 2020-12 that openapi.json uses: $ref,
    /// allOf, anyOf, oneOf (as anyOf), type, const, enum, minimum, maximum, minLength,
    /// maxLength, required, properties, additionalProperties, propertyNames, items,
    /// maxItems. Formats and patterns are not checked.
    fn check(doc: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
        let Some(s) = schema.as_object() else { return };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let target = resolve(doc, r).unwrap_or_else(|| panic!("{r} does not resolve"));
            check(doc, target, v, at, errs);
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                check(doc, sub, v, at, errs);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(any) = s.get(key).and_then(Value::as_array) {
                let ok = any.iter().any(|sub| {
                    let mut e = Vec::new();
                    check(doc, sub, v, at, &mut e);
                    e.is_empty()
                });
                if !ok {
                    errs.push(format!("{at}: matches none of {key}"));
                }
            }
        }
        match s.get("type") {
            Some(Value::String(t)) if !type_matches(t, v) => errs.push(format!("{at}: {v} is not of type {t}")),
            Some(Value::Array(ts)) if !ts.iter().any(|t| type_matches(t.as_str().unwrap_or(""), v)) => {
                errs.push(format!("{at}: {v} is not of any type {ts:?}"))
            }
            _ => {}
        }
        if let Some(c) = s.get("const").filter(|c| *c != v) {
            errs.push(format!("{at}: {v} is not {c}"));
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array).filter(|e| !e.contains(v)) {
            errs.push(format!("{at}: {v} is not one of {e:?}"));
        }
        if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
            && x < min
        {
            errs.push(format!("{at}: {x} < minimum {min}"));
        }
        if let (Some(max), Some(x)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64())
            && x > max
        {
            errs.push(format!("{at}: {x} > maximum {max}"));
        }
        if let Some(text) = v.as_str() {
            let n = text.chars().count() as u64;
            if s.get("minLength").and_then(Value::as_u64).is_some_and(|m| n < m) {
                errs.push(format!("{at}: shorter than minLength"));
            }
            if s.get("maxLength").and_then(Value::as_u64).is_some_and(|m| n > m) {
                errs.push(format!("{at}: longer than maxLength"));
            }
        }
        if let Some(obj) = v.as_object() {
            for r in s.get("required").and_then(Value::as_array).into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !obj.contains_key(r) {
                    errs.push(format!("{at}: required {r:?} is missing"));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (k, x) in obj {
                let here = format!("{at}.{k}");
                if let Some(names) = s.get("propertyNames") {
                    check(doc, names, &Value::String(k.clone()), &here, errs);
                }
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => check(doc, sub, x, &here, errs),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => errs.push(format!("{here}: not an allowed property")),
                        Some(sub @ Value::Object(_)) => check(doc, sub, x, &here, errs),
                        _ => {}
                    },
                }
            }
        }
        if let Some(items) = v.as_array() {
            if s.get("maxItems").and_then(Value::as_u64).is_some_and(|m| items.len() as u64 > m) {
                errs.push(format!("{at}: more than maxItems"));
            }
            if let Some(sub) = s.get("items") {
                for (i, x) in items.iter().enumerate() {
                    check(doc, sub, x, &format!("{at}[{i}]"), errs);
                }
            }
        }
    }

    /// Fails, naming the entries on either side only, unless `a` and `b` are the same set.
    fn assert_same(a: &BTreeSet<(String, String)>, a_name: &str, b: &BTreeSet<(String, String)>, b_name: &str) {
        let only_a: Vec<_> = a.difference(b).collect();
        let only_b: Vec<_> = b.difference(a).collect();
        assert!(
            only_a.is_empty() && only_b.is_empty(),
            "{a_name} and {b_name} differ.\n  only in {a_name}: {only_a:?}\n  only in {b_name}: {only_b:?}"
        );
    }

    #[test]
    fn the_document_describes_exactly_the_routes() {
        assert_same(&routes(), "ROUTES", &documented(&doc()), "openapi.json");
    }

    #[test]
    fn routes_lists_what_the_router_registers() {
        assert_same(&registered_in_source(), "router() in lib.rs", &routes(), "ROUTES");
    }

    #[test]
    fn the_document_is_openapi_and_every_ref_resolves() {
        let doc = doc();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "openapi: 3.1.x");
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string(), "info.title and info.version");
        let scheme = &doc["components"]["securitySchemes"]["ServerToken"];
        assert_eq!(scheme["type"], "apiKey");
        assert_eq!(scheme["in"], "header");
        assert_eq!(scheme["name"], "X-Postmark-Server-Token");
        assert_eq!(doc["security"], json!([{ "ServerToken": [] }]));

        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in &all {
            assert!(resolve(&doc, r).is_some(), "$ref {r} does not resolve");
        }

        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with('/'), "{path}");
            let path_params: Vec<&Value> = item.get("parameters").and_then(Value::as_array).into_iter().flatten().collect();
            for (method, op) in item.as_object().unwrap().iter().filter(|(k, _)| METHODS.contains(&k.as_str())) {
                let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: operationId"));
                assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
                let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: responses"));
                assert!(responses.keys().any(|k| k.starts_with('2')), "{method} {path}: a 2xx response");
                for (status, r) in responses {
                    assert!(deref(&doc, r)["description"].is_string(), "{method} {path} {status}: description");
                }
                // Every {param} of the template is declared as a path parameter.
                let op_params: Vec<&Value> = op.get("parameters").and_then(Value::as_array).into_iter().flatten().collect();
                let declared: BTreeSet<&str> = path_params
                    .iter()
                    .chain(&op_params)
                    .map(|p| deref(&doc, p))
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                let in_template: BTreeSet<&str> =
                    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
                assert_eq!(declared, in_template, "{method} {path}: path parameters");
                for p in path_params.iter().chain(&op_params) {
                    let p = deref(&doc, p);
                    assert!(p["name"].is_string() && p["schema"].is_object(), "{method} {path}: parameter {p}");
                }
            }
        }
    }

    #[test]
    fn the_schema_checker_catches_mismatches() {
        let doc = doc();
        let webhook = json!({ "$ref": "#/components/schemas/Webhook" });
        let mut errs = Vec::new();
        check(&doc, &webhook, &json!({ "ID": "1", "Url": "u", "MessageStream": "outbound", "HttpHeaders": [], "Triggers": {} }), "$", &mut errs);
        assert!(errs.iter().any(|e| e.contains("$.ID")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("Click")), "{errs:?}");
        let mut errs = Vec::new();
        check(&doc, &json!({ "$ref": "#/components/schemas/Geo" }), &json!({ "City": "x", "Planet": "Earth" }), "$", &mut errs);
        assert_eq!(errs, vec!["$.Planet: not an allowed property".to_owned()]);
        let mut errs = Vec::new();
        check(&doc, &json!({ "$ref": "#/components/schemas/LocationBreakdown" }), &json!({ "Days": [], "HTML": 1, "Html": 2 }), "$", &mut errs);
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    #[test]
    fn the_click_event_schema_fits_postmarks_example_and_an_unknown_click() {
        let doc = doc();
        let schema = json!({ "$ref": "#/components/schemas/ClickEvent" });
        let example = serde_json::to_value(clickhook_core::ClickEvent::example()).unwrap();
        let mut unknown = example.clone();
        unknown["Geo"] = json!({});
        unknown["Client"] = serde_json::to_value(clickhook_core::ClientInfo::default()).unwrap();
        unknown["Platform"] = json!("Unknown");
        // clickhook's optional Bot object (always in the Messages API, in payloads with bots.label).
        let mut labelled = clickhook_core::ClickEvent::example();
        labelled.bot = Some(clickhook_core::BotInfo { verdict: "scanner".into(), reasons: vec!["scanner_network_certain".into(), "burst".into()] });
        let labelled = serde_json::to_value(labelled).unwrap();
        for v in [example, unknown, labelled.clone()] {
            let mut errs = Vec::new();
            check(&doc, &schema, &v, "$", &mut errs);
            assert!(errs.is_empty(), "{errs:?}");
        }
        // And it lists every field of the event, no more.
        let props: BTreeSet<&str> = doc["components"]["schemas"]["ClickEvent"]["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        let fields: BTreeSet<String> = labelled.as_object().unwrap().keys().cloned().collect();
        assert_eq!(props, fields.iter().map(String::as_str).collect());
    }

    /// A state on an embedded store in a fresh directory, with one server.
    fn state(dir: &std::path::Path) -> ApiState {
        let store = clickhook_store::embedded::EmbeddedStore::open(dir).expect("embedded store opens");
        let key = SigningKey::new("k1", b"openapi-test-secret-0123456789".to_vec()).unwrap();
        ApiState {
            store: Arc::new(store),
            keyring: Keyring::new(vec![key]).unwrap(),
            link_base_url: "http://127.0.0.1:1".into(),
            retention: RetentionDays::default(),
            servers: ApiState::server_table([("default".to_owned(), TOKEN.to_owned())]),
            allow_private_targets: true,
            metrics: None,
            health: crate::ops::Health::default(),
        }
    }

    struct TempDir(PathBuf);
    impl TempDir {
        fn new() -> Self {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            Self(std::env::temp_dir().join(format!("clickhook-openapi-{}-{nanos}", std::process::id())))
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn call(app: &axum::Router, method: &str, uri: &str, token: bool, body: Option<Value>) -> (StatusCode, String, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        if token {
            req = req.header("X-Postmark-Server-Token", TOKEN);
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(serde_json::to_vec(&b).unwrap())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, ctype, bytes.to_vec())
    }

    /// Checks an answer against the document: its status is documented for the operation,
    /// and a JSON body matches the documented schema.
    fn conforms(doc: &Value, method: &str, template: &str, status: StatusCode, ctype: &str, body: &[u8]) -> Result<(), String> {
        let op = &doc["paths"][template][method.to_ascii_lowercase()];
        let Some(resp) = op["responses"].get(status.as_str()) else {
            return Err(format!("status {status} is not documented; body {}", String::from_utf8_lossy(body)));
        };
        let resp = deref(doc, resp);
        let media = ctype.split(';').next().unwrap_or_default().trim();
        let Some(content) = resp["content"].get(media) else {
            return Err(format!("content type {ctype:?} is not documented for {status}"));
        };
        if media == "application/json" {
            let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
            let mut errs = Vec::new();
            check(doc, &content["schema"], &v, "$", &mut errs);
            if !errs.is_empty() {
                return Err(format!("{status} body {v} does not match the schema: {errs:?}"));
            }
        }
        Ok(())
    }

    fn fill(template: &str, values: &BTreeMap<&str, String>) -> String {
        template
            .split('/')
            .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => values.get(name).cloned().unwrap_or_else(|| "1".to_owned()),
                None => seg.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[tokio::test]
    async fn every_route_is_served_and_answers_as_documented() {
        let tmp = TempDir::new();
        let app = router(state(&tmp.0));
        let doc = doc();
        let mut failures = Vec::new();

        // Without a token: every route exists (no fallback 404, no 405), and the answer is
        // documented (401 for the routes that need a token).
        for (method, template) in ROUTES {
            let uri = fill(template, &BTreeMap::new());
            let body = (*method != "GET" && *method != "DELETE").then(|| json!({}));
            let (status, ctype, bytes) = call(&app, method, &uri, false, body).await;
            let text = String::from_utf8_lossy(&bytes);
            if status == StatusCode::METHOD_NOT_ALLOWED || (status == StatusCode::NOT_FOUND && text.contains("No endpoint at")) {
                failures.push(format!("{method} {uri}: not served ({status} {text})"));
                continue;
            }
            let secured = doc["paths"][template][method.to_ascii_lowercase()].get("security") != Some(&json!([]));
            if secured && status != StatusCode::UNAUTHORIZED {
                failures.push(format!("{method} {uri}: {status} without a token, documented as needing one"));
            }
            if let Err(e) = conforms(&doc, method, template, status, &ctype, &bytes) {
                failures.push(format!("{method} {uri} (no token): {e}"));
            }
        }

        // With the token, on real data: a webhook and a tracked message.
        let (s, _, b) = call(
            &app,
            "POST",
            "/webhooks",
            true,
            Some(json!({ "Url": "http://127.0.0.1:9/hook", "HttpAuth": { "Username": "u", "Password": "p" }, "Triggers": { "Click": { "Enabled": true } } })),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let webhook: Value = serde_json::from_slice(&b).unwrap();
        let (s, _, b) = call(
            &app,
            "POST",
            "/tracking/messages",
            true,
            Some(json!({ "MessageID": "openapi-m1", "Recipient": "john@example.com", "Tag": "t", "Metadata": { "k": "v" }, "HtmlBody": "<a href=\"https://example.com\">x</a>", "TextBody": "https://example.com/t" })),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let values: BTreeMap<&str, String> =
            [("id", webhook["ID"].to_string()), ("messageid", "openapi-m1".to_owned()), ("delivery", "1".to_owned())].into();
        // Deletes last, so the others find the webhook.
        let mut ordered: Vec<_> = ROUTES.iter().collect();
        ordered.sort_by_key(|(m, _)| *m == "DELETE");
        for (method, template) in ordered {
            let mut uri = fill(template, &values);
            if *method == "GET" {
                uri.push_str("?count=10&offset=0");
            }
            let body = (*method != "GET" && *method != "DELETE").then(|| json!({}));
            let (status, ctype, bytes) = call(&app, method, &uri, true, body).await;
            if let Err(e) = conforms(&doc, method, template, status, &ctype, &bytes) {
                failures.push(format!("{method} {uri}: {e}"));
            }
        }
        // A few answers with their expected status, checked against the schema as well.
        for (method, uri, template, want) in [
            ("GET", "/webhooks", "/webhooks", StatusCode::OK),
            ("GET", "/webhooks/999999", "/webhooks/{id}", StatusCode::UNPROCESSABLE_ENTITY),
            ("GET", "/openapi.json", "/openapi.json", StatusCode::OK),
            ("GET", "/healthz", "/healthz", StatusCode::OK),
            ("GET", "/readyz", "/readyz", StatusCode::OK),
        ] {
            let (status, ctype, bytes) = call(&app, method, uri, true, None).await;
            if status != want {
                failures.push(format!("{method} {uri}: {status}, expected {want}"));
            }
            if let Err(e) = conforms(&doc, method, template, status, &ctype, &bytes) {
                failures.push(format!("{method} {uri}: {e}"));
            }
        }
        let (_, ctype, bytes) = call(&app, "GET", "/openapi.json", false, None).await;
        assert_eq!(ctype, "application/json");
        assert_eq!(bytes, DOCUMENT.as_bytes());

        assert!(failures.is_empty(), "{} problem(s):\n{}", failures.len(), failures.join("\n"));
    }

    /// `/readyz` in each state it can report, checked against the document: ready; a
    /// warning (no geo database, a delivery backlog) is still 200; a spooling link host is a
    /// 503 that names the spool.
    #[tokio::test]
    async fn readiness_reports_each_component_as_documented() {
        let tmp = TempDir::new();
        let base = state(&tmp.0);
        let now_ms = clickhook_core::timefmt::unix_ms(time::OffsetDateTime::now_utc());
        let stats = |oldest_ms: Option<i64>| clickhook_store::StoreStats { pending_hits: 1, pending_deliveries: 3, dead_deliveries: 2, oldest_pending_delivery_ms: oldest_ms };
        let get = |state: ApiState| async move {
            let (status, ctype, bytes) = call(&router(state), "GET", "/readyz", false, None).await;
            conforms(&doc(), "GET", "/readyz", status, &ctype, &bytes).unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        };

        // Before the first queue reading, with every role's probe in place.
        let mut st = base.clone();
        st.health = crate::ops::Health::new(std::time::Duration::from_secs(60));
        st.health.set_spool(|| crate::ops::SpoolHealth { store_down: false, pending_hits: 0 });
        st.health.set_geo(|| true);
        let (status, body) = get(st.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["degraded"], json!([]));
        assert_eq!(body["warnings"], json!([]));
        assert_eq!(body["store"]["status"], "ok");
        assert_eq!(body["store"]["backend"], "embedded");
        assert!(body["store"]["latency_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(body["spool"], json!({ "status": "ok", "store_down": false, "pending_hits": 0 }));
        assert_eq!(body["geo"], json!({ "status": "ok", "loaded": true }));
        assert_eq!(body["backlog"]["status"], "unknown");

        // A fresh reading with a young backlog: ok, with the counts.
        st.health.record_queue(Ok(stats(Some(now_ms - 5_000))), now_ms);
        let (status, body) = get(st.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["backlog"]["status"], "ok");
        assert_eq!(body["backlog"]["pending_hits"], 1);
        assert_eq!(body["backlog"]["pending_deliveries"], 3);
        assert_eq!(body["backlog"]["dead_deliveries"], 2);
        assert_eq!(body["backlog"]["oldest_pending_delivery_age_seconds"], 5.0);
        assert_eq!(body["backlog"]["backlog_threshold_seconds"], 60.0);

        // No pending delivery: the age is null.
        st.health.record_queue(Ok(stats(None)), now_ms);
        let (_, body) = get(st.clone()).await;
        assert_eq!(body["backlog"]["oldest_pending_delivery_age_seconds"], Value::Null);

        // Warnings only: no geo database, a delivery pending past the threshold. Still 200.
        let mut st = base.clone();
        st.health = crate::ops::Health::new(std::time::Duration::from_secs(60));
        st.health.set_geo(|| false);
        st.health.record_queue(Ok(stats(Some(now_ms - 3_600_000))), now_ms);
        let (status, body) = get(st.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["warnings"], json!(["geo", "backlog"]));
        assert_eq!(body["geo"]["status"], "not_loaded");
        assert_eq!(body["geo"]["loaded"], false);
        assert!(body["geo"]["reason"].as_str().unwrap().contains("geoip.city_database"));
        assert_eq!(body["backlog"]["status"], "backlog");
        assert!(body["backlog"]["reason"].as_str().unwrap().contains("3600s old"), "{body}");
        assert!(body.get("spool").is_none(), "no redirect role, no spool: {body}");

        // Queue counts that cannot be read: a warning, the reason given.
        st.health.record_queue(Err("store unavailable: down".into()), now_ms);
        let (status, body) = get(st.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["backlog"]["status"], "unknown");
        assert!(body["backlog"]["reason"].as_str().unwrap().contains("store unavailable: down"));

        // The link host spooling because the store failed it: 503, the spool named.
        let mut st = base.clone();
        st.health = crate::ops::Health::default();
        st.health.set_spool(|| crate::ops::SpoolHealth { store_down: true, pending_hits: 7 });
        let (status, body) = get(st).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["degraded"], json!(["spool"]));
        assert_eq!(body["spool"]["status"], "spooling");
        assert_eq!(body["spool"]["pending_hits"], 7);
        assert!(body["spool"]["reason"].as_str().unwrap().contains("spool"));
    }

    #[tokio::test]
    async fn health_answers_with_the_version() {
        let tmp = TempDir::new();
        let (status, ctype, bytes) = call(&router(state(&tmp.0)), "GET", "/healthz", false, None).await;
        assert_eq!(status, StatusCode::OK);
        conforms(&doc(), "GET", "/healthz", status, &ctype, &bytes).unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body, json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }));
    }
}
