// The null server: a Flight SQL server (arrow-go's flightsql.BaseServer behind
// flightsql.NewFlightServer) that does no work. Every call the latency benchmark's floor rows
// make is answered from the precomputed answers (answers.go): no database, no planning, no
// state. What is left is the cost of gRPC, protobuf, Arrow IPC encoding, and the client.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The statement handles; the ticket of a statement is its handle.
const (
	handlePrepared  = "prepared"
	handleLiteral   = "literal"
	handleSelectOne = "select1"
)

type nullServer struct {
	flightsql.BaseServer
	a       answers
	tickets map[string][]byte // handle -> encoded TicketStatementQuery
}

func runNullServer(args []string) error {
	fs := flag.NewFlagSet("nullserver", flag.ContinueOnError)
	port := fs.Int("port", 0, "port on 127.0.0.1 (0: any free port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	server, err := listenNullServer(*port)
	if err != nil {
		return err
	}
	server.SetShutdownOnSignals(syscall.SIGTERM, os.Interrupt)
	fmt.Println(server.Addr().(*net.TCPAddr).Port)
	return server.Serve()
}

// listenNullServer binds the null server on 127.0.0.1:port (0: any free port); Serve runs it.
func listenNullServer(port int) (flight.Server, error) {
	srv, err := newNullServer(memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	server := flight.NewServerWithMiddleware(nil)
	server.RegisterFlightService(flightsql.NewFlightServer(srv))
	if err := server.Init(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		return nil, err
	}
	return server, nil
}

func newNullServer(mem memory.Allocator) (*nullServer, error) {
	s := &nullServer{a: buildAnswers(mem), tickets: map[string][]byte{}}
	for _, h := range []string{handlePrepared, handleLiteral, handleSelectOne} {
		t, err := flightsql.CreateStatementQueryTicket([]byte(h))
		if err != nil {
			return nil, err
		}
		s.tickets[h] = t
	}
	for id, v := range map[flightsql.SqlInfo]any{
		flightsql.SqlInfoFlightSqlServerName:     "pgflight null server",
		flightsql.SqlInfoFlightSqlServerVersion:  "0",
		flightsql.SqlInfoFlightSqlServerReadOnly: true,
	} {
		if err := s.RegisterSqlInfo(id, v); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// info is a FlightInfo with one endpoint, as pgflight answers a one-row read.
func info(desc *flight.FlightDescriptor, r result, ticket []byte) *flight.FlightInfo {
	return &flight.FlightInfo{
		Schema:           r.encoded,
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: ticket}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// stream sends the precomputed batch; the Flight SQL wrapper releases what it sends, so retain.
func stream(r result) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	ch := make(chan flight.StreamChunk, 1)
	r.batch.Retain()
	ch <- flight.StreamChunk{Data: r.batch}
	close(ch)
	return r.schema, ch, nil
}

// byHandle is the answer of a statement handle.
func (s *nullServer) byHandle(handle []byte) (result, error) {
	switch string(handle) {
	case handlePrepared:
		return s.a.prepared, nil
	case handleLiteral:
		return s.a.literal, nil
	case handleSelectOne:
		return s.a.selectOne, nil
	}
	return result{}, status.Errorf(codes.InvalidArgument, "null server: unknown handle %q", handle)
}

// statementHandle: SELECT 1 answers its row, any other statement the point query's row.
func statementHandle(query string) string {
	if query == "SELECT 1" {
		return handleSelectOne
	}
	return handleLiteral
}

func (s *nullServer) GetFlightInfoStatement(_ context.Context, cmd flightsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	h := statementHandle(cmd.GetQuery())
	r, err := s.byHandle([]byte(h))
	if err != nil {
		return nil, err
	}
	return info(desc, r, s.tickets[h]), nil
}

func (s *nullServer) DoGetStatement(_ context.Context, t flightsql.StatementQueryTicket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	r, err := s.byHandle(t.GetStatementHandle())
	if err != nil {
		return nil, nil, err
	}
	return stream(r)
}

func (s *nullServer) CreatePreparedStatement(context.Context, flightsql.ActionCreatePreparedStatementRequest) (flightsql.ActionCreatePreparedStatementResult, error) {
	return flightsql.ActionCreatePreparedStatementResult{
		Handle:          []byte(handlePrepared),
		DatasetSchema:   s.a.prepared.schema,
		ParameterSchema: s.a.params,
	}, nil
}

func (s *nullServer) ClosePreparedStatement(context.Context, flightsql.ActionClosePreparedStatementRequest) error {
	return nil
}

// DoPutPreparedStatementQuery reads the parameters (and drops them) and answers the same handle.
func (s *nullServer) DoPutPreparedStatementQuery(_ context.Context, cmd flightsql.PreparedStatementQuery, rdr flight.MessageReader, _ flight.MetadataWriter) ([]byte, error) {
	for rdr.Next() {
	}
	if err := rdr.Err(); err != nil {
		return nil, err
	}
	return cmd.GetPreparedStatementHandle(), nil
}

func (s *nullServer) GetFlightInfoPreparedStatement(_ context.Context, cmd flightsql.PreparedStatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	r, err := s.byHandle(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	return info(desc, r, s.tickets[string(cmd.GetPreparedStatementHandle())]), nil
}

func (s *nullServer) DoGetPreparedStatement(_ context.Context, cmd flightsql.PreparedStatementQuery) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	r, err := s.byHandle(cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, nil, err
	}
	return stream(r)
}

// The catalog calls: the descriptor's command is the ticket, as pgflight's are self-contained.

func (s *nullServer) GetFlightInfoCatalogs(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return info(desc, s.a.catalogs, desc.Cmd), nil
}

func (s *nullServer) DoGetCatalogs(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return stream(s.a.catalogs)
}

func (s *nullServer) GetFlightInfoSchemas(_ context.Context, _ flightsql.GetDBSchemas, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return info(desc, s.a.schemas, desc.Cmd), nil
}

func (s *nullServer) DoGetDBSchemas(context.Context, flightsql.GetDBSchemas) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return stream(s.a.schemas)
}

func (s *nullServer) tablesFor(cmd flightsql.GetTables) result {
	if cmd.GetIncludeSchema() {
		return s.a.tablesSchema
	}
	return s.a.tables
}

func (s *nullServer) GetFlightInfoTables(_ context.Context, cmd flightsql.GetTables, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return info(desc, s.tablesFor(cmd), desc.Cmd), nil
}

func (s *nullServer) DoGetTables(_ context.Context, cmd flightsql.GetTables) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return stream(s.tablesFor(cmd))
}

func (s *nullServer) GetFlightInfoTableTypes(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return info(desc, s.a.tableTypes, desc.Cmd), nil
}

func (s *nullServer) DoGetTableTypes(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return stream(s.a.tableTypes)
}
