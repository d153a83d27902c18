//! The site's administration over HTTP (R-PLT-2, R-ACD-7; admins only): users with roles,
//! per-queue permissions, queue memberships and phones; queues with their call settings.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/users`, `POST /api/v1/users` | list; create `{login, full_name, role, password, …}` → 201 |
//! | `GET/PATCH/DELETE /api/v1/users/{login}` | show; change any part; disable (204) |
//! | `POST /api/v1/users/{login}/phone/secret` | set (or generate) the phone's digest secret, shown once |
//! | `POST /api/v1/queues` | create `{name, …settings}` → 201 (the CRM queue and the ACD queue: one thing) |
//! | `GET/PATCH/DELETE /api/v1/queues/{name}` | settings and members; change; delete (409 while in use) |
//!
//! Every change is audited by the store, published as `site.changed` (the running service
//! applies it at once: ACD, registrar, static phones) and, when it narrows what someone may
//! do (disabled, another role, a permission or a queue taken away, a new password), ends
//! that user's sessions: their open event streams close at once.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use crm::{Access, Membership, PhoneKind, QueueSettings, Role, SiteQueue, SiteUser, UserChange};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::auth::{ApiJson, ApiPath};
use super::error::{ApiError, ApiResult};
pub use super::schema::{MembershipJson, PermissionJson};
use super::{Api, Caller};

/// Only admins administer.
fn admin_only(caller: &Caller) -> ApiResult<()> {
    if caller.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "only admins administer users and queues, not {}",
            caller.user.login
        )))
    }
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn explicit<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A phone as the API takes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = PhoneIn)]
#[serde(deny_unknown_fields)]
pub struct PhoneJson {
    /// `registering` or `static`.
    pub kind: String,
    /// For `static`: the phone's SIP URI with an IP address.
    #[serde(default)]
    pub contact: Option<String>,
}

/// `POST /api/v1/users` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub login: String,
    pub full_name: String,
    /// `agent_first_level`, `agent_second_level`, `supervisor` or `admin`.
    pub role: String,
    /// The web password (argon2 only; the phone has its own secret).
    pub password: String,
    #[serde(default)]
    pub queues: Vec<MembershipJson>,
    #[serde(default)]
    pub permissions: Vec<PermissionJson>,
    #[serde(default)]
    pub phone: Option<PhoneJson>,
}

/// `PATCH /api/v1/users/{login}` body: what is present changes.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub full_name: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
    pub password: Option<String>,
    pub queues: Option<Vec<MembershipJson>>,
    pub permissions: Option<Vec<PermissionJson>>,
    /// `null` takes the phone (and its secret) away.
    #[serde(default, deserialize_with = "explicit")]
    pub phone: Option<Option<PhoneJson>>,
}

/// `POST /api/v1/users/{login}/phone/secret` body (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    /// The secret to set; absent: one is generated.
    pub secret: Option<String>,
}

fn role(text: &str) -> ApiResult<Role> {
    text.parse::<Role>().map_err(|_| {
        ApiError::invalid(
            "role",
            "agent_first_level, agent_second_level, supervisor or admin",
            text,
        )
    })
}

fn memberships(list: &[MembershipJson]) -> Vec<Membership> {
    list.iter()
        .map(|m| Membership {
            queue: m.queue.clone(),
            weight: m.weight,
        })
        .collect()
}

fn permissions(list: &[PermissionJson]) -> ApiResult<Vec<(String, Access)>> {
    list.iter()
        .map(|p| {
            let access = match p.access.as_str() {
                "read" => Access::Read,
                "write" => Access::Write,
                other => return Err(ApiError::invalid("access", "read or write", other)),
            };
            Ok((p.queue.clone(), access))
        })
        .collect()
}

fn phone_kind(p: &PhoneJson) -> ApiResult<PhoneKind> {
    match (p.kind.as_str(), &p.contact) {
        ("registering", None) => Ok(PhoneKind::Registering),
        ("static", Some(contact)) => Ok(PhoneKind::Static {
            contact: contact.clone(),
        }),
        ("registering", Some(_)) => Err(ApiError::invalid(
            "phone",
            "no contact for a registering phone",
            "a contact",
        )),
        ("static", None) => Err(ApiError::invalid(
            "phone.contact",
            "a SIP URI with an IP address for a static phone",
            "nothing",
        )),
        (other, _) => Err(ApiError::invalid(
            "phone.kind",
            "registering or static",
            other,
        )),
    }
}

