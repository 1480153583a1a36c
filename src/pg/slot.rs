//! Logical replication slots and their publications, as change data capture uses them: what the
//! server must offer (PostgreSQL 14+, `wal_level = logical`, a role with REPLICATION), creating
//! and dropping a slot with its publication (one per slot, named like it, for one relation),
//! confirming a cursor (`pg_replication_slot_advance`), the upper bound of a read, and each
//! slot's lag for the metrics.
//!
//! The publication is made before the slot: pgoutput looks publications up as of each change's
//! position in the WAL, so a slot older than its publication cannot decode its first changes.

use crate::pg::pgoutput::{format_lsn, parse_lsn};
use crate::pg::sql::{qualified_name, quote_ident};
use crate::pg::{PgError, PgPool};

/// The first release whose pgoutput sends binary values.
const MIN_VERSION: i32 = 140_000;

/// A slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// Everything before this LSN is confirmed (never decoded again).
    pub confirmed: u64,
}

/// One slot's lag, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotLag {
    /// The slot's name.
    pub slot: String,
    /// WAL bytes between the confirmed position and the current one (retained for the slot).
    pub lag_bytes: i64,
    /// Transactions since the slot's `catalog_xmin` (catalog rows vacuum must keep).
    pub xmin_age: i64,
}

/// Checks that a slot name is one PostgreSQL accepts (lower-case letters, digits, `_`; at most
/// 63 bytes), so it can be named in messages and as a publication without surprises.
pub fn check_slot_name(slot: &str) -> Result<(), BadSlotName> {
    let valid = !slot.is_empty()
        && slot.len() <= 63
        && slot
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(BadSlotName(slot.to_string()))
    }
}

/// A slot name PostgreSQL would not accept (or that would surprise as a publication's name).
#[derive(Debug, thiserror::Error)]
#[error("slot name {0:?} is not valid: use 1 to 63 lower-case letters, digits and underscores")]
pub struct BadSlotName(pub String);

/// Checks the server and role can capture changes; the error says what is missing and how to
/// fix it.
pub async fn check_requirements(pool: &PgPool) -> Result<(), PgError> {
    let client = pool.get().await?;
    let row = pool
        .observe(
            "changes",
            client.query_one(
                "SELECT current_setting('server_version_num')::int, \
                        current_setting('server_version'), current_setting('wal_level'), \
                        r.rolreplication OR r.rolsuper, current_user::text \
                   FROM pg_roles r WHERE r.rolname = current_user",
                &[],
            ),
        )
        .await?;
    let version_num: i32 = row.get(0);
    let version: String = row.get(1);
    let wal_level: String = row.get(2);
    let replication: bool = row.get(3);
    let role: String = row.get(4);
    if version_num < MIN_VERSION {
        return Err(PgError::ChangesUnavailable(format!(
            "changes need PostgreSQL 14 or later (pgoutput sends binary values from 14 on); \
             this server is PostgreSQL {version}: use incremental extraction there"
        )));
    }
    if wal_level != "logical" {
        return Err(PgError::ChangesUnavailable(format!(
            "changes need wal_level = logical, and this server has wal_level = {wal_level}: \
             as an administrator, ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"
        )));
    }
    if !replication {
        return Err(PgError::ChangesUnavailable(format!(
            "changes need a role with the REPLICATION attribute, and {role:?} has not: as an \
             administrator, ALTER ROLE {} REPLICATION;",
            quote_ident(&role)
        )));
    }
    Ok(())
}

