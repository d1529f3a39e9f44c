package ingress

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestReadPubAck(t *testing.T) {
	t.Parallel()
	noResponders := &nats.Msg{Header: nats.Header{"Status": []string{"503"}}}
	cases := []struct {
		name      string
		msg       *nats.Msg
		duplicate bool
		err       error
	}{
		{"stored", &nats.Msg{Data: []byte(`{"stream":"MAIL","seq":7}`)}, false, nil},
		{"stored with domain", &nats.Msg{Data: []byte(`{"stream":"MAIL","domain":"hub","seq":7}`)}, false, nil},
		{"duplicate as nats-server writes it", &nats.Msg{Data: []byte(`{"stream":"MAIL","seq":7,"duplicate": true}`)}, true, nil},
		{"duplicate compact", &nats.Msg{Data: []byte(`{"stream":"MAIL","seq":7,"duplicate":true}`)}, true, nil},
		{"duplicate false", &nats.Msg{Data: []byte(`{"stream":"MAIL","seq":7,"duplicate":false}`)}, false, nil},
		{"duplicate other order", &nats.Msg{Data: []byte(`{"seq":7, "duplicate" : true, "stream":"MAIL"}`)}, true, nil},
		{"no responders", noResponders, false, jetstream.ErrNoStreamResponse},
		{"empty", &nats.Msg{}, false, jetstream.ErrInvalidJSAck},
		{"not JSON", &nats.Msg{Data: []byte(`+OK`)}, false, jetstream.ErrInvalidJSAck},
		{"no stream", &nats.Msg{Data: []byte(`{"seq":7}`)}, false, jetstream.ErrInvalidJSAck},
	}
	for _, c := range cases {
		duplicate, err := readPubAck(c.msg)
		if duplicate != c.duplicate {
			t.Errorf("%s: duplicate = %v, want %v", c.name, duplicate, c.duplicate)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}

	// An error answer is returned as JetStream's API error.
	_, err := readPubAck(&nats.Msg{Data: []byte(`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"MAIL","seq":0}`)})
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10077 {
		t.Errorf("error ack: err = %v, want the API error 10077", err)
	}
}
