// Package pgflight_test drives a running pgflight with arrow-go's Flight SQL database/sql
// driver. It is not run on its own: tests/clients/test_go.py starts PostgreSQL and pgflight,
// loads tests/clients/clients_fixture.sql, and runs `go test` with the addresses in
// PGFLIGHT_GO_ADDR (auth = "none"), PGFLIGHT_GO_AUTH_ADDR (auth = "password") and the accepted
// credentials in PGFLIGHT_GO_USERS (JSON [[user, password], ...]).
package pgflight_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/driver"
)

func env(t *testing.T, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		t.Fatalf("%s is not set: run this suite through tests/clients/test_go.py (scripts/test.sh)", name)
	}
	return value
}

// open connects with a driver configuration (no DSN escaping involved).
func open(t *testing.T, addr, user, password string) *sql.DB {
	t.Helper()
	connector := &driver.Connector{}
	config := &driver.DriverConfig{Address: addr, Username: user, Password: password, Timeout: 30 * time.Second}
	if err := connector.Configure(config); err != nil {
		t.Fatalf("configure: %v", err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestConnectWithoutCredentials(t *testing.T) {
	db, err := sql.Open("flightsql", "flightsql://"+env(t, "PGFLIGHT_GO_ADDR")+"?timeout=30s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM customers"); n != 3 {
		t.Fatalf("customers: %d rows, want 3", n)
	}
}

// The password regression: every length of user:password modulo 3, non-ASCII, a colon.
func TestPasswordAuth(t *testing.T) {
	addr := env(t, "PGFLIGHT_GO_AUTH_ADDR")
	var users [][2]string
	if err := json.Unmarshal([]byte(env(t, "PGFLIGHT_GO_USERS")), &users); err != nil {
		t.Fatalf("PGFLIGHT_GO_USERS: %v", err)
	}
	lengths := map[int]bool{}
	for _, pair := range users {
		user, password := pair[0], pair[1]
		lengths[len(user+":"+password)%3] = true
		t.Run(user, func(t *testing.T) {
			if n := queryInt(t, open(t, addr, user, password), "SELECT count(*) FROM orders"); n != 3 {
				t.Fatalf("orders: %d rows, want 3", n)
			}
			// The same credentials in a DSN, escaped as users write them.
			dsn := "flightsql://" + url.UserPassword(user, password).String() + "@" + addr + "?timeout=30s"
			db, err := sql.Open("flightsql", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if n := queryInt(t, db, "SELECT 1"); n != 1 {
				t.Fatalf("DSN: %d", n)
			}
		})
	}
	if len(lengths) != 3 {
		t.Fatalf("the credentials cover lengths modulo 3 %v, want all three", lengths)
	}
	for _, bad := range [][2]string{{users[0][0], users[0][1] + "x"}, {"nobody", "pw"}} {
		var n int
		err := open(t, addr, bad[0], bad[1]).QueryRow("SELECT 1").Scan(&n)
		if err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
			t.Fatalf("%s/%s: got %v, want Unauthenticated", bad[0], bad[1], err)
		}
	}
	// No credentials at all: refused.
	var n int
	err := open(t, addr, "", "").QueryRow("SELECT 1").Scan(&n)
	if err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Fatalf("no credentials: got %v, want Unauthenticated", err)
	}
}

// The driver binds a parameter only when the Go value's type equals the Arrow type of the
// parameter schema PostgreSQL inferred: int64 ↔ bigint, float64 ↔ double precision,
// string ↔ text, bool ↔ boolean. Casting the placeholder (`?::int8`) says so.
func TestQueryWithParameters(t *testing.T) {
	db := open(t, env(t, "PGFLIGHT_GO_ADDR"), "", "")
	ctx := context.Background()
	rows, err := db.QueryContext(ctx,
		"SELECT id, name FROM customers WHERE id >= ?::int8 AND name <> ? ORDER BY id", int64(2), "Linus")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id int32
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", id, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "2:Grace" {
		t.Fatalf("got %v, want [2:Grace]", got)
	}
	var total float64
	var flag bool
	err = db.QueryRowContext(ctx, "SELECT sum(total)::float8 > ?::float8, ?::bool FROM orders", 100.0, true).Scan(&flag, &total)
	if err == nil {
		t.Fatalf("scanning a bool into float64 should fail")
	}
	if err := db.QueryRowContext(ctx, "SELECT sum(total)::float8, ?::bool FROM orders WHERE total > ?::float8",
		true, 1.0).Scan(&total, &flag); err != nil {
		t.Fatal(err)
	}
	if total != 110.49 || !flag {
		t.Fatalf("got %v %v", total, flag)
	}
	// A prepared statement, run several times.
	stmt, err := db.PrepareContext(ctx, "SELECT count(*) FROM orders WHERE customer_id = ?::int8")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	for id, want := range map[int64]int64{1: 2, 2: 1, 3: 0} {
		var n int64
		if err := stmt.QueryRowContext(ctx, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("customer %d: %d orders, want %d", id, n, want)
		}
	}
}

func mustTime(t *testing.T, layout, value string) time.Time {
	t.Helper()
	v, err := time.Parse(layout, value)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Every type family the driver reads, from the fixture's row 1 and its all-NULL row 3.
func TestScanTypeFamilies(t *testing.T) {
	db := open(t, env(t, "PGFLIGHT_GO_ADDR"), "", "")
	columns := "b, i2, i4, i8, f4, f8, n, nu, t, vc, c, by, d, tm, ts, tstz, u, j, jb, e, ip, tmz"
	want := []any{
		true, int16(-32768), int32(2147483647), int64(9007199254740993), float32(1.5), 2.25,
		123456789.123, // numeric(p,s) is Decimal128: the driver hands out float64
		"3.14159265358979323846264338327950288419716939937510", // unconstrained numeric: exact text
		"héllo wörld ✓", "abc", "ab ", []byte{0xde, 0xad, 0xbe, 0xef, 0x00},
		mustTime(t, time.DateOnly, "2024-02-29"),
		mustTime(t, "2006-01-02 15:04:05.000000", "1970-01-01 13:45:30.123456"), // time: a time.Time on 1970-01-01 UTC
		mustTime(t, "2006-01-02 15:04:05.000000", "2024-03-10 02:30:00.123456"),
		mustTime(t, time.RFC3339Nano, "2024-11-03T08:30:00.5Z"),
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `{"a": [1, 2]}`, `{"b": null}`, "happy", "192.168.0.1/24",
		"13:45:30+02",
	}
	names := strings.Split(columns, ", ")
	for _, id := range []int{1, 3} {
		values := make([]any, len(names))
		pointers := make([]any, len(names))
		for i := range values {
			pointers[i] = &values[i]
		}
		if err := db.QueryRow("SELECT "+columns+" FROM families WHERE id = ?::int8", int64(id)).Scan(pointers...); err != nil {
			t.Fatalf("row %d: %v", id, err)
		}
		for i, name := range names {
			if id == 3 {
				if values[i] != nil {
					t.Errorf("row 3 %s: %#v, want nil", name, values[i])
				}
				continue
			}
			got, expected := values[i], want[i]
			if g, ok := got.(time.Time); ok {
				if !g.Equal(expected.(time.Time)) {
					t.Errorf("%s: %v, want %v", name, g, expected)
				}
				continue
			}
			if fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", expected, expected) {
				t.Errorf("%s: %T %v, want %T %v", name, got, got, expected, expected)
			}
		}
	}
	// Typed destinations through database/sql's conversions.
	var (
		i4   int
		name sql.NullString
		ts   time.Time
		n    float64
	)
	if err := db.QueryRow("SELECT i4, vc, tstz, n FROM families WHERE id = 2").Scan(&i4, &name, &ts, &n); err != nil {
		t.Fatal(err)
	}
	if i4 != -1 || name.String != "x" || !ts.Equal(mustTime(t, time.RFC3339Nano, "1969-12-31T23:59:59.999999Z")) || n != -0.001 {
		t.Fatalf("row 2: %v %v %v %v", i4, name, ts, n)
	}
}

// What the driver cannot read, and the shape pgflight offers instead (a cast in the query).
func TestTypesTheDriverCannotRead(t *testing.T) {
	db := open(t, env(t, "PGFLIGHT_GO_ADDR"), "", "")
	for column, instead := range map[string]string{
		"o":  "o::int8",                 // oid is UInt32: unsigned integers are not read
		"iv": "iv::text",                // interval is Interval(MonthDayNano)
		"ai": "array_to_json(ai)::text", // arrays are List<...>
		"at": "at::text",
	} {
		var v any
		err := db.QueryRow("SELECT " + column + " FROM families WHERE id = 1").Scan(&v)
		if err == nil || !errors.Is(err, driver.ErrNotSupported) {
			t.Errorf("%s: got %#v, %v; want ErrNotSupported (if the driver reads it now, say so in README)", column, v, err)
		}
		if err := db.QueryRow("SELECT " + instead + " FROM families WHERE id = 1").Scan(&v); err != nil {
			t.Errorf("%s: %v", instead, err)
		}
	}
	var v any
	if err := db.QueryRow("SELECT o::int8, iv::text, array_to_json(ai)::text FROM families WHERE id = 1").Scan(&v, new(any), new(any)); err != nil {
		t.Fatal(err)
	}
	if v != int64(4294967295) {
		t.Fatalf("oid as int8: %#v", v)
	}
}

const longQuery = "SELECT count(*) FROM generate_series(1, 20000000000) AS g"

// Cancelling the context of a long query stops it in PostgreSQL too.
func TestContextCancellation(t *testing.T) {
	db := open(t, env(t, "PGFLIGHT_GO_ADDR"), "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	started := time.Now()
	var n int64
	err := db.QueryRowContext(ctx, longQuery).Scan(&n)
	if err == nil {
		t.Fatalf("the long query returned %d", n)
	}
	if elapsed := time.Since(started); elapsed > 10*time.Second {
		t.Fatalf("cancellation took %v", elapsed)
	}
	running := "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%generate_series(1, 20000000000)%' AND pid <> pg_backend_pid()"
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := queryInt(t, db, running)
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backend(s) still run the cancelled query", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
