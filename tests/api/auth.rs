use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, TestApp, PASSWORD};

#[actix_web::test]
async fn login_gives_a_token_that_works_until_logout() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme Clinic").await;

    let (status, me) = app.get("/api/me", &org.token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["email"], org.admin_email.as_str());
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(me["organization"]["name"], "Acme Clinic");
    assert!(
        me["user"].get("password_hash").is_none(),
        "never expose the hash"
    );

    let (status, _) = app
        .send(app.request(Method::POST, "/api/auth/logout", Some(&org.token)))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = app.get("/api/me", &org.token).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[actix_web::test]
async fn logout_revokes_only_that_session() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme Clinic").await;
    let second = app.login(&org.admin_email, PASSWORD).await;

    app.send(app.request(Method::POST, "/api/auth/logout", Some(&org.token)))
        .await;

    let (status, _) = app.get("/api/me", &second).await;
    assert_eq!(status, StatusCode::OK, "the other session stays signed in");
}

#[actix_web::test]
async fn wrong_password_and_unknown_email_are_refused_alike() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme Clinic").await;

    let wrong_password = app
        .send(
            app.request(Method::POST, "/api/auth/login", None)
                .json(&json!({
                    "email": org.admin_email, "password": "not the password"
                })),
        )
        .await;
    let unknown_email = app
        .send(
            app.request(Method::POST, "/api/auth/login", None)
                .json(&json!({
                    "email": "nobody@example.com", "password": "not the password"
                })),
        )
        .await;
    assert_error(
        wrong_password.0,
        &wrong_password.1,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(
        wrong_password, unknown_email,
        "the answer must not reveal which emails exist"
    );
}

#[actix_web::test]
async fn login_email_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme Clinic").await;
    let token = app.login(&org.admin_email.to_uppercase(), PASSWORD).await;
    assert_eq!(app.get("/api/me", &token).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn requests_without_or_with_a_bogus_token_are_refused() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .send(app.request(Method::GET, "/api/contacts", None))
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, body) = app.get("/api/contacts", "sb_not-a-real-token").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[actix_web::test]
async fn the_session_cookie_authenticates_and_writes_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme Clinic").await;
    // A browser: it sends back the session cookie it was given, and nothing else. (The
    // cookie is carried by hand so that reqwest's cookie store, which would also be
    // built into the server the benches measure, stays out of the build.)
    let browser = reqwest::Client::new();

    let login = browser
        .post(format!("{}/api/auth/login", app.address))
        .json(&json!({ "email": org.admin_email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let session_cookie = set_cookie(&login, "sb_session").expect("session cookie");
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    let cookie = session_cookie.split(';').next().unwrap().to_string();
    let csrf_token = login.json::<serde_json::Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();

    let me = browser
        .get(format!("{}/api/me", app.address))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "reads work with the cookie alone"
    );

    let contact = json!({ "name": "Ann" });
    let forged = browser
        .post(format!("{}/api/contacts", app.address))
        .header(COOKIE, &cookie)
        .json(&contact)
        .send()
        .await
        .unwrap();
    let status = forged.status();
    let body = forged.json().await.unwrap();
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, list) = app.get("/api/contacts", &org.token).await;
    assert_eq!(
        list["contacts"].as_array().unwrap().len(),
        0,
        "the forged write changed nothing"
    );

    let genuine = browser
        .post(format!("{}/api/contacts", app.address))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf_token)
        .json(&contact)
        .send()
        .await
        .unwrap();
    assert_eq!(genuine.status(), StatusCode::CREATED);

    let logout = browser
        .post(format!("{}/api/auth/logout", app.address))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf_token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let removal = set_cookie(&logout, "sb_session").expect("the logout clears the cookie");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    let after = browser
        .get(format!("{}/api/me", app.address))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the session is revoked: its cookie no longer works even if kept"
    );
}

/// The `Set-Cookie` header a response sets for cookie `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// Cross-site WebSocket hijacking: another site's page could open a socket that rides on
/// the browser's session cookie; only this server's own origin may.
#[actix_web::test]
async fn a_socket_opened_with_the_session_cookie_must_come_from_this_origin() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = TestApp::spawn().await;
    let org = app.create_org("Acme Clinic").await;
    let login = reqwest::Client::new()
        .post(format!("{}/api/auth/login", app.address))
        .json(&json!({ "email": org.admin_email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&login, "sb_session")
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let socket_url = format!("{}/ws", app.address.replacen("http://", "ws://", 1));
    let open = |origin: String| {
        let mut request = socket_url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };

    match open("https://evil.example".into()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("another origin's socket was not refused: {other:?}"),
    }
    let (mut socket, _) = open(app.address.clone())
        .await
        .expect("this origin's socket opens");
    use futures_util::StreamExt;
    let hello = socket.next().await.unwrap().unwrap();
    assert!(hello.to_string().contains("\"hello\""), "{hello}");
}
