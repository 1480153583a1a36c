package pgflight_test

import (
	"context"
	"database/sql"
	"testing"
)

// README "Clients" (Go) quotes countCustomers between the markers; test_readme.py checks that
// the README and this file agree.

// README-BEGIN
// countCustomers counts with a parameter; address is "localhost:8080", or
// "user:password@localhost:8080" with auth = "password".
func countCustomers(ctx context.Context, address string) (int64, error) {
	db, err := sql.Open("flightsql", "flightsql://"+address+"?timeout=30s")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	// The driver binds int64, float64, string and bool: cast the placeholder to match.
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM customers WHERE id >= ?::int8", int64(1)).Scan(&n)
	return n, err
}

// README-END

func TestReadmeExample(t *testing.T) {
	n, err := countCustomers(context.Background(), env(t, "PGFLIGHT_GO_ADDR"))
	if err != nil || n != 3 {
		t.Fatalf("countCustomers: %d, %v", n, err)
	}
}