/// The logical slot `slot` of this database, if there is one.
pub async fn slot_state(pool: &PgPool, slot: &str) -> Result<Option<SlotState>, PgError> {
    let client = pool.get().await?;
    let row = pool
        .observe(
            "changes",
            client.query_opt(
                "SELECT plugin::text, database = current_database(), confirmed_flush_lsn::text \
                   FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            ),
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let plugin: Option<String> = row.get(0);
    let here: Option<bool> = row.get(1);
    if plugin.as_deref() != Some("pgoutput") || here != Some(true) {
        return Err(PgError::ChangesUnavailable(format!(
            "replication slot {slot:?} exists but is not a pgoutput slot of this database; \
             choose another slot name"
        )));
    }
    let confirmed: Option<String> = row.get(2);
    let confirmed = confirmed.as_deref().and_then(parse_lsn).unwrap_or(0);
    Ok(Some(SlotState { confirmed }))
}

/// Whether the publication `publication` exists, and whether it publishes exactly
/// `schema.table` (that table and no other: the shape of a change slot's publication).
async fn publication(
    pool: &PgPool,
    publication: &str,
    schema: &str,
    table: &str,
) -> Result<(bool, bool), PgError> {
    let client = pool.get().await?;
    let row = pool
        .observe(
            "changes",
            client.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1), \
                        EXISTS (SELECT 1 FROM pg_publication_tables \
                                 WHERE pubname = $1 AND schemaname = $2 AND tablename = $3) \
                        AND (SELECT count(*) FROM pg_publication_tables WHERE pubname = $1) = 1",
                &[&publication, &schema, &table],
            ),
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Checks that the slot's publication publishes exactly `schema.table`: pgflight reads, confirms
/// and drops only slots of that shape, never another consumer's (a subscription's slot is named
/// after the subscription, its publications otherwise).
pub async fn check_publication(
    pool: &PgPool,
    slot: &str,
    schema: &str,
    table: &str,
) -> Result<(), PgError> {
    match publication(pool, slot, schema, table).await? {
        (true, true) => Ok(()),
        (true, false) => Err(PgError::ChangesUnavailable(format!(
            "publication {slot:?} does not publish exactly {} (a change slot's publication is \
             for its one table): the slot {slot:?} serves something else; use another slot name",
            qualified_name(schema, table)
        ))),
        (false, _) => Err(PgError::ChangesUnavailable(format!(
            "publication {slot:?} (the slot's) does not exist: as an administrator, \
             CREATE PUBLICATION {} FOR TABLE {};",
            quote_ident(slot),
            qualified_name(schema, table)
        ))),
    }
}

/// Creates what is missing of the slot `slot` and its publication for `schema.table`
/// (publication first); answers the slot's confirmed position.
pub async fn create(pool: &PgPool, slot: &str, schema: &str, table: &str) -> Result<u64, PgError> {
    let relation = qualified_name(schema, table);
    if !publication(pool, slot, schema, table).await?.0 {
        if slot_state(pool, slot).await?.is_some() {
            return Err(PgError::ChangesUnavailable(format!(
                "replication slot {slot:?} exists without a publication {slot:?}: it is not a \
                 change slot (another consumer's?); use another slot name"
            )));
        }
        check_replica_identity(pool, schema, table).await?;
        let client = pool.get().await?;
        let sql = format!(
            "BEGIN READ WRITE; CREATE PUBLICATION {} FOR TABLE {relation}; COMMIT",
            quote_ident(slot)
        );
        if let Err(err) = pool.observe("changes", client.batch_execute(&sql)).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(match err {
                PgError::Sql(db) if db.code().code() == "42501" => {
                    PgError::ChangesUnavailable(format!(
                        "cannot create publication {slot:?}: {}; creating it needs ownership of \
                         {relation} and CREATE on the database. As an administrator, CREATE \
                         PUBLICATION {} FOR TABLE {relation}; then ask again",
                        db.message(),
                        quote_ident(slot)
                    ))
                }
                other => other,
            });
        }
    }
    check_publication(pool, slot, schema, table).await?;
    if let Some(state) = slot_state(pool, slot).await? {
        return Ok(state.confirmed);
    }
    let client = pool.get().await?;
    let row = pool
        .observe(
            "changes",
            client.query_one(
                "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')",
                &[&slot],
            ),
        )
        .await?;
    let lsn: String = row.get(0);
    tracing::info!(%slot, table = %relation, %lsn, "created replication slot and publication");
    Ok(parse_lsn(&lsn).unwrap_or(0))
}

/// Refuses a table without a replica identity: once published, PostgreSQL refuses every UPDATE
/// and DELETE on it ("does not have a replica identity and publishes updates").
async fn check_replica_identity(pool: &PgPool, schema: &str, table: &str) -> Result<(), PgError> {
    let client = pool.get().await?;
    let row = pool
        .observe(
            "changes",
            client.query_one(
                "SELECT c.relreplident = 'f' OR (c.relreplident = 'i' AND EXISTS ( \
                            SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)) \
                        OR (c.relreplident = 'd' AND EXISTS ( \
                            SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)) \
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE n.nspname = $1 AND c.relname = $2",
                &[&schema, &table],
            ),
        )
        .await?;
    if row.get::<_, bool>(0) {
        return Ok(());
    }
    let relation = qualified_name(schema, table);
    Err(PgError::ChangesUnavailable(format!(
        "{relation} has no replica identity (no primary key): published, PostgreSQL would refuse \
         every UPDATE and DELETE on it. Add a primary key, or ALTER TABLE {relation} REPLICA \
         IDENTITY FULL, then ask again"
    )))
}

/// Confirms everything before `lsn`: the slot never decodes it again.
pub async fn advance(pool: &PgPool, slot: &str, lsn: u64) -> Result<(), PgError> {
    let client = pool.get().await?;
    pool.observe(
        "changes",
        client.query_one(
            "SELECT end_lsn::text FROM pg_replication_slot_advance($1, $2::text::pg_lsn)",
            &[&slot, &format_lsn(lsn)],
        ),
    )
    .await?;
    Ok(())
}

/// The WAL position flushed so far: the upper bound of a read (every transaction whose commit
/// record starts before it is decoded; nothing after it).
pub async fn flush_lsn(pool: &PgPool) -> Result<u64, PgError> {
    let client = pool.get().await?;
    let row = pool
        .observe(
            "changes",
            client.query_one("SELECT pg_current_wal_flush_lsn()::text", &[]),
        )
        .await?;
    let lsn: String = row.get(0);
    parse_lsn(&lsn).ok_or_else(|| PgError::ChangeStream(format!("unreadable LSN {lsn:?}")))
}

/// What [`drop`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The slot existed and was dropped.
    pub slot: bool,
    /// The publication existed, belonged to this role and was dropped.
    pub publication: bool,
    /// The publication exists and belongs to this other role (an administrator's): kept.
    pub kept_for: Option<String>,
}

