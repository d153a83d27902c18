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
    let messages = doc["components"]["schemas"]["StreamMessage"]["oneOf"]
        .as_array()
        .unwrap();
    let types: Vec<&str> = messages
        .iter()
        .map(|m| {
            let name = m["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
            doc["components"]["schemas"][name]["properties"]["type"]["const"]
                .as_str()
                .unwrap()
        })
        .collect();
    for t in ["snapshot", "resync"]
        .into_iter()
        .chain(events::Event::KINDS)
    {
        assert!(
            types.contains(&t),
            "{t} missing from StreamMessage: {types:?}"
        );
    }
    // Every schema reference resolves.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling reference to {name}");
    }
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
