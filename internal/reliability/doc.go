// Package reliability holds the harnesses that check mailbridge's delivery
// promise under failure: every event whose webhook got a 200 is stored in the stream
// exactly once, through node failures, NATS outages, crashes of the bridge
// and full streams.
//
// The harnesses run real NATS servers in-process (a three-node JetStream
// cluster on loopback, or a single server), real ingress handlers behind
// httptest servers or "mailbridge serve" child processes, and a bounded
// load loop that records the id of every event that got a 200. An audit
// then reads the whole stream and counts every Nats-Msg-Id.
//
// The tests run shortened by default. Set MAILBRIDGE_LONG_TESTS=1 for the
// full-length variants, such as a 60 second outage.
package reliability
