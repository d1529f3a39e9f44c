package ingress

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// WebhookPath is the path of the CMC event webhook.
const WebhookPath = "/webhooks/cmc"

// Routes returns the ingress's HTTP routes: the webhook, /healthz (the
// process is up), /readyz (NATS is connected, Config.StorageCheck passes
// and the stream info request succeeds) and,
// when gatherer is not nil, /metrics.
func (h *Handler) Routes(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(WebhookPath, h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", h.serveReady)
	if gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

func (h *Handler) serveReady(w http.ResponseWriter, r *http.Request) {
	if h.nc != nil && !h.nc.IsConnected() {
		writeError(w, http.StatusServiceUnavailable, "not connected to NATS (status "+h.nc.Status().String()+")")
		return
	}
	if err := h.checkStorage(r.Context()); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := h.js.Stream(ctx, h.cfg.StreamName); err != nil {
		writeError(w, http.StatusServiceUnavailable, "stream "+h.cfg.StreamName+" is not reachable: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
