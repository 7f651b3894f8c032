//! A local Huawei Cloud for the tests: the AS v1 and ECS endpoints vigil calls, written
//! to the published API reference. Like the API Gateway it verifies every request's
//! AK/SK signature (with vigil's signer, itself checked against the SDK's vectors) and
//! refuses a bad one with the gateway's status and body; like AS it applies a change of
//! the expected number after a delay, through a scaling activity. It can be told to
//! throttle, fail, or answer nothing.
#![allow(dead_code)]

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil::execute::huawei::signer;

pub const AK: &str = "HPUAFAKEACCESSKEY001";
pub const SK: &str = "fakeSecretKeyForTheLocalCloud0123456789";
pub const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct Activity {
    pub id: String,
    pub status: String,
    pub description: String,
    pub from: u32,
    pub desire: u32,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub start: String,
    pub end: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub min: u32,
    pub max: u32,
    pub desire: u32,
    pub cool_down: u32,
    pub instances: Vec<Instance>,
    /// Newest last.
    pub activities: Vec<Activity>,
    pub cooling_until: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub status: String,
    pub flavor: String,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub fail_reason: Option<String>,
}

/// What the next matching request meets instead of a normal answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 APIGW.0308, nothing applied.
    Throttle,
    /// 500 with the service's system error, nothing applied.
    Fail,
    /// Applied, then no answer (the client's timeout fires).
    Drop,
    /// A 400 with this code and message, nothing applied.
    Refuse(u16, String, String),
    /// A 200 whose body is bigger than any real answer.
    Huge,
    /// A 200 whose body is not JSON (and quotes the secret key, as a broken proxy
    /// might).
    Garbage,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

pub struct State {
    pub ak: String,
    pub sk: String,
    pub project: String,
    pub groups: BTreeMap<String, Group>,
    pub servers: BTreeMap<String, Server>,
    /// id → (vcpus, ram MiB)
    pub flavors: BTreeMap<String, (u32, u64)>,
    pub jobs: BTreeMap<String, Job>,
    pub tokens: HashMap<String, (String, Vec<String>)>,
    pub log: Vec<Logged>,
    /// (method or None for any, fault), taken in order.
    pub faults: VecDeque<(Option<Method>, Fault)>,
    /// How long a scaling activity or an ECS job runs.
    pub apply_after: Duration,
    /// The next scaling activity fails.
    pub fail_next_activity: bool,
    next: u64,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}-{:04}", self.next)
    }

    pub fn count(&self, method: &str, path_part: &str) -> usize {
        self.log
            .iter()
            .filter(|l| l.method == method && l.path.contains(path_part))
            .count()
    }
}

pub struct Fake {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl Fake {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn fault(&self, method: Option<Method>, f: Fault) {
        self.state().faults.push_back((method, f));
    }

    /// A group of `desire` in-service instances.
    pub fn add_group(&self, id: &str, name: &str, min: u32, max: u32, desire: u32, cool_down: u32) {
        let mut s = self.state();
        let instances = (0..desire)
            .map(|i| Instance {
                id: format!("{id}-i{i}"),
                name: format!("{name}-{i}"),
                state: "INSERVICE".into(),
            })
            .collect();
        s.groups.insert(
            id.into(),
            Group {
                id: id.into(),
                name: name.into(),
                min,
                max,
                desire,
                cool_down,
                instances,
                activities: Vec::new(),
                cooling_until: None,
            },
        );
    }

