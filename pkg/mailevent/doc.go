// Package mailevent defines the CloudEvents that mailbridge publishes to
// NATS JetStream for Customers Mail Cloud (CMC) webhooks: their types,
// their subjects, the JSON data of each type, and how they are written to
// and read from NATS messages in both content modes of the CloudEvents
// NATS protocol binding.
//
// Producers use Builder to turn one CMC record into an Event and Encode to
// turn an Event into a NATS message. Consumers use Decode to read a
// message of either content mode back into an Event, and the typed data
// structs (Delivery, Bounce, Block) to read its data.
package mailevent
