//! The OpenAPI 3.1 document of `/api/v1`, maintained by hand beside the handlers; a test
//! checks that it lists exactly the routes of [`super::routes`].

use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn problem(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/problem+json": {"schema": r("Problem")}}})
}

fn ok(status: &str, description: &str, schema: Option<Value>) -> (String, Value) {
    let mut v = json!({"description": description});
    if let Some(s) = schema {
        v["content"] = content(s);
    }
    (status.to_string(), v)
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description,
           "schema": {"type": "string"}})
}

fn query_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description,
           "schema": {"type": "string"}})
}

/// One operation. `errors` lists the problem statuses it can answer besides 401.
/// `op` with a binary request body of `media_type`.
fn binary_body(mut op: Value, media_type: &str) -> Value {
    op["requestBody"] = json!({"required": true,
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}});
    op
}

fn op(
    tag: &str,
    summary: &str,
    params: Vec<Value>,
    body: Option<Value>,
    success: (String, Value),
    errors: &[(&str, &str)],
    authenticated: bool,
) -> Value {
    let mut responses = Map::new();
    responses.insert(success.0, success.1);
    if authenticated {
        responses.insert(
            "401".into(),
            problem("missing, unknown or expired token (WWW-Authenticate: Bearer)"),
        );
    }
    for (status, why) in errors {
        responses.insert((*status).into(), problem(why));
    }
    let mut v = json!({"tags": [tag], "summary": summary, "parameters": params,
                       "responses": responses});
    if let Some(b) = body {
        v["requestBody"] = json!({"required": true, "content": content(b)});
    }
    if !authenticated {
        v["security"] = json!([]);
    }
    v
}

const NUM: &str = "the ticket number";
const F403: (&str, &str) = (
    "403",
    "role or queue permission missing; or CSRF token missing",
);
const F404: (&str, &str) = ("404", "no such object");
const F409: (&str, &str) = (
    "409",
    "refused by the ticket life cycle (the store's message)",
);
const F422: (&str, &str) = ("422", "a value in the request is not acceptable");
const F503: (&str, &str) = ("503", "no ACD runs on this node");

