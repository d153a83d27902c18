//! Announcement management (R-IVR-6): list, listen to, upload or replace, delete, back up and
//! restore the prompts and box greetings, without a restart.
//!
//! Prompts come in two layers: the shipped folder (read-only, the product's defaults or the
//! `[prompts] dir` of the configuration) and the administrators' folder under the data
//! directory, whose files win. Uploading writes there (converted to 8 kHz 16-bit mono, written
//! to a temporary file and renamed); deleting an uploaded prompt brings the shipped one back,
//! or removes the prompt when none was shipped. A prompt the IVR tree, the queues or the
//! voicemail use cannot disappear: deleting one that has no shipped version is refused (409,
//! naming its users). After every change the library is reloaded and handed to the calls
//! ([`PromptAdmin::apply`]): playbacks started from then on use it. Every change is written to
//! the audit log (`prompt:<lang>/<name>`, who, what). Admins change prompts; supervisors
//! and admins list and listen.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use crm::Role;
use serde_json::{Value, json};

use super::Api;
use super::auth::{ApiPath, Caller};
use super::error::{ApiError, ApiResult};

/// Largest upload or restore archive.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// Longest prompt, after conversion.
pub const MAX_PROMPT_SECONDS: f64 = 600.0;

/// What the prompt routes need from the product.
#[derive(Clone)]
pub struct PromptAdmin {
    /// The shipped prompts (`<lang>/<name>.wav`), never written.
    pub shipped: PathBuf,
    /// The administrators' prompts, under the data directory; created when needed.
    pub uploaded: PathBuf,
    /// Prompt name → who uses it (IVR nodes, queues, voicemail), from the configuration.
    pub in_use: Arc<dyn Fn() -> BTreeMap<String, Vec<String>> + Send + Sync>,
    /// Converts uploads and hands reloaded prompts to the calls.
    pub engine: Arc<dyn PromptEngine>,
}

/// What the prompt routes need of the media side: converting an upload to the playback
/// format, and loading the layers into the prompts calls play.
pub trait PromptEngine: Send + Sync {
    /// `bytes` (a WAV file of any rate, width and channels) as an 8 kHz 16-bit mono WAV file,
    /// with its length; the error says why it is not usable.
    fn convert(&self, bytes: &[u8], name: &str) -> Result<(Vec<u8>, Duration), String>;

    /// Loads `layers` (the later ones win) and gives them to the calls: playbacks started
    /// from then on use them. Blocking: it decodes and resamples every prompt.
    fn reload(&self, layers: &[&Path]) -> Result<(), String>;
}

impl std::fmt::Debug for PromptAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptAdmin")
            .field("shipped", &self.shipped)
            .field("uploaded", &self.uploaded)
            .finish_non_exhaustive()
    }
}

impl PromptAdmin {
    fn file(&self, layer: &Path, lang: &str, name: &str) -> PathBuf {
        layer.join(lang).join(format!("{name}.wav"))
    }

    /// Reloads both layers, the uploaded one over the shipped one (decoding and resampling
    /// every prompt: off the async workers), and gives them to the calls.
    async fn reload(&self) -> ApiResult<()> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.engine
                .reload(&[this.shipped.as_path(), this.uploaded.as_path()])
        })
        .await
        .map_err(|e| ApiError::Unavailable(format!("prompts cannot be reloaded: {e}")))?
        .map_err(|e| ApiError::Unavailable(format!("prompts cannot be reloaded: {e}")))
    }

    /// Every prompt file of both layers, `<lang>/<name>` → (language, name, the file in
    /// force, whether it is uploaded), sorted.
    fn files(&self) -> std::io::Result<BTreeMap<String, (String, String, PathBuf, bool)>> {
        let mut out = BTreeMap::new();
        for (layer, uploaded) in [(&self.shipped, false), (&self.uploaded, true)] {
            for (key, path) in wav_files(layer)? {
                let Some((lang, file)) = key.split_once('/') else {
                    continue;
                };
                let name = file.trim_end_matches(".wav").trim_end_matches(".WAV");
                let id = format!("{lang}/{name}");
                out.insert(id, (lang.to_string(), name.to_string(), path, uploaded));
            }
        }
        Ok(out)
    }
}

