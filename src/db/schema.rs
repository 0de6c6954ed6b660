// The database schema, in the form `diesel print-schema` writes it (see diesel.toml).
// One hand edit: `users.permissions` is `Array<Text>`, since the column never holds NULLs.

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        organization_id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        kind -> Text,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Uuid,
        organization_id -> Uuid,
        user_id -> Nullable<Uuid>,
        action -> Text,
        subject_type -> Text,
        subject_id -> Uuid,
        details -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    calls (organization_id, id) {
        id -> Uuid,
        organization_id -> Uuid,
        contact_id -> Uuid,
        phone_number_id -> Nullable<Uuid>,
        direction -> Text,
        from_number -> Text,
        to_number -> Text,
        status -> Text,
        started_at -> Nullable<Timestamptz>,
        duration_seconds -> Nullable<Int4>,
        recording_url -> Nullable<Text>,
        transcription -> Nullable<Text>,
        analysis -> Nullable<Text>,
        external_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    canned_responses (organization_id, id) {
        id -> Uuid,
        organization_id -> Uuid,
        short_code -> Text,
        title -> Text,
        content -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    contact_methods (id) {
        id -> Uuid,
        organization_id -> Uuid,
        contact_id -> Uuid,
        kind -> Text,
        value -> Text,
        label -> Text,
        is_preferred -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    contact_reads (organization_id, user_id, contact_id) {
        organization_id -> Uuid,
        user_id -> Uuid,
        contact_id -> Uuid,
        last_read_at -> Timestamptz,
    }
}

diesel::table! {
    contacts (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        lead_id -> Nullable<Text>,
        partner_id -> Nullable<Text>,
        last_contacted_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    drafts (organization_id, user_id, contact_id) {
        organization_id -> Uuid,
        user_id -> Uuid,
        contact_id -> Uuid,
        channel -> Text,
        body -> Text,
        subject -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    email_addresses (id) {
        id -> Uuid,
        organization_id -> Uuid,
        address -> Text,
        display_name -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    message_attachments (id) {
        id -> Uuid,
        organization_id -> Uuid,
        message_id -> Nullable<Uuid>,
        storage_key -> Text,
        content_type -> Text,
        file_name -> Text,
        file_size -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        email -> Text,
        source -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    messages (organization_id, id) {
        id -> Uuid,
        organization_id -> Uuid,
        contact_id -> Uuid,
        phone_number_id -> Nullable<Uuid>,
        email_address_id -> Nullable<Uuid>,
        contact_method_id -> Nullable<Uuid>,
        channel -> Text,
        direction -> Text,
        body -> Text,
        subject -> Nullable<Text>,
        from_address -> Nullable<Text>,
        to_address -> Nullable<Text>,
        status -> Text,
        source -> Text,
        ai_origin -> Nullable<Text>,
        external_id -> Nullable<Text>,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        client_id -> Nullable<Text>,
        private -> Bool,
        sender_user_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        edited_at -> Nullable<Timestamptz>,
        deleted_at -> Nullable<Timestamptz>,
        claimed_by -> Nullable<Int8>,
        carrier_checked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    organization_settings (organization_id) {
        organization_id -> Uuid,
        twilio_account_sid -> Nullable<Text>,
        twilio_auth_token_encrypted -> Nullable<Bytea>,
        twilio_messaging_service_sid -> Nullable<Text>,
        smtp_host -> Nullable<Text>,
        smtp_port -> Nullable<Int4>,
        smtp_username -> Nullable<Text>,
        smtp_password_encrypted -> Nullable<Bytea>,
        smtp_security -> Text,
        updated_at -> Timestamptz,
        quiet_hours_timezone -> Nullable<Text>,
        quiet_hours_start -> Nullable<Time>,
        quiet_hours_end -> Nullable<Time>,
    }
}

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    phi_policies (organization_id) {
        organization_id -> Uuid,
        actions -> Jsonb,
        extra_patterns -> Jsonb,
        allowed_terms -> Array<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    phone_numbers (id) {
        id -> Uuid,
        organization_id -> Uuid,
        phone_number -> Text,
        label -> Text,
        twilio_sid -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sms_opt_outs (organization_id, contact_number, org_number) {
        organization_id -> Uuid,
        contact_number -> Text,
        org_number -> Text,
        keyword -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        organization_id -> Uuid,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        role -> Text,
        permissions -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    scheduled_messages (id) {
        id -> Uuid,
        organization_id -> Uuid,
        contact_id -> Uuid,
        channel -> Text,
        body -> Text,
        subject -> Nullable<Text>,
        phone_number_id -> Nullable<Uuid>,
        contact_phone_id -> Nullable<Uuid>,
        email_address_id -> Nullable<Uuid>,
        contact_email_id -> Nullable<Uuid>,
        attachment_ids -> Array<Uuid>,
        send_at -> Timestamptz,
        status -> Text,
        due_at -> Timestamptz,
        attempt -> Int4,
        claimed_by -> Nullable<Int8>,
        message_id -> Nullable<Uuid>,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        cancel_on_reply -> Bool,
        phi_override_reason -> Nullable<Text>,
        client_id -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        fired_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(audit_log -> organizations (organization_id));
diesel::joinable!(calls -> organizations (organization_id));
diesel::joinable!(canned_responses -> organizations (organization_id));
diesel::joinable!(contacts -> organizations (organization_id));
diesel::joinable!(message_attachments -> organizations (organization_id));
diesel::joinable!(messages -> contact_methods (contact_method_id));
diesel::joinable!(messages -> email_addresses (email_address_id));
diesel::joinable!(messages -> phone_numbers (phone_number_id));
diesel::joinable!(email_addresses -> organizations (organization_id));
diesel::joinable!(organization_settings -> organizations (organization_id));
diesel::joinable!(phone_numbers -> organizations (organization_id));
diesel::joinable!(sms_opt_outs -> organizations (organization_id));
diesel::joinable!(users -> organizations (organization_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    audit_log,
    calls,
    canned_responses,
    contact_methods,
    contact_reads,
    contacts,
    drafts,
    email_addresses,
    login_failures,
    message_attachments,
    messages,
    organization_settings,
    organizations,
    phi_policies,
    phone_numbers,
    scheduled_messages,
    sms_opt_outs,
    users,
);
