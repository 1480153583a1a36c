//! Answers to GetSqlInfo and GetXdbcTypeInfo, built with arrow-flight's builders.
//!
//! GetSqlInfo answers every key the Flight SQL JDBC driver and ADBC read: the server's
//! identity, that it is read-only and offers no transactions, PostgreSQL's identifier rules
//! (unquoted names fold to lower case, `"` quotes, quoted names keep their case), its keywords
//! and limits, and the SQL it accepts. GetXdbcTypeInfo lists every PostgreSQL type pgflight maps
//! (DESIGN.md "Types"), under PostgreSQL's names.

use std::collections::BTreeMap;

use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    Nullable, Searchable, SqlInfo, SqlNullOrdering, SqlOuterJoinsSupportLevel,
    SqlSupportedCaseSensitivity, SqlSupportsConvert, SqlTransactionIsolationLevel,
    SupportedSqlGrammar, XdbcDataType, XdbcDatetimeSubcode,
};

use crate::pg::server_facts::ServerFacts;

/// Functions PostgreSQL offers under the JDBC escape names (as PgJDBC reports them).
const NUMERIC_FUNCTIONS: &[&str] = &[
    "abs", "acos", "asin", "atan", "atan2", "ceiling", "cos", "cot", "degrees", "exp", "floor",
    "log", "log10", "mod", "pi", "power", "radians", "round", "sign", "sin", "sqrt", "tan",
    "truncate",
];
const STRING_FUNCTIONS: &[&str] = &[
    "ascii",
    "char",
    "concat",
    "lcase",
    "left",
    "length",
    "ltrim",
    "repeat",
    "rtrim",
    "space",
    "substring",
    "ucase",
    "replace",
    "locate",
    "right",
    "position",
    "trim",
    "lower",
    "upper",
];
const SYSTEM_FUNCTIONS: &[&str] = &["database", "ifnull", "user", "version", "current_schema"];
const DATETIME_FUNCTIONS: &[&str] = &[
    "curdate",
    "curtime",
    "dayname",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "hour",
    "minute",
    "month",
    "monthname",
    "now",
    "quarter",
    "second",
    "week",
    "year",
    "timestampadd",
    "timestampdiff",
];

/// A bitmask with the given bit positions set.
fn bits<T: Into<i32>>(positions: impl IntoIterator<Item = T>) -> i32 {
    positions
        .into_iter()
        .fold(0, |mask, p| mask | 1 << p.into())
}

/// Which types CAST converts between (SqlSupportsConvert): numbers among themselves and to
/// text, text to and from everything, dates and times among themselves and to text.
fn supported_conversions() -> BTreeMap<i32, Vec<i32>> {
    use SqlSupportsConvert as C;
    let numbers = [
        C::SqlConvertBigint,
        C::SqlConvertBit,
        C::SqlConvertDecimal,
        C::SqlConvertFloat,
        C::SqlConvertInteger,
        C::SqlConvertNumeric,
        C::SqlConvertReal,
        C::SqlConvertSmallint,
        C::SqlConvertTinyint,
    ];
    let texts = [
        C::SqlConvertChar,
        C::SqlConvertVarchar,
        C::SqlConvertLongvarchar,
    ];
    let binaries = [
        C::SqlConvertBinary,
        C::SqlConvertVarbinary,
        C::SqlConvertLongvarbinary,
    ];
    let times = [C::SqlConvertDate, C::SqlConvertTime, C::SqlConvertTimestamp];
    let intervals = [C::SqlConvertIntervalDayTime, C::SqlConvertIntervalYearMonth];
    let ids = |group: &[C]| group.iter().map(|c| *c as i32).collect::<Vec<i32>>();
    let everything: Vec<i32> = [&numbers[..], &texts, &binaries, &times, &intervals]
        .iter()
        .flat_map(|g| ids(g))
        .collect();
    let mut map = BTreeMap::new();
    for group in [&numbers[..], &binaries, &times, &intervals] {
        let mut to = ids(group);
        to.extend(ids(&texts));
        for from in group {
            map.insert(*from as i32, to.clone());
        }
    }
    for from in texts {
        map.insert(from as i32, everything.clone());
    }
    map
}

