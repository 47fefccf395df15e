//! Undoing a fix: after a failed verification (automatically, then a retry) and by hand
//! (`POST /api/fixes/{id}/restore`), where the current state is backed up first as a `restore` record
//! that can itself be restored. The bytes come from `backup.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use super::run::{Outcome, end, trigger_of};
use super::verify::restart_target;
use super::{Inner, backup, new_record};
use crate::failure::Failure;
use crate::store::now_rfc3339;
use crate::wire::{FixKind, FixMode, FixStatus, FixView, IncidentKind, Origin};

/// Restores the fix's backup, restarts the target on the restored files (`restart`), ends the fix
/// `restored` (or `failed` when even the restore failed) and asks for a retry.
pub(super) async fn restore_after_failure(
    inner: &Arc<Inner>,
    fix: &mut FixView,
    why: String,
    restart: bool,
) -> Outcome {
    let Some(dir) = fix.backup.clone().map(PathBuf::from) else {
        end(inner, fix, FixStatus::Failed, why).await;
        return Outcome::Done;
    };
    let restored = tokio::task::spawn_blocking(move || {
        let m = backup::load(&dir)?;
        backup::restore(&dir, &m)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(e) = restored {
        end(
            inner,
            fix,
            FixStatus::Failed,
            format!("{why}; restoring the backup FAILED: {e}"),
        )
        .await;
        return Outcome::Done;
    }
    if restart {
        let _ = restart_target(inner, fix).await;
    }
    end(
        inner,
        fix,
        FixStatus::Restored,
        format!("{why}; the files were restored from the backup"),
    )
    .await;
    Outcome::Retry
}

/// `POST /api/fixes/{id}/restore`: the current state of every path the fix's backup records is
/// backed up as a new `restore` record first (so the restore can be undone), then the backup is
/// restored and the target restarted.
pub(super) async fn restore_by_hand(
    inner: Arc<Inner>,
    mut fix: FixView,
    origin: Origin,
) -> Result<FixView, Failure> {
    let dir = PathBuf::from(fix.backup.clone().unwrap_or_default());
    let manifest = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || backup::load(&dir))
            .await
            .map_err(|e| Failure::Conflict(e.to_string()))?
            .map_err(Failure::Conflict)?
    };
    let now = now_rfc3339();
    let mut record = FixView {
        kind: FixKind::Restore,
        status: FixStatus::Applying,
        trigger: IncidentKind::Manual,
        origin,
        mode: FixMode::Auto,
        created_at: now.clone(),
        updated_at: now,
        job_id: None,
        attempt: 1,
        restores: Some(fix.id.clone()),
        reason: Some(format!("restoring fix {}", fix.id)),
        ..new_record(&trigger_of(&fix), FixStatus::Applying, 1)
    };
    record.incident = None;
    record.id = inner.store.insert_fix(&record).await?;
    let undo_dir = backup::dir_of(&inner.backups, &fix.name, &record.id);
    let (rid, name) = (record.id.clone(), fix.name.clone());
    let files: Vec<String> = manifest.files.iter().map(|f| f.path.clone()).collect();
    let dirs: Vec<String> = manifest.dirs.iter().map(|d| d.path.clone()).collect();
    let root = manifest.root.clone();
    let undo = undo_dir.clone();
    let result = tokio::task::spawn_blocking(move || {
        backup::snapshot(&undo, &rid, &name, &root, &files, &dirs)?;
        backup::restore(&dir, &manifest)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(e) = result {
        end(
            &inner,
            &mut record,
            FixStatus::Failed,
            format!("restore failed: {e}"),
        )
        .await;
        return Ok(record);
    }
    record.backup = Some(undo_dir.to_string_lossy().into_owned());
    record.apply_result = Some(format!("fix {}'s files restored from its backup", fix.id));
    fix.restored_by = Some(record.id.clone());
    fix.status = FixStatus::Restored;
    fix.reason = Some(format!("restored by {} ({origin})", record.id));
    inner.save(&mut fix).await;
    inner.event(&fix);
    let restarted = restart_target(&inner, &record).await;
    record.verify_result = Some(match restarted {
        Ok(_) => "restarted".into(),
        Err(e) => format!("restart failed: {e}"),
    });
    end(
        &inner,
        &mut record,
        FixStatus::Verified,
        format!("fix {} restored", fix.id),
    )
    .await;
    Ok(record)
}
