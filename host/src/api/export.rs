//! `GET /api/export/{target}`: an adapter over `ops::Ops::export` (`ops/export.rs`). The query's
//! lists take repeated parameters (`service=web&service=worker`), hence `ListQuery`.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::extract::{Id, ListQuery};
use crate::ops::Error;
use crate::wire::{ErrorBody, ExportParams, ExportResult};

#[utoipa::path(
    get,
    path = "/export/{target}",
    params(
        ("target" = String, Path, description = "`k8s`, `nomad`, or another loaded `deploy-export` plugin's name"),
        ExportParams,
    ),
    responses(
        (status = 200, description = "The documents the target's plugin rendered, and every field it could not carry over", body = ExportResult),
        (status = 404, description = "No such target, service or cron job (`field`: `target`, `service`, `cron`)", body = ErrorBody),
        (status = 422, description = "A bad option, or the plugin cannot export these definitions (its sentence, e.g. a missing image: `field` `image`)", body = ErrorBody),
        (status = 502, description = "The plugin is missing, failed (trap, timeout) or answered a document path outside the output directory", body = ErrorBody),
    ),
)]
pub async fn export(
    State(app): State<AppState>,
    Id(target): Id,
    ListQuery(params): ListQuery<ExportParams>,
) -> Result<Json<ExportResult>, Error> {
    Ok(Json(app.ops.export(&target, &params).await?))
}
