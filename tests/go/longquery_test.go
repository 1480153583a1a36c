package pgflight_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// arrow-go's Flight SQL client polls a statement (complete at once), then cancels it with
// CancelFlightInfo while another call reads it: the reader gets CANCELLED and the backend is
// gone within a second; a later DoGet of the ticket is refused as CANCELLED.
func TestPollThenCancelFlightInfo(t *testing.T) {
	addr := env(t, "PGFLIGHT_GO_ADDR")
	client, err := flightsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer client.Close()
	ctx := context.Background()
	poll, err := client.ExecutePoll(ctx, longQuery, nil)
	if err != nil {
		t.Fatalf("PollFlightInfo: %v", err)
	}
	if poll.GetProgress() != 1.0 || poll.GetFlightDescriptor() != nil || poll.GetInfo() == nil {
		t.Fatalf("poll is not complete at once: progress %v, descriptor %v", poll.GetProgress(), poll.GetFlightDescriptor())
	}
	info := poll.GetInfo()
	done := make(chan error, 1)
	go func() {
		reader, err := client.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			done <- err
			return
		}
		defer reader.Release()
		for reader.Next() {
		}
		done <- reader.Err()
	}()
	db := open(t, addr, "", "")
	running := "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%generate_series(1, 20000000000)%' AND pid <> pg_backend_pid()"
	waitFor := func(want int64, within time.Duration) {
		deadline := time.Now().Add(within)
		for queryInt(t, db, running) != want {
			if time.Now().After(deadline) {
				t.Fatalf("running statements did not become %d within %v", want, within)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(1, 10*time.Second)
	result, err := client.CancelFlightInfo(ctx, &flight.CancelFlightInfoRequest{Info: info})
	if err != nil {
		t.Fatalf("CancelFlightInfo: %v", err)
	}
	if result.GetStatus() != flight.CancelStatusCancelled {
		t.Fatalf("cancel status %v", result.GetStatus())
	}
	waitFor(0, time.Second)
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Fatalf("the reader of a cancelled query ended with %v", err)
	}
	reader, err := client.DoGet(ctx, info.Endpoint[0].Ticket)
	if err == nil {
		for reader.Next() {
		}
		err = reader.Err()
		reader.Release()
	}
	if status.Code(err) != codes.Canceled {
		t.Fatalf("a DoGet after the cancel: %v", err)
	}
}
