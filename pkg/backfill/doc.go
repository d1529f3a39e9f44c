// Package backfill fills gaps in mailbridge's stream from Customers Mail
// Cloud's REST API. It reads one day's (or one hour's) deliveries and
// bounces and maps each record to the CloudEvent the webhook would have
// produced, with the same id. It publishes only the events the stream
// does not contain yet, so a second run publishes nothing.
package backfill