/// What GetSqlInfo answers. `facts` come from the PostgreSQL server (`None` while it cannot be
/// reached: the keys that need it are left out); `statement_timeout_ms` is pgflight's own.
pub fn sql_info(
    facts: Option<&ServerFacts>,
    statement_timeout_ms: i32,
) -> Result<SqlInfoData, FlightError> {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "pgflight");
    let version = match facts {
        Some(facts) => format!(
            "{} (PostgreSQL {})",
            env!("CARGO_PKG_VERSION"),
            facts.version
        ),
        None => env!("CARGO_PKG_VERSION").to_string(),
    };
    b.append(SqlInfo::FlightSqlServerVersion, version.as_str());
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(SqlInfo::FlightSqlServerTransaction, 0i32); // SqlSupportedTransaction::None
    b.append(SqlInfo::FlightSqlServerCancel, true); // CancelFlightInfo, CancelQuery
    b.append(SqlInfo::FlightSqlServerBulkIngestion, false);
    b.append(SqlInfo::FlightSqlServerIngestTransactionsSupported, false);
    b.append(
        SqlInfo::FlightSqlServerStatementTimeout,
        statement_timeout_ms,
    );
    b.append(SqlInfo::FlightSqlServerTransactionTimeout, 0i32);

    // Read-only: no DDL, no positioned updates, no SELECT FOR UPDATE, no transactions.
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    b.append(SqlInfo::SqlSupportedPositionedCommands, 0i32);
    b.append(SqlInfo::SqlSelectForUpdateSupported, false);
    b.append(SqlInfo::SqlStoredProceduresSupported, false);
    b.append(SqlInfo::SqlTransactionsSupported, false);
    let none = SqlTransactionIsolationLevel::SqlTransactionNone as i32;
    b.append(SqlInfo::SqlDefaultTransactionIsolation, none);
    b.append(
        SqlInfo::SqlSupportedTransactionsIsolationLevels,
        bits([none]),
    );
    b.append(SqlInfo::SqlDataDefinitionCausesTransactionCommit, false);
    b.append(SqlInfo::SqlDataDefinitionsInTransactionsIgnored, false);
    b.append(SqlInfo::SqlBatchUpdatesSupported, false);
    b.append(SqlInfo::SqlSavepointsSupported, false);
    b.append(SqlInfo::SqlNamedParametersSupported, false);
    b.append(SqlInfo::SqlLocatorsUpdateCopy, false);
    b.append(SqlInfo::SqlStoredFunctionsUsingCallSyntaxSupported, false);
    // Result sets: forward only (bit 1), read-only concurrency (bit 1).
    b.append(SqlInfo::SqlSupportedResultSetTypes, bits([1]));
    b.append(
        SqlInfo::SqlSupportedConcurrenciesForResultSetUnspecified,
        0i32,
    );
    b.append(
        SqlInfo::SqlSupportedConcurrenciesForResultSetForwardOnly,
        bits([1]),
    );
    b.append(
        SqlInfo::SqlSupportedConcurrenciesForResultSetScrollSensitive,
        0i32,
    );
    b.append(
        SqlInfo::SqlSupportedConcurrenciesForResultSetScrollInsensitive,
        0i32,
    );

    // Identifiers: unquoted names fold to lower case; quoted names keep their case (the JDBC
    // driver reads CASE_INSENSITIVE here as "supports mixed-case quoted identifiers").
    let lower = SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32;
    let mixed = SqlSupportedCaseSensitivity::SqlCaseSensitivityCaseInsensitive as i32;
    b.append(SqlInfo::SqlIdentifierCase, lower);
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(SqlInfo::SqlQuotedIdentifierCase, mixed);
    // Discovery lists only relations the role may SELECT.
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    b.append(
        SqlInfo::SqlNullOrdering,
        SqlNullOrdering::SqlNullsSortedHigh as i32,
    );
    b.append(SqlInfo::SqlNumericFunctions, NUMERIC_FUNCTIONS);
    b.append(SqlInfo::SqlStringFunctions, STRING_FUNCTIONS);
    b.append(SqlInfo::SqlSystemFunctions, SYSTEM_FUNCTIONS);
    b.append(SqlInfo::SqlDatetimeFunctions, DATETIME_FUNCTIONS);
    b.append(SqlInfo::SqlSearchStringEscape, "\\");
    b.append(SqlInfo::SqlExtraNameCharacters, "");

    // The SQL PostgreSQL accepts.
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlNullPlusNullIsNull, true);
    b.append(SqlInfo::SqlSupportsConvert, supported_conversions());
    b.append(SqlInfo::SqlSupportsTableCorrelationNames, true);
    b.append(SqlInfo::SqlSupportsDifferentTableCorrelationNames, false);
    b.append(SqlInfo::SqlSupportsExpressionsInOrderBy, true);
    b.append(SqlInfo::SqlSupportsOrderByUnrelated, true);
    b.append(SqlInfo::SqlSupportedGroupBy, bits([0, 1])); // unrelated, beyond select
    b.append(SqlInfo::SqlSupportsLikeEscapeClause, true);
    b.append(SqlInfo::SqlSupportsNonNullableColumns, true);
    b.append(
        SqlInfo::SqlSupportedGrammar,
        bits([
            SupportedSqlGrammar::SqlMinimumGrammar as i32,
            SupportedSqlGrammar::SqlCoreGrammar as i32,
        ]),
    );
    b.append(SqlInfo::SqlAnsi92SupportedLevel, bits([0])); // ANSI92 entry SQL
    b.append(SqlInfo::SqlSupportsIntegrityEnhancementFacility, true);
    b.append(
        SqlInfo::SqlOuterJoinsSupportLevel,
        SqlOuterJoinsSupportLevel::SqlFullOuterJoins as i32,
    );
    b.append(SqlInfo::SqlSchemaTerm, "schema");
    b.append(SqlInfo::SqlProcedureTerm, "function");
    b.append(SqlInfo::SqlCatalogTerm, "database");
    b.append(SqlInfo::SqlCatalogAtStart, true);
    // Schemas qualify procedure calls, index and privilege definitions; catalogs qualify none.
    b.append(SqlInfo::SqlSchemasSupportedActions, bits([0, 1, 2]));
    b.append(SqlInfo::SqlCatalogsSupportedActions, 0i32);
    // In comparisons, EXISTS, IN, quantified comparisons.
    b.append(SqlInfo::SqlSupportedSubqueries, bits([0, 1, 2, 3]));
    b.append(SqlInfo::SqlCorrelatedSubqueriesSupported, true);
    b.append(SqlInfo::SqlSupportedUnions, bits([0, 1])); // UNION, UNION ALL

    // Limits (0: none or unknown). Index keys: INDEX_MAX_KEYS; columns: MaxHeapAttributeNumber;
    // a field (and so a row) holds at most 1 GB.
    b.append(SqlInfo::SqlMaxBinaryLiteralLength, 0i64);
    b.append(SqlInfo::SqlMaxCharLiteralLength, 0i64);
    b.append(SqlInfo::SqlMaxColumnsInGroupBy, 0i64);
    b.append(SqlInfo::SqlMaxColumnsInIndex, 32i64);
    b.append(SqlInfo::SqlMaxColumnsInOrderBy, 0i64);
    b.append(SqlInfo::SqlMaxColumnsInSelect, 1664i64);
    b.append(SqlInfo::SqlMaxColumnsInTable, 1600i64);
    b.append(SqlInfo::SqlMaxIndexLength, 0i64);
    b.append(SqlInfo::SqlMaxRowSize, 1_073_741_824i64);
    b.append(SqlInfo::SqlMaxRowSizeIncludesBlobs, false);
    b.append(SqlInfo::SqlMaxStatementLength, 0i64);
    b.append(SqlInfo::SqlMaxStatements, 0i64);
    b.append(SqlInfo::SqlMaxTablesInSelect, 0i64);
    if let Some(facts) = facts {
        let keywords: Vec<String> = facts.keywords.clone();
        b.append(SqlInfo::SqlKeywords, keywords);
        let name = facts.max_identifier_length;
        for key in [
            SqlInfo::SqlMaxColumnNameLength,
            SqlInfo::SqlMaxCursorNameLength,
            SqlInfo::SqlDbSchemaNameLength,
            SqlInfo::SqlMaxProcedureNameLength,
            SqlInfo::SqlMaxCatalogNameLength,
            SqlInfo::SqlMaxTableNameLength,
            SqlInfo::SqlMaxUsernameLength,
        ] {
            b.append(key, name);
        }
        b.append(SqlInfo::SqlMaxConnections, facts.max_connections);
    }
    b.build()
}

