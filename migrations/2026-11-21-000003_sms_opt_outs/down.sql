DROP INDEX organization_settings_twilio_account_idx;
DROP TABLE sms_opt_outs;
