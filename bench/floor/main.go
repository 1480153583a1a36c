// Command floor measures the client floor of pgflight's latency benchmark (bench/latency.py):
// what a Flight SQL client costs by itself, with a server that does no work.
//
//	floor nullserver [-port N]          a Flight SQL server answering precomputed results
//	floor goclient -addr HOST:PORT ...  the prepared point query through arrow-go's flightsql client
//
// Both are benchmark tools, not part of pgflight; bench/README.md describes the method.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "nullserver":
		err = runNullServer(os.Args[2:])
	case "goclient":
		err = runGoClient(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "floor %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: floor nullserver [-port N] | floor goclient -addr HOST:PORT [-n N] [-warmup N] [-ids N] [-sql SQL]")
	os.Exit(2)
}
