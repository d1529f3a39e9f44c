package consumer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Idempotent returns a Handler that runs h at most once per CloudEvent id
// while the id is remembered in kv. After h succeeds, it stores the id in
// kv; a later event with a stored id is acked without calling h. The
// bucket's TTL (jetstream.KeyValueConfig.TTL) sets how long ids are
// remembered: set it longer than the time a duplicate can arrive, such as
// the stream's MaxAge for a replay.
//
// The guarantee is at-least-once, not exactly-once. When the process dies,
// or kv cannot be written, after h's effect and before the id is stored,
// the event is delivered again and h runs again. Two deliveries of one id
// that run at the same moment (on two processes of a durable, or in one
// with Concurrency above 1) can both run h. Make h's own effect
// idempotent, such as an upsert keyed by the event id, where a second run
// must not happen.
//
// A failure to read kv is returned as an error, so the event is delivered
// again later; a failure to store the id is returned too, and the second
// delivery runs h again.
func Idempotent(kv jetstream.KeyValue, h Handler) Handler {
	return func(ctx context.Context, msg *Msg) error {
		key := idempotencyKey(msg.Event.ID)
		_, err := kv.Get(ctx, key)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return fmt.Errorf("read processed event id %s: %w", msg.Event.ID, err)
		}

		if err := h(ctx, msg); err != nil {
			return err
		}

		value := []byte(time.Now().UTC().Format(time.RFC3339Nano))
		if _, err := kv.Put(ctx, key, value); err != nil {
			return fmt.Errorf("store processed event id %s: %w", msg.Event.ID, err)
		}
		return nil
	}
}

// idempotencyKey returns the KV key of an event id. mailbridge's ids are
// hex and are used as they are; any other id is hashed, because KV keys
// allow only letters, digits and "-_=.".
func idempotencyKey(id string) string {
	if id != "" && len(id) <= 128 && validKey(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256." + hex.EncodeToString(sum[:])
}

func validKey(id string) bool {
	if id[0] == '.' || id[len(id)-1] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return true
}
