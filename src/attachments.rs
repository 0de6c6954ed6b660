//! Uploads: checked while they stream in (size limits, and the file's type sniffed from
//! its bytes against an allow-list fit for MMS and email), stored, and recorded as
//! pending attachments of the caller's organisation until a message takes them. A
//! refused upload leaves no object and no row behind.

use actix_multipart::Multipart;
use bytes::Bytes;
use diesel_async::AsyncConnection;
use futures_util::StreamExt;

use crate::auth::Caller;
use crate::db::ids::{AttachmentId, OrganizationId};
use crate::db::message_attachments::{self, AttachmentInsertForm};
use crate::db::message_fields::{Channel, RequestedChannel};
use crate::error::AppError;
use crate::message_views::{attachment_view, AttachmentView};
use crate::state::AppState;
use crate::twilio::{MMS_MAX_BYTES, MMS_MAX_FILES};

/// Email: as many files as an MMS allows, ten times over.
const EMAIL_MAX_FILES: usize = 100;
/// Bytes enough to recognise any allowed type.
const SNIFF_BYTES: usize = 512;

/// Recognises a file by its first bytes; `declared` (the client's content type) only
/// tells apart formats that share a container (audio or video WebM/MP4) and vouches for
/// text formats, which have no magic number. `None`: not a type we accept.
pub fn sniff(head: &[u8], declared: Option<&str>) -> Option<&'static str> {
    let declared = declared.unwrap_or_default();
    let audio = declared.starts_with("audio/");
    if let Some(kind) = infer::get(head) {
        return match kind.mime_type() {
            "image/jpeg" => Some("image/jpeg"),
            "image/png" => Some("image/png"),
            "image/gif" => Some("image/gif"),
            "image/webp" => Some("image/webp"),
            "image/heif" => Some("image/heif"),
            "audio/mpeg" => Some("audio/mpeg"),
            "audio/ogg" => Some("audio/ogg"),
            "audio/x-wav" => Some("audio/wav"),
            "audio/amr" => Some("audio/amr"),
            "audio/m4a" => Some("audio/mp4"),
            "video/webm" | "audio/webm" => Some(if audio { "audio/webm" } else { "video/webm" }),
            "video/mp4" => Some(if audio { "audio/mp4" } else { "video/mp4" }),
            "video/quicktime" => Some("video/quicktime"),
            "video/3gpp" => Some("video/3gpp"),
            "application/pdf" => Some("application/pdf"),
            _ => None,
        };
    }
    let text = std::str::from_utf8(head)
        .ok()
        .filter(|text| !text.contains('\0'));
    match (declared, text) {
        ("text/vcard" | "text/x-vcard", Some(text))
            if text.trim_start().starts_with("BEGIN:VCARD") =>
        {
            Some("text/vcard")
        }
        ("text/plain", Some(_)) => Some("text/plain"),
        _ => None,
    }
}

/// The file name as given, stripped of any path and of characters that would need
/// escaping in a URL or a header.
fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if cleaned.trim_matches(['.', '_']).is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// Stores every file of a multipart upload for `channel` (`sms` or `email`, whose
/// limits differ) and records them as pending attachments.
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    channel: &RequestedChannel,
    mut multipart: Multipart,
) -> Result<Vec<AttachmentView>, AppError> {
    let (max_files, max_bytes) = match channel {
        RequestedChannel::Known(Channel::Sms) => (MMS_MAX_FILES, MMS_MAX_BYTES),
        RequestedChannel::Known(Channel::Email) => {
            (EMAIL_MAX_FILES, state.max_email_attachment_bytes)
        }
        other => {
            return Err(AppError::BadRequest {
                code: "unsupported_channel",
                message: format!("uploads are for sms or email, not {:?}", other.name()),
                field: Some("channel".into()),
            })
        }
    };
    let mut stored: Vec<AttachmentInsertForm> = Vec::new();
    let received = receive(
        state,
        caller,
        &mut multipart,
        max_files,
        max_bytes,
        &mut stored,
    )
    .await;
    let recorded = match received {
        Ok(()) if stored.is_empty() => Err(AppError::invalid("file", "the upload holds no file")),
        Ok(()) => {
            let mut conn = state.pool.get().await?;
            conn.transaction::<_, AppError, _>(async |conn| {
                let mut rows = Vec::new();
                for form in &stored {
                    rows.push(message_attachments::insert(conn, form).await?);
                }
                Ok(rows)
            })
            .await
        }
        Err(error) => Err(error),
    };
    match recorded {
        Ok(rows) => Ok(rows.iter().map(attachment_view).collect()),
        Err(error) => {
            for form in &stored {
                if let Err(cleanup) = state.storage.delete(&form.storage_key).await {
                    tracing::warn!(key = %form.storage_key, error = %cleanup, "could not remove a refused upload");
                }
            }
            Err(error)
        }
    }
}