/// A WAV file's length from its header (no decoding).
fn wav_seconds(path: &Path) -> Option<f64> {
    let reader = hound::WavReader::open(path).ok()?;
    let spec = reader.spec();
    Some(f64::from(reader.duration()) / f64::from(spec.sample_rate.max(1)))
}

fn admin(api: &Api) -> ApiResult<PromptAdmin> {
    api.config()
        .prompts
        .clone()
        .ok_or_else(|| ApiError::Unavailable("prompt management is not configured".into()))
}

fn may_listen(caller: &Caller) -> ApiResult<()> {
    match caller.user.role {
        Role::Admin | Role::Supervisor => Ok(()),
        _ => Err(ApiError::Forbidden(format!(
            "only supervisors and admins see the prompts, not {}",
            caller.user.login
        ))),
    }
}

fn may_change(caller: &Caller) -> ApiResult<()> {
    if caller.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "only admins change prompts, not {}",
            caller.user.login
        )))
    }
}

/// A language (`it`, `en`: 2-3 lowercase letters) and a prompt name (`[a-z0-9_]`, 1-64).
fn checked(lang: &str, name: &str) -> ApiResult<()> {
    if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(ApiError::invalid("language", "2-3 lowercase letters", lang));
    }
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ApiError::invalid(
            "prompt name",
            "1-64 of a-z, 0-9 and _",
            name,
        ));
    }
    Ok(())
}

/// Converts an upload to the playback format; a clear 422 when it is no usable WAV.
fn convert(admin: &PromptAdmin, bytes: &[u8], name: &str) -> ApiResult<(Vec<u8>, f64)> {
    if bytes.is_empty() {
        return Err(ApiError::Invalid("the upload is empty".into()));
    }
    let (wav, length) = admin
        .engine
        .convert(bytes, name)
        .map_err(|e| ApiError::Invalid(format!("not a usable WAV file: {e}")))?;
    let seconds = length.as_secs_f64();
    if seconds > MAX_PROMPT_SECONDS {
        return Err(ApiError::Invalid(format!(
            "{seconds:.0} s is longer than the {MAX_PROMPT_SECONDS:.0} s a prompt may last"
        )));
    }
    Ok((wav, seconds))
}

/// Writes `bytes` to `path` through a temporary file and a rename (never a half file).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("prompt files have a folder");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{:016x}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("prompt"),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn io_error(what: &str, e: std::io::Error) -> ApiError {
    ApiError::Unavailable(format!("{what}: {e}"))
}

async fn audit(api: &Api, caller: &Caller, action: &str, lang: &str, name: &str, detail: &str) {
    let object = format!("prompt:{lang}/{name}");
    if let Err(e) = api
        .store()
        .audit(caller.actor(), action, &object, Some(detail), api.now())
        .await
    {
        // The change is made; the log line keeps the trace when the database does not.
        tracing::warn!(?object, action, by = ?caller.user.login, "audit not written: {e}");
    }
    tracing::info!(?object, action, by = ?caller.user.login, detail, "prompt changed");
}

/// One prompt as the list shows it.
fn entry(
    admin: &PromptAdmin,
    users: &BTreeMap<String, Vec<String>>,
    lang: &str,
    name: &str,
) -> Value {
    let uploaded_file = admin.file(&admin.uploaded, lang, name);
    let uploaded = uploaded_file.is_file();
    let shipped_file = admin.file(&admin.shipped, lang, name);
    let shipped = shipped_file.is_file();
    let in_force = if uploaded {
        &uploaded_file
    } else {
        &shipped_file
    };
    json!({
        "language": lang,
        "name": name,
        "duration_s": wav_seconds(in_force),
        "source": if uploaded { "uploaded" } else { "shipped" },
        "shipped": shipped,
        "in_use_by": users.get(name).cloned().unwrap_or_default(),
    })
}

