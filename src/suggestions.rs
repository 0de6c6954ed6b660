//! Reply suggestions for an inbound message: a ranked handful of replies, each filled in
//! for the contact and ready to send. Where they come from sits behind
//! [`SuggestionProvider`] (`SWITCHBOARD_SUGGESTIONS`); the one provider today ranks the
//! organisation's canned responses against the message with BM25.

use std::sync::Arc;

use bm25::{Embedder, EmbedderBuilder, Language, Scorer};
use diesel::OptionalExtension;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use crate::auth::Caller;
use crate::canned::{self, RenderContext};
use crate::db::canned_responses::{self as db_canned, CannedResponse};
use crate::db::ids::{CannedResponseId, MessageId};
use crate::db::message_fields::Direction;
use crate::db::messages as db_messages;
use crate::db::DbPool;
use crate::error::AppError;

/// How many suggestions an answer holds at most.
const MAX_SUGGESTIONS: usize = 5;

/// Where suggestions come from (`SWITCHBOARD_SUGGESTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SuggestionSource {
    /// The organisation's canned responses, ranked by BM25.
    Canned,
}

/// The provider the setting names.
pub fn provider(source: SuggestionSource) -> Arc<dyn SuggestionProvider> {
    match source {
        SuggestionSource::Canned => Arc::new(CannedProvider),
    }
}

/// What a provider is asked: the message to answer and the organisation's canned
/// responses.
pub struct SuggestionRequest<'a> {
    pub message: &'a str,
    pub canned: &'a [CannedResponse],
    pub limit: usize,
}

/// A reply a provider proposes, best first, before its placeholders are filled.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub content: String,
    pub canned_response_id: Option<CannedResponseId>,
    pub score: f32,
}

/// A source of suggestions. Asynchronous, so a provider that asks a language model over
/// HTTP fits the same seam.
pub trait SuggestionProvider: Send + Sync {
    /// The `source` the answer names (`canned`).
    fn source(&self) -> &'static str;

    fn suggest<'a>(
        &'a self,
        request: SuggestionRequest<'a>,
    ) -> LocalBoxFuture<'a, Result<Vec<Ranked>, AppError>>;
}

/// Ranks canned responses by BM25 relevance to the message: words stemmed, stop words
/// dropped (the `bm25` crate's English tokenizer), the corpus being the organisation's
/// canned responses. Responses that share no word with the message are left out.
pub struct CannedProvider;

impl CannedProvider {
    pub fn rank(request: &SuggestionRequest<'_>) -> Vec<Ranked> {
        if request.canned.is_empty() {
            return Vec::new();
        }
        let documents: Vec<String> = request.canned.iter().map(document).collect();
        let corpus: Vec<&str> = documents.iter().map(String::as_str).collect();
        let embedder: Embedder =
            EmbedderBuilder::with_fit_to_corpus(Language::English, &corpus).build();
        let mut scorer = Scorer::<usize>::new();
        for (index, document) in corpus.iter().enumerate() {
            scorer.upsert(&index, embedder.embed(document));
        }
        let mut matches = scorer.matches(&embedder.embed(request.message));
        // Equal scores in the order the responses came (by short code), not hash order.
        matches.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        matches
            .into_iter()
            .take(request.limit)
            .map(|found| {
                let canned = &request.canned[found.id];
                Ranked {
                    content: canned.content.clone(),
                    canned_response_id: Some(canned.id),
                    score: found.score,
                }
            })
            .collect()
    }
}

/// What a canned response is about, in words: its short code, title and content,
/// without placeholders (`{{contact.name}}` says nothing of the subject).
fn document(canned: &CannedResponse) -> String {
    let code = canned.short_code.replace(['-', '_'], " ");
    let content = canned::without_placeholders(&canned.content);
    format!("{code}\n{}\n{content}", canned.title)
}

impl SuggestionProvider for CannedProvider {
    fn source(&self) -> &'static str {
        "canned"
    }

    fn suggest<'a>(
        &'a self,
        request: SuggestionRequest<'a>,
    ) -> LocalBoxFuture<'a, Result<Vec<Ranked>, AppError>> {
        Box::pin(std::future::ready(Ok(Self::rank(&request))))
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canned_response_id: Option<CannedResponseId>,
    pub source: &'static str,
    pub score: f32,
}

/// Suggested replies to one of the organisation's inbound messages, filled in for its
/// contact and the calling operator.
pub async fn for_message(
    pool: &DbPool,
    provider: &dyn SuggestionProvider,
    caller: &Caller,
    id: MessageId,
) -> Result<Vec<Suggestion>, AppError> {
    let org = caller.organization_id;
    let mut conn = pool.get().await?;
    let message = db_messages::get(&mut conn, org, id)
        .await
        .optional()?
        .ok_or(AppError::NotFound("message"))?;
    if message.direction != Direction::Inbound {
        return Err(AppError::Invalid {
            message: "suggestions are for inbound messages; this one is outbound".into(),
            field: None,
        });
    }
    let canned = db_canned::list(&mut conn, org, None).await?;
    let context = RenderContext::load(&mut conn, caller, message.contact_id).await?;
    drop(conn);
    let request = SuggestionRequest {
        message: &message.body,
        canned: &canned,
        limit: MAX_SUGGESTIONS,
    };
    let ranked = provider.suggest(request).await?;
    Ok(ranked
        .into_iter()
        .map(|ranked| Suggestion {
            content: canned::render(&ranked.content, &context),
            canned_response_id: ranked.canned_response_id,
            source: provider.source(),
            score: ranked.score,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::db::ids::OrganizationId;

    fn canned(short_code: &str, title: &str, content: &str) -> CannedResponse {
        CannedResponse {
            id: CannedResponseId::generate(),
            organization_id: OrganizationId::generate(),
            short_code: short_code.into(),
            title: title.into(),
            content: content.into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_response_about_the_question_ranks_first_and_unrelated_ones_not_at_all() {
        let fixture = [
            canned("hours", "Opening hours", "We are open Monday to Friday, 8am to 6pm."),
            canned(
                "reschedule",
                "Rescheduling an appointment",
                "Hi {{contact.first_name}}, to move your appointment reply with a day that suits you.",
            ),
            canned("refill", "Prescription refills", "Refills are ready two working days after you ask."),
            canned("parking", "Parking", "Free parking is behind the building."),
        ];
        let request = SuggestionRequest {
            message: "Hello, can I reschedule my appointments to next week?",
            canned: &fixture,
            limit: 5,
        };
        let ranked = CannedProvider::rank(&request);
        assert_eq!(ranked[0].canned_response_id, Some(fixture[1].id));
        assert!(ranked.iter().all(|r| r.score > 0.0));
        // "appointments" matched "appointment" through stemming; nothing else shares a word.
        assert_eq!(ranked.len(), 1, "{ranked:?}");
    }
}
