-- The database the Go and JDBC client suites browse and read (tests/clients/test_go.py and
-- test_jdbc.py load it): every type family of DESIGN.md "Types", keys, comments, identity and
-- serial columns, a view and a materialized view. One statement per `;`-terminated line group.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');

CREATE TABLE customers (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    email varchar(120)
);
COMMENT ON TABLE customers IS 'People who order';
COMMENT ON COLUMN customers.name IS 'Full name, as written by the customer';

CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    total numeric(12,2) NOT NULL,
    placed_at timestamptz NOT NULL
);

CREATE VIEW customer_totals AS
    SELECT c.name, sum(o.total) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name;
CREATE MATERIALIZED VIEW order_counts AS
    SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id;

INSERT INTO customers (name, email) VALUES ('Ada', 'ada@example.com'), ('Grace', NULL), ('Linus', 'l@example.org');
INSERT INTO orders (customer_id, total, placed_at) VALUES
    (1, 10.50, '2024-01-02 03:04:05.123456+00'),
    (1, 99.99, '2024-03-10 10:30:00+00'),
    (2, 0.01, '1969-07-20 20:17:40+00');
REFRESH MATERIALIZED VIEW order_counts;

CREATE TABLE families (
    id integer PRIMARY KEY,
    b boolean,
    i2 smallint,
    i4 integer,
    i8 bigint,
    f4 real,
    f8 double precision,
    n numeric(12,3),
    nu numeric,
    t text,
    vc varchar(10),
    c char(3),
    by bytea,
    d date,
    tm time,
    tmz timetz,
    ts timestamp,
    tstz timestamptz,
    iv interval,
    u uuid,
    j json,
    jb jsonb,
    o oid,
    e mood,
    ai integer[],
    at text[],
    ip inet
);
INSERT INTO families VALUES
    (1, true, -32768, 2147483647, 9007199254740993, 1.5, 2.25, 123456789.123,
     '3.14159265358979323846264338327950288419716939937510', 'héllo wörld ✓', 'abc', 'ab',
     '\xdeadbeef00', '2024-02-29', '13:45:30.123456', '13:45:30+02',
     '2024-03-10 02:30:00.123456', '2024-11-03 08:30:00.5+00', '1 year 2 mons 3 days 04:05:06.789',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": null}', 4294967295, 'happy',
     '{1,NULL,3}', '{"a","b c"}', '192.168.0.1/24'),
    (2, false, 7, -1, -9223372036854775808, -0.25, 1e300, -0.001,
     '-1e-20', '', 'x', 'xyz',
     '\x', '1969-07-20', '00:00:00', '23:59:59-08',
     '1900-01-01 00:00:00', '1969-12-31 23:59:59.999999+00', '-1 days',
     '00000000-0000-0000-0000-000000000000', '[]', '[]', 0, 'sad',
     '{}', '{}', '::1'),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL,
     NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL);
COMMENT ON COLUMN families.n IS 'numeric(12,3): Decimal128(12,3)';
