//! Change requests (`{"changes": {entity, slot, cursor, create}}`) → the read of a logical
//! slot's changes up to a bound, and the next cursor.
//!
//! The contract, per stored cursor: planning first confirms the presented cursor on the slot
//! (`pg_replication_slot_advance`: everything before it is never decoded again), then fixes the
//! bound, PostgreSQL's flushed WAL position, in the ticket. The read delivers every transaction
//! whose commit record starts before the bound and after the cursor, whole and in commit order,
//! and consumes nothing; the bound is the next cursor. A client that loses the new cursor sends
//! the old one and gets the same changes again (and more committed since); a client that stores
//! each cursor after it has applied the rows gets every committed change exactly once.

use crate::pg::PgPool;
use crate::pg::catalog::{Relation, RelationKind};
use crate::pg::change_rows::undecodable_column;
use crate::pg::pgoutput::{format_lsn, parse_lsn};
use crate::pg::read::{ChangesRead, ReadColumn};
use crate::pg::slot;
use crate::pg::types::TypeOptions;
use crate::plan::PlanError;
use crate::plan::scan_plan::resolve;

/// What a changes request asks for.
#[derive(Debug, Clone, Copy)]
pub struct ChangesRequest<'a> {
    /// The table, as the client named it.
    pub entity: &'a str,
    /// The slot.
    pub slot: &'a str,
    /// The previous run's cursor.
    pub cursor: Option<&'a str>,
    /// Create the publication and slot when missing.
    pub create: bool,
    /// Create and confirm (GetFlightInfo); false only describes, changing nothing (EXPLAIN).
    pub apply: bool,
}

/// A planned changes read.
#[derive(Debug, Clone)]
pub struct ChangesPlan {
    /// The table read.
    pub relation: Relation,
    /// What the endpoint reads.
    pub read: ChangesRead,
    /// The next cursor as JSON `{"entity","slot","cursor"}`.
    pub cursor_metadata: String,
}

/// Plans a changes request: checks what PostgreSQL must offer, creates the slot when asked,
/// confirms the presented cursor, fixes the bound.
pub async fn plan_changes(
    pool: &PgPool,
    request: ChangesRequest<'_>,
    default_schema: &str,
    options: &TypeOptions,
) -> Result<ChangesPlan, PlanError> {
    let ChangesRequest {
        entity,
        slot: slot_name,
        cursor,
        create,
        apply,
    } = request;
    slot::check_slot_name(slot_name).map_err(|e| PlanError::InvalidRequest(e.to_string()))?;
    let cursor = match cursor {
        None => None,
        Some(text) => Some(parse_lsn(text).ok_or_else(|| {
            PlanError::InvalidRequest(format!(
                "cursor {text:?} is not a changes cursor (an LSN such as \"16/B374D848\", as the \
                 previous run answered it)"
            ))
        })?),
    };
    let relation = resolve(pool, entity, default_schema).await?;
    if relation.kind != RelationKind::Table {
        return Err(PlanError::InvalidRequest(format!(
            "changes need an ordinary table; {}.{} is a {}",
            relation.schema,
            relation.name,
            relation.kind.table_type().to_lowercase()
        )));
    }
    let columns: Vec<ReadColumn> = relation.columns.iter().map(ReadColumn::of).collect();
    if let Some(column) = undecodable_column(&relation.schema, &relation.name, &columns, options) {
        return Err(PlanError::Unsupported(format!(
            "changes cannot decode column {:?} ({}) yet: PostgreSQL casts it to text for \
             extraction, which logical decoding cannot do; read this table with incremental \
             extraction",
            column.name, column.type_name
        )));
    }
    slot::check_requirements(pool).await?;
    let confirmed = if create && apply {
        slot::create(pool, slot_name, &relation.schema, &relation.name).await?
    } else {
        match slot::slot_state(pool, slot_name).await? {
            Some(state) => {
                slot::check_publication(pool, slot_name, &relation.schema, &relation.name).await?;
                state.confirmed
            }
            // EXPLAIN of a first request: the slot would be created.
            None if create => 0,
            None => {
                return Err(crate::pg::PgError::ChangesUnavailable(format!(
                    "replication slot {slot_name:?} does not exist: send \"create\": true to \
                     create it and its publication"
                ))
                .into());
            }
        }
    };
    if let Some(cursor) = cursor {
        if cursor < confirmed {
            return Err(crate::pg::PgError::ChangesUnavailable(format!(
                "cursor {} is behind slot {slot_name:?}, which has confirmed everything before \
                 {}: a later cursor was presented already, and the changes in between are gone. \
                 Present the newest cursor, or take a new initial copy",
                format_lsn(cursor),
                format_lsn(confirmed)
            ))
            .into());
        }
        if cursor > confirmed && apply {
            slot::advance(pool, slot_name, cursor).await?;
        }
    }
    let upto = slot::flush_lsn(pool).await?;
    let cursor_metadata = next_cursor(entity, slot_name, &format_lsn(upto));
    Ok(ChangesPlan {
        read: ChangesRead {
            slot: slot_name.to_string(),
            schema: relation.schema.clone(),
            table: relation.name.clone(),
            columns,
            upto,
        },
        relation,
        cursor_metadata,
    })
}

/// The next cursor's JSON: `{"entity":…, "slot":…, "cursor":…}`.
pub fn next_cursor(entity: &str, slot: &str, cursor: &str) -> String {
    serde_json::json!({"entity": entity, "slot": slot, "cursor": cursor}).to_string()
}

/// The DoAction that drops a slot and its publication.
pub const DROP_CHANGE_SLOT: &str = "DropChangeSlot";

/// `DropChangeSlot`'s body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DropRequest {
    slot: String,
}

/// Runs `DropChangeSlot` with its JSON body `{"slot": "…"}`; answers
/// `{"slot": "…", "dropped": true|false, "publication_dropped": true|false,
/// "publication_kept_for": "<owner>"|null}`: `dropped` says the slot existed; a publication an
/// administrator made stays (theirs to drop).
pub async fn drop_change_slot(pool: &PgPool, body: &[u8]) -> Result<String, PlanError> {
    let request: DropRequest = serde_json::from_slice(body).map_err(|e| {
        PlanError::InvalidRequest(format!(
            "{DROP_CHANGE_SLOT} takes a JSON body {{\"slot\": \"<slot>\"}}: {e}"
        ))
    })?;
    slot::check_slot_name(&request.slot).map_err(|e| PlanError::InvalidRequest(e.to_string()))?;
    slot::check_requirements(pool).await?;
    let dropped = slot::drop(pool, &request.slot).await?;
    Ok(serde_json::json!({
        "slot": request.slot,
        "dropped": dropped.slot,
        "publication_dropped": dropped.publication,
        "publication_kept_for": dropped.kept_for,
    })
    .to_string())
}
