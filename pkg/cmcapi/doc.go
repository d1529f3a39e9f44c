// Package cmcapi is a client for the list endpoints of Customers Mail
// Cloud's (CMC) REST API, which keep each day's deliveries and bounces:
// POST {base}/transaction/v2/{deliveries|bounces}/list.json, paged by p
// and r. mailbridge uses it to backfill the stream when webhooks were
// missed.
//
// The client sends one request at a time and never retries on its own,
// because CMC asks for about one poll a day. It never logs, and its
// errors never contain the API key.
package cmcapi