/// A user as the administration shows them.
fn user_json(u: &SiteUser) -> serde_json::Value {
    json!({
        "login": u.user.login,
        "full_name": u.user.full_name,
        "role": u.user.role.as_str(),
        "active": u.user.active,
        "directory": u.directory_dn.is_some(),
        "queues": u.memberships.iter().map(|m| json!({"queue": m.queue, "weight": m.weight})).collect::<Vec<_>>(),
        "permissions": u.permissions.iter().map(|(q, a)| json!({
            "queue": q, "access": if *a == Access::Write { "write" } else { "read" }
        })).collect::<Vec<_>>(),
        "phone": u.phone.as_ref().map(|p| {
            let (kind, contact) = match &p.kind {
                PhoneKind::Registering => ("registering", None),
                PhoneKind::Static { contact } => ("static", Some(contact.as_str())),
            };
            json!({"kind": kind, "contact": contact, "has_secret": p.has_secret,
                   "secret_changed": p.secret_changed})
        }),
    })
}

/// Tells the running service (and supervisors' consoles) what changed.
fn published(api: &Api, caller: &Caller, subject: String) {
    api.publish(::events::Event::SiteChanged {
        subject,
        by: caller.user.login.clone(),
        at: api.now(),
    });
}

/// Ends `login`'s sessions (their event streams close at once on the `site.changed` that
/// follows).
fn end_sessions(api: &Api, user: crm::UserId, login: &str) {
    let ended = api.sessions().close_user(user);
    if ended > 0 {
        tracing::info!(
            ?login,
            sessions = ended,
            "sessions ended by an administrator's change"
        );
    }
}

/// `GET /api/v1/users`.
#[utoipa::path(
    get,
    operation_id = "site_list_users",
    path = "/api/v1/users",
    tag = "admin",
    summary = "Users with roles, queues, permissions and phone (admins)",
    responses(
        (status = 200, description = "the users, by login", body = Vec<crate::api::schema::User>),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
    )
)]
pub async fn list_users(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    admin_only(&caller)?;
    let users = api.store().site_users().await?;
    Ok(axum::Json(users.iter().map(user_json).collect::<Vec<_>>()).into_response())
}

/// `GET /api/v1/users/{login}`.
#[utoipa::path(
    get,
    operation_id = "site_show_user",
    path = "/api/v1/users/{login}",
    tag = "admin",
    summary = "A user (admins)",
    params(("login" = String, Path, description = "the user's login")),
    responses(
        (status = 200, description = "the user", body = crate::api::schema::User),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn show_user(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(login): ApiPath<String>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let user = api.store().site_user(&login).await?;
    Ok(axum::Json(user_json(&user)).into_response())
}

/// `POST /api/v1/users`: 201 with the user (and `Location`).
#[utoipa::path(
    post,
    operation_id = "site_create_user",
    path = "/api/v1/users",
    tag = "admin",
    summary = "Create a user (admins); the phone's secret is set apart",
    request_body = NewUser,
    responses(
        (status = 201, description = "created (Location: /api/v1/users/{login})", body = crate::api::schema::User),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 409, description = "the login exists", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn create_user(
    State(api): State<Api>,
    caller: Caller,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let role = role(&body.role)?;
    let perms = permissions(&body.permissions)?;
    let phone = body.phone.as_ref().map(phone_kind).transpose()?;
    if body.password.chars().count() < 8 {
        return Err(ApiError::invalid(
            "password",
            "at least 8 characters",
            format!("{} characters", body.password.chars().count()),
        ));
    }
    let (store, now, actor) = (api.store(), api.now(), caller.actor());
    let created = store
        .add_user(
            &body.login,
            &body.full_name,
            role,
            &body.password,
            actor,
            now,
        )
        .await?;
    // The rest after the account: a refusal here leaves a user without it, which the
    // answer says (the account exists; PATCH completes it).
    let rest = async {
        if !body.queues.is_empty() {
            store
                .set_memberships(&body.login, &memberships(&body.queues), actor, now)
                .await?;
        }
        if !perms.is_empty() {
            store
                .set_permissions(&body.login, &perms, actor, now)
                .await?;
        }
        if let Some(kind) = &phone {
            store.set_phone(&body.login, Some(kind), actor, now).await?;
        }
        Ok::<(), crm::Error>(())
    }
    .await;
    published(&api, &caller, format!("user:{}", created.login));
    if let Err(e) = rest {
        return Err(ApiError::Invalid(format!(
            "user {} created, but: {e} (complete it with PATCH)",
            created.login
        )));
    }
    tracing::info!(login = ?created.login, role = role.as_str(), by = ?caller.user.login, "user created");
    let shown = store.site_user(&created.login).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/users/{}", created.login))],
        axum::Json(user_json(&shown)),
    )
        .into_response())
}

