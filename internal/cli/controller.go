package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/klog/v2"

	"github.com/vanlink/vanlink/pkg/controller"
	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
	"github.com/vanlink/vanlink/pkg/skupper"
)

// controllerOptions are the flags of 'vanlink controller': a pass's, and
// how the controller leads, queues and serves its metrics.
type controllerOptions struct {
	global        *globalOptions
	pass          passOptions
	httpAddress   string
	identity      string
	resync        time.Duration
	leaseDuration time.Duration
	renewDeadline time.Duration
	retryPeriod   time.Duration
	minBackoff    time.Duration
	maxBackoff    time.Duration
	maxBatch      int
	pushBackoff   time.Duration
	// cacheSyncTimeout bounds the first fill of the informer caches; 0:
	// cacheSyncRequests times --request-timeout.
	cacheSyncTimeout time.Duration
	// profiling serves Go's runtime profiles on --http-address.
	profiling bool
}

func newControllerCommand(streams IOStreams, g *globalOptions) *cobra.Command {
	o := &controllerOptions{global: g}
	c := &cobra.Command{
		Use:   "controller",
		Short: "Keep the fleet linked as it changes: a leader-elected controller on the hub",
		Long: `controller runs until stopped and links each spoke within seconds of the
moment it can be linked: it watches what chooses the spokes (ManagedClusters,
PlacementDecisions, or the credential Secrets with --transport direct), the
AccessGrant and the hub Site, and reconciles a spoke when its membership, the
grant or its observed state changes, plus a periodic resync (--resync).

Replicas elect a leader on the pass Lease (--lease), the one the PostSync hook
and the CronJob take: whoever holds it pushes, so the jobs and the controller
never push to the same spoke at once (a job that finds the controller leading
exits 0 after --lease-wait). The leader records the status ('vanlink status')
and Events as a pass does. SIGTERM: the leader stops taking work, removes the
hub objects that carry the grant code, then releases the Lease.

/metrics, /healthz and /readyz are served on --http-address, and with
--profiling Go's runtime profiles under /debug/pprof/ (off by default: a
profile exposes the process's memory to whoever reaches the address).`,
		Example: `  vanlink controller --placement openshift-gitops/vanlink-spokes --prune
  vanlink controller --transport direct --http-address :9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defaultNamespace(cmd, o.global, &o.pass.namespace)
			return o.Run(cmd.Context(), streams)
		},
	}
	o.pass.AddFlags(c.Flags())
	o.AddFlags(c.Flags())
	return c
}

func (o *controllerOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.httpAddress, "http-address", ":8080", "address of the /metrics, /healthz and /readyz endpoints (empty: none)")
	fs.BoolVar(&o.profiling, "profiling", false, "also serve Go's runtime profiles (net/http/pprof) under /debug/pprof/ on --http-address")
	fs.StringVar(&o.identity, "identity", "", "this replica's identity in the Lease (default: the host name and a random suffix)")
	fs.DurationVar(&o.resync, "resync", 10*time.Minute, "how often every spoke is reconciled, whatever the events say")
	fs.DurationVar(&o.leaseDuration, "leader-lease-duration", 15*time.Second, "how long a standby waits before it takes over a Lease that was not renewed")
	fs.DurationVar(&o.renewDeadline, "leader-renew-deadline", 10*time.Second, "how long the leader retries renewing the Lease before it stops leading")
	fs.DurationVar(&o.retryPeriod, "leader-retry-period", 2*time.Second, "how often the leader renews and a standby tries to take the Lease")
	fs.DurationVar(&o.minBackoff, "min-backoff", time.Second, "first delay before a pending or failed spoke is reconciled again (doubling per spoke)")
	fs.DurationVar(&o.maxBackoff, "max-backoff", 5*time.Minute, "longest delay before a pending or failed spoke is reconciled again")
	fs.IntVar(&o.maxBatch, "max-batch", 500, "most spokes reconciled together")
	fs.DurationVar(&o.cacheSyncTimeout, "cache-sync-timeout", 0, fmt.Sprintf("how long the first fill of the informer caches (the fleet, the grant, the hub Site) may take before the controller gives up with an error naming the hub API server (0: %d times --request-timeout)", cacheSyncRequests))
	fs.DurationVar(&o.pushBackoff, "push-backoff", 10*time.Second, "how long a spoke pushed and not linked yet waits before it may be pushed again with the same grant (doubling per push up to --max-backoff): each push spends a redemption")
}

func (o *controllerOptions) Validate() error {
	if err := o.pass.Validate(); err != nil {
		return err
	}
	switch {
	case o.resync < time.Second:
		return flagError("--resync", o.resync, "must be at least 1s")
	case o.minBackoff <= 0:
		return flagError("--min-backoff", o.minBackoff, "must be positive")
	case o.maxBackoff < o.minBackoff:
		return flagError("--max-backoff", o.maxBackoff, "must be at least --min-backoff (%s)", o.minBackoff)
	case o.maxBatch < 1:
		return flagError("--max-batch", o.maxBatch, "must be at least 1")
	case o.pushBackoff <= 0:
		return flagError("--push-backoff", o.pushBackoff, "must be positive")
	case o.cacheSyncTimeout < 0:
		return flagError("--cache-sync-timeout", o.cacheSyncTimeout, "must be positive, or 0 for %d times --request-timeout", cacheSyncRequests)
	case o.profiling && o.httpAddress == "":
		return flagError("--http-address", o.httpAddress, "--profiling serves the profiles there: give an address")
	case o.retryPeriod <= 0:
		return flagError("--leader-retry-period", o.retryPeriod, "must be positive")
	case o.renewDeadline <= o.retryPeriod:
		return flagError("--leader-renew-deadline", o.renewDeadline, "must be longer than --leader-retry-period (%s)", o.retryPeriod)
	case o.leaseDuration <= o.renewDeadline:
		return flagError("--leader-lease-duration", o.leaseDuration, "must be longer than --leader-renew-deadline (%s)", o.renewDeadline)
	}
	return nil
}

func (o *controllerOptions) Run(ctx context.Context, streams IOStreams) error {
	c, err := connect(o.global, o.Validate)
	if err != nil {
		return err
	}
	log := o.logger(streams.ErrOut)
	p := &o.pass
	host, _ := os.Hostname()
	id := o.identity
	if id == "" {
		id = host + "-" + rand.String(5)
	}
	e := p.engine(c, log, false)
	// The controller leads while it holds the Lease: no per-pass lock, and
	// it records the fleet itself.
	e.Lock, e.Reporter = nil, nil
	metrics := controller.NewMetrics()
	ctrl := &controller.Controller{Engine: e, Log: log, Metrics: metrics,
		Opts: controller.Options{Resync: o.resync, MinBackoff: o.minBackoff, MaxBackoff: o.maxBackoff, MaxBatch: o.maxBatch, PushBackoff: o.pushBackoff},
		Status: statusReporter{store: report.StatusStore{ConfigMaps: c.kube.CoreV1().ConfigMaps(p.namespace), Name: p.statusConfigMap}, transport: p.transportRecord(),
			listeners: c.dyn.Resource(skupper.ListenersGVR).Namespace(p.namespace)},
		Events: eventReporter{report.EventRecorder{Events: c.kube.CoreV1().Events(p.namespace), Component: "vanlink", Host: host}},
	}
	w := &controller.Watch{}
	if p.transport == "direct" {
		e.Fleet, err = w.Secrets(c.kube, p.credentialsNamespace(), p.credsSelector, ctrl.MembershipChanged)
	} else {
		e.Fleet, err = w.ManagedClusters(c.cluster, p.clusterSelector, p.placement, ctrl.MembershipChanged)
	}
	if err != nil {
		return err
	}
	if err := w.Grant(c.dyn, p.namespace, p.grant, ctrl.GrantChanged, ctrl.GrantReplaced); err != nil {
		return err
	}
	// The informers run until the command returns, after the last term.
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	if o.httpAddress != "" {
		ln, err := net.Listen("tcp", o.httpAddress)
		if err != nil {
			return fmt.Errorf("--http-address %s: %w", o.httpAddress, err)
		}
		h := controller.Handler(metrics, w.Ready)
		if o.profiling {
			h = withProfiling(h)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("serving metrics and probes failed", "err", err)
			}
		}()
		defer func() { _ = srv.Close() }()
		log.Info("serving /metrics, /healthz and /readyz", "address", ln.Addr().String())
	}
	w.Start(life)
	if err := o.waitForSync(ctx, w, c); err != nil {
		return err
	}
	log.Info("controller started; campaigning for the Lease", "lease", p.namespace+"/"+p.lease, "identity", id, "transport", p.transport)
	el := controller.Election{Leases: c.kube.CoordinationV1(), Namespace: p.namespace, Name: p.lease, Identity: id,
		LeaseDuration: o.leaseDuration, RenewDeadline: o.renewDeadline, RetryPeriod: o.retryPeriod, Log: log}
	return el.Run(ctx, ctrl.Lead)
}

// cacheSyncRequests is how many times --request-timeout the first fill of
// the caches may take by default: a list that timed out is retried after a
// backoff of about a second (client-go's reflector), so a server that never
// answers has failed a few lists by then.
const cacheSyncRequests = 3

// waitForSync waits for the informer caches to fill, at most
// --cache-sync-timeout: a hub API server that completes TLS and never
// answers (or fails every list) ends the command with an error that names
// it, and says what the last list got, instead of a controller that waits
// for ever and never leads. Other ends (a signal) are returned as they are.
func (o *controllerOptions) waitForSync(ctx context.Context, w *controller.Watch, c *clients) error {
	d, flag := o.cacheSyncTimeout, "--cache-sync-timeout"
	if d == 0 {
		d, flag = cacheSyncRequests*time.Duration(o.global.requestTimeout), fmt.Sprintf("--cache-sync-timeout, by default %d times --request-timeout", cacheSyncRequests)
	}
	timedOut := errors.New("gave up waiting")
	ctx, cancel := context.WithTimeoutCause(ctx, d, timedOut)
	defer cancel()
	err := w.WaitForSync(ctx)
	var se *controller.SyncError
	switch {
	case err == nil || !errors.Is(err, timedOut) || !errors.As(err, &se):
		return err
	case se.Last != nil:
		return fmt.Errorf("the hub API server %s did not fill the controller's informer caches within %s (%s): %w", c.server, d, flag, err)
	}
	return fmt.Errorf("the hub API server %s did not answer the controller's lists and watches within %s (%s): %w", c.server, d, flag, err)
}

// withProfiling adds Go's runtime profiles (net/http/pprof) under
// /debug/pprof/ to h, as Kubernetes components do with --profiling
// (kubernetes/apiserver pkg/server/routes/profiling.go, Profiling.Install:
// the index under the prefix, and profile, symbol and trace).
func withProfiling(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// logger builds the controller's logger (see globalOptions.logger) and
// routes klog through it: client-go's own lines (leader election,
// reflectors, client-side throttling) then come out in the same format, one
// JSON object per line with --log-format json. klog's verbosity (0) still
// drops its V(n) lines.
func (o *controllerOptions) logger(errOut io.Writer) *slog.Logger {
	log := o.global.logger(errOut)
	klog.SetSlogLogger(log)
	return log
}

// statusReporter records the fleet in the status ConfigMap, as a pass does
// (report.Hub without the events: the controller records those per
// reconcile).
type statusReporter struct {
	store     report.StatusStore
	transport *report.TransportRecord
	// listeners are the hub's Listeners, whose reachability the record keeps.
	listeners report.ListenerLister
}

func (s statusReporter) Report(ctx context.Context, res *reconcile.Result) error {
	prev, err := s.store.Read(ctx)
	if err != nil {
		prev = nil
	}
	rec := report.Merge(prev, res)
	rec.Transport = s.transport
	if s.listeners != nil {
		if rerr := report.ObserveReachability(ctx, rec, prev, s.listeners, time.Now()); rerr != nil {
			rec.Pass.Warnings = append(rec.Pass.Warnings, "reachability of the catalog services not observed: "+rerr.Error())
		}
	}
	return errors.Join(err, s.store.Write(ctx, rec))
}

// eventReporter records the Events of one reconcile.
type eventReporter struct{ rec report.EventRecorder }

func (e eventReporter) Report(ctx context.Context, res *reconcile.Result) error {
	return e.rec.Record(ctx, res)
}
