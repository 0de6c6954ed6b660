ALTER TABLE organization_settings
    DROP CONSTRAINT organization_settings_quiet_hours_check,
    DROP COLUMN quiet_hours_end,
    DROP COLUMN quiet_hours_start,
    DROP COLUMN quiet_hours_timezone;
DROP TABLE scheduled_messages;
