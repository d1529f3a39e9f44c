// Package backfill fills gaps in mailbridge's stream from Customers Mail
// Cloud's REST API: it reads one day's (or one hour's) deliveries and
// bounces, maps each record to the CloudEvent the webhook would have
// produced, with the same id, and publishes only the events the stream
// does not hold yet. Running it twice publishes nothing the second time.
package backfill
