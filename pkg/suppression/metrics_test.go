package suppression

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func TestMetricsCountChangesEventsChecks(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	ctx := natstest.Context(t, 30*time.Second)

	metrics := NewMetrics()
	store, err := NewStore(ctx, b.srv.JS, Config{Metrics: metrics, Now: b.clock.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	index := NewIndex()
	registry := prometheus.NewRegistry()
	if err := metrics.Register(registry, index); err != nil {
		t.Fatalf("register: %v", err)
	}
	indexCtx, stopIndex := context.WithCancel(context.Background())
	indexDone := make(chan error, 1)
	go func() { indexDone <- index.Run(indexCtx, store.Bucket(), testLogger(t)) }()
	t.Cleanup(func() {
		stopIndex()
		<-indexDone
	})
	srv := httptest.NewServer(NewAPI(store, index, APIConfig{Metrics: metrics, Logger: testLogger(t)}))
	t.Cleanup(srv.Close)
	client := &Client{BaseURL: srv.URL, HTTPClient: srv.Client()}
	<-index.Ready()

	// A hard bounce, the same bounce again, and an event without a
	// recipient.
	bounce, subject := event(t, eventSpec{id: "m1", typ: mailevent.TypeBounce, to: "gone@example.jp", messageID: "<m1>", at: base, code: 2})
	for range 2 {
		if err := store.HandleEvent(ctx, &consumer.Msg{Event: bounce, Subject: subject, Delivered: 1, Stored: base}); err != nil {
			t.Fatalf("handle bounce: %v", err)
		}
	}
	invalid, subject := event(t, eventSpec{id: "m2", typ: mailevent.TypeBounce, to: "", messageID: "<m2>", at: base, code: 2})
	if err := store.HandleEvent(ctx, &consumer.Msg{Event: invalid, Subject: subject, Delivered: 1, Stored: base}); !consumer.IsPermanent(err) {
		t.Fatalf("handle event without recipient = %v, want a Permanent error", err)
	}

	// A manual add, a change of its reason, and its removal.
	for _, reason := range []string{"complaint", "unsubscribed"} {
		if _, err := client.SuppressionAdd(ctx, "manual@example.jp", reason, ""); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "the manual address in the index", func() bool { return index.Len() == 2 })
	if got := gaugeValue(t, registry, "mailbridge_suppression_addresses", "hard", SourceManual); got != 1 {
		t.Errorf("addresses{hard, manual} = %v before the removal, want 1", got)
	}
	if err := client.SuppressionRemove(ctx, "manual@example.jp"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the removal in the index", func() bool { return index.Len() == 1 })

	if _, err := client.SuppressionCheck(ctx, []string{"gone@example.jp", "ok@example.jp", "manual@example.jp"}); err != nil {
		t.Fatal(err)
	}

	counters := []struct {
		vec   *prometheus.CounterVec
		label string
		want  float64
	}{
		{metrics.changes, ChangeAdded, 2},
		{metrics.changes, ChangeUpdated, 1},
		{metrics.changes, ChangeRemoved, 1},
		{metrics.events, OutcomeChanged, 1},
		{metrics.events, OutcomeUnchanged, 1},
		{metrics.events, OutcomeInvalid, 1},
		{metrics.events, OutcomeFailed, 0},
	}
	for _, c := range counters {
		if got := testutil.ToFloat64(c.vec.WithLabelValues(c.label)); got != c.want {
			t.Errorf("%s = %v, want %v", c.label, got, c.want)
		}
	}
	if got := gaugeValue(t, registry, "mailbridge_suppression_addresses", "hard", SourceBounce); got != 1 {
		t.Errorf("addresses{hard, bounce} = %v, want 1", got)
	}
	if got := gaugeValue(t, registry, "mailbridge_suppression_addresses", "hard", SourceManual); got != 0 {
		t.Errorf("addresses{hard, manual} = %v after the removal, want 0", got)
	}
	checks := histogram(t, registry, "mailbridge_suppression_check_addresses")
	if checks.GetSampleCount() != 1 || checks.GetSampleSum() != 3 {
		t.Errorf("check_addresses count %d sum %v, want one check of 3 addresses", checks.GetSampleCount(), checks.GetSampleSum())
	}
	if n := histogram(t, registry, "mailbridge_suppression_check_duration_seconds").GetSampleCount(); n != 1 {
		t.Errorf("check_duration_seconds count = %d, want 1", n)
	}
}

func TestIndexSizeCountsReplacedAddressOnce(t *testing.T) {
	t.Parallel()
	index := NewIndex()
	index.set("a@example.jp", "userunknown", SourceBounce, true)
	index.set("A@example.jp", "mailboxfull", SourceBounce, false)
	index.set("b@example.jp", "manual", "", true)

	counts := index.counts()
	if got := counts[sizeKey{hard: true, source: sourceCode(SourceBounce)}]; got != 0 {
		t.Errorf("hard bounce count = %d after the address turned soft, want 0", got)
	}
	if got := counts[sizeKey{hard: false, source: sourceCode(SourceBounce)}]; got != 1 {
		t.Errorf("soft bounce count = %d, want 1", got)
	}
	if got := counts[sizeKey{hard: true, source: 0}]; got != 1 {
		t.Errorf("hard unknown-source count = %d, want 1", got)
	}
	index.Delete("b@example.jp")
	if got := index.counts()[sizeKey{hard: true, source: 0}]; got != 0 {
		t.Errorf("hard unknown-source count = %d after the delete, want 0", got)
	}
}

// gaugeValue returns the gauge of a family with the severity and source
// labels, failing the test when there is none.
func gaugeValue(t *testing.T, g prometheus.Gatherer, name, severity, source string) float64 {
	t.Helper()
	for _, m := range family(t, g, name).GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["severity"] == severity && labels["source"] == source {
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("%s has no series with severity %s and source %s", name, severity, source)
	return 0
}

// histogram returns the only histogram of a family.
func histogram(t *testing.T, g prometheus.Gatherer, name string) *dto.Histogram {
	t.Helper()
	return family(t, g, name).GetMetric()[0].GetHistogram()
}

func family(t *testing.T, g prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f
		}
	}
	t.Fatalf("no metric family %s", name)
	return nil
}