/// `PATCH /api/v1/users/{login}`: the user after the change.
#[utoipa::path(
    patch,
    operation_id = "site_update_user",
    path = "/api/v1/users/{login}",
    tag = "admin",
    summary = "Change a user: name, role, state, web password, queues, permissions, phone (admins); what narrows their rights ends their sessions",
    params(("login" = String, Path, description = "the user's login")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "the user after the change", body = crate::api::schema::User),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "an admin cannot disable or demote themselves", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn update_user(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(login): ApiPath<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let (store, now, actor) = (api.store(), api.now(), caller.actor());
    let before = store.site_user(&login).await?;
    let new_role = patch.role.as_deref().map(role).transpose()?;
    let perms = patch.permissions.as_deref().map(permissions).transpose()?;
    let phone = match &patch.phone {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) => Some(Some(phone_kind(p)?)),
    };
    if before.user.id == caller.user.id
        && (patch.active == Some(false) || new_role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::Conflict(
            "an admin cannot disable or demote themselves (another admin can)".into(),
        ));
    }
    if let Some(p) = &patch.password
        && p.chars().count() < 8
    {
        return Err(ApiError::invalid(
            "password",
            "at least 8 characters",
            format!("{} characters", p.chars().count()),
        ));
    }
    let change = UserChange {
        full_name: patch.full_name.clone(),
        role: new_role,
        active: patch.active,
    };
    store.update_user(&login, &change, actor, now).await?;
    if let Some(p) = &patch.password {
        store.set_password(before.user.id, p, actor, now).await?;
    }
    if let Some(list) = &patch.queues {
        store
            .set_memberships(&login, &memberships(list), actor, now)
            .await?;
    }
    if let Some(perms) = &perms {
        store.set_permissions(&login, perms, actor, now).await?;
    }
    if let Some(kind) = &phone {
        store.set_phone(&login, kind.as_ref(), actor, now).await?;
    }
    let after = store.site_user(&login).await?;
    if narrowed(&before, &after) || patch.password.is_some() {
        end_sessions(&api, after.user.id, &login);
    }
    published(&api, &caller, format!("user:{login}"));
    tracing::info!(?login, by = ?caller.user.login, "user changed");
    Ok(axum::Json(user_json(&after)).into_response())
}

/// Whether `after` may do less than `before`: disabled, another role, a permission taken
/// away or lowered, a queue taken away.
fn narrowed(before: &SiteUser, after: &SiteUser) -> bool {
    let lost_permission = before.permissions.iter().any(|(queue, access)| {
        !after
            .permissions
            .iter()
            .any(|(q, a)| q == queue && a >= access)
    });
    let lost_queue = before
        .memberships
        .iter()
        .any(|m| !after.memberships.iter().any(|n| n.queue == m.queue));
    (before.user.active && !after.user.active)
        || before.user.role != after.user.role
        || lost_permission
        || lost_queue
}

