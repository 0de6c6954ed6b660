//! `POST /api/phi/check`: findings for a draft, with the organisation's and the
//! recipient's own details allowed.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, TestApp};

#[actix_web::test]
async fn a_draft_is_vetted_with_the_organisations_and_recipients_details_allowed() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;

    let draft =
        "Hi Maria, your DOB 04/12/1961 and SSN 123-45-6788 are on file. Call us at (415) 555-0100.";
    let (status, verdict) = app
        .post(
            "/api/phi/check",
            &chat.org.token,
            json!({"body": draft, "contact_id": chat.contact_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    let kinds: Vec<&str> = verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["date_of_birth", "ssn"],
        "the clinic's own number is not PHI"
    );
    assert_eq!(verdict["blocked"], true);
    assert_eq!(verdict["findings"][1]["excerpt"], "•••-••-••88");
    assert_eq!(verdict["findings"][1]["rule"], "ssn_with_context");
    assert!(
        verdict["findings"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("Social Security number"),
        "each finding explains itself: {verdict}"
    );

    let (_, verdict) = app
        .post("/api/phi/check", &chat.org.token, json!({"body": "See you at 3pm! Text (415) 555-0111 if late.", "contact_id": chat.contact_id}))
        .await;
    assert_eq!(
        verdict["findings"],
        json!([]),
        "the recipient's own number is not PHI either"
    );
    assert_eq!(verdict["blocked"], false);

    let (_, verdict) = app
        .post(
            "/api/phi/check",
            &chat.org.token,
            json!({"body": "Ask for Dr. Lee at 415-555-0199"}),
        )
        .await;
    assert_eq!(verdict["findings"][0]["kind"], "phone");
    assert_eq!(
        verdict["blocked"], true,
        "a number that is neither the clinic's nor the recipient's may be a relative's"
    );

    let outsider = app.create_org("Other").await;
    let (status, body) = app
        .post(
            "/api/phi/check",
            &outsider.token,
            json!({"body": "hi", "contact_id": chat.contact_id}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[actix_web::test]
async fn a_draft_with_blocked_phi_is_refused_unless_overridden_with_a_reason() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let agent = app.create_agent(&chat.org).await;
    let draft = json!({"contact_id": chat.contact_id, "channel": "sms", "body": "Confirming your SSN 123-45-6788 for billing"});

    let (status, body) = app
        .post("/api/messages/send", &chat.org.token, draft.clone())
        .await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "phi_blocked",
    );
    assert_eq!(error["findings"][0]["kind"], "ssn");
    assert_eq!(error["findings"][0]["action"], "block");
    assert!(
        error["findings"][0]["reason"].as_str().unwrap().len() > 20,
        "the refusal says why: {error}"
    );

    let mut overridden = draft.clone();
    overridden["phi_override"] = json!({"reason": "Patient asked for it in writing"});
    let (status, body) = app
        .post("/api/messages/send", &agent, overridden.clone())
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let mut no_reason = draft.clone();
    no_reason["phi_override"] = json!({"reason": "  "});
    let (status, body) = app
        .post("/api/messages/send", &chat.org.token, no_reason)
        .await;
    assert_eq!(
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid")["field"],
        "phi_override.reason"
    );
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    assert_eq!(
        history["messages"],
        json!([]),
        "nothing refused was written"
    );

    let (status, message) = app
        .post("/api/messages/send", &chat.org.token, overridden)
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "an admin holds phi.override: {message}"
    );
    let audit: Vec<(String, serde_json::Value)> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use switchboard::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::subject_type.eq("message"))
            .select((audit_log::action, audit_log::details))
            .load(&mut app.pool.get().await.unwrap())
            .await
            .unwrap()
    };
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "phi.override");
    assert_eq!(audit[0].1["reason"], "Patient asked for it in writing");
    assert_eq!(audit[0].1["findings"][0]["kind"], "ssn");
    assert!(
        !audit[0].1.to_string().contains("6788"),
        "the audit keeps kinds and spans, not the text"
    );
}

