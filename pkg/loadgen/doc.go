// Package loadgen measures a running mailbridge ingress: it posts realistic
// Customers Mail Cloud (CMC) webhook batches over keep-alive connections,
// then reports events stored per second, requests per second, latency
// percentiles, errors by HTTP status and the bridge's peak memory, and
// checks that the stream gained exactly the events the bridge accepted.
//
// The load generator usually runs on the bridge's machine, so it is built
// to cost little CPU. Each worker reuses one body buffer. Plain http://
// URLs go through a minimal HTTP/1.1 client, with one kept-alive
// connection per worker, instead of net/http.
//
// Every run is bounded by a request count, a duration or both, and stops
// by itself. The package never logs; Run returns a Report.
package loadgen