/// `GET /api/v1/prompts`: every prompt of every language, with its source and users.
#[utoipa::path(
    get,
    operation_id = "prompts_list",
    path = "/api/v1/prompts",
    tag = "prompts",
    summary = "Every prompt: language, name, length, source (shipped or uploaded), who uses it (supervisors, admins)",
    responses(
        (status = 200, description = "prompts", body = crate::api::schema::PromptList),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn list(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    may_listen(&caller)?;
    let admin = admin(&api)?;
    let files = admin
        .files()
        .map_err(|e| io_error("prompts cannot be read", e))?;
    let users = (admin.in_use)();
    let prompts: Vec<Value> = files
        .values()
        .map(|(lang, name, _, _)| entry(&admin, &users, lang, name))
        .collect();
    Ok(axum::Json(json!({ "prompts": prompts })).into_response())
}

/// `GET /api/v1/prompts/{lang}/{name}`: the WAV in force (for an HTML `<audio>`).
#[utoipa::path(
    get,
    operation_id = "prompts_audio",
    path = "/api/v1/prompts/{lang}/{name}",
    tag = "prompts",
    summary = "The prompt in force as WAV, for an HTML audio element (supervisors, admins)",
    params(("lang" = String, Path, description = "language, e.g. it"), ("name" = String, Path, description = "prompt name, [a-z0-9_]")),
    responses(
        (status = 200, description = "8 kHz 16-bit mono WAV", body = inline(crate::api::schema::Binary), content_type = "audio/wav"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 422, response = crate::api::schema::Invalid),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn audio(
    State(api): State<Api>,
    caller: Caller,
    ApiPath((lang, name)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    may_listen(&caller)?;
    checked(&lang, &name)?;
    let admin = admin(&api)?;
    for layer in [&admin.uploaded, &admin.shipped] {
        let path = admin.file(layer, &lang, &name);
        if path.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| io_error("cannot read the prompt", e))?;
            return Ok((
                [
                    (header::CONTENT_TYPE, "audio/wav"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                bytes,
            )
                .into_response());
        }
    }
    Err(ApiError::NotFound(format!("no prompt {lang}/{name}")))
}

/// `PUT /api/v1/prompts/{lang}/{name}` with a WAV body: uploads or replaces it.
#[utoipa::path(
    put,
    operation_id = "prompts_upload",
    path = "/api/v1/prompts/{lang}/{name}",
    tag = "prompts",
    summary = "Upload or replace a prompt: any WAV (rate, channels, 8-32-bit or float), converted to 8 kHz 16-bit mono; new calls hear it at once (admins)",
    params(("lang" = String, Path, description = "language, e.g. it"), ("name" = String, Path, description = "prompt name, [a-z0-9_]")),
    request_body(content = inline(crate::api::schema::Binary), content_type = "audio/wav"),
    responses(
        (status = 200, description = "the prompt", body = crate::api::schema::Prompt),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 413, response = crate::api::schema::TooLarge),
        (status = 422, description = "not a usable WAV, empty, longer than 10 minutes, or a bad name or language", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn upload(
    State(api): State<Api>,
    caller: Caller,
    ApiPath((lang, name)): ApiPath<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    may_change(&caller)?;
    checked(&lang, &name)?;
    let admin = admin(&api)?;
    let mut languages: Vec<String> = admin
        .files()
        .map_err(|e| io_error("prompts cannot be read", e))?
        .into_values()
        .map(|(lang, ..)| lang)
        .collect();
    languages.dedup();
    if !languages.contains(&lang) {
        return Err(ApiError::invalid(
            "language",
            &format!("one of {}", languages.join(", ")),
            &lang,
        ));
    }
    let (wav, seconds) = {
        let (admin, body, name) = (admin.clone(), body.clone(), name.clone());
        tokio::task::spawn_blocking(move || convert(&admin, &body, &name))
            .await
            .map_err(|e| ApiError::Unavailable(format!("conversion failed: {e}")))??
    };
    let path = admin.file(&admin.uploaded, &lang, &name);
    let replaced = path.is_file() || admin.file(&admin.shipped, &lang, &name).is_file();
    write_atomically(&path, &wav).map_err(|e| io_error("cannot store the prompt", e))?;
    admin.reload().await?;
    let action = if replaced {
        "prompt.replace"
    } else {
        "prompt.upload"
    };
    let detail = format!("{seconds:.2} s, {} bytes uploaded", body.len());
    audit(&api, &caller, action, &lang, &name, &detail).await;
    let users = (admin.in_use)();
    Ok(axum::Json(entry(&admin, &users, &lang, &name)).into_response())
}

/// `DELETE /api/v1/prompts/{lang}/{name}`: removes the uploaded version (the shipped one
/// comes back), or the prompt itself when it was only uploaded and nothing uses it.
#[utoipa::path(
    delete,
    operation_id = "prompts_delete",
    path = "/api/v1/prompts/{lang}/{name}",
    tag = "prompts",
    summary = "Delete the uploaded version (the shipped one comes back), or an uploaded-only prompt nothing uses (admins)",
    params(("lang" = String, Path, description = "language, e.g. it"), ("name" = String, Path, description = "prompt name, [a-z0-9_]")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "shipped-only, or in use by the IVR, a queue or the voicemail", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn delete(
    State(api): State<Api>,
    caller: Caller,
    ApiPath((lang, name)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    may_change(&caller)?;
    checked(&lang, &name)?;
    let admin = admin(&api)?;
    let uploaded = admin.file(&admin.uploaded, &lang, &name);
    let shipped = admin.file(&admin.shipped, &lang, &name).is_file();
    if !uploaded.is_file() {
        return Err(if shipped {
            ApiError::Conflict(format!(
                "{lang}/{name} is a shipped prompt: replace it instead (it cannot be deleted)"
            ))
        } else {
            ApiError::NotFound(format!("no prompt {lang}/{name}"))
        });
    }
    if !shipped && let Some(users) = (admin.in_use)().get(&name).filter(|u| !u.is_empty()) {
        return Err(ApiError::Conflict(format!(
            "{lang}/{name} is in use by {}: change those first",
            users.join(", ")
        )));
    }
    std::fs::remove_file(&uploaded).map_err(|e| io_error("cannot delete the prompt", e))?;
    admin.reload().await?;
    let detail = if shipped {
        "uploaded version removed, the shipped one is back"
    } else {
        "removed"
    };
    audit(&api, &caller, "prompt.delete", &lang, &name, detail).await;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/prompts/backup`: one tar archive of every prompt in force
/// (`<lang>/<name>.wav`), greetings included.
#[utoipa::path(
    get,
    operation_id = "prompts_backup",
    path = "/api/v1/prompts/backup",
    tag = "prompts",
    summary = "One tar archive of every prompt in force, `<lang>/<name>.wav` (admins)",
    responses(
        (status = 200, description = "the archive", body = inline(crate::api::schema::Binary), content_type = "application/x-tar"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn backup(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    may_change(&caller)?;
    let admin = admin(&api)?;
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for layer in [&admin.shipped, &admin.uploaded] {
        for (key, path) in wav_files(layer).map_err(|e| io_error("cannot read the prompts", e))? {
            files.insert(key, path);
        }
    }
    let mut archive = tar::Builder::new(Vec::new());
    for (key, path) in &files {
        let bytes = std::fs::read(path).map_err(|e| io_error("cannot read a prompt", e))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(api.now().timestamp().max(0) as u64);
        header.set_cksum();
        archive
            .append_data(&mut header, key, bytes.as_slice())
            .map_err(|e| io_error("cannot build the archive", e))?;
    }
    let bytes = archive
        .into_inner()
        .map_err(|e| io_error("cannot build the archive", e))?;
    let filename = format!("centralino-prompts-{}.tar", api.now().format("%Y%m%d-%H%M"));
    audit(
        &api,
        &caller,
        "prompt.backup",
        "all",
        "all",
        &format!("{} prompts", files.len()),
    )
    .await;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `<lang>/<name>.wav` → path, for every WAV of a layer (none when it does not exist).
fn wav_files(layer: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    if !layer.is_dir() {
        return Ok(out);
    }
    for lang in std::fs::read_dir(layer)? {
        let lang = lang?.path();
        let Some(lang_name) = lang.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !lang.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&lang)? {
            let path = file?.path();
            let is_wav = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
            if let (true, Some(name)) = (is_wav, path.file_name().and_then(|n| n.to_str())) {
                out.push((format!("{lang_name}/{name}"), path.clone()));
            }
        }
    }
    Ok(out)
}

/// `POST /api/v1/prompts/restore` with a tar body (as `backup` makes): every entry must be
/// `<lang>/<name>.wav` and a usable WAV, or nothing changes; then each becomes the uploaded
/// version of its prompt.
#[utoipa::path(
    post,
    operation_id = "prompts_restore",
    path = "/api/v1/prompts/restore",
    tag = "prompts",
    summary = "Restore an archive made by backup: all entries checked first, then each becomes the uploaded version (admins)",
    request_body(content = inline(crate::api::schema::Binary), content_type = "application/x-tar"),
    responses(
        (status = 200, description = "how many were restored", body = crate::api::schema::Restored),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 413, response = crate::api::schema::TooLarge),
        (status = 422, description = "not a tar of <lang>/<name>.wav WAV files: nothing changed", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn restore(State(api): State<Api>, caller: Caller, body: Bytes) -> ApiResult<Response> {
    may_change(&caller)?;
    let admin = admin(&api)?;
    let staged = {
        let admin = admin.clone();
        tokio::task::spawn_blocking(move || stage(&admin, &body))
    }
    .await
    .map_err(|e| ApiError::Unavailable(format!("restore failed: {e}")))??;
    for (lang, name, wav) in &staged {
        write_atomically(&admin.file(&admin.uploaded, lang, name), wav)
            .map_err(|e| io_error("cannot store a restored prompt", e))?;
    }
    admin.reload().await?;
    audit(
        &api,
        &caller,
        "prompt.restore",
        "all",
        "all",
        &format!("{} prompts restored", staged.len()),
    )
    .await;
    Ok(axum::Json(json!({ "restored": staged.len() })).into_response())
}

/// Every entry of a restore archive checked and converted, or the first problem.
fn stage(admin: &PromptAdmin, body: &[u8]) -> ApiResult<Vec<(String, String, Vec<u8>)>> {
    let mut staged: Vec<(String, String, Vec<u8>)> = Vec::new();
    let mut archive = tar::Archive::new(body);
    let entries = archive
        .entries()
        .map_err(|e| ApiError::Invalid(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ApiError::Invalid(format!("damaged archive: {e}")))?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| ApiError::Invalid(format!("damaged archive: {e}")))?
            .to_string_lossy()
            .into_owned();
        let (lang, file) = path
            .trim_start_matches("./")
            .split_once('/')
            .ok_or_else(|| ApiError::invalid("archive entry", "<lang>/<name>.wav", &path))?;
        let name = file
            .strip_suffix(".wav")
            .ok_or_else(|| ApiError::invalid("archive entry", "<lang>/<name>.wav", &path))?;
        checked(lang, name)?;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| ApiError::Invalid(format!("damaged archive entry {path}: {e}")))?;
        let (wav, _) =
            convert(admin, &bytes, name).map_err(|e| ApiError::Invalid(format!("{path}: {e}")))?;
        staged.push((lang.to_string(), name.to_string(), wav));
    }
    if staged.is_empty() {
        return Err(ApiError::Invalid("the archive holds no prompt".into()));
    }
    Ok(staged)
}
