//! Where attachment files live: the local filesystem under the data dir by default, or
//! any S3-compatible store (AWS S3, Cloudflare R2, MinIO) by configuration, both through
//! `object_store`. Keys are namespaced by organisation.
//!
//! Files are handed out by URL, never proxied from the carrier: S3 stores sign their own
//! (presigned GET); the local store's URLs point at this server's `/media/...` route and
//! carry an expiry and an HMAC of the server's secret key.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{ObjectStore, PutPayload};

use crate::config::AttachmentSettings;
use crate::secrets::SecretKey;

pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Set for S3-compatible stores, which presign their own URLs.
    s3: Option<Arc<AmazonS3>>,
    secrets: SecretKey,
    public_url: String,
    url_ttl: Duration,
}

impl Storage {
    /// Files under `data_dir`, or in the S3 bucket the settings name.
    pub fn from_settings(
        settings: &AttachmentSettings,
        data_dir: &std::path::Path,
        secrets: SecretKey,
        public_url: &str,
    ) -> anyhow::Result<Storage> {
        let url_ttl = Duration::from_secs(settings.media_url_ttl_secs.max(60));
        let (store, s3): (Arc<dyn ObjectStore>, Option<Arc<AmazonS3>>) =
            match settings.s3_bucket.as_deref() {
                None => {
                    let root = data_dir.join("attachments");
                    std::fs::create_dir_all(&root)
                        .with_context(|| format!("creating {}", root.display()))?;
                    (Arc::new(LocalFileSystem::new_with_prefix(&root)?), None)
                }
                Some(bucket) => {
                    let mut builder = AmazonS3Builder::from_env()
                        .with_bucket_name(bucket)
                        .with_region(settings.s3_region.clone())
                        .with_virtual_hosted_style_request(!settings.s3_path_style);
                    if let Some(endpoint) = &settings.s3_endpoint {
                        builder = builder
                            .with_endpoint(endpoint)
                            .with_allow_http(endpoint.starts_with("http://"));
                    }
                    if let (Some(key), Some(secret)) =
                        (&settings.s3_access_key_id, &settings.s3_secret_access_key)
                    {
                        builder = builder
                            .with_access_key_id(key)
                            .with_secret_access_key(secret);
                    }
                    let s3 = Arc::new(builder.build().context("configuring the S3 store")?);
                    (s3.clone(), Some(s3))
                }
            };
        Ok(Storage {
            store,
            s3,
            secrets,
            public_url: public_url.to_string(),
            url_ttl,
        })
    }

    pub async fn put(&self, key: &str, chunks: Vec<Bytes>) -> anyhow::Result<()> {
        let payload: PutPayload = chunks.into_iter().collect();
        self.store.put(&Path::from(key), payload).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Bytes> {
        Ok(self.store.get(&Path::from(key)).await?.bytes().await?)
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// A URL that fetches the file without credentials until it expires.
    pub async fn url(&self, key: &str) -> anyhow::Result<String> {
        if let Some(s3) = &self.s3 {
            let url = s3
                .signed_url(http::Method::GET, &Path::from(key), self.url_ttl)
                .await?;
            return Ok(url.to_string());
        }
        let expires = chrono::Utc::now().timestamp() + self.url_ttl.as_secs() as i64;
        let signature = self.secrets.sign_media(key, expires);
        Ok(format!(
            "{}/media/{key}?expires={expires}&signature={signature}",
            self.public_url
        ))
    }

    /// Checks a local media URL: the signature matches and it has not expired.
    pub fn verify_local(&self, key: &str, expires: i64, signature: &str) -> bool {
        expires >= chrono::Utc::now().timestamp()
            && self.secrets.verify_media(key, expires, signature)
    }
}
