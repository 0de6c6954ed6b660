DROP TABLE audit_log;
DROP TABLE contact_reads;
DROP TABLE message_attachments;
DROP TABLE messages;
