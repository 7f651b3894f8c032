//! Container counts from the Docker engine, when this host has one.

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use std::path::Path;

/// Running containers, or None when there is no engine socket to ask. An engine that
/// does not answer in time is an error the caller shows, not a zero.
pub async fn running_containers(socket: &Path) -> Result<Option<u32>, bollard::errors::Error> {
    if !socket.exists() {
        return Ok(None);
    }
    let docker =
        Docker::connect_with_unix(&socket.to_string_lossy(), 2, bollard::API_DEFAULT_VERSION)?;
    let list = docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(false).build()))
        .await?;
    Ok(Some(list.len() as u32))
}