/// One row of the type table.
struct TypeRow {
    name: &'static str,
    data_type: XdbcDataType,
    column_size: Option<i32>,
    quoted: bool,
    create_params: &'static [&'static str],
    case_sensitive: bool,
    searchable: Searchable,
    unsigned: Option<bool>,
    scale: Option<(i32, i32)>,
    subcode: Option<XdbcDatetimeSubcode>,
    radix: Option<i32>,
}

const fn row(name: &'static str, data_type: XdbcDataType) -> TypeRow {
    TypeRow {
        name,
        data_type,
        column_size: None,
        quoted: true,
        create_params: &[],
        case_sensitive: false,
        searchable: Searchable::Basic,
        unsigned: None,
        scale: None,
        subcode: None,
        radix: None,
    }
}

const fn number(name: &'static str, data_type: XdbcDataType, digits: i32, radix: i32) -> TypeRow {
    TypeRow {
        column_size: Some(digits),
        quoted: false,
        unsigned: Some(false),
        scale: Some((0, 0)),
        radix: Some(radix),
        ..row(name, data_type)
    }
}

const fn text(
    name: &'static str,
    data_type: XdbcDataType,
    create: &'static [&'static str],
) -> TypeRow {
    TypeRow {
        column_size: Some(1_073_741_823),
        create_params: create,
        case_sensitive: true,
        searchable: Searchable::Full,
        ..row(name, data_type)
    }
}

