package natsmetrics

import (
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterConnection registers the metrics of one NATS connection and of
// the JetStream context that publishes through it:
//
//   - mailbridge_nats_connected: 1 while nc is connected, else 0.
//   - mailbridge_nats_reconnects_total: reconnects since nc was opened.
//   - mailbridge_pub_acks_pending: messages published asynchronously
//     through js whose pub ack has not arrived yet. Omitted when js is nil.
func RegisterConnection(reg prometheus.Registerer, nc *nats.Conn, js jetstream.JetStream) error {
	collectors := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mailbridge_nats_connected",
			Help: "1 while the NATS connection is connected, 0 while it is disconnected, reconnecting or closed.",
		}, func() float64 {
			if nc.IsConnected() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mailbridge_nats_reconnects_total",
			Help: "Reconnects of the NATS connection since the process started.",
		}, func() float64 {
			return float64(nc.Stats().Reconnects)
		}),
	}
	if js != nil {
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mailbridge_pub_acks_pending",
			Help: "Events published to JetStream whose pub ack has not arrived yet.",
		}, func() float64 {
			return float64(js.PublishAsyncPending())
		}))
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
