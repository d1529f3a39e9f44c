// Package suppression keeps the list of recipient addresses that must not
// be mailed again, fed by the bounce, failed, deferred and succeeded
// CloudEvents on JetStream.
//
// The list lives in a JetStream key-value bucket, one record per address.
// Handler applies the Policy to each event and writes the record with
// compare-and-set on the key's revision, so several consumer processes can
// share the work without losing each other's updates. Each record keeps
// the ids of the CloudEvents already applied to it, which makes the effect
// of an event happen once even when JetStream or CMC delivers it again.
// Every change is published as a CloudEvent of its own.
//
// Index is an in-memory copy of the suppressed addresses, fed by a watch
// on the bucket, that answers bulk checks without a bucket read per
// address. API serves the admin HTTP API over a Store and an Index, and
// Client calls it.
package suppression
