// The null server answered through arrow-go's real Flight SQL client over a real socket: the
// shapes the latency benchmark's floor rows rely on (go test in bench/floor; not run by CI).
package main

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func startNullServer(t *testing.T) *flightsql.Client {
	t.Helper()
	server, err := listenNullServer(0)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = server.Serve() }()
	t.Cleanup(server.Shutdown)
	cl, err := flightsql.NewClient(server.Addr().String(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// fetch reads every endpoint of info into one table's worth of batches.
func fetch(t *testing.T, cl *flightsql.Client, info *flight.FlightInfo) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	for _, ep := range info.Endpoint {
		rdr, err := cl.DoGet(context.Background(), ep.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rdr.Next() {
			b := rdr.RecordBatch()
			b.Retain()
			out = append(out, b)
		}
		if err := rdr.Err(); err != nil {
			t.Fatal(err)
		}
		rdr.Release()
	}
	return out
}

func TestPreparedPointQueryHasPgflightsShape(t *testing.T) {
	cl := startNullServer(t)
	ctx := context.Background()
	prep, err := cl.Prepare(ctx, "SELECT id, name, amount FROM public.lat WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	want := []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String, &arrow.Decimal128Type{Precision: 12, Scale: 2}}
	ds := prep.DatasetSchema()
	if ds == nil || ds.NumFields() != len(want) {
		t.Fatalf("dataset schema %v", ds)
	}
	for i, typ := range want {
		if !arrow.TypeEqual(ds.Field(i).Type, typ) {
			t.Errorf("column %d: %v, want %v", i, ds.Field(i).Type, typ)
		}
	}
	ps := prep.ParameterSchema()
	if ps == nil || ps.NumFields() != 1 || !arrow.TypeEqual(ps.Field(0).Type, arrow.PrimitiveTypes.Int64) {
		t.Fatalf("parameter schema %v", ps)
	}
	for id := int64(1); id <= 3; id++ { // executeOnce fails unless exactly one row comes back
		if _, err := executeOnce(ctx, cl, prep, ps, id); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSelectOneAndLiteral(t *testing.T) {
	cl := startNullServer(t)
	ctx := context.Background()
	info, err := cl.Execute(ctx, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	got := fetch(t, cl, info)
	if len(got) != 1 || got[0].NumRows() != 1 {
		t.Fatalf("SELECT 1 answered %v", got)
	}
	if one, ok := got[0].Column(0).(*array.Int32); !ok || one.Value(0) != 1 {
		t.Fatalf("SELECT 1 answered %v", got[0])
	}
	info, err = cl.Execute(ctx, "SELECT id, name, amount FROM public.lat WHERE id = 42")
	if err != nil {
		t.Fatal(err)
	}
	got = fetch(t, cl, info)
	if len(got) != 1 || got[0].NumRows() != 1 || got[0].NumCols() != 3 {
		t.Fatalf("the literal query answered %v", got)
	}
}

func TestGetTablesAnswersTheLatencyDatabasesTables(t *testing.T) {
	cl := startNullServer(t)
	ctx := context.Background()
	for _, include := range []bool{false, true} {
		info, err := cl.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: include})
		if err != nil {
			t.Fatal(err)
		}
		got := fetch(t, cl, info)
		if len(got) != 1 || got[0].NumRows() != metaTables+1 {
			t.Fatalf("include_schema=%v: %v", include, got)
		}
		if !include {
			if got[0].NumCols() != 4 {
				t.Fatalf("without include_schema: %d columns", got[0].NumCols())
			}
			continue
		}
		schemas := got[0].Column(4).(*array.Binary)
		for i := 0; i < schemas.Len(); i++ {
			s, err := flight.DeserializeSchema(schemas.Value(i), memory.DefaultAllocator)
			if err != nil {
				t.Fatalf("table %d: %v", i, err)
			}
			if want := map[bool]int{true: 4, false: 10}[i == 0]; s.NumFields() != want {
				t.Errorf("table %d: %d columns, want %d", i, s.NumFields(), want)
			}
		}
	}
	for _, call := range []func(context.Context) (*flight.FlightInfo, error){
		func(ctx context.Context) (*flight.FlightInfo, error) { return cl.GetCatalogs(ctx) },
		func(ctx context.Context) (*flight.FlightInfo, error) {
			return cl.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{})
		},
	} {
		info, err := call(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := fetch(t, cl, info); len(got) != 1 || got[0].NumRows() != 1 {
			t.Fatalf("catalogs/schemas answered %v", got)
		}
	}
}