#[actix_web::test]
async fn the_policy_is_the_organisations_own() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let agent = app.create_agent(&chat.org).await;
    let (status, body) = app.get("/api/phi/policy", &agent).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, policy) = app.get("/api/phi/policy", &chat.org.token).await;
    assert_eq!(policy["actions"]["ssn"], "block");
    assert_eq!(policy["actions"]["phone"], "block");
    assert_eq!(policy["actions"]["medication"], "block");
    assert_eq!(policy["chosen"], json!({}), "nothing chosen yet");

    for (pattern, problem) in [("(unclosed", "does not compile"), ("x*", "empty string")] {
        let change =
            json!({"extra_patterns": [{"name": "bad", "pattern": pattern, "action": "block"}]});
        let (status, body) = app.patch("/api/phi/policy", &chat.org.token, change).await;
        let error = assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
        assert_eq!(error["field"], "extra_patterns[0].pattern");
        assert!(
            error["message"].as_str().unwrap().contains(problem),
            "{error}"
        );
    }

    let change = json!({
        "actions": {"ssn": "off"},
        "extra_patterns": [{"name": "study id", "pattern": "STUDY-\\d{4}", "action": "block"}]
    });
    let (status, policy) = app.patch("/api/phi/policy", &chat.org.token, change).await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(policy["actions"]["ssn"], "off");
    assert_eq!(policy["chosen"], json!({"ssn": "off"}));
    let stored: serde_json::Value = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use switchboard::db::schema::phi_policies;
        phi_policies::table
            .select(phi_policies::actions)
            .first(&mut app.pool.get().await.unwrap())
            .await
            .unwrap()
    };
    assert_eq!(
        stored,
        json!({"ssn": "off"}),
        "only the choice is stored, so the other kinds keep following the defaults"
    );

    let send = |body: &str| {
        app.post(
            "/api/messages/send",
            &chat.org.token,
            json!({"contact_id": chat.contact_id, "channel": "sms", "body": body}),
        )
    };
    assert_eq!(
        send("SSN 123-45-6788 is fine here now").await.0,
        StatusCode::CREATED,
        "ssn is off for this organisation"
    );
    let (status, body) = send("Your enrolment STUDY-0042 is confirmed").await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "phi_blocked",
    );
    assert_eq!(error["findings"][0]["kind"], "custom");
    assert_eq!(error["findings"][0]["rule"], "study id");

    let other = app.conversation().await;
    let (_, policy) = app.get("/api/phi/policy", &other.org.token).await;
    assert_eq!(
        policy["actions"]["ssn"], "block",
        "another organisation keeps its own"
    );
}

