//! ECS: a server and its flavor, the flavor change (vertical scaling) and the jobs that
//! long ECS operations return (`/v1/{project_id}/jobs/{job_id}`), and server creation
//! with `X-Client-Token`, so that a create sent twice makes one server.

use super::client::{ApiError, Client, Service, decode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// ACTIVE, SHUTOFF, RESIZE, VERIFY_RESIZE, ERROR, ...
    #[serde(default)]
    pub status: String,
    pub flavor: ServerFlavor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFlavor {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The API gives both as strings.
    #[serde(default)]
    pub vcpus: String,
    #[serde(default)]
    pub ram: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub vcpus: String,
    /// MiB.
    #[serde(default)]
    pub ram: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    #[serde(default)]
    pub job_id: String,
    #[serde(default)]
    pub job_type: String,
    /// SUCCESS, RUNNING, FAIL, INIT.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub begin_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub fail_reason: Option<String>,
}

impl Job {
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "SUCCESS" | "FAIL")
    }
}

/// How a resize request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Resize {
    /// Already that flavor: nothing was sent.
    Unchanged(Server),
    /// Accepted; the job to poll.
    Job(String),
    /// The answer was lost and the server shows the resize under way or done.
    Reconciled,
}

#[derive(Deserialize)]
struct OneServer {
    server: Server,
}

#[derive(Deserialize)]
struct Flavors {
    #[serde(default)]
    flavors: Vec<Flavor>,
}

#[derive(Deserialize)]
struct JobId {
    job_id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Created {
    pub job_id: String,
    #[serde(default, rename = "serverIds")]
    pub server_ids: Vec<String>,
}

impl Client {
    fn ecs_path(&self, version: &str, rest: &str) -> String {
        format!("/{version}/{}/{rest}", self.project_id())
    }

    pub async fn show_server(&self, id: &str) -> Result<Server, ApiError> {
        let s: OneServer = self
            .get(&self.ecs_path("v1", &format!("cloudservers/{id}")), &[])
            .await?;
        Ok(s.server)
    }

    /// One flavor, by id, from the flavors the project may use.
    pub async fn show_flavor(&self, id: &str) -> Result<Flavor, ApiError> {
        let q = vec![("flavor_id".to_string(), id.to_string())];
        let f: Flavors = self
            .get(&self.ecs_path("v1", "cloudservers/flavors"), &q)
            .await?;
        f.flavors
            .into_iter()
            .find(|f| f.id == id)
            .ok_or_else(|| ApiError::Decode {
                service: "ECS",
                what: format!("flavor {id}"),
                reason: "not among the project's flavors".into(),
            })
    }

    /// Changes the server's flavor. The API resizes a stopped server; a running one is
    /// stopped, resized and started again (`mode: withStopServer`): downtime, which the
    /// proposal states. A lost answer is reconciled by reading the server.
    pub async fn resize(&self, id: &str, flavor: &str) -> Result<Resize, ApiError> {
        let before = self.show_server(id).await?;
        if before.flavor.id == flavor || before.flavor.name == flavor {
            return Ok(Resize::Unchanged(before));
        }
        let mut resize = serde_json::json!({ "flavorRef": flavor });
        if before.status != "SHUTOFF" {
            resize["mode"] = "withStopServer".into();
        }
        let body = serde_json::json!({ "resize": resize });
        let path = self.ecs_path("v1", &format!("cloudservers/{id}/resize"));
        // Throttled or never connected: nothing was applied, so it may be sent again.
        let not_applied = |e: &ApiError| {
            matches!(e, ApiError::Connect { .. })
                || e.meaning() == Some(super::errors::Meaning::Throttled)
        };
        let sent = self
            .retry_until(
                &format!("resize {id}"),
                self.deadline(),
                not_applied,
                &mut || self.write_once("POST", &path, &body, &[]),
            )
            .await;
        match sent {
            Ok(r) => {
                let j: JobId = decode(Service::Ecs, "resize", &r.body)?;
                Ok(Resize::Job(j.job_id))
            }
            Err(e @ ApiError::Lost { .. }) => {
                // Applied or not? The server says; the resize is not sent twice.
                let now = self.show_server(id).await?;
                if now.flavor.id == flavor
                    || matches!(now.status.as_str(), "RESIZE" | "VERIFY_RESIZE")
                {
                    Ok(Resize::Reconciled)
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    pub async fn job(&self, job_id: &str) -> Result<Job, ApiError> {
        self.get(&self.ecs_path("v1", &format!("jobs/{job_id}")), &[])
            .await
    }

    /// Creates servers from an ECS create body. `client_token` makes the request
    /// idempotent: sent again after a lost answer, it returns the first job instead of
    /// making more servers, so this one may be retried.
    pub async fn create_servers(
        &self,
        body: &serde_json::Value,
        client_token: &str,
    ) -> Result<Created, ApiError> {
        let path = self.ecs_path("v1.1", "cloudservers");
        let extra = vec![("X-Client-Token".to_string(), client_token.to_string())];
        let r = self
            .retrying("create servers", || {
                self.write_once("POST", &path, body, &extra)
            })
            .await?;
        decode(Service::Ecs, "create servers", &r.body)
    }
}
