package controller

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vanlink/vanlink/pkg/reconcile"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	Registry *prometheus.Registry

	spokes          *prometheus.GaugeVec
	pushes, prunes  prometheus.Counter
	failures        *prometheus.CounterVec
	redemptionsLeft prometheus.Gauge
	expirySeconds   prometheus.Gauge
	duration        prometheus.Histogram
	leader          prometheus.Gauge
	queueLen        atomic.Pointer[func() int]
}

// NewMetrics registers the metrics in a new registry (with the Go and
// process collectors).
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.spokes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vanlink_spokes", Help: "Spokes by state (linked, pending, pushed, failed, blocked, skipped, pruned) as last reconciled."}, []string{"state"})
	m.pushes = prometheus.NewCounter(prometheus.CounterOpts{Name: "vanlink_pushes_total", Help: "AccessTokens pushed to spokes."})
	m.prunes = prometheus.NewCounter(prometheus.CounterOpts{Name: "vanlink_prunes_total", Help: "Spokes pruned (token, Link and Secret removed)."})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vanlink_failures_total", Help: "Failed pushes and prunes by reason (AgentTimeout, OutcomeUnknown, Timeout, the spoke's API reason, Error), and blocked pushes (GrantExhausted)."}, []string{"reason"})
	m.redemptionsLeft = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vanlink_grant_redemptions_left", Help: "Redemptions the hub AccessGrant has left."})
	m.expirySeconds = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vanlink_grant_expiry_seconds", Help: "Seconds until the hub AccessGrant expires (negative: expired)."})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vanlink_reconcile_duration_seconds", Help: "Duration of one reconcile of a batch of spokes.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)})
	m.leader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vanlink_leader", Help: "1 while this replica leads (holds the pass Lease), 0 otherwise."})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vanlink_queue_depth", Help: "Spokes waiting in the work queue."}, func() float64 {
		if f := m.queueLen.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	m.Registry.MustRegister(m.spokes, m.pushes, m.prunes, m.failures, m.redemptionsLeft, m.expirySeconds, m.duration, m.leader, queue,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) setLeader(on bool) {
	if m == nil {
		return
	}
	if on {
		m.leader.Set(1)
		return
	}
	m.leader.Set(0)
	m.queueLen.Store(nil)
}

func (m *Metrics) setQueue(n func() int) {
	if m != nil {
		m.queueLen.Store(&n)
	}
}

func (m *Metrics) setSpokes(spokes map[string]reconcile.Change) {
	if m == nil {
		return
	}
	counts := map[reconcile.Outcome]int{}
	for _, ch := range spokes {
		counts[ch.Outcome]++
	}
	for _, o := range []reconcile.Outcome{reconcile.OutcomeLinked, reconcile.OutcomePending, reconcile.OutcomePushed, reconcile.OutcomePruned,
		reconcile.OutcomeFailed, reconcile.OutcomeBlocked, reconcile.OutcomeSkipped} {
		m.spokes.WithLabelValues(string(o)).Set(float64(counts[o]))
	}
}

func (m *Metrics) observe(res *reconcile.Result, d time.Duration, now time.Time) {
	if m == nil || res == nil {
		return
	}
	m.duration.Observe(d.Seconds())
	for _, ch := range res.Changes {
		switch ch.Outcome {
		case reconcile.OutcomePushed:
			m.pushes.Inc()
		case reconcile.OutcomePruned:
			m.prunes.Inc()
		case reconcile.OutcomeFailed:
			m.failures.WithLabelValues(ch.FailReason).Inc()
		case reconcile.OutcomeBlocked:
			m.failures.WithLabelValues("GrantExhausted").Inc()
		}
	}
	if res.Grant.UID != "" {
		m.redemptionsLeft.Set(float64(res.Budget.Left))
		if !res.Budget.Expires.IsZero() {
			m.expirySeconds.Set(res.Budget.Expires.Sub(now).Seconds())
		}
	}
}

// Handler serves /metrics, /healthz (the process answers) and /readyz
// (ready returns nil: the informer caches are filled).
func Handler(m *Metrics, ready func() error) http.Handler {
	mux := http.NewServeMux()
	if m != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
