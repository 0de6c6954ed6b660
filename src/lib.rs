//! Switchboard: a self-hosted, realtime messaging server for SMS/MMS and email.
//! See README.md for the architecture.

pub mod accounts;
pub mod actors;
pub mod attachments;
pub mod auth;
pub mod cache;
pub mod config;
pub mod contacts;
pub mod db;
pub mod demo;
pub mod error;
pub mod extract;
pub mod mail;
pub mod messages;
pub mod pacing;
pub mod phi;
pub mod protocol;
pub mod routes;
pub mod secrets;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod timestamp;
pub mod twilio;
pub mod validate;
pub mod webhooks;