#[actix_web::test]
async fn a_long_email_is_vetted_off_the_request_threads_with_the_same_result() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let filler = "Thank you for choosing our clinic for your care. ".repeat(200);
    let body = format!("{filler}Your member ID XJ4412890 is on file.");
    assert!(body.len() > 8 * 1024, "long enough for the PhiActor");
    let (status, verdict) = app
        .post("/api/phi/check", &chat.org.token, json!({"body": body}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let findings = verdict["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{verdict}");
    assert_eq!(findings[0]["kind"], "health_plan_id");
    let start = findings[0]["start"].as_u64().unwrap() as usize;
    assert_eq!(&body[start..start + 9], "XJ4412890");
}

#[actix_web::test]
async fn what_identifies_no_one_does_not_block() {
    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let (status, _) = app
        .post(
            "/api/email-addresses",
            &chat.org.token,
            json!({"address": "desk@clinic.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let check = |body: &str| {
        app.post(
            "/api/phi/check",
            &chat.org.token,
            json!({"body": body, "contact_id": chat.contact_id}),
        )
    };
    for quiet in [
        "We are closed on 12/25. Call us at (415) 555-0100 or text (415) 555-0111 back.",
        "Billing questions? Write billing@clinic.example or see https://clinic.example/patient/forms/12345",
        "Flu shots are available 8am-4pm; our diabetes class meets Tuesday.",
        "Your appointment with Dr. Chen is at 3 pm on 12/4. Kids 12 and under free; ages 65 to 89 too.",
    ] {
        let (status, verdict) = check(quiet).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(verdict["blocked"], false, "{quiet:?}: {verdict}");
        assert_eq!(verdict["findings"], json!([]), "{quiet:?}");
    }
    for (identifying, kind) in [
        ("Your mother is 94 years old, so the van will come", "age"),
        (
            "She lives at 221 Baker Street, Springfield, IL 62704",
            "street_address",
        ),
        ("Forwarding to her son at son.garcia@gmail.com", "email"),
        ("dx E11.9 on the claim", "diagnosis"),
        ("Your biopsy results are back, please call", "test_result"),
        ("Take lisinopril 20 mg each morning", "medication"),
        ("SSN 078-05-1120 on the form", "ssn"),
    ] {
        let (_, verdict) = check(identifying).await;
        assert_eq!(verdict["blocked"], true, "{identifying:?}: {verdict}");
        assert!(
            verdict["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == kind && f["action"] == "block" && f["reason"].is_string()),
            "{identifying:?} shows {kind}: {verdict}"
        );
    }

    let change = json!({"allowed_terms": ["212-555-0142"]});
    let (status, _) = app.patch("/api/phi/policy", &chat.org.token, change).await;
    assert_eq!(status, StatusCode::OK);
    let (_, verdict) = check("Our partner pharmacy is at 212-555-0142").await;
    assert_eq!(
        verdict["blocked"], false,
        "allowed terms keep working: {verdict}"
    );
}

/// The migration that lets the stricter defaults reach policies saved with every kind.
#[actix_web::test]
async fn a_policy_saved_with_every_kind_keeps_only_its_deliberate_choices() {
    use diesel::prelude::*;
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
    use switchboard::db::schema::phi_policies;

    let app = TestApp::spawn().await;
    let chat = app.conversation().await;
    let change = json!({"extra_patterns": []});
    let (status, _) = app.patch("/api/phi/policy", &chat.org.token, change).await;
    assert_eq!(status, StatusCode::OK);
    let mut conn = app.pool.get().await.unwrap();
    // As the previous release saved it: every kind, its defaults, and two choices.
    let old = json!({
        "ssn": "block", "phone": "warn", "email": "warn", "age": "warn",
        "diagnosis": "warn", "zip_code": "off", "account_number": "warn"
    });
    diesel::update(phi_policies::table)
        .set(phi_policies::actions.eq(&old))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.batch_execute(include_str!(
        "../../migrations/2026-12-04-000012_phi_defaults/up.sql"
    ))
    .await
    .unwrap();
    let actions: serde_json::Value = phi_policies::table
        .select(phi_policies::actions)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        actions,
        json!({"zip_code": "off", "account_number": "warn"}),
        "entries equal to the old defaults are dropped, deliberate ones kept"
    );
}

/// Safe Harbor names full-face photos, and no pattern can see a face: an attached image
/// is flagged for the operator to look at, and blocks only where the policy says so.
#[actix_web::test]
async fn an_attached_image_is_flagged_for_review_and_blocks_only_by_choice() {
    use crate::attachments::{png, upload};

    let (app, chat, _twilio) = crate::attachments::clinic_with_twilio().await;
    let (status, uploaded) = upload(
        &app,
        &chat.org.token,
        "sms",
        vec![
            ("front-desk.png", "image/png", png(2_000)),
            ("notes.txt", "text/plain", b"bring the form".to_vec()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let photo = uploaded["attachments"][0]["id"].clone();
    let text = uploaded["attachments"][1]["id"].clone();

    let draft = json!({"body": "Here is the picture you asked for", "contact_id": chat.contact_id, "attachment_ids": [photo, text]});
    let (status, verdict) = app.post("/api/phi/check", &chat.org.token, draft).await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["blocked"], false, "{verdict}");
    let findings = verdict["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "only the image: {verdict}");
    assert_eq!(findings[0]["kind"], "photo");
    assert_eq!(findings[0]["action"], "warn");
    assert_eq!(findings[0]["attachment_id"], photo);
    assert_eq!(findings[0]["excerpt"], "front-desk.png");

    let unknown = json!({"body": "hi", "attachment_ids": ["00000000-0000-4000-8000-000000000000"]});
    let (status, body) = app.post("/api/phi/check", &chat.org.token, unknown).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let stricter = json!({"actions": {"photo": "block"}});
    let (status, body) = app
        .patch("/api/phi/policy", &chat.org.token, stricter)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let send = json!({"contact_id": chat.contact_id, "channel": "sms", "body": "", "attachment_ids": [photo]});
    let (status, body) = app.post("/api/messages/send", &chat.org.token, send).await;
    let error = assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "phi_blocked",
    );
    assert_eq!(error["findings"][0]["kind"], "photo");
    let (_, history) = app
        .get(
            &format!("/api/messages?contact_id={}", chat.contact_id),
            &chat.org.token,
        )
        .await;
    assert_eq!(
        history["messages"],
        json!([]),
        "nothing refused was written"
    );
}
