//! The demo's sample data: a `shop` of customers and their orders (a foreign key), a view of
//! per-customer totals, and an `updated_at` cursor column on both tables — a few thousand
//! rows, generated deterministically by PostgreSQL itself.

/// The database the sample lives in.
pub const DATABASE: &str = "demo";

/// The read-only role the demo serves as.
pub const READER: &str = "pgflight_reader";

/// The tables and the view, for the user: (qualified name, what it holds).
pub const RELATIONS: [(&str, &str); 3] = [
    ("public.customers", "1,000 customers"),
    ("public.orders", "5,000 orders, customer_id → customers.id"),
    (
        "public.customer_totals",
        "view: orders and revenue per customer",
    ),
];

/// The schema and its rows.
pub const SCHEMA_SQL: &str = "
CREATE TABLE customers (
    id          integer PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL UNIQUE,
    country     text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE orders (
    id           bigint PRIMARY KEY,
    customer_id  integer NOT NULL REFERENCES customers (id),
    status       text NOT NULL CHECK (status IN ('placed', 'shipped', 'delivered', 'returned')),
    amount       numeric(10, 2) NOT NULL,
    items        integer NOT NULL,
    ordered_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX orders_updated_at ON orders (updated_at);
CREATE INDEX customers_updated_at ON customers (updated_at);

INSERT INTO customers
SELECT g,
       'Customer ' || g,
       'customer' || g || '@example.com',
       (ARRAY['DE', 'FR', 'US', 'JP', 'BR', 'IN'])[1 + g % 6],
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 hours',
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 hours' + (g % 30) * interval '1 day'
FROM generate_series(1, 1000) AS g;

INSERT INTO orders
SELECT g,
       1 + (g * 7919) % 1000,
       (ARRAY['placed', 'shipped', 'delivered', 'returned'])[1 + g % 4],
       round((5 + (g * 37) % 500 + (g % 100) / 100.0)::numeric, 2),
       1 + g % 5,
       timestamptz '2024-03-01 00:00:00+00' + g * interval '83 minutes',
       timestamptz '2024-03-01 00:00:00+00' + g * interval '83 minutes' + (g % 3) * interval '2 days'
FROM generate_series(1, 5000) AS g;

CREATE VIEW customer_totals AS
SELECT c.id AS customer_id, c.name, c.country,
       count(o.id) AS orders,
       coalesce(sum(o.amount), 0)::numeric(12, 2) AS revenue,
       max(o.updated_at) AS last_order_update
FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
GROUP BY c.id, c.name, c.country;

ANALYZE customers;
ANALYZE orders;
";