fn action(summary: &str, body: Option<Value>) -> Value {
    op(
        "tickets",
        summary,
        vec![path_param("number", NUM)],
        body,
        ok("200", "the ticket after the action", Some(r("Ticket"))),
        &[F403, F404, F409, F422],
        true,
    )
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

fn paths() -> Value {
    let t = "/api/v1/tickets/{number}";
    let search_params = [
        ("number", "ticket number, `*` wildcards"),
        ("q", "full text over titles, bodies, senders"),
        ("queue", "queue names, comma-separated"),
        ("state", "states, comma-separated"),
        ("priority", "priorities 1-5, comma-separated"),
        ("type", "ticket types, comma-separated"),
        ("owner", "owner login"),
        ("customer", "customer id"),
        ("channel", "channel"),
        ("call_id", "call id"),
        ("created_from", "created at or after (RFC 3339)"),
        ("created_to", "created before (RFC 3339)"),
        ("page", "page, from 1"),
        ("per_page", "page size, 1-100, default 25"),
        (
            "sort",
            "created|changed|priority|number, `-` prefix for descending",
        ),
    ]
    .iter()
    .map(|(n, d)| query_param(n, d))
    .collect();
    let cid = || vec![path_param("id", "the customer id")];
    json!({
        "/api/v1/openapi.json": {"get": op("meta", "This document", vec![], None,
            ok("200", "OpenAPI 3.1", Some(json!({"type": "object"}))), &[], false)},
        "/api/v1/session": {
            "post": op("session", "Log in", vec![], Some(r("Login")),
                ok("200", "token, CSRF token, expiry, user; also the session cookie", Some(r("Session"))),
                &[("401", "wrong login or password"), F422,
                  ("429", "too many failed logins for this login or from this address; `Retry-After` says when to try again"),
                  ("503", "the directory does not answer (directory users), or too many logins are being checked at once; `Retry-After`")],
                false),
            "get": op("session", "The caller's user", vec![], None,
                ok("200", "user", Some(json!({"type": "object"}))), &[], true),
            "delete": op("session", "Log out", vec![], None,
                ok("204", "session ended, cookie cleared", None), &[F403], true),
        },
        "/api/v1/tickets": {
            "get": op("tickets", "Search tickets in readable queues", search_params, None,
                ok("200", "one page", Some(r("TicketPage"))), &[F403, F422], true),
            "post": op("tickets", "Create a ticket", vec![], Some(r("NewTicket")),
                ok("201", "created (Location header)", Some(r("TicketDetail"))), &[F403, F422], true),
        },
        "/api/v1/tickets/due": {"get": op("tickets",
            "Open tickets of readable queues with an escalation clock due soon or overdue, earliest first",
            vec![query_param("within_min", "due within this many minutes, 0-10080, default 60 (overdue always)"),
                 query_param("queue", "queue names, comma-separated (default: every readable queue)"),
                 query_param("limit", "at most this many, 1-200, default 50")], None,
            ok("200", "tickets, each with `sla`, `next_due` and `overdue`",
                Some(obj(json!({"tickets": {"type": "array", "items": r("Ticket")}}), &["tickets"]))),
            &[F403, F422], true)},
        t: {"get": op("tickets", "A ticket with articles, history, children",
            vec![path_param("number", NUM)], None,
            ok("200", "the ticket", Some(r("TicketDetail"))), &[F403, F404], true)},
        "/api/v1/tickets/{number}/articles": {"post": op("tickets", "Add an article",
            vec![path_param("number", NUM)], Some(r("NewArticle")),
            ok("201", "the article", Some(r("Article"))),
            &[F403, F404, F409, ("413", "attachment too large"), F422], true)},
        "/api/v1/tickets/{number}/state": {"put": action("Set the state (pending_until with pending_reminder)",
            Some(obj(json!({"state": {"type": "string", "enum": ["open", "pending_reminder", "closed_successful", "closed_unsuccessful"]},
                            "pending_until": {"type": "string", "format": "date-time"}}), &["state"])))},
        "/api/v1/tickets/{number}/lock": {"post": action("Lock (the caller becomes owner)", None)},
        "/api/v1/tickets/{number}/unlock": {"post": action("Release the lock", None)},
        "/api/v1/tickets/{number}/owner": {"put": action("Change the owner (null clears)",
            Some(obj(json!({"owner": {"type": ["string", "null"]}}), &["owner"])))},
        "/api/v1/tickets/{number}/responsible": {"put": action("Change the responsible (null clears)",
            Some(obj(json!({"responsible": {"type": ["string", "null"]}}), &["responsible"])))},
        "/api/v1/tickets/{number}/queue": {"put": action("Move, assign to second level, or reject the assignment",
            Some(obj(json!({"action": {"type": "string", "enum": ["move", "assign_second_level", "reject"], "default": "move"},
                            "queue": {"type": "string"}, "reason": {"type": "string"}}), &[])))},
        "/api/v1/tickets/{number}/priority": {"put": action("Change the priority",
            Some(obj(json!({"priority": {"type": "integer", "minimum": 1, "maximum": 5}}), &["priority"])))},
        "/api/v1/tickets/{number}/type": {"put": action("Change the type",
            Some(obj(json!({"type": r("TicketType")}), &["type"])))},
        "/api/v1/tickets/{number}/links": {"post": action("Link parent/child or merge into another ticket",
            Some(obj(json!({"kind": {"type": "string", "enum": ["child", "parent", "merge_into"]},
                            "ticket": {"type": "string"}}), &["kind", "ticket"])))},
        "/api/v1/customers": {
            "get": op("customers", "Find customers by phone or text (audited)",
                vec![query_param("phone", "a phone number"), query_param("q", "text")], None,
                ok("200", "customers", Some(json!({"type": "array", "items": r("Customer")}))), &[F403, F422], true),
            "post": op("customers", "Create a customer", vec![], Some(r("NewCustomer")),
                ok("201", "created (Location header)", Some(r("Customer"))),
                &[F403, ("409", "PIN already in use"), F422], true),
        },
        "/api/v1/customers/{id}": {
            "get": op("customers", "A customer (audited read)", cid(), None,
                ok("200", "the customer", Some(r("Customer"))), &[F403, F404], true),
            "patch": op("customers", "Change a customer (absent fields stay, null clears)", cid(),
                Some(r("CustomerPatch")), ok("200", "the customer", Some(r("Customer"))),
                &[F403, F404, ("409", "PIN already in use"), F422], true),
        },
        "/api/v1/customers/{id}/audit": {"get": op("customers", "Who saw or changed the customer (admins)",
            cid(), None, ok("200", "audit rows, oldest first", Some(json!({"type": "array", "items": {"type": "object"}}))),
            &[F403, F404], true)},
        "/api/v1/calls": {"get": op("calls", "The call card by SIP Call-ID",
            vec![json!({"name": "sip_call_id", "in": "query", "required": true, "schema": {"type": "string"}})], None,
            ok("200", "the call card", Some(r("CallCard"))), &[F403, F404, F422], true)},
        "/api/v1/calls/{call_id}": {"get": op("calls", "The call card",
            vec![path_param("call_id", "our call id")], None,
            ok("200", "the call card", Some(r("CallCard"))), &[F403, F404], true)},
        "/api/v1/calls/{call_id}/transfer": {"post": op("calls", "Transfer a call in conversation, with its Service Request, to another queue (R-ACD-6)",
            vec![path_param("call_id", "our call id")], Some(r("Transfer")),
            ok("200", "transferred", Some(obj(json!({"call_id": {"type": "string"}, "queue": {"type": "string"}, "ticket": {"type": ["string", "null"]}}), &["call_id", "queue"]))),
            &[F403, F404, ("409", "the call is not in conversation"), F422, F503], true)},
        "/api/v1/prompts": {"get": op("prompts", "Every prompt: language, name, length, source (shipped or uploaded), who uses it (supervisors, admins)",
            vec![], None,
            ok("200", "prompts", Some(obj(json!({"prompts": {"type": "array", "items": r("Prompt")}}), &["prompts"]))),
            &[F403, F503], true)},
        "/api/v1/prompts/backup": {"get": op("prompts", "One tar archive of every prompt in force, `<lang>/<name>.wav` (admins)",
            vec![], None,
            ("200".to_string(), json!({"description": "the archive", "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}}})),
            &[F403, F503], true)},
        "/api/v1/prompts/restore": {"post": binary_body(op("prompts", "Restore an archive made by backup: all entries checked first, then each becomes the uploaded version (admins)",
            vec![], None,
            ok("200", "how many were restored", Some(obj(json!({"restored": {"type": "integer"}}), &["restored"]))),
            &[F403, ("413", "larger than 20 MB"), ("422", "not a tar of <lang>/<name>.wav WAV files: nothing changed"), F503], true), "application/x-tar")},
        "/api/v1/prompts/{lang}/{name}": {
            "get": op("prompts", "The prompt in force as WAV, for an HTML audio element (supervisors, admins)",
                vec![path_param("lang", "language, e.g. it"), path_param("name", "prompt name, [a-z0-9_]")], None,
                ("200".to_string(), json!({"description": "8 kHz 16-bit mono WAV", "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}})),
                &[F403, F404, F422, F503], true),
            "put": binary_body(op("prompts", "Upload or replace a prompt: any WAV (rate, channels, 8-32-bit or float), converted to 8 kHz 16-bit mono; new calls hear it at once (admins)",
                vec![path_param("lang", "language, e.g. it"), path_param("name", "prompt name, [a-z0-9_]")], None,
                ok("200", "the prompt", Some(r("Prompt"))),
                &[F403, ("413", "larger than 20 MB"), ("422", "not a usable WAV, empty, longer than 10 minutes, or a bad name or language"), F503], true), "audio/wav"),
            "delete": op("prompts", "Delete the uploaded version (the shipped one comes back), or an uploaded-only prompt nothing uses (admins)",
                vec![path_param("lang", "language, e.g. it"), path_param("name", "prompt name, [a-z0-9_]")], None,
                ok("204", "deleted", None),
                &[F403, F404, ("409", "shipped-only, or in use by the IVR, a queue or the voicemail"), F422, F503], true),
        },
        "/api/v1/tickets/{number}/attachments/{sha256}": {"get": {"tags": ["tickets"],
            "summary": "An attachment of the ticket (a voicemail message, say): to those who may read its queue; written in the ticket's history as listened",
            "parameters": [path_param("number", NUM), path_param("sha256", "the attachment's SHA-256, as the article lists it")],
            "responses": {
                "200": {"description": "the content; audio inline, anything else as an attachment (X-Content-Type-Options: nosniff)",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                                "audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                "401": problem("missing, unknown or expired token (WWW-Authenticate: Bearer)"),
                "403": problem(F403.1),
                "404": problem("no such ticket, or no such attachment on it")}}},
        "/api/v1/admin/reload": {"post": op("admin", "Reload the configuration file (IVR tree, queues, agents) as SIGHUP does",
            vec![], None,
            ok("200", "reloaded", Some(obj(json!({"reloaded": {"type": "string"}}), &["reloaded"]))),
            &[F403, ("422", "the file is invalid: every problem, nothing changed"), F503], true)},
        "/api/v1/agents": {"get": op("acd", "Agents: state, time in state, queues, current call (an agent sees only themselves)",
            vec![], None,
            ok("200", "the agents", Some(json!({"type": "array", "items": r("Agent")}))), &[F503], true)},
        "/api/v1/agents/{login}/state": {"put": op("acd", "Set an agent's state (their own; supervisors and admins: anyone's)",
            vec![path_param("login", "the agent's login")], Some(r("AgentStateChange")),
            ok("204", "state set", None), &[F403, F404, ("409", "the ACD refuses the change"), F422, F503], true)},
        "/api/v1/queues": {"get": op("acd", "Live queue figures (an agent sees the queues they serve)",
            vec![], None,
            ok("200", "the queues", Some(json!({"type": "array", "items": r("Queue")}))), &[F503], true),
            "post": op("admin", "Create a queue (admins): the CRM queue and the ACD queue, one thing",
                vec![], Some(r("NewQueue")),
                ok("201", "created (Location: /api/v1/queues/{name})", Some(r("SiteQueue"))),
                &[F403, ("409", "the name exists"), F422], true)},
        "/api/v1/users": {
            "get": op("admin", "Users with roles, queues, permissions and phone (admins)", vec![], None,
                ok("200", "the users, by login", Some(json!({"type": "array", "items": r("User")}))), &[F403], true),
            "post": op("admin", "Create a user (admins); the phone's secret is set apart",
                vec![], Some(r("NewUser")),
                ok("201", "created (Location: /api/v1/users/{login})", Some(r("User"))),
                &[F403, ("409", "the login exists"), F422], true),
        },
        "/api/v1/users/{login}": {
            "get": op("admin", "A user (admins)", vec![path_param("login", "the user's login")], None,
                ok("200", "the user", Some(r("User"))), &[F403, F404], true),
            "patch": op("admin", "Change a user: name, role, state, web password, queues, permissions, phone (admins); what narrows their rights ends their sessions",
                vec![path_param("login", "the user's login")], Some(r("UserPatch")),
                ok("200", "the user after the change", Some(r("User"))),
                &[F403, F404, ("409", "an admin cannot disable or demote themselves"), F422], true),
            "delete": op("admin", "Disable a user (admins): sessions end, calls are no longer offered, the phone stops authenticating; history stays",
                vec![path_param("login", "the user's login")], None,
                ok("204", "disabled", None), &[F403, F404, ("409", "an admin cannot disable themselves")], true),
        },
        "/api/v1/users/{login}/phone/secret": {"post": op("admin", "Set the phone's SIP digest secret, or generate one when the body names none; shown this once (admins)",
            vec![path_param("login", "the user's login")], Some(obj(json!({"secret": {"type": "string", "minLength": 8, "maxLength": 128}}), &[])),
            ok("200", "the secret in force (Cache-Control: no-store)", Some(obj(json!({"login": {"type": "string"}, "secret": {"type": "string"}}), &["login", "secret"]))),
            &[F403, F404, ("422", "no phone, or a secret shorter than 8 characters")], true)},
        "/api/v1/queues/{name}": {
            "get": op("admin", "A queue's settings and members (admins)", vec![path_param("name", "the queue's name")], None,
                ok("200", "the queue", Some(r("SiteQueue"))), &[F403, F404], true),
            "patch": op("admin", "Change a queue's settings (admins); calls waiting go on, the ACD takes the new settings at once",
                vec![path_param("name", "the queue's name")], Some(r("QueuePatch")),
                ok("200", "the queue after the change", Some(r("SiteQueue"))), &[F403, F404, F422], true),
            "delete": op("admin", "Delete a queue (admins)", vec![path_param("name", "the queue's name")], None,
                ok("204", "deleted", None), &[F403, F404, ("409", "tickets are in it, another queue overflows into it, or it is `raw`")], true),
        },
        EVENTS_PATH: {"get": events_stream()},
    })
}

/// The event stream's path. It is served beside [`super::routes`] (its handler needs the bus,
/// not only the API), so the route-table test counts it separately.
pub const EVENTS_PATH: &str = "/api/v1/events";

/// `GET /api/v1/events`: OpenAPI 3.1 has no WebSocket operations, so the upgrade is described
/// as the GET it starts with (101 Switching Protocols, RFC 6455 §4) and the messages that then
/// flow server → client as the `StreamMessage` schema, named by `x-websocket-message`.
fn events_stream() -> Value {
    let mut v = op(
        "events",
        "The live event stream: upgrades to a WebSocket (RFC 6455) that sends one JSON text \
         message per event, a `snapshot` first. Authenticated by `Authorization: Bearer`, \
         `?token=` (browsers cannot set headers on a WebSocket) or the session cookie from this \
         server's own pages (checked by `Origin`). Supervisors and admins see every event; an \
         agent sees their own state and calls and what happens in their queues. A client too \
         slow for the bus gets `resync` and a fresh `snapshot`; when the session ends the \
         server closes with code 4401. Clients send nothing.",
        vec![
            query_param(
                "token",
                "the session token, for clients that cannot set Authorization",
            ),
            json!({"name": "Upgrade", "in": "header", "required": true,
                   "schema": {"type": "string", "const": "websocket"}}),
        ],
        None,
        (
            "101".into(),
            json!({"description": "Switching Protocols: the WebSocket is open; each message is a \
                                   StreamMessage (JSON text)"}),
        ),
        &[("403", "the session cookie was sent from another origin")],
        true,
    );
    v["x-websocket-message"] = r("StreamMessage");
    v
}

/// The messages of the event stream, one schema per `type` (`events::Event`, plus the
/// stream's own `snapshot` and `resync`).
fn stream_schemas(schemas: &mut Map<String, Value>) {
    let s = json!({"type": "string"});
    let sn = json!({"type": ["string", "null"]});
    let int = json!({"type": "integer"});
    let boolean = json!({"type": "boolean"});
    let time = json!({"type": "string", "format": "date-time"});
    let kind = |t: &str| json!({"type": "string", "const": t});
    let messages = [
        (
            "EventSnapshot",
            "snapshot",
            json!({"at": {"type": "string", "format": "date-time"},
            "user": obj(json!({"login": s, "role": s, "full_name": s}), &["login", "role"]),
            "queues": {"type": "array", "items": r("Queue")},
            "agents": {"type": "array", "items": r("Agent")},
            "hourly": {"type": "array", "items": obj(json!({"hour": {"type": "string", "format": "date-time"},
                "calls": int}), &["hour", "calls"])},
            "wrap_up_s": {"type": ["integer", "null"]}}),
            vec!["at", "user", "queues", "agents", "hourly"],
        ),
        (
            "EventResync",
            "resync",
            json!({"missed": int}),
            vec!["missed"],
        ),
        (
            "EventCallStarted",
            "call.started",
            json!({"call_id": s, "sip_call_id": s, "caller": sn,
            "dialled": sn}),
            vec!["call_id", "sip_call_id"],
        ),
        (
            "EventCallAnswered",
            "call.answered",
            json!({"call_id": s, "codec": s}),
            vec!["call_id", "codec"],
        ),
        (
            "EventDtmf",
            "call.dtmf",
            json!({"call_id": s, "digit": s}),
            vec!["call_id", "digit"],
        ),
        (
            "EventMediaChanged",
            "call.media_changed",
            json!({"call_id": s, "direction": s}),
            vec!["call_id", "direction"],
        ),
        (
            "EventCallEnded",
            "call.ended",
            json!({"call_id": s,
            "outcome": {"type": "string", "enum": ["caller_hangup", "server_hangup", "abandoned", "rejected", "failed"]},
            "duration_ms": int}),
            vec!["call_id", "outcome", "duration_ms"],
        ),
        (
            "EventIvrStep",
            "call.ivr",
            json!({"call_id": s, "step": s}),
            vec!["call_id", "step"],
        ),
        (
            "EventCallQueued",
            "call.queued",
            json!({"call_id": s, "queue": s, "area": sn}),
            vec!["call_id", "queue"],
        ),
        (
            "EventCallOffered",
            "call.offered",
            json!({"call_id": s, "agent": s, "queue": s,
            "channel": s, "caller": sn, "customer_id": {"type": ["integer", "null"]},
            "customer_name": sn, "identified_by": {"type": "string", "enum": ["pin", "ani", "none"]},
            "area": sn, "sr_type": sn, "ivr_path": {"type": "array", "items": s},
            "journey": {"type": "array", "items": {"type": "object",
                "description": "One step of the caller's way to the agent, typed by `step`: \
                    closed {reason}, menu {digit, label}, menu_retry {no_input}, \
                    identified {by, customer}, not_identified {by}, queued {queue}, \
                    transferred {queue}, voicemail {mailbox}",
                "properties": {"step": {"type": "string", "enum": ["closed", "menu", "menu_retry",
                    "identified", "not_identified", "queued", "transferred", "voicemail"]}},
                "required": ["step"]}},
            "waited_ms": int}),
            vec![
                "call_id",
                "agent",
                "queue",
                "channel",
                "identified_by",
                "ivr_path",
                "journey",
                "waited_ms",
            ],
        ),
        (
            "EventCallConnected",
            "call.connected",
            json!({"call_id": s, "agent": s, "queue": s,
            "waited_ms": int, "ticket": sn}),
            vec!["call_id", "agent", "queue", "waited_ms"],
        ),
        (
            "EventQueueChanged",
            "queue.changed",
            json!({"queue": s, "waiting": int,
            "oldest_wait_s": {"type": "number"}}),
            vec!["queue", "waiting", "oldest_wait_s"],
        ),
        (
            "EventAgentState",
            "agent.state",
            json!({"login": s,
            "state": {"type": "string", "enum": ["logged_out", "ready", "ringing", "talking", "wrap_up", "not_ready"]},
            "reason": sn, "registered": {"type": "boolean"}, "since": {"type": "string", "format": "date-time"}}),
            vec!["login", "state", "registered", "since"],
        ),
        (
            "EventTicketCreated",
            "ticket.created",
            json!({"number": s, "queue": s, "channel": s,
            "call_id": sn, "owner": sn}),
            vec!["number", "queue", "channel"],
        ),
        (
            "EventTicketUpdated",
            "ticket.updated",
            json!({"number": s, "queue": s, "owner": sn, "by": sn,
            "changes": {"type": "array", "items": obj(json!({
                "field": {"type": "string", "enum": ["state", "lock", "owner", "responsible", "queue",
                    "priority", "type", "pending_until", "parent", "merged_into", "article"]},
                "old": sn, "new": sn}), &["field", "old", "new"])}}),
            vec!["number", "queue", "changes"],
        ),
        (
            "EventTicketEscalation",
            "ticket.escalation",
            json!({"number": s, "queue": s,
            "clock": {"type": "string", "enum": ["first_response", "update", "solution"]},
            "stage": {"type": "string", "enum": ["due_soon", "overdue"]},
            "due": {"type": "string", "format": "date-time"}}),
            vec!["number", "queue", "clock", "stage", "due"],
        ),
        (
            "EventQueueEntered",
            "queue.entered",
            json!({"call_id": s, "queue": s, "position": int, "at": time}),
            vec!["call_id", "queue", "position", "at"],
        ),
        (
            "EventQueueOffered",
            "queue.offered",
            json!({"call_id": s, "queue": s, "agent": s, "at": time}),
            vec!["call_id", "queue", "agent", "at"],
        ),
        (
            "EventQueueConnected",
            "queue.connected",
            json!({"call_id": s, "queue": s, "agent": s, "wait_ms": int,
            "within_service_level": boolean, "at": time}),
            vec![
                "call_id",
                "queue",
                "agent",
                "wait_ms",
                "within_service_level",
                "at",
            ],
        ),
        (
            "EventQueueRingNoAnswer",
            "queue.ring_no_answer",
            json!({"call_id": s, "queue": s, "agent": s, "rang_ms": int, "at": time}),
            vec!["call_id", "queue", "agent", "rang_ms", "at"],
        ),
        (
            "EventQueueRejected",
            "queue.rejected",
            json!({"call_id": s, "queue": s, "agent": s, "reason": s, "at": time}),
            vec!["call_id", "queue", "agent", "reason", "at"],
        ),
        (
            "EventQueueAbandoned",
            "queue.abandoned",
            json!({"call_id": s, "queue": s, "position": int, "wait_ms": int,
            "within_service_level": boolean, "at": time}),
            vec![
                "call_id",
                "queue",
                "position",
                "wait_ms",
                "within_service_level",
                "at",
            ],
        ),
        (
            "EventQueueCompleted",
            "queue.completed",
            json!({"call_id": s, "queue": s, "agent": s, "talk_ms": int, "at": time}),
            vec!["call_id", "queue", "agent", "talk_ms", "at"],
        ),
        (
            "EventQueueTransferred",
            "queue.transferred",
            json!({"call_id": s, "queue": s, "agent": s, "to": s, "at": time}),
            vec!["call_id", "queue", "agent", "to", "at"],
        ),
        (
            "EventQueueOverflowed",
            "queue.overflowed",
            json!({"call_id": s, "queue": s, "wait_ms": int, "within_service_level": boolean,
            "to": {"type": "string", "description": "a queue name or `voicemail:<box>`"},
            "at": time}),
            vec![
                "call_id",
                "queue",
                "wait_ms",
                "within_service_level",
                "to",
                "at",
            ],
        ),
        (
            "EventSystemStarted",
            "system.started",
            json!({"version": s, "at": time}),
            vec!["version", "at"],
        ),
        (
            "EventSystemStopping",
            "system.stopping",
            json!({"at": time}),
            vec!["at"],
        ),
        (
            "EventSiteChanged",
            "site.changed",
            json!({"subject": {"type": "string", "description": "what changed: `queue:<name>` or `user:<login>`"},
            "by": {"type": "string", "description": "the administrator's login"}, "at": time}),
            vec!["subject", "by", "at"],
        ),
    ];
    let mut one_of = Vec::new();
    for (name, tag, mut props, mut required) in messages {
        props["type"] = kind(tag);
        required.insert(0, "type");
        schemas.insert(name.into(), obj(props, &required));
        one_of.push(r(name));
    }
    schemas.insert(
        "StreamMessage".into(),
        json!({"description": "One message of /api/v1/events, told apart by `type`; clients \
                               ignore types they do not know (new ones are added over time).",
               "oneOf": one_of, "discriminator": {"propertyName": "type"}}),
    );
}

fn schemas() -> Value {
    let s = json!({"type": "string"});
    let sn = json!({"type": ["string", "null"]});
    let time = json!({"type": ["string", "null"], "format": "date-time"});
    let ticket = json!({"type": "object", "properties": {
        "number": s, "title": s, "queue": s,
        "state": {"type": "string", "enum": ["new", "open", "pending_reminder", "closed_successful", "closed_unsuccessful", "merged"]},
        "locked": {"type": "boolean"}, "owner": sn, "responsible": sn,
        "priority": {"type": "integer", "minimum": 1, "maximum": 5}, "type": r("TicketType"),
        "channel": r("Channel"), "customer_id": {"type": ["integer", "null"]}, "call_id": sn,
        "service_area": sn, "parent": sn, "merged_into": sn, "created": time, "changed": time,
        "closed": time, "pending_until": time}});
    let article_kind = json!({"type": "string", "enum": ["note", "phone_received", "phone_made", "email_in", "email_out", "voicemail", "web", "fax"]});
    json!({
        "Problem": obj(json!({"type": s, "title": s, "status": {"type": "integer"}, "detail": s}),
            &["type", "title", "status", "detail"]),
        "Login": obj(json!({"login": s, "password": s}), &["login", "password"]),
        "Session": obj(json!({"token": s, "csrf_token": s, "expires_at": time,
            "user": obj(json!({"login": s, "full_name": s, "roles": {"type": "array", "items": s}}), &["login", "roles"])}),
            &["token", "csrf_token", "expires_at", "user"]),
        "TicketType": {"type": "string", "enum": ["information_request", "administrative_problem", "payment_problem", "technical_problem", "other"]},
        "Channel": {"type": "string", "enum": ["phone", "email", "voicemail", "web", "fax"]},
        "Ticket": ticket,
        "TicketDetail": {"allOf": [r("Ticket"), obj(json!({
            "articles": {"type": "array", "items": r("Article")},
            "history": {"type": "array", "items": obj(json!({"at": time, "actor": sn, "kind": s, "old": sn, "new": sn, "note": sn}), &[])},
            "children": {"type": "array", "items": obj(json!({"number": s, "title": s, "state": s}), &[])}}), &[])]},
        "TicketPage": obj(json!({"total": {"type": "integer", "description": "Matches, counted up to 1000"},
            "total_exact": {"type": "boolean", "description": "False when more than `total` tickets match"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"}, "tickets": {"type": "array", "items": r("Ticket")}}), &[]),
        "NewTicket": obj(json!({"title": s, "queue": s, "priority": {"type": "integer"}, "type": r("TicketType"),
            "channel": r("Channel"), "customer_id": {"type": "integer"}, "call_id": s, "service_area": s,
            "owner": s, "responsible": s, "article": r("NewArticle")}), &["title"]),
        "NewArticle": obj(json!({"kind": article_kind, "customer_visible": {"type": "boolean"}, "sender": s,
            "subject": s, "body": s, "attachments": {"type": "array", "items": obj(json!({
                "filename": s, "content_type": s, "content_base64": {"type": "string", "contentEncoding": "base64"}}),
                &["filename", "content_type", "content_base64"])}}), &["subject", "body"]),
        "Article": obj(json!({"id": {"type": "integer"}, "kind": article_kind, "customer_visible": {"type": "boolean"},
            "sender": s, "subject": s, "body": s, "created": time, "created_by": sn,
            "attachments": {"type": "array", "items": obj(json!({"sha256": s, "filename": s, "content_type": s, "size": {"type": "integer"},
                "url": {"type": "string", "description": "GET it to download (audio plays inline)"}}), &[])}}), &[]),
        "Customer": obj(json!({"id": {"type": "integer"}, "full_name": s, "organisation": sn, "email": sn,
            "guest": {"type": "boolean"}, "has_pin": {"type": "boolean"}, "phones": {"type": "array", "items": s}}), &[]),
        "NewCustomer": obj(json!({"full_name": s, "organisation": s, "email": s,
            "phones": {"type": "array", "items": s}, "pin": {"type": "string", "pattern": "^[0-9]{4,12}$"},
            "guest": {"type": "boolean"}}), &["full_name"]),
        "CustomerPatch": obj(json!({"full_name": s, "organisation": sn, "email": sn,
            "add_phones": {"type": "array", "items": s}, "known": {"type": "boolean"},
            "pin": {"type": "string", "pattern": "^[0-9]{4,12}$"}}), &[]),
        "Agent": obj(json!({"login": s,
            "state": {"type": "string", "enum": ["logged_out", "ready", "ringing", "talking", "wrap_up", "not_ready"]},
            "reason": sn, "since": time, "seconds_in_state": {"type": "integer"},
            "registered": {"type": "boolean"}, "queues": {"type": "array", "items": s},
            "current_call": sn}), &["login", "state", "since", "registered", "queues"]),
        "Transfer": obj(json!({"queue": s, "note": sn}), &["queue"]),
        "Prompt": obj(json!({"language": s, "name": s, "duration_s": {"type": ["number", "null"]},
            "source": {"type": "string", "enum": ["shipped", "uploaded"]},
            "shipped": {"type": "boolean", "description": "a shipped version exists (deleting the upload brings it back)"},
            "in_use_by": {"type": "array", "items": s}}), &["language", "name", "source", "shipped", "in_use_by"]),
        "AgentStateChange": obj(json!({
            "state": {"type": "string", "enum": ["ready", "not_ready", "logged_out"]},
            "reason": sn}), &["state"]),
        "Queue": obj(json!({"name": s, "waiting": {"type": "integer"}, "ringing": {"type": "integer"},
            "oldest_wait_s": {"type": "number"},
            "agents": obj(json!({"logged_out": {"type": "integer"}, "ready": {"type": "integer"},
                "ringing": {"type": "integer"}, "talking": {"type": "integer"}, "wrap_up": {"type": "integer"},
                "not_ready": {"type": "integer"}, "available": {"type": "integer"}}), &[]),
            "answered": {"type": "integer"}, "abandoned": {"type": "integer"},
            "service_level": {"type": ["number", "null"]}, "load": {"type": ["number", "null"]},
            "expected_wait_s": {"type": "number"},
            "avg_answer_time_s": {"type": ["number", "null"], "description": "mean wait to an agent's answer, calls answered today"}}),
            &["name", "waiting", "oldest_wait_s", "agents", "answered", "abandoned"]),
        "CallCard": obj(json!({"call_id": s, "sip_call_id": sn, "caller": s, "dialled": s,
            "started": time, "answered": time, "ended": time, "ivr_path": {"type": "array", "items": s},
            "customer_id": {"type": ["integer", "null"]}, "identity": s, "queue": sn,
            "wait_ms": {"type": ["integer", "null"]}, "agent": sn, "outcome": sn, "ticket": sn}), &[]),
    })
}

/// The administration's schemas (users, queues).
fn site_schemas(schemas: &mut Map<String, Value>) {
    let s = json!({"type": "string"});
    let sn = json!({"type": ["string", "null"]});
    let time = json!({"type": ["string", "null"], "format": "date-time"});
    let more = json!({
        "User": obj(json!({"login": s, "full_name": s, "role": r("Role"), "active": {"type": "boolean"},
            "queues": {"type": "array", "items": r("Membership")},
            "permissions": {"type": "array", "items": r("Permission")},
            "phone": {"oneOf": [{"type": "null"}, obj(json!({"kind": {"type": "string", "enum": ["registering", "static"]},
                "contact": sn, "has_secret": {"type": "boolean"}, "secret_changed": time}), &["kind", "has_secret"])]}}),
            &["login", "full_name", "role", "active", "queues", "permissions", "phone"]),
        "Role": {"type": "string", "enum": ["agent_first_level", "agent_second_level", "supervisor", "admin"]},
        "Membership": obj(json!({"queue": s, "weight": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1}}), &["queue"]),
        "Permission": obj(json!({"queue": s, "access": {"type": "string", "enum": ["read", "write"]}}), &["queue", "access"]),
        "PhoneIn": obj(json!({"kind": {"type": "string", "enum": ["registering", "static"]},
            "contact": {"type": "string", "description": "static phones: a SIP URI with an IP address, e.g. sip:1001@192.0.2.10:5060"}}), &["kind"]),
        "NewUser": obj(json!({"login": {"type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$"}, "full_name": s, "role": r("Role"),
            "password": {"type": "string", "minLength": 8}, "queues": {"type": "array", "items": r("Membership")},
            "permissions": {"type": "array", "items": r("Permission")}, "phone": r("PhoneIn")}),
            &["login", "full_name", "role", "password"]),
        "UserPatch": obj(json!({"full_name": s, "role": r("Role"), "active": {"type": "boolean"},
            "password": {"type": "string", "minLength": 8}, "queues": {"type": "array", "items": r("Membership")},
            "permissions": {"type": "array", "items": r("Permission")},
            "phone": {"oneOf": [{"type": "null"}, r("PhoneIn")], "description": "null takes the phone and its secret away"}}), &[]),
        "SiteQueue": obj(json!({"name": s, "second_level": {"type": "boolean"}, "takes_calls": {"type": "boolean"},
            "weight": {"type": "integer"}, "announce_every_s": {"type": ["integer", "null"]},
            "max_wait_s": {"type": ["integer", "null"]}, "overflow": sn, "expected_wait_s": {"type": "integer"},
            "service_level_s": {"type": "integer"}, "transfers_at_head": {"type": "boolean"},
            "members": {"type": "array", "items": obj(json!({"login": s, "weight": {"type": "integer"}}), &["login", "weight"])}}),
            &["name", "second_level", "takes_calls", "weight", "service_level_s", "members"]),
        "NewQueue": obj(json!({"name": {"type": "string", "pattern": "^[a-z0-9._-]{1,64}$"}, "second_level": {"type": "boolean", "default": false},
            "takes_calls": {"type": "boolean", "default": true}, "weight": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
            "announce_every_s": {"type": "integer", "minimum": 1}, "max_wait_s": {"type": "integer", "minimum": 1},
            "overflow": {"type": "string", "description": "another queue or voicemail:<box>; needs max_wait_s"},
            "expected_wait_s": {"type": "integer", "default": 60}, "service_level_s": {"type": "integer", "default": 30},
            "transfers_at_head": {"type": "boolean", "default": false}}), &["name"]),
        "QueuePatch": obj(json!({"second_level": {"type": "boolean"}, "takes_calls": {"type": "boolean"},
            "weight": {"type": "integer", "minimum": 1, "maximum": 100}, "announce_every_s": {"type": ["integer", "null"]},
            "max_wait_s": {"type": ["integer", "null"]}, "overflow": sn, "expected_wait_s": {"type": "integer"},
            "service_level_s": {"type": "integer"}, "transfers_at_head": {"type": "boolean"}}), &[])
    });
    if let Value::Object(m) = more {
        schemas.extend(m);
    }
}

/// The whole document.
pub fn spec() -> Value {
    let mut all_schemas = match schemas() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    stream_schemas(&mut all_schemas);
    site_schemas(&mut all_schemas);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "centralino API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Contact-center CRM: sessions, Service Requests, customers, call cards. \
                Errors are application/problem+json (RFC 9457).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "centralino_session",
                    "description": "state-changing requests must also send X-CSRF-Token"},
            },
            "schemas": all_schemas,
        },
    })
}

/// `GET /api/v1/openapi.json` (no authentication).
pub async fn document() -> Response {
    axum::Json(spec()).into_response()
}
