package pgflight_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// readAll runs query and returns its rows' first column as text (or counts rows when asked).
func readAll(t *testing.T, ctx context.Context, client *flightsql.Client, query string) (first string, rows int64) {
	t.Helper()
	info, err := client.Execute(ctx, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	for _, endpoint := range info.Endpoint {
		reader, err := client.DoGet(ctx, endpoint.Ticket)
		if err != nil {
			t.Fatalf("DoGet %s: %v", query, err)
		}
		for reader.Next() {
			record := reader.Record()
			if rows == 0 && record.NumRows() > 0 {
				if text, ok := record.Column(0).(*array.String); ok {
					first = text.Value(0)
				}
			}
			rows += record.NumRows()
		}
		if err := reader.Err(); err != nil {
			t.Fatalf("reading %s: %v", query, err)
		}
		reader.Release()
	}
	return first, rows
}

// arrow-go's cookie middleware carries pgflight's session cookie: options set once apply to
// every later call, an unknown name is a per-option error, CloseSession forgets them; and a
// stream compressed on request (x-pgflight-compression) decodes.
func TestSessionOptionsAndCompression(t *testing.T) {
	client, err := flightsql.NewClient(env(t, "PGFLIGHT_GO_ADDR"), nil,
		[]flight.ClientMiddleware{flight.NewClientCookieMiddleware()},
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	values, err := flight.NewSessionOptionValues(map[string]any{"TimeZone": "Asia/Tokyo", "work_mem": "1GB"})
	if err != nil {
		t.Fatal(err)
	}
	result, err := client.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: values})
	if err != nil {
		t.Fatalf("SetSessionOptions: %v", err)
	}
	errs := result.GetErrors()
	if len(errs) != 1 || errs["work_mem"].GetValue() != flight.SetSessionOptionsResultErrorInvalidName {
		t.Fatalf("per-option errors: %v", errs)
	}
	if now, _ := readAll(t, ctx, client, "SELECT now()::text AS t"); !strings.HasSuffix(now, "+09") {
		t.Fatalf("now() in the session's TimeZone: %q", now)
	}
	got, err := client.GetSessionOptions(ctx, &flight.GetSessionOptionsRequest{})
	if err != nil || got.GetSessionOptions()["TimeZone"].GetStringValue() != "Asia/Tokyo" {
		t.Fatalf("GetSessionOptions: %v %v", got, err)
	}

	for _, kind := range []string{"zstd", "lz4"} {
		packed := metadata.AppendToOutgoingContext(ctx, "x-pgflight-compression", kind)
		_, rows := readAll(t, packed, client, "SELECT g, repeat('x', 100) || g AS pad FROM generate_series(1, 5000) g")
		if rows != 5000 {
			t.Fatalf("%s: %d rows", kind, rows)
		}
	}

	if _, err := client.CloseSession(ctx, &flight.CloseSessionRequest{}); err != nil {
		t.Fatalf("CloseSession: %v", err)
	}
	if now, _ := readAll(t, ctx, client, "SELECT now()::text AS t"); !strings.HasSuffix(now, "+00") {
		t.Fatalf("now() after CloseSession: %q", now)
	}
}
