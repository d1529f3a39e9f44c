// Package natsmetrics exports the state of mailbridge's NATS side as
// Prometheus metrics: the connection, the pub acks a publisher still
// awaits, the stream's size, and the lag and redeliveries of every durable
// consumer on the stream.
//
// The stream and consumer metrics are read from JetStream at each scrape,
// so any mailbridge process that scrapes them shows every durable on the
// stream, including those of other processes and other services.
package natsmetrics
