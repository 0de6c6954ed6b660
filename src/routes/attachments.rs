//! Uploads, and the URLs files are fetched from.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse};
use diesel::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::attachments;
use crate::auth::Caller;
use crate::db::ids::{AttachmentId, OrganizationId};
use crate::db::message_attachments;
use crate::db::message_fields::{Channel, RequestedChannel};
use crate::error::AppError;
use crate::extract::ApiQuery;
use crate::message_views::AttachmentView;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(upload).service(show);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UploadParams {
    /// Which limits apply: `sms` (MMS: 10 files, 5 MB) or `email`; `sms` unless given.
    #[param(value_type = Option<String>)]
    channel: Option<RequestedChannel>,
}

/// The multipart form an upload sends: one or more parts, each a file.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only its schema is used: the parts are read as they stream in.
pub(super) struct UploadForm {
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Uploaded {
    /// Pending until a send names them in `attachment_ids`.
    attachments: Vec<AttachmentView>,
}

/// `POST /api/messages/upload?channel=sms|email`, multipart with one or more files:
/// the pending attachments, to send with `attachment_ids`.
#[utoipa::path(
    post,
    path = "/messages/upload",
    tag = "messages",
    params(UploadParams),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The stored files", body = Uploaded),
    )
)]
#[post("/messages/upload")]
pub(super) async fn upload(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<UploadParams>,
) -> Result<HttpResponse, AppError> {
    let is_multipart = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|mime| mime.essence_str() == "multipart/form-data");
    if !is_multipart {
        return Err(AppError::UnsupportedMediaType(
            "send the files as multipart/form-data".into(),
        ));
    }
    let channel = params.channel.unwrap_or(Channel::Sms.into());
    let multipart = Multipart::new(req.headers(), payload);
    let uploaded = attachments::upload(&state, &caller, &channel, multipart).await?;
    Ok(HttpResponse::Created().json(Uploaded {
        attachments: uploaded,
    }))
}

/// `GET /api/attachments/{id}`: redirects to a fresh, short-lived URL of the file.
#[utoipa::path(
    get,
    path = "/attachments/{id}",
    tag = "messages",
    params(("id" = AttachmentId, Path, description = "The attachment")),
    responses(
        (status = 302, description = "To a short-lived URL of the file", headers(("Location" = String, description = "The file's URL"))),
    )
)]
#[get("/attachments/{id}")]
pub(super) async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<AttachmentId>,
) -> Result<HttpResponse, AppError> {
    let attachment = message_attachments::get(
        &mut *state.pool.get().await?,
        caller.organization_id,
        path.into_inner(),
    )
    .await
    .optional()?
    .ok_or(AppError::NotFound("attachment"))?;
    let url = state
        .storage
        .url(&attachment.storage_key)
        .await
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .finish())
}

#[derive(Deserialize)]
struct MediaParams {
    expires: i64,
    signature: String,
}

/// `GET /media/{org}/{attachment}/{name}?expires=&signature=`: a file of the local
/// store, for whoever holds an unexpired URL signed by this server (Twilio fetching MMS
/// media, a browser showing an image). Expired or tampered URLs answer 403.
#[get("/media/{organization_id}/{attachment_id}/{file_name}")]
pub async fn media(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(OrganizationId, AttachmentId, String)>,
    ApiQuery(params): ApiQuery<MediaParams>,
) -> Result<HttpResponse, AppError> {
    let (org, id, _) = path.into_inner();
    let key = req.path().trim_start_matches("/media/");
    if !state
        .storage
        .verify_local(key, params.expires, &params.signature)
    {
        return Err(AppError::Forbidden(
            "the link has expired or is not valid".into(),
        ));
    }
    let attachment = message_attachments::get(&mut *state.pool.get().await?, org, id)
        .await
        .optional()?
        .filter(|attachment| attachment.storage_key == key)
        .ok_or(AppError::NotFound("attachment"))?;
    let bytes = state.storage.get(key).await.map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(attachment.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{}\"", attachment.file_name),
        ))
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .body(bytes))
}
