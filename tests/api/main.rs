//! Integration tests: the real server over HTTP, against a real PostgreSQL.

mod attachments;
mod auth;
mod cli;
mod contacts;
mod delivery;
mod email;
mod errors;
mod helpers;
mod messages;
mod phi;
mod realtime;
mod senders;
mod tenancy;
mod webhooks;
