//! The customer registry (R-SR-7) over HTTP. Every read is audited (R-PLT-2: who saw
//! what); a PIN can be set but is never returned, only `has_pin`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use crm::{CustomerId, CustomerUpdate, NewCustomer};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::auth::{ApiJson, ApiPath, ApiQuery};
use super::error::{ApiError, ApiResult};
use super::policy::Capability;
use super::views::{self, Names};
use super::{Api, Caller};

/// Most customers one search returns.
pub const SEARCH_LIMIT: u32 = 50;

/// `GET /api/v1/customers` parameters: exactly one of them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// A phone number (any format the registry normalises): the caller's card.
    pub phone: Option<String>,
    /// Text in the name, organisation, e-mail or a phone number.
    pub q: Option<String>,
}

/// `GET /api/v1/customers?phone=…|q=…`: a list (known customers first); each one shown is
/// audited as read by the caller.
#[utoipa::path(
    get,
    operation_id = "customers_search",
    path = "/api/v1/customers",
    tag = "customers",
    summary = "Find customers by phone or text (audited)",
    params(SearchParams),
    responses(
        (status = 200, description = "customers", body = Vec<crate::api::schema::Customer>),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn search(
    State(api): State<Api>,
    caller: Caller,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Response> {
    caller.require(Capability::ReadCustomers)?;
    let now = api.now();
    let store = api.store();
    let found = match (p.phone.as_deref(), p.q.as_deref()) {
        (Some(phone), None) => store
            .customer_by_phone(phone, caller.actor(), now)
            .await?
            .into_iter()
            .collect(),
        (None, Some(q)) if !q.trim().is_empty() => {
            let found = store.search_customers(q, SEARCH_LIMIT).await?;
            for c in &found {
                let object = format!("customer:{}", c.id);
                store
                    .audit(caller.actor(), "read", &object, Some("by search"), now)
                    .await?;
            }
            found
        }
        _ => {
            return Err(ApiError::invalid(
                "customer search",
                "exactly one of `phone` or a non-empty `q`",
                "something else",
            ));
        }
    };
    let list: Vec<Value> = found.iter().map(views::customer).collect();
    Ok(axum::Json(list).into_response())
}

/// `GET /api/v1/customers/{id}`: audited read.
#[utoipa::path(
    get,
    operation_id = "customers_show",
    path = "/api/v1/customers/{id}",
    tag = "customers",
    summary = "A customer (audited read)",
    params(("id" = i64, Path, description = "the customer id")),
    responses(
        (status = 200, description = "the customer", body = crate::api::schema::Customer),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    caller.require(Capability::ReadCustomers)?;
    let c = api
        .store()
        .customer(CustomerId(id), caller.actor(), api.now())
        .await?;
    Ok(axum::Json(views::customer(&c)).into_response())
}

/// `POST /api/v1/customers` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// Name.
    pub full_name: String,
    /// Organisation.
    pub organisation: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone numbers (normalised to E.164).
    #[serde(default)]
    pub phones: Vec<String>,
    /// PIN, 4 to 12 digits (kept only as an HMAC).
    pub pin: Option<String>,
    /// A guest created on the fly.
    #[serde(default)]
    pub guest: bool,
}

/// `POST /api/v1/customers`: 201 with the customer and its `Location`.
#[utoipa::path(
    post,
    operation_id = "customers_create",
    path = "/api/v1/customers",
    tag = "customers",
    summary = "Create a customer",
    request_body = CreateCustomer,
    responses(
        (status = 201, description = "created (Location header)", body = crate::api::schema::Customer),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 409, description = "PIN already in use", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn create(
    State(api): State<Api>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> ApiResult<Response> {
    caller.require(Capability::WriteCustomers)?;
    if body.full_name.trim().is_empty() {
        return Err(ApiError::invalid("full_name", "a non-empty name", ""));
    }
    let new = NewCustomer {
        full_name: body.full_name.trim().to_string(),
        organisation: body.organisation,
        email: body.email,
        phones: body.phones,
        pin: body.pin,
        guest: body.guest,
    };
    let c = api
        .store()
        .create_customer(new, caller.actor(), api.now())
        .await?;
    let location = format!("/api/v1/customers/{}", c.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(views::customer(&c)),
    )
        .into_response())
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn explicit<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/customers/{id}` body: absent fields stay, `null` clears.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    /// New name.
    pub full_name: Option<String>,
    /// New organisation, or `null`.
    #[serde(default, deserialize_with = "explicit")]
    pub organisation: Option<Option<String>>,
    /// New e-mail, or `null`.
    #[serde(default, deserialize_with = "explicit")]
    pub email: Option<Option<String>>,
    /// Phone numbers to add.
    #[serde(default)]
    pub add_phones: Vec<String>,
    /// `true` turns a guest into a known customer.
    #[serde(default)]
    pub known: bool,
    /// New PIN (never returned).
    pub pin: Option<String>,
}

/// `PATCH /api/v1/customers/{id}`: each changed field is audited.
#[utoipa::path(
    patch,
    operation_id = "customers_update",
    path = "/api/v1/customers/{id}",
    tag = "customers",
    summary = "Change a customer (absent fields stay, null clears)",
    params(("id" = i64, Path, description = "the customer id")),
    request_body = UpdateCustomer,
    responses(
        (status = 200, description = "the customer", body = crate::api::schema::Customer),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "PIN already in use", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn update(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateCustomer>,
) -> ApiResult<Response> {
    caller.require(Capability::WriteCustomers)?;
    let id = CustomerId(id);
    let now = api.now();
    let store = api.store();
    if !store.customer_exists(id).await? {
        return Err(ApiError::NotFound(format!("no customer with id {id}")));
    }
    if body
        .full_name
        .as_deref()
        .is_some_and(|n| n.trim().is_empty())
    {
        return Err(ApiError::invalid("full_name", "a non-empty name", ""));
    }
    if let Some(pin) = &body.pin {
        store.set_customer_pin(id, pin, caller.actor(), now).await?;
    }
    let update = CustomerUpdate {
        full_name: body.full_name.map(|n| n.trim().to_string()),
        organisation: body.organisation,
        email: body.email,
        add_phones: body.add_phones,
        known: body.known,
    };
    let c = store
        .update_customer(id, update, caller.actor(), now)
        .await?;
    Ok(axum::Json(views::customer(&c)).into_response())
}

/// `GET /api/v1/customers/{id}/audit`: who saw or changed this customer, oldest first
/// (admins only).
#[utoipa::path(
    get,
    operation_id = "customers_audit",
    path = "/api/v1/customers/{id}/audit",
    tag = "customers",
    summary = "Who saw or changed the customer (admins)",
    params(("id" = i64, Path, description = "the customer id")),
    responses(
        (status = 200, description = "audit rows, oldest first", body = Vec<crate::api::schema::AuditRow>),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn audit(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    caller.require(Capability::ReadAudit)?;
    let id = CustomerId(id);
    if !api.store().customer_exists(id).await? {
        return Err(ApiError::NotFound(format!("no customer with id {id}")));
    }
    let rows = api.store().audit_log(&format!("customer:{id}")).await?;
    let mut names = Names::new(&api).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let actor = match r.actor {
            Some(u) => Some(names.user(u).await?),
            None => None,
        };
        out.push(json!({"at": r.at, "actor": actor, "action": r.action, "detail": r.detail}));
    }
    Ok(axum::Json(out).into_response())
}
