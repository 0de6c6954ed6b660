//! The OpenAPI document (`GET /api/openapi.json`) against the routes the server has:
//! every route registered under `/api` is documented, every documented operation is
//! served, and every error it documents is the one error shape.

use std::collections::BTreeSet;
use std::path::Path;

use regex::Regex;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

/// A method and a path template (`POST /api/contacts/{}/phones`: the names of path
/// parameters do not matter, where they are does).
type Operation = (String, String);

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let (status, document) = app
        .send(app.request(Method::GET, "/api/openapi.json", None))
        .await;
    assert_eq!(status, StatusCode::OK, "{document}");
    document
}

fn documented(document: &Value) -> BTreeSet<Operation> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .into_iter()
                .filter(|method| item.get(*method).is_some())
                .map(|method| (method.to_uppercase(), unnamed(path)))
        })
        .collect()
}

fn unnamed(path: &str) -> String {
    Regex::new(r"\{[^}]*\}")
        .unwrap()
        .replace_all(path, "{}")
        .into_owned()
}

/// The routes registered under `/api`, read from the source as actix reads it: the
/// modules `src/routes/mod.rs` configures inside `web::scope("/api")`, and in each the
/// handlers its `configure` passes to `.service(...)` with their method attribute.
fn registered() -> BTreeSet<Operation> {
    let routes = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let read = |name: &str| {
        std::fs::read_to_string(routes.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let root = read("mod.rs");
    let scope = root
        .split("web::scope(\"/api\")")
        .nth(1)
        .and_then(|rest| rest.split(".default_service(").next())
        .expect("src/routes/mod.rs configures a `/api` scope");
    let configured = Regex::new(r"\.configure\((\w+)::configure\)").unwrap();
    let attribute = Regex::new(
        r#"#\[(get|put|post|patch|delete)\("([^"]+)"\)\]\s*(?:pub(?:\([^)]*\))? )?async fn (\w+)"#,
    )
    .unwrap();
    let mut found = BTreeSet::new();
    for module in configured.captures_iter(scope) {
        let file = format!("{}.rs", &module[1]);
        let source = read(&file);
        for routing in ["web::resource(", "web::route(", ".route("] {
            assert!(
                !source.contains(routing),
                "{file} registers a route with `{routing}`, which this test cannot read: \
                 give it a method attribute (`#[get(\"...\")]`) and `.service(handler)`"
            );
        }
        let configure = source
            .split("pub fn configure(")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .unwrap_or_else(|| panic!("{file} has a `configure`"));
        for handler in attribute.captures_iter(&source) {
            if configure.contains(&format!(".service({})", &handler[3])) {
                found.insert((
                    handler[1].to_uppercase(),
                    unnamed(&format!("/api{}", &handler[2])),
                ));
            }
        }
    }
    assert!(found.len() > 50, "the scan found only {found:?}");
    found
}

#[actix_web::test]
async fn every_registered_api_route_is_documented_and_nothing_else() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let documented = documented(&document);
    let registered = registered();
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "registered, not documented: {missing:?}"
    );
    let unknown: Vec<_> = documented.difference(&registered).collect();
    assert!(
        unknown.is_empty(),
        "documented, not registered: {unknown:?}"
    );
}

/// The other way round, asked of the running server: each documented operation reaches
/// a handler (no `unknown_route`, no 405), whatever it then answers a stranger.
#[actix_web::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    for (method, path) in documented(&document) {
        let concrete = path.replace("{}", &uuid::Uuid::now_v7().to_string());
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .request(method.clone(), &concrete, None)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !body.contains("unknown_route"),
            "{method} {path} is not served: {body}"
        );
    }
}

/// Every documented error is `ErrorBody` as JSON, every operation that needs a caller
/// says `401`, the two ways to authenticate are named, and operations have unique ids.
#[actix_web::test]
async fn errors_and_authentication_are_documented_once() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "sb_session");
    let error_body = &document["components"]["schemas"]["ErrorBody"];
    assert!(
        error_body["properties"]["error"].is_object(),
        "{error_body}"
    );

    let shared = &document["components"]["responses"];
    let mut public = Vec::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(
                operation_ids.insert(id),
                "{method} {path}: {id} is not unique"
            );
            let responses = operation["responses"].as_object().unwrap();
            if operation.get("security").is_some() {
                public.push(format!("{} {path}", method.to_uppercase()));
            } else {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} needs a caller"
                );
            }
            for (status, response) in responses {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                let response = match response["$ref"].as_str() {
                    Some(reference) => {
                        &shared[reference.trim_start_matches("#/components/responses/")]
                    }
                    None => response,
                };
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
    public.sort();
    assert_eq!(public, ["GET /api/openapi.json", "POST /api/auth/login"]);
}
