//! The OpenAPI 3.1 document of `/api/v1`, derived from the handlers: each handler carries its
//! `#[utoipa::path]` (method, path, parameters, body, answers, problems), each request body
//! and answer its `ToSchema` ([`super::schema`] for the answers built as JSON values; the
//! store's enums and the bus's events in their crates). [`ApiDoc`] lists the handlers; a test
//! checks that it names exactly the routes of [`super::routes`], both ways.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::schema;
use super::{
    agents, attachments, browser_phones, calls, customers, mail_desk, prompts, reports,
    reports_live, session, site, ticket_actions, tickets, web_form,
};

/// The event stream's description: the stream is served by `crate::events::upgrade` beside
/// [`super::routes`] (its handler needs the bus), so its document entry is written here, where
/// the document is assembled, instead of importing the event stream back into the API.
#[utoipa::path(
    get,
    operation_id = "events_upgrade",
    path = "/api/v1/events",
    tag = "events",
    summary = "The live event stream (WebSocket, RFC 6455)",
    description = "Upgrades to a WebSocket (RFC 6455) that sends one JSON text message per \
        event, a `snapshot` first. Authenticated by `Authorization: Bearer`, `?token=` \
        (browsers cannot set headers on a WebSocket) or the session cookie from this server's \
        own pages (checked by `Origin`). Supervisors and admins see every event; an agent sees \
        their own state and calls and what happens in their queues, as their rights are now \
        (read again on every `site.changed`). A client too slow for the bus gets `resync` and \
        a fresh `snapshot`; when the session ends the server closes with code 4401. Clients \
        send nothing. The messages are `StreamMessage` (`x-websocket-message`).",
    params(schema::StreamParams, ("Upgrade" = String, Header, description = "websocket")),
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket is open; each message is a StreamMessage (JSON text)"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, description = "the session cookie was sent from another origin", body = crate::api::schema::Problem, content_type = "application/problem+json"),
    )
)]
#[allow(
    dead_code,
    reason = "describes crate::events::upgrade for the document only"
)]
fn event_stream() {}

/// The event stream's path. It is served beside [`super::routes`] (its handler needs the bus,
/// not only the API), so the route-table test counts it separately.
pub const EVENTS_PATH: &str = "/api/v1/events";

/// The document: every handler, the answers' schemas the handlers do not name themselves
/// (the event stream's messages), the reusable problem answers, the security schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "centralino API",
        description = "Contact-center CRM: sessions, Service Requests, customers, call cards, \
            the ACD's agents and queues, the site's users and queues, prompts, the live event \
            stream. Errors are application/problem+json (RFC 9457)."
    ),
    servers((url = "/")),
    security(("bearer" = []), ("cookie" = [])),
    paths(
        document,
        session::login, session::current, session::logout, super::phone::show,
        tickets::search, tickets::due, tickets::create, tickets::show,
        ticket_actions::add_article, attachments::download,
        ticket_actions::set_state, ticket_actions::lock, ticket_actions::unlock,
        ticket_actions::first_contact, ticket_actions::set_first_contact,
        ticket_actions::set_owner, ticket_actions::set_responsible, ticket_actions::set_queue,
        ticket_actions::set_priority, ticket_actions::set_type, ticket_actions::link,
        customers::search, customers::create, customers::show, customers::update,
        customers::audit,
        agents::set_mode, super::items::accept, super::items::decline, super::items::done,
        calls::by_sip_call_id, calls::show, calls::transfer, calls::hold, browser_phones::list,
        agents::list, agents::set_state, agents::queues, agents::reload,
        site::create_queue, site::list_queues, site::show_queue, site::update_queue, site::delete_queue,
        site::list_users, site::create_user, site::show_user, site::update_user,
        site::disable_user, site::set_phone_secret,
        super::notifications::show, super::notifications::set,
        prompts::list, prompts::backup, prompts::restore, prompts::audio, prompts::upload,
        prompts::delete,
        reports::show, reports::sla, reports_live::live, reports::mail_now,
        web_form::create,
        mail_desk::reply, mail_desk::templates, mail_desk::template, mail_desk::set_template,
        mail_desk::outbox, mail_desk::retry,
        event_stream,
    ),
    components(
        schemas(schema::StreamMessage),
        responses(
            schema::Unauthorized, schema::Forbidden, schema::NotFound,
            schema::LifecycleConflict, schema::Invalid, schema::Unavailable, schema::TooLarge,
        ),
    ),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// The two ways to send the session token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::auth::SESSION_COOKIE,
                "state-changing requests must also send X-CSRF-Token",
            ))),
        );
    }
}

/// The whole document as JSON. OpenAPI 3.1 has no WebSocket operations, so the event
/// stream's upgrade is described as the GET it starts with (101 Switching Protocols, RFC 6455
/// §4) and the messages that then flow server → client as `StreamMessage`, named by the
/// operation's `x-websocket-message`.
pub fn spec() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|e| {
        // Serialising a document of strings and maps cannot fail; say so if it ever does.
        json!({"openapi": "3.1.0", "info": {"title": "centralino API", "version": "?",
               "description": format!("the document could not be built: {e}")}, "paths": {}})
    });
    if let Some(op) = doc.pointer_mut(&format!("/paths/{}/get", EVENTS_PATH.replace('/', "~1"))) {
        op["x-websocket-message"] = json!({"$ref": "#/components/schemas/StreamMessage"});
    }
    doc
}

