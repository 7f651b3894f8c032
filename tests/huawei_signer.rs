//! The signer against vectors made by Huawei's own SDK (scripts/huawei_vectors.py):
//! canonical request, string to sign, signed headers and Authorization, byte for byte.

use serde::Deserialize;
use vigil::execute::huawei::signer::{self, Request};

#[derive(Deserialize)]
struct File {
    sdk: String,
    ak: String,
    sk: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    method: String,
    host: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body_hex: String,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    signed_headers: String,
    headers: Vec<(String, String)>,
    canonical_request: String,
    string_to_sign: String,
    authorization: String,
    uri: String,
}

fn vectors() -> File {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/huawei/vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/huawei/vectors.json");
    serde_json::from_str(&text).expect("vectors.json parses")
}

#[test]
fn every_sdk_vector_matches_byte_for_byte() {
    let f = vectors();
    assert!(f.sdk.starts_with("huaweicloudsdkcore "), "{}", f.sdk);
    assert!(f.vectors.len() >= 20, "only {} vectors", f.vectors.len());
    let methods: std::collections::BTreeSet<String> =
        f.vectors.iter().map(|v| v.method.to_uppercase()).collect();
    for m in ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        assert!(methods.contains(m), "no vector for {m}");
    }
    // The date is fixed in the input headers: prepare_headers must not change it.
    let unused_now = chrono::Utc::now();
    for v in &f.vectors {
        let body = hex::decode(&v.body_hex).expect("body_hex");
        let mut headers = v.headers.clone();
        signer::prepare_headers(&mut headers, &v.host, unused_now);
        let req = Request {
            method: &v.method,
            path: &v.path,
            query: &v.query,
            headers: &headers,
            body: &body,
        };
        let s = signer::sign(&f.ak, f.sk.as_bytes(), &req).expect(&v.name);
        assert_eq!(
            s.canonical_request, v.expected.canonical_request,
            "{}: canonical request",
            v.name
        );
        assert_eq!(
            s.string_to_sign, v.expected.string_to_sign,
            "{}: string to sign",
            v.name
        );
        assert_eq!(
            s.signed_headers, v.expected.signed_headers,
            "{}: signed headers",
            v.name
        );
        assert_eq!(
            s.authorization, v.expected.authorization,
            "{}: Authorization",
            v.name
        );
        // The headers sent are the SDK's, in any order (the SDK adds Authorization).
        let mut ours: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_string()))
            .chain([("Authorization".to_string(), s.authorization.clone())])
            .collect();
        let mut theirs = v.expected.headers.clone();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{}: headers sent", v.name);
        let uri = if s.query.is_empty() {
            v.path.clone()
        } else {
            format!("{}?{}", v.path, s.query)
        };
        assert_eq!(uri, v.expected.uri, "{}: request URI", v.name);
    }
}

#[test]
fn a_changed_byte_changes_the_signature() {
    let f = vectors();
    let v = f
        .vectors
        .iter()
        .find(|v| v.name == "put-desired-json")
        .expect("put-desired-json");
    let mut headers = v.headers.clone();
    signer::prepare_headers(&mut headers, &v.host, chrono::Utc::now());
    let body = hex::decode(&v.body_hex).unwrap();
    let mut tampered = body.clone();
    tampered[body.len() - 2] = b'4';
    let sign = |b: &[u8], sk: &str| {
        signer::sign(
            &f.ak,
            sk.as_bytes(),
            &Request {
                method: &v.method,
                path: &v.path,
                query: &v.query,
                headers: &headers,
                body: b,
            },
        )
        .unwrap()
        .authorization
    };
    assert_eq!(sign(&body, &f.sk), v.expected.authorization);
    assert_ne!(sign(&tampered, &f.sk), v.expected.authorization);
    assert_ne!(sign(&body, "another-secret"), v.expected.authorization);
}

#[test]
fn a_missing_or_malformed_date_is_a_clear_error() {
    let none: Vec<(String, String)> = vec![("Host".into(), "h".into())];
    let req = |h: &[(String, String)]| {
        signer::sign(
            "ak",
            b"sk",
            &Request {
                method: "GET",
                path: "/",
                query: &[],
                headers: h,
                body: b"",
            },
        )
    };
    assert_eq!(req(&none), Err(signer::SignError::NoDate));
    let bad = vec![("X-Sdk-Date".to_string(), "2026-12-01 22:15".to_string())];
    let err = req(&bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "X-Sdk-Date must look like 20260102T030405Z, got \"2026-12-01 22:15\""
    );
}

#[test]
fn query_strings_parse_back_to_the_pairs() {
    let q = signer::parse_query("b=2&a=%E5%90%8D%20x&a=1&flag&plus=a+b");
    assert_eq!(
        q,
        vec![
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "名 x".to_string()),
            ("a".to_string(), "1".to_string()),
            ("flag".to_string(), String::new()),
            ("plus".to_string(), "a+b".to_string()),
        ]
    );
    assert_eq!(
        signer::canonical_query(&q),
        "a=1&a=%E5%90%8D%20x&b=2&flag=&plus=a%2Bb"
    );
}
