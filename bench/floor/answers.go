// The null server's answers, built once at start from constants and shaped like pgflight's
// answers on the latency benchmark's database (bench/latency.py): the point query's row, the
// SELECT 1 row, one catalog, one schema and the 51 tables lat and lat_meta_01..50 with their
// Arrow schemas. Only the shapes matter (what is encoded and sent), not the values.
package main

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	catalogName = "latency"
	schemaName  = "public"
	metaTables  = 50
)

// result is one precomputed answer: its schema, encoded once for FlightInfo, and its one batch.
type result struct {
	schema  *arrow.Schema
	encoded []byte
	batch   arrow.RecordBatch
}

func newResult(mem memory.Allocator, schema *arrow.Schema, build func(b *array.RecordBuilder)) result {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	build(b)
	return result{schema: schema, encoded: flight.SerializeSchema(schema, mem), batch: b.NewRecordBatch()}
}

// answers are every result the null server sends.
type answers struct {
	prepared     result // SELECT id, name, amount FROM lat WHERE id = ? (prepared)
	params       *arrow.Schema
	literal      result // the same with a literal id (CommandStatementQuery)
	selectOne    result // SELECT 1
	catalogs     result
	schemas      result
	tables       result // GetTables without include_schema
	tablesSchema result // GetTables with include_schema
	tableTypes   result
}

// column is a PostgreSQL column as pgflight describes it.
type column struct {
	name     string
	typ      arrow.DataType
	typeName string
	notNull  bool
	prec     int // 0: none
	scale    int
	hasScale bool
}

func latColumns() []column {
	return []column{
		{name: "id", typ: arrow.PrimitiveTypes.Int64, typeName: "bigint", notNull: true},
		{name: "name", typ: arrow.BinaryTypes.String, typeName: "text", notNull: true},
		{name: "amount", typ: &arrow.Decimal128Type{Precision: 12, Scale: 2}, typeName: "numeric(12,2)", prec: 12, scale: 2, hasScale: true},
		{name: "updated_at", typ: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, typeName: "timestamp with time zone", notNull: true},
	}
}

func metaColumns() []column {
	json, err := extensions.NewJSONType(arrow.BinaryTypes.String)
	if err != nil {
		panic(err) // a constant storage type: cannot fail
	}
	return []column{
		{name: "id", typ: arrow.PrimitiveTypes.Int32, typeName: "integer", notNull: true},
		{name: "parent_id", typ: arrow.PrimitiveTypes.Int64, typeName: "bigint"},
		{name: "code", typ: arrow.BinaryTypes.String, typeName: "text", notNull: true},
		{name: "label", typ: arrow.BinaryTypes.String, typeName: "character varying(80)", prec: 80},
		{name: "qty", typ: arrow.PrimitiveTypes.Int32, typeName: "integer"},
		{name: "price", typ: &arrow.Decimal128Type{Precision: 10, Scale: 2}, typeName: "numeric(10,2)", prec: 10, scale: 2, hasScale: true},
		{name: "ok", typ: arrow.FixedWidthTypes.Boolean, typeName: "boolean"},
		{name: "created", typ: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, typeName: "timestamp with time zone"},
		{name: "day", typ: arrow.FixedWidthTypes.Date32, typeName: "date"},
		{name: "payload", typ: json, typeName: "jsonb"},
	}
}

func flag01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// resultField is a column of a statement's result (pgflight: type name, nullability, read-only).
func resultField(c column) arrow.Field {
	keys := []string{"ARROW:FLIGHT:SQL:IS_NULLABLE", "ARROW:FLIGHT:SQL:IS_READ_ONLY", "ARROW:FLIGHT:SQL:TYPE_NAME"}
	vals := []string{flag01(!c.notNull), "1", c.typeName}
	keys, vals = withPrecision(c, keys, vals)
	return arrow.Field{Name: c.name, Type: c.typ, Nullable: !c.notNull, Metadata: arrow.NewMetadata(keys, vals)}
}

