package consumer

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RemoveOrdered deletes the server's consumer behind an ordered consumer
// that is no longer read. Otherwise the server keeps it until it has had
// no reader for 5 minutes, nats.go's default for ordered consumers. A
// failed delete leaves just that, so its error is not returned.
func RemoveOrdered(js jetstream.JetStream, stream string, ordered jetstream.Consumer) {
	info := ordered.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = js.DeleteConsumer(ctx, stream, info.Name)
}