/// Drops the slot `slot`, and its publication when this role owns it (one an administrator
/// made is theirs to drop).
pub async fn drop(pool: &PgPool, slot: &str) -> Result<Dropped, PgError> {
    let client = pool.get().await?;
    let shaped: Option<bool> = pool
        .observe(
            "changes",
            client.query_opt(
                "SELECT NOT p.puballtables AND (SELECT count(*) FROM pg_publication_tables t \
                                                 WHERE t.pubname = p.pubname) = 1 \
                   FROM pg_publication p WHERE p.pubname = $1",
                &[&slot],
            ),
        )
        .await?
        .map(|row| row.get(0));
    let dropped_slot = match slot_state(pool, slot).await? {
        Some(_) if shaped != Some(true) => {
            return Err(PgError::ChangesUnavailable(format!(
                "slot {slot:?} is not a change slot (it has no publication {slot:?} for exactly \
                 one table): pgflight drops only its own; drop it in PostgreSQL if it is yours"
            )));
        }
        Some(_) => {
            pool.observe(
                "changes",
                client.execute("SELECT pg_drop_replication_slot($1)", &[&slot]),
            )
            .await?;
            true
        }
        None => false,
    };
    let owner: Option<String> = pool
        .observe(
            "changes",
            client.query_opt(
                "SELECT pg_get_userbyid(pubowner)::text FROM pg_publication WHERE pubname = $1",
                &[&slot],
            ),
        )
        .await?
        .map(|row| row.get(0));
    let me: String = pool
        .observe(
            "changes",
            client.query_one("SELECT current_user::text", &[]),
        )
        .await?
        .get(0);
    let mut dropped = Dropped {
        slot: dropped_slot,
        publication: false,
        kept_for: None,
    };
    match owner {
        Some(owner) if owner == me => {
            let sql = format!(
                "BEGIN READ WRITE; DROP PUBLICATION {}; COMMIT",
                quote_ident(slot)
            );
            if let Err(err) = pool.observe("changes", client.batch_execute(&sql)).await {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(err);
            }
            dropped.publication = true;
        }
        Some(owner) => dropped.kept_for = Some(owner),
        None => {}
    }
    tracing::info!(%slot, ?dropped, "dropped replication slot");
    Ok(dropped)
}

/// Every pgoutput slot of this database with its lag.
pub async fn lags(pool: &PgPool) -> Result<Vec<SlotLag>, PgError> {
    let client = pool.get().await?;
    let rows = pool
        .observe(
            "changes",
            client.query(
                "SELECT slot_name::text, \
                        COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint, \
                        COALESCE(age(catalog_xmin), 0)::bigint \
                   FROM pg_replication_slots \
                  WHERE plugin = 'pgoutput' AND database = current_database() \
                  ORDER BY slot_name",
                &[],
            ),
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| SlotLag {
            slot: row.get(0),
            lag_bytes: row.get(1),
            xmin_age: row.get(2),
        })
        .collect())
}
