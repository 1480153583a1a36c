// The Go client: the latency benchmark's prepared point query through arrow-go's flightsql
// client (pure Go, no cgo): prepared once, then per execution a new id bound (DoPut),
// executed (GetFlightInfo) and fetched (DoGet) - the three calls ADBC Flight SQL makes.
// Prints one JSON object: every sample's latency and the process's CPU per execution. With
// -steps it executes once per line read from stdin instead, so that bench/latency.py can
// interleave it with the direct driver as it does every other row.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// goClientReport is what goclient prints.
type goClientReport struct {
	Samples     int       `json:"samples"`
	LatenciesMs []float64 `json:"latencies_ms"` // in execution order
	P50Ms       float64   `json:"p50_ms"`
	P95Ms       float64   `json:"p95_ms"`
	CPUMsPerOp  float64   `json:"cpu_ms_per_op"` // user + system of this process over the measured loop
	WallMsPerOp float64   `json:"wall_ms_per_op"`
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runGoClient(args []string) error {
	fs := flag.NewFlagSet("goclient", flag.ContinueOnError)
	addr := fs.String("addr", "", "Flight SQL server, HOST:PORT (plaintext)")
	n := fs.Int("n", 300, "measured executions")
	warmup := fs.Int("warmup", 5, "unmeasured executions first")
	ids := fs.Int64("ids", 100000, "ids are random in 1..ids")
	sql := fs.String("sql", "SELECT id, name, amount FROM public.lat WHERE id = ?", "the prepared statement")
	steps := fs.Bool("steps", false, "per stdin line `x` execute once and answer its latency in nanoseconds;"+
		" per line `cpu` answer this process's CPU in nanoseconds (no -n, no warm-up)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" || *n < 1 {
		return fmt.Errorf("-addr is required and -n at least 1")
	}
	ctx := context.Background()
	cl, err := flightsql.NewClient(*addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cl.Close()
	prep, err := cl.Prepare(ctx, *sql)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer prep.Close(ctx)
	params := prep.ParameterSchema()
	if params == nil || params.NumFields() != 1 {
		return fmt.Errorf("expected one parameter, the server says %v", params)
	}
	rng := rand.New(rand.NewSource(42))
	exec := func() (time.Duration, error) { return executeOnce(ctx, cl, prep, params, 1+rng.Int63n(*ids)) }
	if *steps {
		return runSteps(exec)
	}
	for i := 0; i < *warmup; i++ {
		if _, err := exec(); err != nil {
			return err
		}
	}
	lat := make([]float64, 0, *n)
	c0, t0 := processCPU(), time.Now()
	for i := 0; i < *n; i++ {
		d, err := exec()
		if err != nil {
			return err
		}
		lat = append(lat, float64(d)/float64(time.Millisecond))
	}
	wall, cpu := time.Since(t0), processCPU()-c0
	sorted := append([]float64(nil), lat...)
	sort.Float64s(sorted)
	return json.NewEncoder(os.Stdout).Encode(goClientReport{
		Samples:     *n,
		LatenciesMs: lat,
		P50Ms:       sorted[len(sorted)/2],
		P95Ms:       sorted[len(sorted)*95/100],
		CPUMsPerOp:  float64(cpu) / float64(time.Millisecond) / float64(*n),
		WallMsPerOp: float64(wall) / float64(time.Millisecond) / float64(*n),
	})
}

// runSteps answers stdin line by line (see -steps) until stdin ends.
func runSteps(exec func() (time.Duration, error)) error {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		switch in.Text() {
		case "x":
			d, err := exec()
			if err != nil {
				return err
			}
			fmt.Fprintln(out, d.Nanoseconds())
		case "cpu":
			fmt.Fprintln(out, processCPU().Nanoseconds())
		default:
			return fmt.Errorf("-steps: unknown line %q (x or cpu)", in.Text())
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
	return in.Err()
}

// executeOnce binds id, executes and fetches; the clock covers the three calls, as
// bench/latency.py's clock covers ADBC's bind + execute + fetch.
func executeOnce(ctx context.Context, cl *flightsql.Client, prep *flightsql.PreparedStatement, params *arrow.Schema, id int64) (time.Duration, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, params)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(id)
	rec := b.NewRecordBatch()
	defer rec.Release()
	start := time.Now()
	prep.SetParameters(rec)
	info, err := prep.Execute(ctx)
	if err != nil {
		return 0, fmt.Errorf("execute: %w", err)
	}
	rows := int64(0)
	for _, ep := range info.Endpoint {
		rdr, err := cl.DoGet(ctx, ep.Ticket)
		if err != nil {
			return 0, fmt.Errorf("DoGet: %w", err)
		}
		for rdr.Next() {
			rows += rdr.RecordBatch().NumRows()
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			return 0, fmt.Errorf("DoGet: %w", err)
		}
	}
	if rows != 1 {
		return 0, fmt.Errorf("expected one row, got %d", rows)
	}
	return time.Since(start), nil
}
