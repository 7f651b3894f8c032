//! Auto Scaling (AS v1): scaling groups, their instances and their scaling activities,
//! and the one write vigil makes, the group's expected ("desire") instance number.
//! Paths and fields follow the AS API reference (as_06_0104 and neighbours).

use super::client::{ApiError, Client, Service, decode};
use super::errors::Meaning;
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// Pages are read 100 at a time (the API's largest); more than this many pages is not
/// a group vigil should be scaling.
const PAGE: usize = 100;
const MAX_PAGES: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingGroup {
    pub scaling_group_id: String,
    #[serde(default)]
    pub scaling_group_name: String,
    /// INSERVICE, PAUSED, ERROR, DELETING, FREEZED.
    #[serde(default)]
    pub scaling_group_status: String,
    #[serde(default, deserialize_with = "number")]
    pub current_instance_number: u32,
    #[serde(default, deserialize_with = "number")]
    pub desire_instance_number: u32,
    #[serde(default, deserialize_with = "number")]
    pub min_instance_number: u32,
    #[serde(default, deserialize_with = "number")]
    pub max_instance_number: u32,
    /// Seconds.
    #[serde(default, deserialize_with = "number")]
    pub cool_down_time: u32,
    #[serde(default)]
    pub is_scaling: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupInstance {
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub instance_name: String,
    /// INSERVICE, PENDING, PENDING_WAIT, REMOVING, REMOVING_WAIT, STANDBY, ENTERING_STANDBY.
    #[serde(default)]
    pub life_cycle_state: String,
    /// INITAILIZING (sic), NORMAL, ERROR.
    #[serde(default)]
    pub health_status: String,
    #[serde(default)]
    pub protect_from_scaling_down: bool,
}

impl GroupInstance {
    pub fn in_service(&self) -> bool {
        self.life_cycle_state == "INSERVICE"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub id: String,
    /// SUCCESS, FAIL, DOING.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default, deserialize_with = "opt_number")]
    pub scaling_value: Option<u32>,
    #[serde(default, deserialize_with = "opt_number")]
    pub instance_value: Option<u32>,
    #[serde(default, deserialize_with = "opt_number")]
    pub desire_value: Option<u32>,
    #[serde(default)]
    pub instance_added_list: Option<String>,
    #[serde(default)]
    pub instance_removed_list: Option<String>,
    #[serde(default)]
    pub instance_deleted_list: Option<String>,
}

impl Activity {
    pub fn running(&self) -> bool {
        self.status == "DOING"
    }
}

/// Instance names in an activity's list ("name1(id1),name2(id2)" in the API).
pub fn listed(list: &Option<String>) -> Vec<String> {
    list.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// How a change of the expected number ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Desired {
    /// The group already wanted that many: nothing was sent.
    Unchanged(ScalingGroup),
    /// The change was accepted (the group as read before it).
    Requested(ScalingGroup),
    /// The answer was lost, and reading the group showed the change had been applied.
    Reconciled(ScalingGroup),
}

#[derive(Deserialize)]
struct Groups {
    #[serde(default)]
    total_number: Option<usize>,
    #[serde(default)]
    scaling_groups: Vec<ScalingGroup>,
}

#[derive(Deserialize)]
struct OneGroup {
    scaling_group: ScalingGroup,
}

#[derive(Deserialize)]
struct Instances {
    #[serde(default)]
    total_number: Option<usize>,
    #[serde(default)]
    scaling_group_instances: Vec<GroupInstance>,
}

#[derive(Deserialize)]
struct Activities {
    #[serde(default)]
    scaling_activity_log: Vec<Activity>,
}

fn page(start: usize) -> Vec<(String, String)> {
    vec![
        ("limit".into(), PAGE.to_string()),
        ("start_number".into(), start.to_string()),
    ]
}

impl Client {
    fn as_path(&self, rest: &str) -> String {
        format!("/autoscaling-api/v1/{}/{rest}", self.project_id())
    }

    /// Every scaling group, or those whose name is `name`.
    pub async fn list_groups(&self, name: Option<&str>) -> Result<Vec<ScalingGroup>, ApiError> {
        let path = self.as_path("scaling_group");
        let mut out = Vec::new();
        for n in 0..MAX_PAGES {
            let mut q = page(n * PAGE);
            if let Some(name) = name {
                q.push(("scaling_group_name".into(), name.into()));
            }
            let g: Groups = self.get(&path, &q).await?;
            let got = g.scaling_groups.len();
            out.extend(g.scaling_groups);
            if got < PAGE || g.total_number.is_some_and(|t| out.len() >= t) {
                break;
            }
        }
        Ok(out)
    }

    pub async fn show_group(&self, id: &str) -> Result<ScalingGroup, ApiError> {
        let g: OneGroup = self
            .get(&self.as_path(&format!("scaling_group/{id}")), &[])
            .await?;
        Ok(g.scaling_group)
    }

    /// The group's instances and their lifecycle states.
    pub async fn list_instances(&self, id: &str) -> Result<Vec<GroupInstance>, ApiError> {
        let path = self.as_path(&format!("scaling_group_instance/{id}/list"));
        let mut out = Vec::new();
        for n in 0..MAX_PAGES {
            let i: Instances = self.get(&path, &page(n * PAGE)).await?;
            let got = i.scaling_group_instances.len();
            out.extend(i.scaling_group_instances);
            if got < PAGE || i.total_number.is_some_and(|t| out.len() >= t) {
                break;
            }
        }
        Ok(out)
    }

    /// The latest scaling activities, newest first (the API's order).
    pub async fn activities(&self, id: &str, limit: usize) -> Result<Vec<Activity>, ApiError> {
        let path = self.as_path(&format!("scaling_activity_log/{id}"));
        let q = vec![
            ("limit".into(), limit.clamp(1, PAGE).to_string()),
            ("start_number".into(), "0".into()),
        ];
        let a: Activities = self.get(&path, &q).await?;
        Ok(a.scaling_activity_log)
    }

    /// Sets the group's expected number of instances to `n`, desired-state style: the
    /// group is read first (outside min/max is refused with the bounds; already `n`
    /// sends nothing). A lost answer or a 5xx is followed by reading the group, and the
    /// change is sent again only if the group shows it was not applied; throttling and
    /// a cooldown wait; a quota, permission or signature error stops at once.
    pub async fn set_desired(&self, id: &str, n: u32) -> Result<Desired, ApiError> {
        let before = self.show_group(id).await?;
        let bounds = |g: &ScalingGroup| ApiError::Bounds {
            group: if g.scaling_group_name.is_empty() {
                g.scaling_group_id.clone()
            } else {
                g.scaling_group_name.clone()
            },
            wanted: n,
            min: g.min_instance_number,
            max: g.max_instance_number,
        };
        if n < before.min_instance_number || n > before.max_instance_number {
            return Err(bounds(&before));
        }
        if before.desire_instance_number == n {
            return Ok(Desired::Unchanged(before));
        }
        let path = self.as_path(&format!("scaling_group/{id}"));
        let body = serde_json::json!({ "desire_instance_number": n });
        // A cooldown is waited out: up to the group's own cooldown, if that is longer.
        let deadline = self
            .deadline()
            .max(Duration::from_secs(u64::from(before.cool_down_time) + 30));
        let what = format!("set the expected instances of {id} to {n}");
        // Set when an attempt ended without knowing whether the change was applied:
        // the next one reads the group before it may send the change again.
        let uncertain = AtomicBool::new(false);
        let reconciled = |now: &ScalingGroup| now.desire_instance_number == n;
        let mut attempt = || async {
            if uncertain.load(Relaxed) {
                let now = self.show_group(id).await?;
                if reconciled(&now) {
                    return Ok(Desired::Reconciled(before.clone()));
                }
                uncertain.store(false, Relaxed);
            }
            match self.write_once("PUT", &path, &body, &[]).await {
                Ok(_) => Ok(Desired::Requested(before.clone())),
                Err(e)
                    if matches!(e, ApiError::Lost { .. })
                        || e.meaning() == Some(Meaning::ServerError) =>
                {
                    // Applied or not? The group says; it is never asked twice blindly.
                    uncertain.store(true, Relaxed);
                    let now = self.show_group(id).await?;
                    if reconciled(&now) {
                        tracing::info!("huawei: {e}; the group shows {n}: applied");
                        Ok(Desired::Reconciled(before.clone()))
                    } else {
                        uncertain.store(false, Relaxed);
                        Err(e)
                    }
                }
                Err(e) if e.meaning() == Some(Meaning::OutOfBounds) => {
                    Err(bounds(&self.show_group(id).await.unwrap_or(before.clone())))
                }
                Err(e) if e.meaning() == Some(Meaning::Unchanged) => {
                    Ok(Desired::Unchanged(before.clone()))
                }
                Err(e) => Err(e),
            }
        };
        let again = |e: &ApiError| match e {
            ApiError::Connect { .. } | ApiError::Lost { .. } => true,
            ApiError::Api(f) => matches!(
                f.meaning(),
                Meaning::Throttled | Meaning::ServerError | Meaning::Cooldown
            ),
            _ => false,
        };
        self.retry_until(&what, deadline, again, &mut attempt).await
    }
}

/// AS answers numbers as numbers, and a few fields as strings in some regions.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(opt_number(d)?.unwrap_or(0))
}

fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// For the CLI and tests: decode an AS body by hand.
pub fn decode_group(body: &[u8]) -> Result<ScalingGroup, ApiError> {
    decode::<OneGroup>(Service::As, "scaling group", body).map(|g| g.scaling_group)
}
