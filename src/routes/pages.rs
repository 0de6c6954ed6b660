//! The operator pages: every page route answers the one app shell (`static/app.html`,
//! whose modules route on the client, so deep links and reloads work), the npm modules
//! the shell imports are served under `/vendor/`, and the shell carries the
//! Content-Security-Policy the pages run under.

use std::path::{Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{get, web, HttpRequest, HttpResponse};
use anyhow::Context;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// The module files the pages import, by the name they have under `/vendor/`, and where
/// npm installs them (under `node_modules`, beside `static/`). A fixed list: nothing
/// else of `node_modules` is reachable.
const VENDOR: &[(&str, &str)] = &[
    ("preact.mjs", "preact/dist/preact.mjs"),
    ("preact-hooks.mjs", "preact/hooks/dist/hooks.mjs"),
    ("htm.mjs", "htm/dist/htm.mjs"),
    ("marked.mjs", "marked/lib/marked.esm.js"),
    // One file (UMD: loaded as a module it sets `globalThis.libphonenumber`), where the
    // package's ES modules are dozens.
    (
        "libphonenumber.js",
        "libphonenumber-js/bundle/libphonenumber-min.js",
    ),
];

/// The shell, read once at start, and the policy that admits its import map (the
/// other security headers are every answer's, see `startup`).
pub struct Pages {
    shell: String,
    policy: String,
    vendor_dir: PathBuf,
}

impl Pages {
    pub fn load(static_dir: &Path) -> anyhow::Result<Pages> {
        let path = static_dir.join("app.html");
        let shell = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the pages' shell {}", path.display()))?;
        let policy = content_security_policy(&shell)?;
        let vendor_dir = static_dir
            .parent()
            .unwrap_or(Path::new(""))
            .join("node_modules");
        Ok(Pages {
            shell,
            policy,
            vendor_dir,
        })
    }
}

/// Scripts only from this origin, plus the shell's one inline script, its import map
/// (Chromium loads no external import maps), admitted by its hash so that no other
/// inline script can run.
fn content_security_policy(shell: &str) -> anyhow::Result<String> {
    const OPEN: &str = r#"<script type="importmap">"#;
    let start = shell
        .find(OPEN)
        .context("the pages' shell has no import map")?
        + OPEN.len();
    let end = start
        + shell[start..]
            .find("</script>")
            .context("the pages' import map is not closed")?;
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&shell[start..end]));
    Ok(format!(
        "default-src 'self'; script-src 'self' 'sha256-{hash}'; style-src 'self'; \
         img-src 'self' blob: data: https:; media-src 'self' blob: https:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(root)
        .service(login)
        .service(messaging)
        .service(conversation)
        .service(sms_conversations)
        .service(vendor);
}

#[get("/")]
async fn root() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/messaging"))
        .finish()
}

#[get("/login")]
async fn login(pages: web::Data<Pages>) -> HttpResponse {
    shell(&pages)
}

#[get("/messaging")]
async fn messaging(pages: web::Data<Pages>) -> HttpResponse {
    shell(&pages)
}

/// Any id: the page itself tells an unknown contact (the API decides what the caller
/// may see).
#[get("/messaging/{contact_id}")]
async fn conversation(pages: web::Data<Pages>) -> HttpResponse {
    shell(&pages)
}

/// The SMS operator queue; the page asks the API, which refuses operators without
/// `sms.admin`, and says so.
#[get("/sms/conversations")]
async fn sms_conversations(pages: web::Data<Pages>) -> HttpResponse {
    shell(&pages)
}

fn shell(pages: &Pages) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&pages.policy).expect("the policy is ASCII"),
        ))
        // The shell is small and names the modules: always revalidated, so a new
        // release's modules are picked up on the next load.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(pages.shell.clone())
}

#[get("/vendor/{name}")]
async fn vendor(
    pages: web::Data<Pages>,
    name: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let (_, path) = VENDOR
        .iter()
        .find(|(served, _)| *served == name.as_str())
        .ok_or(AppError::NotFound("vendor module"))?;
    let file = NamedFile::open_async(pages.vendor_dir.join(path))
        .await
        .map_err(|error| {
            tracing::warn!(%error, module = path, "a vendor module is missing: run `npm ci`");
            AppError::NotFound("vendor module")
        })?;
    Ok(file.into_response(&request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_admits_exactly_the_import_maps_hash() {
        let shell = r#"<head><script type="importmap">{"imports":{}}</script></head>"#;
        let policy = content_security_policy(shell).unwrap();
        // printf '{"imports":{}}' | openssl dgst -sha256 -binary | base64
        assert!(policy
            .contains("script-src 'self' 'sha256-URrTy+Il/Nz0lHojVUx275hWqAWhkSF0VsHbUM4/6Hw='"));
        assert!(!policy.contains("unsafe"));
    }

    #[test]
    fn a_shell_without_an_import_map_is_refused() {
        assert!(content_security_policy("<html></html>").is_err());
    }
}
