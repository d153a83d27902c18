//! The OpenAPI document matches the route table, and every route but login and the document
//! itself refuses anonymous callers.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{Fixture, both};

/// A concrete path for a template (`{number}` → a ticket number that does not exist, …).
fn concrete(path: &str) -> String {
    path.replace("{number}", "2026030242000001")
        .replace("{id}", "1")
        .replace("{call_id}", "c-1")
}

async fn the_document_lists_exactly_the_routes(f: Fixture) {
    let r = f
        .call("GET", "/api/v1/openapi.json", None, None)
        .await
        .expect(StatusCode::OK);
    let doc = &r.json;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let routes = console::api::routes();
    for route in &routes {
        let op = &paths
            .get(route.path)
            .unwrap_or_else(|| panic!("{} missing from the document", route.path))[route.method];
        assert!(op.is_object(), "{} {} missing", route.method, route.path);
        assert!(
            op["responses"].is_object(),
            "{} {}",
            route.method,
            route.path
        );
    }
    // The event stream is served beside the route table (its handler needs the bus).
    let events = &paths[console::api::openapi::EVENTS_PATH]["get"];
    assert!(events["responses"]["101"].is_object(), "{events}");
    assert_eq!(
        events["x-websocket-message"]["$ref"],
        "#/components/schemas/StreamMessage"
    );
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        routes.len() + 1,
        "the document has operations no route serves"
    );
    // Every message type of the stream has its schema, named by its `type`.
    let mut types = Vec::new();
    message_types(
        doc,
        &doc["components"]["schemas"]["StreamMessage"],
        &mut types,
    );
    for t in ["snapshot", "resync"]
        .into_iter()
        .chain(events::Event::KINDS)
    {
        assert!(
            types.contains(&t.to_string()),
            "{t} missing from StreamMessage: {types:?}"
        );
    }
    // Every reference resolves.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#").skip(1) {
        let pointer = piece.split('"').next().unwrap();
        assert!(
            doc.pointer(pointer).is_some(),
            "dangling reference to {pointer}"
        );
    }
}

/// The `type` values a message schema admits, through references, `oneOf` and `allOf`.
fn message_types(doc: &serde_json::Value, schema: &serde_json::Value, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        return message_types(doc, doc.pointer(&r[1..]).unwrap(), out);
    }
    for key in ["oneOf", "allOf", "anyOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            message_types(doc, s, out);
        }
    }
    let kind = &schema["properties"]["type"];
    let kind = match kind["$ref"].as_str() {
        Some(r) => doc.pointer(&r[1..]).unwrap(),
        None => kind,
    };
    out.extend(
        kind["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap().to_string()),
    );
    out.extend(kind["const"].as_str().map(str::to_string));
}
both!(the_document_lists_exactly_the_routes);

async fn every_route_is_served_and_refuses_anonymous_callers(f: Fixture) {
    for route in console::api::routes() {
        let method = route.method.to_uppercase();
        let path = concrete(route.path);
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let r = f.call(&method, &path, None, body).await;
        match (route.method, route.path) {
            ("get", "/api/v1/openapi.json") => assert_eq!(r.status, StatusCode::OK),
            ("post", "/api/v1/session") => {
                r.problem(StatusCode::UNPROCESSABLE_ENTITY);
            }
            // The citizen's web form needs no login; the fixture runs it disabled.
            ("post", "/api/v1/public/requests") => {
                r.problem(StatusCode::NOT_FOUND);
            }
            _ => {
                assert_eq!(
                    r.headers
                        .get("www-authenticate")
                        .map(|v| v.to_str().unwrap()),
                    Some("Bearer realm=\"centralino\""),
                    "{method} {path}"
                );
                r.problem(StatusCode::UNAUTHORIZED);
            }
        }
    }
    // And an authenticated caller reaches every handler (no 404/405 from the router).
    let adm = f.login("adm").await;
    for route in console::api::routes() {
        let method = route.method.to_uppercase();
        let r = f
            .call(&method, &concrete(route.path), Some(&adm), Some(json!({})))
            .await;
        assert_ne!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {}",
            route.path
        );
        if r.status == StatusCode::NOT_FOUND {
            // Only the handlers' own 404s, as problems naming what is missing.
            assert!(
                r.json["detail"].is_string(),
                "{method} {}: {}",
                route.path,
                r.text
            );
        }
    }
}
both!(every_route_is_served_and_refuses_anonymous_callers);