/// Stores one file fetched from elsewhere (an inbound MMS item) as a pending
/// attachment; `None` when it is not a kind we keep.
pub async fn store_fetched(
    state: &AppState,
    org: OrganizationId,
    file_name: &str,
    declared: Option<&str>,
    bytes: Bytes,
) -> Result<Option<AttachmentId>, AppError> {
    let Some(content_type) = sniff(&bytes[..bytes.len().min(SNIFF_BYTES)], declared) else {
        return Ok(None);
    };
    let id = AttachmentId::generate();
    let file_name = clean_file_name(file_name);
    let storage_key = format!("{org}/{id}/{file_name}");
    let file_size = bytes.len() as i64;
    state
        .storage
        .put(&storage_key, vec![bytes])
        .await
        .map_err(AppError::internal)?;
    let form = AttachmentInsertForm {
        id,
        organization_id: org,
        storage_key,
        content_type: content_type.to_string(),
        file_name,
        file_size,
    };
    if let Err(error) = message_attachments::insert(&mut *state.pool.get().await?, &form).await {
        let _ = state.storage.delete(&form.storage_key).await;
        return Err(error.into());
    }
    Ok(Some(id))
}

async fn receive(
    state: &AppState,
    caller: &Caller,
    multipart: &mut Multipart,
    max_files: usize,
    max_bytes: usize,
    stored: &mut Vec<AttachmentInsertForm>,
) -> Result<(), AppError> {
    let mut total = 0usize;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|error| {
            AppError::bad_request("invalid_upload", format!("unreadable upload: {error}"))
        })?;
        let Some(file_name) = field
            .content_disposition()
            .and_then(|disposition| disposition.get_filename().map(str::to_string))
        else {
            continue;
        };
        let file_name = clean_file_name(&file_name);
        if stored.len() == max_files {
            return Err(AppError::PayloadTooLarge(format!(
                "{file_name}: at most {max_files} files per message"
            )));
        }
        let declared = field
            .content_type()
            .map(|mime| mime.essence_str().to_string());
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut size = 0usize;
        let mut content_type = None;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|error| {
                AppError::bad_request("invalid_upload", format!("{file_name}: {error}"))
            })?;
            size += chunk.len();
            total += chunk.len();
            if total > max_bytes {
                return Err(AppError::PayloadTooLarge(format!(
                    "{file_name}: the files of one message may be {} KB in all",
                    max_bytes / 1024
                )));
            }
            chunks.push(chunk);
            if content_type.is_none() && size >= SNIFF_BYTES {
                content_type = Some(sniff_or_refuse(&chunks, declared.as_deref(), &file_name)?);
            }
        }
        if size == 0 {
            return Err(AppError::invalid("file", format!("{file_name} is empty")));
        }
        let content_type = match content_type {
            Some(content_type) => content_type,
            None => sniff_or_refuse(&chunks, declared.as_deref(), &file_name)?,
        };
        let id = AttachmentId::generate();
        let storage_key = format!("{}/{id}/{file_name}", caller.organization_id);
        state
            .storage
            .put(&storage_key, chunks)
            .await
            .map_err(AppError::internal)?;
        stored.push(AttachmentInsertForm {
            id,
            organization_id: caller.organization_id,
            storage_key,
            content_type: content_type.to_string(),
            file_name,
            file_size: size as i64,
        });
    }
    Ok(())
}

fn sniff_or_refuse(
    chunks: &[Bytes],
    declared: Option<&str>,
    file_name: &str,
) -> Result<&'static str, AppError> {
    let head: Vec<u8> = chunks
        .iter()
        .flat_map(|chunk| chunk.iter().copied())
        .take(SNIFF_BYTES)
        .collect();
    sniff(&head, declared).ok_or_else(|| {
        AppError::UnsupportedMediaType(format!(
            "{file_name}: this kind of file cannot be sent; send images, audio, video, PDF, vCard or plain text"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes_not_the_label() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
        ];
        assert_eq!(
            sniff(&png, Some("application/octet-stream")),
            Some("image/png")
        );
        assert_eq!(
            sniff(b"%PDF-1.7\n", Some("image/png")),
            Some("application/pdf")
        );
        assert_eq!(
            sniff(b"MZ\x90\x00\x03\x00\x00\x00", Some("image/png")),
            None,
            "an executable is refused"
        );
        assert_eq!(
            sniff(b"BEGIN:VCARD\nVERSION:3.0\nEND:VCARD\n", Some("text/vcard")),
            Some("text/vcard")
        );
        assert_eq!(sniff(b"just words", Some("text/plain")), Some("text/plain"));
        assert_eq!(sniff(b"just words", Some("image/png")), None);
        let webm = [
            0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81, 0x01, 0x42,
            0xF2, 0x81, 0x04, 0x42, 0xF3, 0x81, 0x08, 0x42, 0x82, 0x84, b'w', b'e', b'b', b'm',
        ];
        // A voice note's header, followed by its first audio cluster.
        let webm: Vec<u8> = webm
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0u8, 300))
            .collect();
        assert_eq!(
            sniff(&webm, Some("audio/webm;codecs=opus")),
            Some("audio/webm"),
            "a recorded voice note"
        );
    }

    #[test]
    fn file_names_lose_paths_and_odd_characters() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(
            clean_file_name("C:\\photos\\my photo (1).jpg"),
            "my_photo__1_.jpg"
        );
        assert_eq!(clean_file_name(".."), "file");
    }
}
