//! `GET /api/v1/tickets/{number}/attachments/{sha256}` (R-VM-1): a ticket's attachment, to
//! those who may read the ticket's queue (403 otherwise; 404 for content that is not on this
//! ticket). Audio plays in the page (`inline`); everything else downloads (`attachment`);
//! `nosniff` either way, and a content type that is not one of the safe media types is
//! served as `application/octet-stream`, so an uploaded HTML file can never run as a page of
//! this site. Listening to (or opening) an attachment is written in the ticket's history
//! (`listened`, by whom).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use crm::Access;

use super::auth::ApiPath;
use super::error::{ApiError, ApiResult};
use super::{Api, Caller};

/// The path of an attachment of ticket `number`.
pub fn url(number: &str, sha256: &str) -> String {
    format!("/api/v1/tickets/{number}/attachments/{sha256}")
}

/// What the browser is told the content is, and whether it may show it in the page.
fn served_as(content_type: &str) -> (&'static str, bool) {
    let base = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match base.as_str() {
        "audio/wav" | "audio/x-wav" | "audio/wave" => ("audio/wav", true),
        "audio/mpeg" => ("audio/mpeg", true),
        "audio/ogg" => ("audio/ogg", true),
        "application/pdf" => ("application/pdf", false),
        "image/png" => ("image/png", false),
        "image/jpeg" => ("image/jpeg", false),
        "text/plain" => ("text/plain; charset=utf-8", false),
        _ => ("application/octet-stream", false),
    }
}

/// A file name safe in a quoted `Content-Disposition` parameter (RFC 6266), with the UTF-8
/// original in `filename*` (RFC 5987).
fn disposition(inline: bool, filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    let encoded: String = filename
        .bytes()
        .take(600)
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `GET /api/v1/tickets/{number}/attachments/{sha256}`.
#[utoipa::path(
    get,
    operation_id = "attachments_download",
    path = "/api/v1/tickets/{number}/attachments/{sha256}",
    tag = "tickets",
    summary = "An attachment of the ticket (a voicemail message, say): to those who may read its queue; written in the ticket's history as listened",
    params(("number" = String, Path, description = "the ticket number"), ("sha256" = String, Path, description = "the attachment's SHA-256, as the article lists it")),
    responses(
        (status = 200, description = "the content; audio inline, anything else as an attachment (X-Content-Type-Options: nosniff)", content((inline(crate::api::schema::Binary) = "application/octet-stream"), (inline(crate::api::schema::Binary) = "audio/wav"))),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, description = "no such ticket, or no such attachment on it", body = crate::api::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download(
    State(api): State<Api>,
    caller: Caller,
    ApiPath((number, sha256)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound(format!("no attachment {sha256}")));
    }
    let ticket = super::lookup::load(&api, &number).await?;
    caller.require_ticket(&api, &ticket, Access::Read).await?;
    let (attachment, bytes) = match api
        .store()
        .ticket_attachment(ticket.id, &sha256.to_ascii_lowercase())
        .await
    {
        Ok(found) => found,
        Err(crm::Error::NotFound { .. }) => {
            return Err(ApiError::NotFound(format!(
                "ticket {number} has no attachment {sha256}"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    api.store()
        .record_listened(ticket.id, caller.actor(), &attachment.filename, api.now())
        .await?;
    let (content_type, inline) = served_as(&attachment.content_type);
    tracing::info!(ticket = ?number, file = ?attachment.filename, by = ?caller.user.login, "attachment served");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                disposition(inline, &attachment.filename),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_types_are_shown_and_names_cannot_break_the_header() {
        assert_eq!(served_as("audio/wav"), ("audio/wav", true));
        assert_eq!(served_as("Audio/X-WAV; codec=1"), ("audio/wav", true));
        assert_eq!(served_as("text/html"), ("application/octet-stream", false));
        assert_eq!(
            served_as("image/svg+xml"),
            ("application/octet-stream", false)
        );
        let d = disposition(false, "a\"b\r\nSet-Cookie: x.wav");
        assert!(!d.contains('\r') && !d.contains('\n'), "{d}");
        assert!(
            d.starts_with("attachment; filename=\"a_b__Set-Cookie: x.wav\""),
            "{d}"
        );
        assert!(
            d.contains("filename*=UTF-8''a%22b%0D%0ASet-Cookie%3A%20x.wav"),
            "{d}"
        );
        assert!(
            disposition(true, "messaggio è.wav")
                .starts_with("inline; filename=\"messaggio _.wav\"")
        );
    }
}
