// Package cmc decodes the event webhooks that Customers Mail Cloud (CMC)
// posts: a batch of delivery, bounce or block records for one
// server composition, sent as JSON, as URL-encoded form fields or as
// multipart form fields.
//
// Decode reads a request body into a Batch whose entries are still raw JSON
// objects, so a bad entry can be rejected on its own while its siblings are
// kept. ParseEntry then reads one entry, mapping webhook version 1 field
// names (envelopeFrom, envelopeTo) to version 2 names and keeping every
// field it does not know.
//
// The package does no I/O besides reading the body it is given, and it
// never logs.
package cmc
