// Package ingress is the HTTP side of mailbridge: it receives Customers
// Mail Cloud event webhooks, splits each batch into CloudEvents, publishes
// them to JetStream, and answers 200 only once JetStream has stored every
// one of them.
//
// What cannot be read or mapped is published as it arrived to the
// rejected subject, with the reason in a header, so nothing is dropped
// unnoticed. The answer to the sender says what was wrong in one JSON
// sentence.
package ingress