/// `GET /api/v1/openapi.json`: this document (no authentication).
#[utoipa::path(
    get,
    operation_id = "openapi_document",
    path = "/api/v1/openapi.json",
    tag = "meta",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)),
    security(())
)]
pub async fn document() -> Response {
    axum::Json(spec()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `v`, with where it was found.
    fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                        _ => refs(x, format!("{at}/{k}"), out),
                    }
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    refs(x, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_inside_the_document() {
        let doc = spec();
        let mut found = Vec::new();
        refs(&doc, String::new(), &mut found);
        assert!(found.len() > 50, "only {} references", found.len());
        for (at, r) in found {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{at}: {r} is not a local reference"));
            assert!(doc.pointer(pointer).is_some(), "{at}: {r} does not resolve");
        }
    }

    #[test]
    fn the_document_is_well_formed_openapi_3_1() {
        let doc = spec();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
        assert_eq!(schemes["cookie"]["in"], "cookie", "{schemes}");
        assert_eq!(schemes["cookie"]["name"], "centralino_session", "{schemes}");
        let mut operation_ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            // Every `{param}` of the template is declared once as a required path parameter.
            let template: Vec<&str> = path
                .split('{')
                .skip(1)
                .map(|p| p.split('}').next().unwrap())
                .collect();
            for (method, op) in item.as_object().unwrap() {
                let what = format!("{method} {path}");
                assert!(
                    ["get", "put", "post", "delete", "patch"].contains(&method.as_str()),
                    "{what}"
                );
                assert!(op["summary"].is_string(), "{what}: no summary");
                assert!(
                    op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                    "{what}"
                );
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(
                    operation_ids.insert(id.to_string()),
                    "{what}: operationId {id}"
                );
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let in_path: Vec<&str> = params
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| {
                        assert_eq!(p["required"], true, "{what}: {p}");
                        p["name"].as_str().unwrap()
                    })
                    .collect();
                let mut declared = in_path.clone();
                declared.sort_unstable();
                let mut expected = template.clone();
                expected.sort_unstable();
                assert_eq!(declared, expected, "{what}: path parameters");
                let responses = op["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{what}");
                for (status, r) in responses {
                    assert!(status.parse::<u16>().is_ok(), "{what}: status {status}");
                    // A reused answer is a reference; any other has its description.
                    assert!(
                        r["$ref"].is_string()
                            || r["description"].as_str().is_some_and(|d| !d.is_empty()),
                        "{what} {status}: {r}"
                    );
                    if status.starts_with('4') || status.starts_with('5') {
                        let r = match r["$ref"].as_str() {
                            Some(p) => doc.pointer(&p[1..]).unwrap(),
                            None => r,
                        };
                        assert!(
                            r["content"]["application/problem+json"].is_object(),
                            "{what} {status}: not a problem: {r}"
                        );
                    }
                }
                let anonymous = op["security"] == json!([{}]);
                assert_eq!(
                    anonymous,
                    path == "/api/v1/openapi.json"
                        || (path == "/api/v1/session" && method == "post")
                        || path.starts_with("/api/v1/public/"),
                    "{what}: security {}",
                    op["security"]
                );
                if !anonymous {
                    assert!(responses.contains_key("401"), "{what}: no 401");
                }
            }
        }
    }

    #[test]
    fn bodies_and_parameters_keep_their_media_types_and_descriptions() {
        let doc = spec();
        let op = |method: &str, path: &str| doc["paths"][path][method].clone();
        let upload = op("put", "/api/v1/prompts/{lang}/{name}");
        let wav = &upload["requestBody"]["content"]["audio/wav"]["schema"];
        assert!(
            wav.to_string().contains("binary") || wav["contentMediaType"].is_string(),
            "{wav}"
        );
        let restore = op("post", "/api/v1/prompts/restore");
        assert!(
            restore["requestBody"]["content"]["application/x-tar"].is_object(),
            "{restore}"
        );
        assert!(
            op("get", "/api/v1/prompts/backup")["responses"]["200"]["content"]["application/x-tar"]
                .is_object()
        );
        let download = op("get", "/api/v1/tickets/{number}/attachments/{sha256}");
        let content = &download["responses"]["200"]["content"];
        assert!(
            content["audio/wav"].is_object() && content["application/octet-stream"].is_object(),
            "{content}"
        );
        let search = op("get", "/api/v1/tickets");
        let names: Vec<&str> = search["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                assert_eq!(p["in"], "query", "{p}");
                assert!(p["description"].is_string(), "{p}");
                p["name"].as_str().unwrap()
            })
            .collect();
        for name in [
            "number", "q", "queue", "state", "type", "page", "per_page", "sort",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let login = op("post", "/api/v1/session");
        assert!(
            login["responses"]["429"]["description"]
                .as_str()
                .unwrap()
                .contains("Retry-After")
        );
        assert!(login["requestBody"]["required"] == true, "{login}");
        let ticket = &doc["components"]["schemas"]["Ticket"];
        assert!(ticket["properties"]["type"].is_object(), "{ticket}");
        assert_eq!(
            doc["components"]["schemas"]["TicketType"]["enum"],
            json!([
                "information_request",
                "administrative_problem",
                "payment_problem",
                "technical_problem",
                "other"
            ])
        );
    }
}