// tableField is a column of a relation (pgflight adds schema, table and auto-increment).
func tableField(table string, c column) arrow.Field {
	keys := []string{"ARROW:FLIGHT:SQL:IS_AUTO_INCREMENT", "ARROW:FLIGHT:SQL:IS_NULLABLE", "ARROW:FLIGHT:SQL:IS_READ_ONLY",
		"ARROW:FLIGHT:SQL:SCHEMA_NAME", "ARROW:FLIGHT:SQL:TABLE_NAME", "ARROW:FLIGHT:SQL:TYPE_NAME"}
	vals := []string{"0", flag01(!c.notNull), "1", schemaName, table, c.typeName}
	keys, vals = withPrecision(c, keys, vals)
	return arrow.Field{Name: c.name, Type: c.typ, Nullable: !c.notNull, Metadata: arrow.NewMetadata(keys, vals)}
}

func withPrecision(c column, keys, vals []string) ([]string, []string) {
	if c.prec > 0 {
		keys, vals = append(keys, "ARROW:FLIGHT:SQL:PRECISION"), append(vals, strconv.Itoa(c.prec))
	}
	if c.hasScale {
		keys, vals = append(keys, "ARROW:FLIGHT:SQL:SCALE"), append(vals, strconv.Itoa(c.scale))
	}
	return keys, vals
}

// appendPointRow appends the one row every point query answers (id 42, as in the database).
func appendPointRow(b *array.RecordBuilder) {
	b.Field(0).(*array.Int64Builder).Append(42)
	b.Field(1).(*array.StringBuilder).Append("name a1d0c6e83f027327d8461063f4ac58a6")
	b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(4398618))
}

func buildAnswers(mem memory.Allocator) answers {
	var a answers
	lat := latColumns()
	point := make([]arrow.Field, 3)
	literal := make([]arrow.Field, 3)
	for i, c := range lat[:3] {
		point[i] = resultField(c)
		literal[i] = tableField("lat", c)
	}
	a.prepared = newResult(mem, arrow.NewSchema(point, nil), appendPointRow)
	a.literal = newResult(mem, arrow.NewSchema(literal, nil), appendPointRow)
	a.params = arrow.NewSchema([]arrow.Field{resultField(column{name: "$1", typ: arrow.PrimitiveTypes.Int64, typeName: "bigint"})}, nil)
	a.selectOne = newResult(mem, arrow.NewSchema([]arrow.Field{
		resultField(column{name: "?column?", typ: arrow.PrimitiveTypes.Int32, typeName: "integer"})}, nil),
		func(b *array.RecordBuilder) { b.Field(0).(*array.Int32Builder).Append(1) })

	a.catalogs = newResult(mem, schema_ref.Catalogs, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).Append(catalogName)
	})
	a.schemas = newResult(mem, schema_ref.DBSchemas, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).Append(catalogName)
		b.Field(1).(*array.StringBuilder).Append(schemaName)
	})
	a.tableTypes = newResult(mem, schema_ref.TableTypes, func(b *array.RecordBuilder) {
		for _, t := range []string{"TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE", "PARTITIONED TABLE"} {
			b.Field(0).(*array.StringBuilder).Append(t)
		}
	})

	names := []string{"lat"}
	encoded := [][]byte{encodeTable(mem, "lat", lat)}
	meta := metaColumns()
	for i := 1; i <= metaTables; i++ {
		name := fmt.Sprintf("lat_meta_%02d", i)
		names = append(names, name)
		encoded = append(encoded, encodeTable(mem, name, meta))
	}
	appendTables := func(b *array.RecordBuilder) {
		for i, name := range names {
			b.Field(0).(*array.StringBuilder).Append(catalogName)
			b.Field(1).(*array.StringBuilder).Append(schemaName)
			b.Field(2).(*array.StringBuilder).Append(name)
			b.Field(3).(*array.StringBuilder).Append("TABLE")
			if b.Schema().NumFields() > 4 {
				b.Field(4).(*array.BinaryBuilder).Append(encoded[i])
			}
		}
	}
	a.tables = newResult(mem, schema_ref.Tables, appendTables)
	a.tablesSchema = newResult(mem, schema_ref.TablesWithIncludedSchema, appendTables)
	return a
}

// encodeTable is a relation's Arrow schema as GetTables' table_schema carries it (IPC-encoded).
func encodeTable(mem memory.Allocator, table string, cols []column) []byte {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = tableField(table, c)
	}
	return flight.SerializeSchema(arrow.NewSchema(fields, nil), mem)
}