const fn datetime(
    name: &'static str,
    data_type: XdbcDataType,
    size: i32,
    subcode: XdbcDatetimeSubcode,
    scale: Option<(i32, i32)>,
) -> TypeRow {
    TypeRow {
        column_size: Some(size),
        scale,
        subcode: Some(subcode),
        ..row(name, data_type)
    }
}

/// Every PostgreSQL type pgflight maps (DESIGN.md "Types"), under PostgreSQL's names.
/// Enums, domains and arrays take their base or element type's row.
fn type_rows() -> Vec<TypeRow> {
    use XdbcDataType as X;
    use XdbcDatetimeSubcode as S;
    vec![
        TypeRow {
            column_size: Some(1),
            quoted: false,
            ..row("boolean", X::XdbcBit)
        },
        number("smallint", X::XdbcSmallint, 5, 10),
        number("integer", X::XdbcInteger, 10, 10),
        number("bigint", X::XdbcBigint, 19, 10),
        TypeRow {
            scale: None,
            ..number("oid", X::XdbcBigint, 10, 10)
        },
        TypeRow {
            scale: None,
            ..number("real", X::XdbcReal, 24, 2)
        },
        TypeRow {
            scale: None,
            ..number("double precision", X::XdbcDouble, 53, 2)
        },
        TypeRow {
            create_params: &["precision", "scale"],
            scale: Some((0, 1000)),
            ..number("numeric", X::XdbcNumeric, 1000, 10)
        },
        text("text", X::XdbcVarchar, &[]),
        text("character varying", X::XdbcVarchar, &["length"]),
        text("character", X::XdbcChar, &["length"]),
        TypeRow {
            column_size: Some(63),
            ..text("name", X::XdbcVarchar, &[])
        },
        text("json", X::XdbcLongvarchar, &[]),
        text("jsonb", X::XdbcLongvarchar, &[]),
        TypeRow {
            column_size: Some(36),
            case_sensitive: false,
            ..text("uuid", X::XdbcChar, &[])
        },
        text("inet", X::XdbcVarchar, &[]),
        text("cidr", X::XdbcVarchar, &[]),
        text("macaddr", X::XdbcVarchar, &[]),
        text("money", X::XdbcVarchar, &[]),
        text("bit varying", X::XdbcVarchar, &["length"]),
        text("xml", X::XdbcLongvarchar, &[]),
        TypeRow {
            column_size: Some(1_073_741_823),
            ..row("bytea", X::XdbcVarbinary)
        },
        datetime("date", X::XdbcDate, 10, S::XdbcSubcodeYear, None),
        datetime(
            "time without time zone",
            X::XdbcTime,
            15,
            S::XdbcSubcodeTime,
            Some((0, 6)),
        ),
        datetime(
            "time with time zone",
            X::XdbcTime,
            21,
            S::XdbcSubcodeTimeWithTimezone,
            Some((0, 6)),
        ),
        datetime(
            "timestamp without time zone",
            X::XdbcTimestamp,
            26,
            S::XdbcSubcodeTimestamp,
            Some((0, 6)),
        ),
        datetime(
            "timestamp with time zone",
            X::XdbcTimestamp,
            32,
            S::XdbcSubcodeTimestampWithTimezone,
            Some((0, 6)),
        ),
        TypeRow {
            scale: Some((0, 6)),
            create_params: &["fields", "precision"],
            ..row("interval", X::XdbcInterval)
        },
    ]
}

