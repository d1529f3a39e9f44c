package mailevent

import "strings"

// TypePrefix is the start of every CloudEvent type that mailbridge writes
// for CMC records, in reverse-DNS form of CMC's domain smtps.jp.
const TypePrefix = "jp.smtps.cmc."

// The CloudEvent types of CMC records: one per delivery status, one for
// bounces and one for blocks.
const (
	TypeDeliveryQueued    = TypePrefix + "delivery.queued"
	TypeDeliverySucceeded = TypePrefix + "delivery.succeeded"
	TypeDeliveryFailed    = TypePrefix + "delivery.failed"
	TypeDeliveryDeferred  = TypePrefix + "delivery.deferred"
	// TypeDeliveryUnknown is the type of a delivery whose status the bridge
	// does not know. The status stays in the data.
	TypeDeliveryUnknown = TypePrefix + "delivery.unknown"
	TypeBounce          = TypePrefix + "bounce"
	TypeBlock           = TypePrefix + "block"
)

// Types returns every CloudEvent type of CMC records.
func Types() []string {
	return []string{
		TypeDeliveryQueued, TypeDeliverySucceeded, TypeDeliveryFailed,
		TypeDeliveryDeferred, TypeDeliveryUnknown, TypeBounce, TypeBlock,
	}
}

// The delivery statuses CMC sends.
const (
	StatusQueued    = "queued"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusDeferred  = "deferred"
)

// deliveryType returns the CloudEvent type of a delivery with the given
// status, and whether the status is one CMC documents.
func deliveryType(status string) (string, bool) {
	switch status {
	case StatusQueued:
		return TypeDeliveryQueued, true
	case StatusSucceeded:
		return TypeDeliverySucceeded, true
	case StatusFailed:
		return TypeDeliveryFailed, true
	case StatusDeferred:
		return TypeDeliveryDeferred, true
	}
	return TypeDeliveryUnknown, false
}

// BounceCode is one of CMC's bounce status codes.
type BounceCode struct {
	Code string
	// Name is the subject token and the bounce_name in the data.
	Name string
	// Description is CMC's meaning of the code.
	Description string
}

// BounceCodes lists CMC's bounce status codes in the vendor's order.
var BounceCodes = []BounceCode{
	{"1", "host_unknown", "host unknown"},
	{"2", "user_unknown", "user unknown"},
	{"3", "expired", "gave up retrying (timeout)"},
	{"4", "policy", "rejected by policy"},
	{"5", "mailbox_full", "mailbox over capacity"},
	{"6", "forward_error", "forwarding error"},
	{"7", "server_error", "receiving server error"},
	{"8", "too_large", "message too large"},
	{"9", "bad_address", "bad address format"},
	{"10", "blocked", "address blocked by CMC after earlier errors"},
	{"11", "unsubscribed", "recipient unsubscribed"},
	{"99", "other", "other permanent error"},
}

// UnknownToken is the subject token for a status or code the bridge does
// not know.
const UnknownToken = "unknown"

// BounceName returns the name of a CMC bounce code, or UnknownToken.
func BounceName(code string) string {
	code = strings.TrimSpace(code)
	for _, c := range BounceCodes {
		if c.Code == code {
			return c.Name
		}
	}
	return UnknownToken
}