    pub fn add_server(&self, id: &str, name: &str, status: &str, flavor: &str) {
        self.state().servers.insert(
            id.into(),
            Server {
                id: id.into(),
                name: name.into(),
                status: status.into(),
                flavor: flavor.into(),
            },
        );
    }
}

pub async fn start() -> Fake {
    let mut flavors = BTreeMap::new();
    flavors.insert("s6.large.2".to_string(), (2, 4096));
    flavors.insert("c7.xlarge.2".to_string(), (4, 8192));
    flavors.insert("x1.2u.4g".to_string(), (2, 4096));
    let state = Arc::new(Mutex::new(State {
        ak: AK.into(),
        sk: SK.into(),
        project: PROJECT.into(),
        groups: BTreeMap::new(),
        servers: BTreeMap::new(),
        flavors,
        jobs: BTreeMap::new(),
        tokens: HashMap::new(),
        log: Vec::new(),
        faults: VecDeque::new(),
        apply_after: Duration::from_millis(300),
        fail_next_activity: false,
        next: 0,
    }));
    let st = state.clone();
    let app = axum::Router::new().fallback(move |req: Request<Body>| handle(st.clone(), req));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { addr, state }
}

fn json(status: u16, v: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("Content-Type", "application/json")
        .header("X-Request-Id", "fake-request-0001")
        .body(Body::from(v.to_string()))
        .unwrap()
}

/// The API Gateway's error body.
fn gateway(status: u16, code: &str, msg: &str) -> Response<Body> {
    json(
        status,
        serde_json::json!({"error_code": code, "error_msg": msg, "request_id": "fake-request-0001"}),
    )
}

/// The services' error body (AS, ECS).
fn service(status: u16, code: &str, msg: &str) -> Response<Body> {
    json(
        status,
        serde_json::json!({"error": {"code": code, "message": msg}}),
    )
}

fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The gateway's check: the AK is known, the date within 15 minutes, and the
/// signature over the signed headers is the one the SK makes.
fn verify(
    st: &State,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let fail = |why: &str| Err(format!("Incorrect IAM authentication information: {why}"));
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return fail("Authorization not found");
    };
    let Some(rest) = auth.strip_prefix("SDK-HMAC-SHA256 ") else {
        return fail("unsupported signing algorithm");
    };
    let mut access = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("Access=") {
            access = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let (Some(access), Some(signed), Some(sig)) = (access, signed, sig) else {
        return fail("verify aksk signature fail");
    };
    if access != st.ak {
        return fail("ak is not found");
    }
    let mut hs = Vec::new();
    for name in signed.split(';') {
        let Some(v) = headers.get(name) else {
            return fail("verify aksk signature fail");
        };
        hs.push((
            name.to_string(),
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
        ));
    }
    let Some(date) = signer::header(&hs, "x-sdk-date") else {
        return fail("x-sdk-date not found");
    };
    match chrono::NaiveDateTime::parse_from_str(date, signer::DATE_FORMAT) {
        Ok(d) => {
            let skew = (chrono::Utc::now().naive_utc() - d).num_seconds().abs();
            if skew > 15 * 60 {
                return fail("verify aksk signature fail, the request has expired");
            }
        }
        Err(_) => return fail("x-sdk-date is invalid"),
    }
    let q = signer::parse_query(query);
    let ours = signer::sign(
        &st.ak,
        st.sk.as_bytes(),
        &signer::Request {
            method: method.as_str(),
            path,
            query: &q,
            headers: &hs,
            body,
        },
    );
    match ours {
        Ok(s)
            if signer::same(
                s.authorization.rsplit("Signature=").next().unwrap_or(""),
                sig,
            ) =>
        {
            Ok(())
        }
        _ => fail("verify aksk signature fail"),
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Body>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let body = match to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b.to_vec(),
        Err(_) => return service(400, "AS.0022", "Request body error"),
    };
    let (resp, drop_answer) = {
        let mut st = state.lock().unwrap();
        let resp = match verify(&st, &method, &path, &query, &headers, &body) {
            Err(why) => (gateway(401, "APIGW.0301", &why), false),
            Ok(()) => {
                let fault = match st.faults.front() {
                    Some((m, _)) if m.as_ref().is_none_or(|m| *m == method) => {
                        st.faults.pop_front().map(|(_, f)| f)
                    }
                    _ => None,
                };
                let is_as = path.starts_with("/autoscaling-api/");
                match fault {
                    Some(Fault::Throttle) => (
                        gateway(
                            429,
                            "APIGW.0308",
                            "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute",
                        ),
                        false,
                    ),
                    Some(Fault::Fail) if is_as => (service(500, "AS.0001", "System error."), false),
                    Some(Fault::Fail) => (service(500, "Ecs.0000", "System error."), false),
                    Some(Fault::Refuse(status, code, msg)) => (service(status, &code, &msg), false),
                    Some(Fault::Huge) => (
                        json(200, serde_json::json!({ "pad": "x".repeat(2 << 20) })),
                        false,
                    ),
                    Some(Fault::Garbage) => (
                        Response::builder()
                            .status(200)
                            .body(Body::from(format!("<html>oops {}</html>", st.sk)))
                            .unwrap(),
                        false,
                    ),
                    Some(Fault::Drop) => (
                        route(&mut st, &state, &method, &path, &query, &headers, &body),
                        true,
                    ),
                    None => (
                        route(&mut st, &state, &method, &path, &query, &headers, &body),
                        false,
                    ),
                }
            }
        };
        st.log.push(Logged {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            status: resp.0.status().as_u16(),
        });
        resp
    };
    if drop_answer {
        // Applied, and then silence: the client's request timeout decides.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    resp
}

fn route(
    st: &mut State,
    shared: &Arc<Mutex<State>>,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Body> {
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    let q = signer::parse_query(query);
    let qv = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (method.as_str(), seg.as_slice()) {
        (_, ["autoscaling-api", "v1", project, ..]) if *project != st.project => {
            service(400, "AS.0008", "Incorrect ProjectID.")
        }
        (_, [v, project, ..]) if v.starts_with("v1") && *project != st.project => {
            service(400, "Ecs.0002", "Incorrect ProjectID.")
        }
        ("GET", ["autoscaling-api", "v1", _, "scaling_group"]) => {
            let name = qv("scaling_group_name");
            let all: Vec<&Group> = st
                .groups
                .values()
                .filter(|g| name.as_ref().is_none_or(|n| g.name.contains(n.as_str())))
                .collect();
            let start: usize = qv("start_number").and_then(|s| s.parse().ok()).unwrap_or(0);
            let limit: usize = qv("limit").and_then(|s| s.parse().ok()).unwrap_or(20);
            let page: Vec<_> = all
                .iter()
                .skip(start)
                .take(limit)
                .map(|g| group_json(g))
                .collect();
            json(
                200,
                serde_json::json!({"total_number": all.len(), "start_number": start, "limit": limit, "scaling_groups": page}),
            )
        }
        ("GET", ["autoscaling-api", "v1", _, "scaling_group", id]) => match st.groups.get(*id) {
            Some(g) => json(200, serde_json::json!({ "scaling_group": group_json(g) })),
            None => service(404, "AS.2007", "The AS group does not exist."),
        },
        ("PUT", ["autoscaling-api", "v1", _, "scaling_group", id]) => {
            let v: serde_json::Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => return service(400, "AS.0022", "Request body error"),
            };
            let fail_activity = std::mem::take(&mut st.fail_next_activity);
            let act_id = st.id("act");
            let inst_ids: Vec<String> = (0..64).map(|_| st.id("i")).collect();
            let Some(g) = st.groups.get_mut(*id) else {
                return service(404, "AS.2007", "The AS group does not exist.");
            };
            let Some(n) = v.get("desire_instance_number").and_then(|n| n.as_u64()) else {
                return service(400, "AS.0022", "Request body error");
            };
            let n = n as u32;
            if n < g.min || n > g.max {
                return service(
                    400,
                    "AS.2005",
                    "The expected number cannot be less than the minimum number of instances or greater than the maximum number of instances.",
                );
            }
            if g.cooling_until.is_some_and(|t| Instant::now() < t) {
                return service(
                    400,
                    "AS.0026",
                    "Scaling action is not allowed in the cooling duration.",
                );
            }
            if n != g.desire {
                start_activity(g, shared, n, act_id, inst_ids, fail_activity);
            }
            json(200, serde_json::json!({ "scaling_group_id": id }))
        }
        (
            "GET",
            [
                "autoscaling-api",
                "v1",
                _,
                "scaling_group_instance",
                id,
                "list",
            ],
        ) => match st.groups.get(*id) {
            Some(g) => {
                let list: Vec<_> = g
                        .instances
                        .iter()
                        .map(|i| {
                            serde_json::json!({
                                "instance_id": i.id, "instance_name": i.name,
                                "scaling_group_id": g.id, "scaling_group_name": g.name,
                                "life_cycle_state": i.state,
                                "health_status": if i.state == "INSERVICE" { "NORMAL" } else { "INITAILIZING" },
                                "protect_from_scaling_down": false,
                            })
                        })
                        .collect();
                json(
                    200,
                    serde_json::json!({"total_number": list.len(), "start_number": 0, "limit": 100, "scaling_group_instances": list}),
                )
            }
            None => service(404, "AS.2007", "The AS group does not exist."),
        },
        ("GET", ["autoscaling-api", "v1", _, "scaling_activity_log", id]) => {
            match st.groups.get(*id) {
                Some(g) => {
                    let limit: usize = qv("limit").and_then(|s| s.parse().ok()).unwrap_or(20);
                    let list: Vec<_> = g
                    .activities
                    .iter()
                    .rev()
                    .take(limit)
                    .map(|a| {
                        serde_json::json!({
                            "id": a.id, "status": a.status, "start_time": a.start, "end_time": a.end,
                            "description": a.description,
                            "scaling_value": (a.desire as i64 - a.from as i64).unsigned_abs(),
                            "instance_value": a.from, "desire_value": a.desire,
                            "instance_added_list": a.added.join(","),
                            "instance_removed_list": a.removed.join(","),
                            "instance_deleted_list": a.removed.join(","),
                        })
                    })
                    .collect();
                    json(
                        200,
                        serde_json::json!({"total_number": g.activities.len(), "start_number": 0, "limit": limit, "scaling_activity_log": list}),
                    )
                }
                None => service(404, "AS.2007", "The AS group does not exist."),
            }
        }
        ("GET", ["v1", _, "cloudservers", "flavors"]) => {
            let id = qv("flavor_id");
            let list: Vec<_> = st
                .flavors
                .iter()
                .filter(|(f, _)| id.as_ref().is_none_or(|i| i == *f))
                .map(|(f, (c, r))| serde_json::json!({"id": f, "name": f, "vcpus": c.to_string(), "ram": r}))
                .collect();
            json(200, serde_json::json!({ "flavors": list }))
        }
        ("GET", ["v1", _, "cloudservers", id]) => match st.servers.get(*id) {
            Some(s) => {
                let (c, r) = st.flavors.get(&s.flavor).copied().unwrap_or((0, 0));
                json(
                    200,
                    serde_json::json!({"server": {"id": s.id, "name": s.name, "status": s.status,
                        "flavor": {"id": s.flavor, "name": s.flavor, "vcpus": c.to_string(), "ram": r.to_string()}}}),
                )
            }
            None => service(404, "Ecs.0114", "Instance does not exist."),
        },
        ("POST", ["v1", _, "cloudservers", id, "resize"]) => {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let Some(flavor) = v["resize"]["flavorRef"].as_str().map(str::to_string) else {
                return service(400, "Ecs.0005", "Invalid parameter: flavorRef.");
            };
            if !st.flavors.contains_key(&flavor) {
                return service(400, "Ecs.0005", "Invalid parameter: flavorRef.");
            }
            let with_stop = v["resize"]["mode"].as_str() == Some("withStopServer");
            let job = st.id("job");
            let Some(s) = st.servers.get_mut(*id) else {
                return service(404, "Ecs.0114", "Instance does not exist.");
            };
            if s.status != "SHUTOFF" && !with_stop {
                // The documented rule: the server is stopped first, or mode says so.
                return service(
                    409,
                    "Ecs.0103",
                    "The ECS must be stopped before the flavor is changed.",
                );
            }
            let end_status = s.status.clone();
            s.status = "RESIZE".into();
            st.jobs.insert(
                job.clone(),
                Job {
                    id: job.clone(),
                    kind: "resizeServer".into(),
                    status: "RUNNING".into(),
                    fail_reason: None,
                },
            );
            let (sh, sid, j) = (shared.clone(), id.to_string(), job.clone());
            let after = st.apply_after;
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let mut st = sh.lock().unwrap();
                if let Some(s) = st.servers.get_mut(&sid) {
                    s.flavor = flavor;
                    s.status = end_status;
                }
                if let Some(j) = st.jobs.get_mut(&j) {
                    j.status = "SUCCESS".into();
                }
            });
            json(200, serde_json::json!({ "job_id": job }))
        }
        ("GET", ["v1", _, "jobs", id]) => match st.jobs.get(*id) {
            Some(j) => json(
                200,
                serde_json::json!({"job_id": j.id, "job_type": j.kind, "status": j.status,
                    "begin_time": now_text(), "end_time": "", "error_code": null, "fail_reason": j.fail_reason}),
            ),
            None => service(404, "Ecs.0010", "The job does not exist."),
        },
        ("POST", ["v1.1", _, "cloudservers"]) => {
            let token = headers
                .get("x-client-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if let Some(t) = &token
                && let Some((job, ids)) = st.tokens.get(t)
            {
                return json(200, serde_json::json!({"job_id": job, "serverIds": ids}));
            }
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let count = v["server"]["count"].as_u64().unwrap_or(1).min(10);
            let name = v["server"]["name"].as_str().unwrap_or("server").to_string();
            let flavor = v["server"]["flavorRef"]
                .as_str()
                .unwrap_or("s6.large.2")
                .to_string();
            let job = st.id("job");
            let mut ids = Vec::new();
            for i in 0..count {
                let id = st.id("srv");
                st.servers.insert(
                    id.clone(),
                    Server {
                        id: id.clone(),
                        name: format!("{name}-{i}"),
                        status: "ACTIVE".into(),
                        flavor: flavor.clone(),
                    },
                );
                ids.push(id);
            }
            st.jobs.insert(
                job.clone(),
                Job {
                    id: job.clone(),
                    kind: "createServer".into(),
                    status: "SUCCESS".into(),
                    fail_reason: None,
                },
            );
            if let Some(t) = token {
                st.tokens.insert(t, (job.clone(), ids.clone()));
            }
            json(200, serde_json::json!({"job_id": job, "serverIds": ids}))
        }
        _ => gateway(
            404,
            "APIGW.0101",
            "The API does not exist or has not been published in the environment",
        ),
    }
}

fn group_json(g: &Group) -> serde_json::Value {
    let in_service = g
        .instances
        .iter()
        .filter(|i| i.state == "INSERVICE")
        .count();
    let scaling = g.activities.last().is_some_and(|a| a.status == "DOING");
    serde_json::json!({
        "scaling_group_id": g.id, "scaling_group_name": g.name,
        "scaling_group_status": "INSERVICE",
        "current_instance_number": in_service,
        "desire_instance_number": g.desire,
        "min_instance_number": g.min, "max_instance_number": g.max,
        "cool_down_time": g.cool_down, "is_scaling": scaling,
        "create_time": "2026-11-01T00:00:00Z",
    })
}

/// AS's part: the new expected number starts an activity; instances join (PENDING,
/// then INSERVICE) or leave (REMOVING, then gone) when it finishes.
fn start_activity(
    g: &mut Group,
    shared: &Arc<Mutex<State>>,
    n: u32,
    act_id: String,
    inst_ids: Vec<String>,
    fail: bool,
) {
    let from = g.instances.len() as u32;
    g.desire = n;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    if n > from {
        for (k, id) in inst_ids.into_iter().take((n - from) as usize).enumerate() {
            let name = format!("{}-{}", g.name, from as usize + k);
            added.push(format!("{name}({id})"));
            g.instances.push(Instance {
                id,
                name,
                state: "PENDING".into(),
            });
        }
    } else {
        for i in g.instances.iter_mut().rev().take((from - n) as usize) {
            i.state = "REMOVING".into();
            removed.push(format!("{}({})", i.name, i.id));
        }
    }
    g.activities.push(Activity {
        id: act_id.clone(),
        status: "DOING".into(),
        description: format!("{{\"reason\":[{{\"change_reason\":\"DIFF\",\"old_value\":{from},\"change_time\":\"{}\",\"new_value\":{n}}}]}}", now_text()),
        from,
        desire: n,
        added,
        removed,
        start: now_text(),
        end: None,
    });
    let (sh, gid) = (shared.clone(), g.id.clone());
    tokio::spawn(async move {
        let after = { sh.lock().unwrap().apply_after };
        tokio::time::sleep(after).await;
        let mut st = sh.lock().unwrap();
        let Some(g) = st.groups.get_mut(&gid) else {
            return;
        };
        if fail {
            g.instances.retain(|i| i.state != "PENDING");
            for i in &mut g.instances {
                i.state = "INSERVICE".into();
            }
        } else {
            g.instances.retain(|i| i.state != "REMOVING");
            for i in &mut g.instances {
                i.state = "INSERVICE".into();
            }
            g.cooling_until = Some(Instant::now() + Duration::from_secs(g.cool_down.into()));
        }
        if let Some(a) = g.activities.iter_mut().find(|a| a.id == act_id) {
            a.status = if fail { "FAIL" } else { "SUCCESS" }.into();
            a.end = Some(now_text());
            if fail {
                a.description = "Insufficient ECS quota: instances quota exceeded".into();
            }
        }
    });
}
