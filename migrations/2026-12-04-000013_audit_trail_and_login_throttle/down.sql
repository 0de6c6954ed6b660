DROP TABLE login_failures;
DROP INDEX audit_log_recent_idx;
