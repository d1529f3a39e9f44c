package mailevent

import "encoding/json"

// Classification is the bridge's verdict on a failure's diagnostic text.
type Classification struct {
	// Reason is a bounce reason name such as userunknown or blocked.
	Reason string `json:"reason"`
	// Hard is true when sending to the recipient again is pointless.
	Hard bool `json:"hard"`
	// SMTPCode is the SMTP reply code found in the text, such as "550".
	SMTPCode string `json:"smtp_code"`
	// EnhancedStatus is the RFC 3463 enhanced status code found in the
	// text, such as "5.1.1".
	EnhancedStatus string `json:"enhanced_status"`
}

// Message is the data that deliveries and bounces share: the CMC record
// with version 2 field names, and what the bridge read from it.
type Message struct {
	Created    string `json:"created"`
	ReturnPath string `json:"returnPath"`
	From       string `json:"from"`
	To         string `json:"to"`
	MessageID  string `json:"messageId"`
	Subject    string `json:"subject"`
	Reason     string `json:"reason"`
	SenderIP   string `json:"senderIp"`
	SourceIP   string `json:"sourceIp"`
	APIData    string `json:"apiData"`
	Status     string `json:"status"`

	ServerComposition string `json:"server_composition"`
	// SMTPCode and EnhancedStatus are the codes found in Reason, or empty.
	SMTPCode       string `json:"smtp_code"`
	EnhancedStatus string `json:"enhanced_status"`
	// Classification is set on failed and deferred deliveries and on
	// bounces.
	Classification *Classification `json:"classification,omitempty"`
}

// Delivery is the data of the delivery event types.
type Delivery struct {
	Message
}

// Bounce is the data of TypeBounce. Status holds CMC's bounce code.
type Bounce struct {
	Message
	// BounceCode is Status as a number, or nil when Status is not one.
	BounceCode *int `json:"bounce_code"`
	// BounceName is the code's name from BounceCodes, or "unknown".
	BounceName string `json:"bounce_name"`
}

// Block is the data of TypeBlock. CMC does not document the webhook's
// block record, so only the fields of its REST API's block records are
// typed here. Every field that arrives is in the event's raw data.
type Block struct {
	Created           string `json:"created"`
	Email             string `json:"email"`
	Status            string `json:"status"`
	ServerComposition string `json:"server_composition"`
}

// DecodeData reads an event's data into the typed struct of its type:
// *Delivery, *Bounce or *Block. It returns an error for a type that is not
// a CMC record type, such as the bridge's own suppression and alert events.
func DecodeData(ev *Event) (any, error) {
	var target any
	switch ev.Type {
	case TypeDeliveryQueued, TypeDeliverySucceeded, TypeDeliveryFailed,
		TypeDeliveryDeferred, TypeDeliveryUnknown:
		target = &Delivery{}
	case TypeBounce:
		target = &Bounce{}
	case TypeBlock:
		target = &Block{}
	default:
		return nil, &UnknownTypeError{Type: ev.Type}
	}
	if err := json.Unmarshal(ev.Data, target); err != nil {
		return nil, err
	}
	return target, nil
}

// UnknownTypeError is returned by DecodeData for a type it has no struct
// for.
type UnknownTypeError struct {
	Type string
}

func (e *UnknownTypeError) Error() string {
	return "mailevent: no data struct for event type " + e.Type
}
