-- Every SQL statement (SELECT, WITH, VALUES, TABLE, EXPLAIN) found in pgflight's test sources
-- (tests/it, tests/clients) and in its own PostgreSQL queries (src/pg), one a line; format
-- placeholders filled in. src/plan/guard/tests.rs measures how many the guard's parser reads.
-- tests/it/connect.rs
SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()
SELECT current_user::text
SELECT pg_sleep(2)
SELECT to_regclass('public.t') IS NOT NULL
SELECT current_setting('TimeZone'), current_setting('DateStyle'), '2024-01-02 03:04:05+00'::timestamptz::text, current_setting('application_name')
SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgflight'
SELECT pg_backend_pid()
SELECT pg_terminate_backend($1)
-- tests/it/discovery.rs
SELECT coalesce(sum(calls), 0)::int8 FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 AND s.query NOT ILIKE '%pg_stat_statements%'
SELECT pg_stat_statements_reset()
-- tests/it/extract.rs
SELECT count(*), sum(id)::int8 FROM app.users
VALUES (7);
SELECT 1
SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgflight' AND state = 'active' AND datname = current_database()
-- tests/it/fuzz.rs
SELECT $1::int AS a
SELECT id FROM t WHERE n + 1 > 2 ORDER BY id
-- tests/it/incremental.rs
SELECT id, ver FROM app.events WHERE updated_at > $1::text::timestamptz
SELECT count(*) FROM app.t
EXPLAIN SELECT 1
EXPLAIN SELECT * FROM pgflight_incremental('app.events', 'updated_at', '2024-01-02T03:30:00Z')
SELECT id, ver FROM app.events
SELECT * FROM pgflight_incremental('app.events', 'updated_at', NULL)
SELECT * FROM pgflight_incremental('app.events')
-- tests/it/partition.rs
SELECT count(*), coalesce(sum(id), 0)::int8 FROM t
SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgflight' AND state LIKE 'idle in transaction%' AND datname = current_database()
EXPLAIN SELECT * FROM t WHERE true
-- tests/it/security.rs
SELECT query FROM pg_stat_activity WHERE application_name = 'pgflight' AND datname = current_database()
SELECT id FROM t WHERE id = $1
-- tests/it/sql.rs
SELECT id FROM f WHERE true
SELECT 1 ORDER BY id
EXPLAIN SELECT id, t FROM f WHERE tz >= '2024-01-01T00:00:00+02:00' AND t LIKE 'a%' LIMIT 5
SELECT id, t FROM big WHERE v < 50
SELECT id FROM big WHERE v < 50 AND t LIKE '1%'
SELECT id, v FROM big
SELECT id FROM big
SELECT id FROM big WHERE v < 50
SELECT id FROM big WHERE v >= 10
SELECT id FROM big WHERE v < 50 ORDER BY id
SELECT id FROM big LIMIT 10
SELECT id FROM big WHERE v = 3 LIMIT 5 OFFSET 2
SELECT id FROM big ORDER BY v, id
SELECT id FROM big ORDER BY id DESC
SELECT id FROM big WHERE id::text LIKE '7%'
SELECT id FROM small
SELECT id FROM big WHERE v IN (1, 2)
SELECT id FROM f WHERE i4 = 10
SELECT id FROM f WHERE i4 <> 10
SELECT id FROM f WHERE i2 < 1
SELECT id FROM f WHERE i8 >= 100
SELECT id FROM f WHERE i8 > 5
SELECT id FROM f WHERE b
SELECT id FROM f WHERE NOT b
SELECT id FROM f WHERE b = false
SELECT id FROM f WHERE r > 1
SELECT id FROM f WHERE d < 3
SELECT id FROM f WHERE n = 1.50
SELECT id FROM f WHERE n > 1
SELECT id FROM f WHERE t = 'apple'
SELECT id FROM f WHERE t <> 'apple'
SELECT id FROM f WHERE v = 'it''s'
SELECT id FROM f WHERE t IS NULL
SELECT id FROM f WHERE t IS NOT NULL
SELECT id FROM f WHERE day = '2024-01-01'
SELECT id FROM f WHERE day > '2000-01-01'
SELECT id FROM f WHERE ts >= '2024-01-01 10:00:00'
SELECT id FROM f WHERE ts < '2000-01-01'
SELECT id FROM f WHERE tz > '2024-01-01 09:30:00+00'
SELECT id FROM f WHERE tz = '2024-07-01 00:00:00+00'
SELECT id FROM f WHERE tz = '2024-06-30 22:00:00-02'
SELECT id FROM f WHERE tz < '2000-01-01T00:00:00Z'
SELECT id FROM f WHERE i4 IN (10, 5, -10)
SELECT id FROM f WHERE i4 NOT IN (10, 5)
SELECT id FROM f WHERE i4 BETWEEN 0 AND 10
SELECT id FROM f WHERE i4 NOT BETWEEN 0 AND 10
SELECT id FROM f WHERE i4 = 10 OR t = 'Banana'
SELECT id FROM f WHERE NOT (i4 = 10 OR i4 IS NULL)
SELECT id FROM f WHERE i4 > 0 AND (d > 2 OR b)
SELECT id FROM f WHERE t LIKE 'a%'
SELECT id FROM f WHERE t NOT LIKE '%a%'
SELECT id FROM f WHERE length(t) > 4
SELECT id FROM f WHERE coalesce(i4, 7) = 7
SELECT id FROM f WHERE c = 'cd'
SELECT id FROM f WHERE t < 'b'
SELECT id FROM f WHERE u = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'
SELECT id FROM f WHERE j @> '{"k": 1}'
SELECT id FROM f WHERE arr @> '{1}'
SELECT id FROM f WHERE i2 + 1 > 1
SELECT id FROM f WHERE by = '\x00ff'
-- tests/it/types.rs
SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
SELECT "c" FROM "t" ORDER BY id
SELECT id, b, i2, i4, i8 FROM t ORDER BY id
SELECT f4::text FROM t ORDER BY id
SELECT f8::text FROM t ORDER BY id
SELECT column_name::text, numeric_precision, numeric_scale FROM information_schema.columns WHERE table_name = 't' AND data_type = 'numeric'
SELECT c::text FROM t ORDER BY id
SELECT c::text FROM odd ORDER BY id
SELECT CASE WHEN price = 'NaN' THEN NULL ELSE price::text END FROM prices ORDER BY id
SELECT CASE WHEN total = 'NaN' THEN NULL ELSE total::text END FROM totals ORDER BY id
SELECT length(b)::int8, md5(b), encode(b, 'hex') FROM t ORDER BY id
SELECT md5($1::bytea)
SELECT CASE WHEN d = 'infinity' THEN 2147483647 WHEN d = '-infinity' THEN -2147483648 ELSE d - DATE '1970-01-01' END, round(extract(epoch FROM tm) * 1000000)::int8, ttz::text, CASE WHEN ts = 'infinity' THEN 9223372036854775807 WHEN ts = '-infinity' THEN -9223372036854775808 ELSE (ts::date - DATE '1970-01-01')::int8 * 86400000000 + round(extract(epoch FROM ts::time) * 1000000)::int8 END, CASE WHEN tstz = 'infinity' THEN 9223372036854775807 WHEN tstz = '-infinity' THEN -9223372036854775808 ELSE ((tstz AT TIME ZONE 'UTC')::date - DATE '1970-01-01')::int8 * 86400000000 + round(extract(epoch FROM (tstz AT TIME ZONE 'UTC')::time) * 1000000)::int8 END FROM t ORDER BY id
SELECT (extract(year FROM i) * 12 + extract(month FROM i))::int4, extract(day FROM i)::int4, (extract(hour FROM i) * 3600000000 + extract(minute FROM i) * 60000000 + extract(microseconds FROM i))::int8 FROM t WHERE id <= 10 ORDER BY id
SELECT price::text FROM t ORDER BY id
SELECT o::int8 FROM t ORDER BY id
SELECT array_to_json(a)::text FROM t ORDER BY id
SELECT "c"::text FROM t ORDER BY id
-- tests/clients/test_auth.py
SELECT count(*) AS n FROM t
-- tests/clients/test_discovery.py
SELECT pn.nspname, pc.relname, pa.attname, fn.nspname, fc.relname, fa.attname, u.ord::int, k.conname, pk.conname, k.confupdtype::text, k.confdeltype::text FROM pg_constraint k CROSS JOIN LATERAL unnest(k.conkey, k.confkey) WITH ORDINALITY AS u(f, p, ord) JOIN pg_class fc ON fc.oid = k.conrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace JOIN pg_attribute fa ON fa.attrelid = fc.oid AND fa.attnum = u.f JOIN pg_attribute pa ON pa.attrelid = pc.oid AND pa.attnum = u.p JOIN pg_constraint pk ON pk.conindid = k.conindid AND pk.conrelid = k.confrelid WHERE k.contype = 'f' AND true ORDER BY u.ord
SELECT a.attname, k.conname, u.ord::int FROM pg_constraint k
-- tests/clients/test_extract.py
SELECT count(*), sum(id), md5(string_agg(id || ':' || coalesce(name, 'None'), '|' ORDER BY id))
SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgflight'
-- tests/clients/test_incremental.py
SELECT max(id) FROM app.events
SELECT count(*) FROM app.events WHERE id > 1 OR id % 101 = 1
SELECT count(*) FROM app.events
-- tests/clients/test_partition.py
SELECT count(*), sum(id), count(DISTINCT kind) FROM events
-- tests/clients/test_sql.py
SELECT id, name FROM items WHERE id >= 2 ORDER BY id
SELECT name FROM items WHERE id = ?
SELECT id FROM items WHERE name = ?
SELECT id FROM items WHERE added > ?
SELECT ?::text IS NULL AS is_null, coalesce(?::int, 42) AS v
SELECT id, name FROM items WHERE id = ?
SELECT id, name, price, added FROM items ORDER BY id
SELECT i.name, sum(o.qty) AS total FROM items i JOIN orders o ON o.item_id = i.id
SELECT to_char(date '2024-03-05', 'DD/MM/YYYY') AS d
SELECT g FROM generate_series(1, 4) g
SELECT jsonb_path_query('{\"a\":[1,2]}', '$.a[*]') AS v
SELECT * FROM no_such_table
SELECT count(*) FROM items
SELECT to_regclass('x') IS NULL
SELECT id, name, price, added, tags FROM items WHERE id < 3
SELECT i.*, o.qty FROM items i JOIN orders o ON o.item_id = i.id
SELECT 1 AS a, '::1'::inet AS b, NULL::numeric(5,1) AS c
EXPLAIN SELECT id FROM items WHERE id > 1 AND name LIKE 'p%'
EXPLAIN SELECT count(*) FROM items
SELECT id, name, price::text FROM items ORDER BY id
SELECT count(*) FROM orders
-- src/pg/catalog.rs
SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)
WITH RECURSIVE domain_chain(domain_oid, base_oid, typmod) AS ( SELECT t.oid, t.typbasetype, t.typtypmod FROM pg_type t WHERE t.typtype = 'd' UNION ALL SELECT d.domain_oid, t.typbasetype, CASE WHEN d.typmod <> -1 THEN d.typmod ELSE t.typtypmod END FROM domain_chain d JOIN pg_type t ON t.oid = d.base_oid WHERE t.typtype = 'd' ), domain_base AS ( SELECT d.domain_oid, d.base_oid, d.typmod FROM domain_chain d JOIN pg_type t ON t.oid = d.base_oid WHERE t.typtype <> 'd' ) SELECT c.oid AS rel_oid, n.nspname::text AS nspname, c.relname::text AS relname, c.relkind, CASE WHEN c.relkind = 'p' AND c.reltuples <= 0 THEN coalesce((SELECT sum(pc.reltuples) FILTER (WHERE pc.reltuples >= 0) FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid WHERE pt.isleaf), c.reltuples)::real ELSE c.reltuples END AS reltuples, a.attname::text AS attname, format_type(a.atttypid, a.atttypmod) AS type_name, bt.oid AS base_oid, CASE WHEN a.atttypmod <> -1 THEN a.atttypmod WHEN coalesce(db.typmod, -1) <> -1 THEN db.typmod ELSE coalesce(edb.typmod, -1) END AS base_typmod, (bt.typtype = 'e' OR coalesce(et.typtype = 'e', false)) AS is_enum, CASE WHEN bt.typcategory = 'A' AND bt.typelem <> 0 THEN et.oid END AS element_oid, coalesce(a.attndims, 0)::int4 AS attndims, coalesce(a.attnotnull, false) AS attnotnull FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
-- src/pg/connect.rs
SELECT current_setting('server_version')
-- src/pg/describe.rs
SELECT format_type(t, NULLIF(m, -1)) FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS u(t, m, n) ORDER BY n
-- src/pg/incremental.rs
SELECT current_setting('server_version_num')::int
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint
SELECT txid_snapshot_xmin(txid_current_snapshot())
-- src/pg/keys.rs
SELECT n.nspname::text AS schema, c.relname::text AS table, a.attname::text AS column, k.conname::text AS key_name, u.ord::int4 AS key_sequence FROM pg_constraint k CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord) JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum WHERE k.contype = 'p' AND k.conparentid = 0 AND NOT c.relispartition AND c.relname = $2::text AND ($1::text IS NULL OR n.nspname = $1::text) AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') ORDER BY n.nspname, c.relname, k.conname, u.ord
SELECT pn.nspname::text AS pk_schema, pc.relname::text AS pk_table, pa.attname::text AS pk_column, fn.nspname::text AS fk_schema, fc.relname::text AS fk_table, fa.attname::text AS fk_column, u.ord::int4 AS key_sequence, k.conname::text AS fk_key_name, coalesce(pk.conname, ic.relname)::text AS pk_key_name, k.confupdtype AS update_rule, k.confdeltype AS delete_rule FROM pg_constraint k CROSS JOIN LATERAL unnest(k.conkey, k.confkey) WITH ORDINALITY AS u(fk_attnum, pk_attnum, ord) JOIN pg_class fc ON fc.oid = k.conrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace JOIN pg_attribute fa ON fa.attrelid = fc.oid AND fa.attnum = u.fk_attnum JOIN pg_attribute pa ON pa.attrelid = pc.oid AND pa.attnum = u.pk_attnum LEFT JOIN pg_class ic ON ic.oid = k.conindid LEFT JOIN pg_constraint pk ON pk.conindid = k.conindid AND pk.conrelid = k.confrelid AND pk.contype IN ('p', 'u') WHERE k.contype = 'f' AND k.conparentid = 0 AND NOT fc.relispartition AND NOT pc.relispartition AND ($1::text IS NULL OR pn.nspname = $1::text) AND ($2::text IS NULL OR pc.relname = $2::text) AND ($3::text IS NULL OR fn.nspname = $3::text) AND ($4::text IS NULL OR fc.relname = $4::text) AND has_schema_privilege(fn.oid, 'USAGE') AND has_table_privilege(fc.oid, 'SELECT') AND has_schema_privilege(pn.oid, 'USAGE') AND has_table_privilege(pc.oid, 'SELECT') ORDER BY fn.nspname, fc.relname, k.conname, u.ord
-- src/pg/listing.rs
SELECT n.nspname::text FROM pg_namespace n
-- src/pg/partition.rs
SELECT current_setting('server_version_num')::int4, (SELECT max(pg_relation_size(c.oid)) / current_setting('block_size')::int8 FROM pg_class c WHERE c.oid = $1 OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass)))
SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = $1 AND i.indisprimary AND i.indnatts = 1 AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1
-- src/pg/placeholders.rs
SELECT '?', "a?", ? -- ? , /* ? /* ? */ ? */ $$?$$, $q$ ? $q$, E'\'?', ?
SELECT '?', "a?", $1 -- ? , /* ? /* ? */ ? */ $$?$$, $q$ ? $q$, E'\'?', $2
SELECT 'it''s ?' = ?
SELECT 'it''s ?' = $1
SELECT doc ? 'k' FROM t WHERE id = $1
SELECT $1, '$1', a$1, "$2", $2 -- $1
SELECT X, '$1', a$1, "$2", Y -- $1
SELECT $3
-- src/pg/probe.rs
SELECT current_setting('server_version'), current_setting('server_version_num')::int, (SELECT CASE WHEN ssl THEN version || ' ' || cipher END FROM pg_stat_ssl WHERE pid = pg_backend_pid()), current_user::text, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_setting('default_transaction_read_only') = 'on'
SELECT c.relname::text, has_table_privilege(c.oid, 'SELECT'), c.relkind IN ('r', 'p') AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE')) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition ORDER BY c.relname
-- src/pg/render.rs
SELECT true FROM true
SELECT true FROM ( SELECT 1 ) AS q(true)
SELECT $1 -- c
SELECT 1, '::1'::inet
-- src/pg/roles.rs
SELECT r.rolname::text, r.rolsuper, r.rolbypassrls, r.rolreplication, r.rolcreaterole, r.rolcreatedb, ARRAY(SELECT g.rolname::text FROM pg_roles g WHERE g.rolname = ANY($1) AND g.oid <> r.oid AND pg_has_role(r.oid, g.oid, 'MEMBER') ORDER BY g.rolname) FROM pg_roles r WHERE r.rolname = current_user
-- src/pg/server_facts.rs
SELECT current_setting('server_version'), array(SELECT upper(word) FROM pg_get_keywords() ORDER BY 1), current_setting('max_identifier_length')::int8, current_setting('max_connections')::int8
-- src/pg/snapshot.rs
SELECT pg_export_snapshot()