/// `DELETE /api/v1/users/{login}`: disables the account (its history stays): 204.
#[utoipa::path(
    delete,
    operation_id = "site_disable_user",
    path = "/api/v1/users/{login}",
    tag = "admin",
    summary = "Disable a user (admins): sessions end, calls are no longer offered, the phone stops authenticating; history stays",
    params(("login" = String, Path, description = "the user's login")),
    responses(
        (status = 204, description = "disabled"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "an admin cannot disable themselves", body = crate::api::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn disable_user(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(login): ApiPath<String>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let user = api.store().site_user(&login).await?;
    if user.user.id == caller.user.id {
        return Err(ApiError::Conflict(
            "an admin cannot disable themselves (another admin can)".into(),
        ));
    }
    let change = UserChange {
        active: Some(false),
        ..UserChange::default()
    };
    api.store()
        .update_user(&login, &change, caller.actor(), api.now())
        .await?;
    end_sessions(&api, user.user.id, &login);
    published(&api, &caller, format!("user:{login}"));
    tracing::info!(?login, by = ?caller.user.login, "user disabled");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/users/{login}/phone/secret`: sets the phone's secret (generated when the
/// body names none) and shows it this once.
#[utoipa::path(
    post,
    operation_id = "site_set_phone_secret",
    path = "/api/v1/users/{login}/phone/secret",
    tag = "admin",
    summary = "Set the phone's SIP digest secret, or generate one when the body names none; shown this once (admins)",
    params(("login" = String, Path, description = "the user's login")),
    request_body = Option<SecretBody>,
    responses(
        (status = 200, description = "the secret in force (Cache-Control: no-store)", body = crate::api::schema::PhoneSecret),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 422, description = "no phone, or a secret shorter than 8 characters", body = crate::api::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_phone_secret(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(login): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let body: SecretBody = if body.iter().all(u8::is_ascii_whitespace) {
        SecretBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Malformed {
            status: StatusCode::BAD_REQUEST,
            detail: format!("expected {{\"secret\": \"…\"}} or no body: {e}"),
        })?
    };
    let secret = body.secret.unwrap_or_else(crm::site::generate_secret);
    api.store()
        .set_sip_secret(&login, &secret, caller.actor(), api.now())
        .await?;
    published(&api, &caller, format!("user:{login}"));
    tracing::info!(?login, by = ?caller.user.login, "phone secret set");
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"login": login, "secret": secret})),
    )
        .into_response())
}

/// `POST /api/v1/queues` body: a name and any settings (the rest default).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQueue {
    pub name: String,
    #[serde(default)]
    pub second_level: bool,
    #[serde(default)]
    pub takes_calls: Option<bool>,
    pub weight: Option<u32>,
    pub announce_every_s: Option<u64>,
    pub max_wait_s: Option<u64>,
    pub overflow: Option<String>,
    pub expected_wait_s: Option<u64>,
    pub service_level_s: Option<u64>,
    pub transfers_at_head: Option<bool>,
}

/// `PATCH /api/v1/queues/{name}` body: what is present changes (`null` clears the optional
/// settings).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuePatch {
    pub second_level: Option<bool>,
    pub takes_calls: Option<bool>,
    pub weight: Option<u32>,
    #[serde(default, deserialize_with = "explicit")]
    pub announce_every_s: Option<Option<u64>>,
    #[serde(default, deserialize_with = "explicit")]
    pub max_wait_s: Option<Option<u64>>,
    #[serde(default, deserialize_with = "explicit")]
    pub overflow: Option<Option<String>>,
    pub expected_wait_s: Option<u64>,
    pub service_level_s: Option<u64>,
    pub transfers_at_head: Option<bool>,
}

async fn queue_json(api: &Api, q: &SiteQueue) -> ApiResult<serde_json::Value> {
    let members = api.store().queue_members(&q.queue.name).await?;
    let s = &q.settings;
    Ok(json!({
        "name": q.queue.name,
        "second_level": q.queue.second_level,
        "takes_calls": s.takes_calls,
        "weight": s.weight,
        "announce_every_s": s.announce_every_s,
        "max_wait_s": s.max_wait_s,
        "overflow": s.overflow,
        "expected_wait_s": s.expected_wait_s,
        "service_level_s": s.service_level_s,
        "transfers_at_head": s.transfers_at_head,
        "members": members.iter().map(|(login, weight)| json!({"login": login, "weight": weight})).collect::<Vec<_>>(),
    }))
}

/// `POST /api/v1/queues`: 201 with the queue.
#[utoipa::path(
    post,
    operation_id = "site_create_queue",
    path = "/api/v1/queues",
    tag = "admin",
    summary = "Create a queue (admins): the CRM queue and the ACD queue, one thing",
    request_body = NewQueue,
    responses(
        (status = 201, description = "created (Location: /api/v1/queues/{name})", body = crate::api::schema::SiteQueue),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 409, description = "the name exists", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn create_queue(
    State(api): State<Api>,
    caller: Caller,
    ApiJson(body): ApiJson<NewQueue>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let d = QueueSettings::default();
    let settings = QueueSettings {
        takes_calls: body.takes_calls.unwrap_or(d.takes_calls),
        weight: body.weight.unwrap_or(d.weight),
        announce_every_s: body.announce_every_s,
        max_wait_s: body.max_wait_s,
        overflow: body.overflow.clone(),
        expected_wait_s: body.expected_wait_s.unwrap_or(d.expected_wait_s),
        service_level_s: body.service_level_s.unwrap_or(d.service_level_s),
        transfers_at_head: body.transfers_at_head.unwrap_or(d.transfers_at_head),
    };
    let q = api
        .store()
        .create_site_queue(
            &body.name,
            body.second_level,
            &settings,
            caller.actor(),
            api.now(),
        )
        .await?;
    published(&api, &caller, format!("queue:{}", q.queue.name));
    tracing::info!(queue = ?q.queue.name, by = ?caller.user.login, "queue created");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/queues/{}", q.queue.name))],
        axum::Json(queue_json(&api, &q).await?),
    )
        .into_response())
}

/// `GET /api/v1/admin/queues`: every queue of the site with its settings and members, those
/// that take no calls included (`GET /api/v1/queues` is the live view of the ACD's queues).
#[utoipa::path(
    get,
    operation_id = "site_list_queues",
    path = "/api/v1/admin/queues",
    tag = "admin",
    summary = "Every queue with its settings and members, those that take no calls included (admins)",
    responses(
        (status = 200, description = "the queues, by name", body = Vec<crate::api::schema::SiteQueue>),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
    )
)]
pub async fn list_queues(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    admin_only(&caller)?;
    let queues = api.store().site_queues().await?;
    let mut out = Vec::with_capacity(queues.len());
    for q in &queues {
        out.push(queue_json(&api, q).await?);
    }
    Ok(axum::Json(out).into_response())
}

/// `GET /api/v1/queues/{name}`: settings and members.
#[utoipa::path(
    get,
    operation_id = "site_show_queue",
    path = "/api/v1/queues/{name}",
    tag = "admin",
    summary = "A queue's settings and members (admins)",
    params(("name" = String, Path, description = "the queue's name")),
    responses(
        (status = 200, description = "the queue", body = crate::api::schema::SiteQueue),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn show_queue(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let q = api.store().site_queue(&name).await?;
    Ok(axum::Json(queue_json(&api, &q).await?).into_response())
}

/// `PATCH /api/v1/queues/{name}`: the queue after the change.
#[utoipa::path(
    patch,
    operation_id = "site_update_queue",
    path = "/api/v1/queues/{name}",
    tag = "admin",
    summary = "Change a queue's settings (admins); calls waiting go on, the ACD takes the new settings at once",
    params(("name" = String, Path, description = "the queue's name")),
    request_body = QueuePatch,
    responses(
        (status = 200, description = "the queue after the change", body = crate::api::schema::SiteQueue),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn update_queue(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(patch): ApiJson<QueuePatch>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let current = api.store().site_queue(&name).await?;
    let s = current.settings;
    let settings = QueueSettings {
        takes_calls: patch.takes_calls.unwrap_or(s.takes_calls),
        weight: patch.weight.unwrap_or(s.weight),
        announce_every_s: patch.announce_every_s.unwrap_or(s.announce_every_s),
        max_wait_s: patch.max_wait_s.unwrap_or(s.max_wait_s),
        overflow: patch.overflow.clone().unwrap_or(s.overflow),
        expected_wait_s: patch.expected_wait_s.unwrap_or(s.expected_wait_s),
        service_level_s: patch.service_level_s.unwrap_or(s.service_level_s),
        transfers_at_head: patch.transfers_at_head.unwrap_or(s.transfers_at_head),
    };
    let second_level = patch.second_level.unwrap_or(current.queue.second_level);
    let q = api
        .store()
        .update_site_queue(&name, second_level, &settings, caller.actor(), api.now())
        .await?;
    published(&api, &caller, format!("queue:{name}"));
    tracing::info!(queue = ?name, by = ?caller.user.login, "queue changed");
    Ok(axum::Json(queue_json(&api, &q).await?).into_response())
}

/// `DELETE /api/v1/queues/{name}`: 204, or 409 while tickets, another queue's overflow or
/// the system use it.
#[utoipa::path(
    delete,
    operation_id = "site_delete_queue",
    path = "/api/v1/queues/{name}",
    tag = "admin",
    summary = "Delete a queue (admins)",
    params(("name" = String, Path, description = "the queue's name")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "tickets are in it, another queue overflows into it, or it is `raw`", body = crate::api::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_queue(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let members = api.store().queue_members(&name).await?;
    api.store()
        .delete_site_queue(&name, caller.actor(), api.now())
        .await?;
    // Who served it loses it: their sessions end (the console's scope is rebuilt at login).
    for (login, _) in members {
        if let Ok(Some(user)) = api.store().user_by_login(&login).await {
            end_sessions(&api, user.id, &login);
        }
    }
    published(&api, &caller, format!("queue:{name}"));
    tracing::info!(queue = ?name, by = ?caller.user.login, "queue deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