/// What GetXdbcTypeInfo answers.
pub fn xdbc_type_info() -> Result<XdbcTypeInfoData, FlightError> {
    let mut builder = XdbcTypeInfoDataBuilder::new();
    for t in type_rows() {
        let sql_data_type = match t.data_type {
            // ODBC's "concise" datetime codes map to the verbose DATETIME/INTERVAL + subcode.
            XdbcDataType::XdbcDate | XdbcDataType::XdbcTime | XdbcDataType::XdbcTimestamp => {
                XdbcDataType::XdbcDatetime
            }
            other => other,
        };
        builder.append(XdbcTypeInfo {
            type_name: t.name.to_string(),
            data_type: t.data_type,
            column_size: t.column_size,
            literal_prefix: t.quoted.then(|| "'".to_string()),
            literal_suffix: t.quoted.then(|| "'".to_string()),
            create_params: (!t.create_params.is_empty())
                .then(|| t.create_params.iter().map(|p| p.to_string()).collect()),
            nullable: Nullable::NullabilityNullable,
            case_sensitive: t.case_sensitive,
            searchable: t.searchable,
            unsigned_attribute: t.unsigned,
            fixed_prec_scale: false,
            auto_increment: Some(false),
            local_type_name: Some(t.name.to_string()),
            minimum_scale: t.scale.map(|s| s.0),
            maximum_scale: t.scale.map(|s| s.1),
            sql_data_type,
            datetime_subcode: t.subcode,
            num_prec_radix: t.radix,
            interval_precision: None,
        });
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ServerFacts {
        ServerFacts {
            version: "15.1".into(),
            keywords: vec!["SELECT".into(), "WITH".into()],
            max_identifier_length: 63,
            max_connections: 100,
        }
    }

    #[test]
    fn sql_info_answers_every_key_pgflight_knows() {
        let data = sql_info(Some(&facts()), 300_000).unwrap();
        let batch = data.record_batch(Vec::<u32>::new()).unwrap();
        // Every id the builder answers is a distinct key; JDBC's must-haves are among them.
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::UInt32Array>()
            .unwrap();
        let ids: Vec<u32> = ids.values().to_vec();
        for key in [
            0u32, 1, 2, 3, 4, 8, 503, 504, 505, 508, 513, 525, 526, 562, 563,
        ] {
            assert!(ids.contains(&key), "SqlInfo {key} missing");
        }
        assert!(ids.len() > 80, "{} keys", ids.len());
    }

    #[test]
    fn bitmasks_set_the_named_bits() {
        assert_eq!(bits([0, 1]), 3);
        assert_eq!(bits([0, 1, 2, 3]), 15);
        assert_eq!(bits(Vec::<i32>::new()), 0);
    }

    #[test]
    fn type_info_lists_every_mapped_type() {
        let data = xdbc_type_info().unwrap();
        let batch = data.record_batch(None).unwrap();
        assert_eq!(batch.num_rows(), type_rows().len());
        let integers = data
            .record_batch(Some(XdbcDataType::XdbcInteger as i32))
            .unwrap();
        assert_eq!(integers.num_rows(), 1);
    }
}
