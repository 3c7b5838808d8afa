package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/lease"
	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/direct"
)

// The flags of a pass come in groups, so that each subcommand takes only
// the groups it uses:
//
//	grantOptions    sync, run, status, token: the hub grant and the spokes' token
//	observeOptions  sync, run, status (--live): which spokes, how they are reached and read
//	pushOptions     sync, run: what a pass that writes may do
//	recordOptions   sync, run, status: where passes record their result
//
// passOptions holds them all: sync and run register every group; status
// registers all but pushOptions, which keep their defaults (status --live
// is a dry run, which never pushes, rotates, prunes or takes the lease).
type passOptions struct {
	grantOptions
	observeOptions
	pushOptions
	recordOptions
}

// grantOptions name the hub AccessGrant and the AccessToken on each spoke.
type grantOptions struct {
	namespace      string
	grant          string
	tokenName      string
	spokeNamespace string
}

// observeOptions choose the spokes and say how to reach and read them.
type observeOptions struct {
	transport       string
	clusterSelector string
	placement       string
	concurrency     int
	spokeTimeout    time.Duration
	expiryMargin    time.Duration
	viewInterval    time.Duration
	credsNamespace  string
	credsSelector   string
	linkReady       time.Duration
	fresh           bool
}

// pushOptions are what a pass that writes may do.
type pushOptions struct {
	linkCost        int64
	rotate          bool
	rotationTimeout time.Duration
	prune           bool
	lease           string
	leaseWait       time.Duration
}

// recordOptions name the status record.
type recordOptions struct {
	statusConfigMap string
}

func (o *passOptions) AddFlags(fs *pflag.FlagSet) {
	o.grantOptions.AddFlags(fs)
	o.observeOptions.AddFlags(fs)
	o.pushOptions.AddFlags(fs)
	o.recordOptions.AddFlags(fs)
}

// addObserveFlags registers every group but pushOptions, which get their
// defaults (status).
func (o *passOptions) addObserveFlags(fs *pflag.FlagSet) {
	o.grantOptions.AddFlags(fs)
	o.observeOptions.AddFlags(fs)
	o.recordOptions.AddFlags(fs)
	o.pushOptions.AddFlags(pflag.NewFlagSet("defaults", pflag.ContinueOnError))
}

func (o *grantOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.namespace, "namespace", "n", "service-interconnect", "hub namespace of the AccessGrant, the status record and the lease")
	fs.StringVar(&o.grant, "grant", "spoke-link", "name of the hub AccessGrant")
	fs.StringVar(&o.tokenName, "token-name", "hub-link", "name of the AccessToken (and of its Link and Secret) on each spoke")
	fs.StringVar(&o.spokeNamespace, "spoke-namespace", "service-interconnect", "namespace of each spoke's Site")
}

func (o *observeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.Var(newEnum(&o.transport, "acm", "acm", "direct"), "transport", "how tokens reach spokes: acm (ManagedClusterAction/View) or direct (spoke credentials held in hub Secrets)")
	fs.StringVar(&o.clusterSelector, "cluster-selector", "", "label selector of the ManagedClusters to link (empty: all joined and available; the hub, label local-cluster=true, never)")
	fs.StringVar(&o.placement, "placement", "", "NAMESPACE/NAME of an OCM Placement whose decisions choose the spokes (instead of --cluster-selector)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "spokes handled at the same time")
	fs.DurationVar(&o.spokeTimeout, "spoke-timeout", 2*time.Minute, "deadline of one spoke in a pass")
	fs.DurationVar(&o.expiryMargin, "expiry-margin", 72*time.Hour, "a grant expiring within this is treated as expiring; bounded by the grant's window: at most half of its spec.expirationWindow is used, so a short-lived grant is not rotated as soon as it is made")
	fs.DurationVar(&o.linkReady, "link-ready-timeout", 10*time.Minute, "a spoke whose Link has not been Ready for longer than this while its Site is Ready is re-linked (0: never)")
	fs.BoolVar(&o.fresh, "fresh", false, "read every spoke as it is now before planning it, bypassing the ACM transport's persistent views (which the agent refreshes every --view-interval); costs agent round trips per spoke. Pushes and removals always rest on fresh reads")
	fs.DurationVar(&o.viewInterval, "view-interval", 5*time.Minute, "refresh interval of the ManagedClusterViews of each spoke's Site and Link")
	fs.StringVar(&o.credsNamespace, "credentials-namespace", "", "with --transport direct: hub namespace of the spoke credential Secrets (Argo CD cluster Secrets or kubeconfig Secrets; default: --namespace)")
	fs.StringVar(&o.credsSelector, "credentials-selector", "vanlink.io/interconnect=spoke", "with --transport direct: label selector of the spoke credential Secrets (they also choose the spokes)")
}

func (o *pushOptions) AddFlags(fs *pflag.FlagSet) {
	addLinkCostFlag(fs, &o.linkCost)
	fs.BoolVar(&o.rotate, "rotate-grant", false, "re-create the grant when it cannot cover the pushes needed or expires within --expiry-margin")
	fs.DurationVar(&o.rotationTimeout, "rotation-timeout", 2*time.Minute, "how long to wait for a re-created grant to become usable")
	fs.BoolVar(&o.prune, "prune", false, "remove the token, Link and Secret from clusters that left the selection")
	fs.StringVar(&o.lease, "lease", "vanlink-sync", "name of the Lease that keeps two passes from pushing at once")
	fs.DurationVar(&o.leaseWait, "lease-wait", 2*time.Minute, "how long to wait for another pass holding the lease")
}

func addLinkCostFlag(fs *pflag.FlagSet, p *int64) {
	fs.Int64Var(p, "link-cost", 0, "spec.linkCost of pushed tokens (0: Skupper's default)")
}

func (o *recordOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.statusConfigMap, "status-configmap", "vanlink-status", "name of the ConfigMap where passes record their result")
}

func (o *passOptions) Validate() error {
	if err := o.grantOptions.Validate(); err != nil {
		return err
	}
	if err := o.observeOptions.Validate(); err != nil {
		return err
	}
	return o.pushOptions.Validate()
}

func (o *grantOptions) Validate() error {
	for _, f := range []struct{ flag, v string }{{"--namespace", o.namespace}, {"--token-name", o.tokenName}, {"--spoke-namespace", o.spokeNamespace}, {"--grant", o.grant}} {
		if errs := validation.IsDNS1123Label(f.v); len(errs) > 0 {
			return fmt.Errorf("%s %q: %s", f.flag, f.v, strings.Join(errs, "; "))
		}
	}
	return nil
}

func (o *observeOptions) Validate() error {
	if o.transport == "direct" && (o.clusterSelector != "" || o.placement != "") {
		return fmt.Errorf("--transport direct chooses spokes with --credentials-selector: --cluster-selector and --placement are for --transport acm")
	}
	if _, err := labels.Parse(o.credsSelector); err != nil {
		return fmt.Errorf("--credentials-selector %q: %w", o.credsSelector, err)
	}
	if o.clusterSelector != "" && o.placement != "" {
		return fmt.Errorf("--cluster-selector and --placement choose spokes in two ways: set one")
	}
	if _, err := labels.Parse(o.clusterSelector); err != nil {
		return fmt.Errorf("--cluster-selector %q: %w", o.clusterSelector, err)
	}
	if o.placement != "" {
		if ns, name, ok := strings.Cut(o.placement, "/"); !ok || ns == "" || name == "" {
			return fmt.Errorf("--placement %q: want NAMESPACE/NAME", o.placement)
		}
	}
	if o.concurrency < 1 {
		return fmt.Errorf("--concurrency %d: must be at least 1", o.concurrency)
	}
	if o.spokeTimeout <= 0 || o.expiryMargin < 0 || o.linkReady < 0 {
		return fmt.Errorf("--spoke-timeout must be positive, --expiry-margin and --link-ready-timeout not negative")
	}
	if o.viewInterval < time.Second {
		return fmt.Errorf("--view-interval %s: must be at least 1s", o.viewInterval)
	}
	return nil
}

func (o *pushOptions) Validate() error {
	if o.rotationTimeout <= 0 || o.leaseWait < 0 {
		return fmt.Errorf("--rotation-timeout must be positive, --lease-wait not negative")
	}
	return validateLinkCost(o.linkCost)
}

func validateLinkCost(c int64) error {
	if c < 0 {
		return fmt.Errorf("--link-cost %d: must not be negative", c)
	}
	return nil
}

// clients are the hub clients of a pass.
type clients struct {
	kube    kubernetes.Interface
	dyn     dynamic.Interface
	cluster clusterclient.Interface
	// server (host:port) and timeout name the hub API server in errors.
	server  string
	timeout time.Duration
}

// explain names the hub API server and --request-timeout in an error that
// comes from a request it did not answer in time.
func (c *clients) explain(err error) error {
	var ne net.Error
	if err == nil || !(errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) {
		return err
	}
	return fmt.Errorf("the hub API server %s did not answer within %s (--request-timeout): %w", c.server, c.timeout, err)
}

func newClients(cfg *rest.Config) (*clients, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cc, err := clusterclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	server := cfg.Host
	if u, err := url.Parse(cfg.Host); err == nil && u.Host != "" {
		server = u.Host
	}
	return &clients{kube: kube, dyn: dyn, cluster: cc, server: server, timeout: cfg.Timeout}, nil
}

func (o *passOptions) credentialsNamespace() string {
	if o.credsNamespace != "" {
		return o.credsNamespace
	}
	return o.namespace
}

func (o *passOptions) fleet(c *clients) fleet.Source {
	if o.transport == "direct" {
		return fleet.BySecrets{Secrets: c.kube.CoreV1().Secrets(o.credentialsNamespace()), Selector: o.credsSelector}
	}
	if o.placement != "" {
		ns, name, _ := strings.Cut(o.placement, "/")
		return fleet.ByPlacement{Clusters: c.cluster.ClusterV1().ManagedClusters(), Decisions: c.cluster.ClusterV1beta1().PlacementDecisions(ns), Namespace: ns, Name: name}
	}
	return fleet.BySelector{Clusters: c.cluster.ClusterV1().ManagedClusters(), Selector: o.clusterSelector}
}

// transportFor builds the transport of a pass; a dry run's writes nothing to
// the hub. The caller closes it when done.
func (o *passOptions) transportFor(c *clients, log *slog.Logger, dryRun bool) transport.Transport {
	if o.transport == "direct" {
		return direct.New(direct.Options{Secrets: c.kube.CoreV1().Secrets(o.credentialsNamespace()), Selector: o.credsSelector,
			TokenName: o.tokenName, SpokeNamespace: o.spokeNamespace, Concurrency: o.concurrency, RequestTimeout: c.timeout, SpokeTimeout: o.spokeTimeout})
	}
	return acm.New(c.dyn, acm.Options{TokenName: o.tokenName, SpokeNamespace: o.spokeNamespace, ViewInterval: o.viewInterval,
		Concurrency: o.concurrency, SpokeTimeout: o.spokeTimeout, Log: log})
}

// transportRecord is what the status record keeps of how spokes are chosen
// and reached, for 'vanlink status --live'.
func (o *passOptions) transportRecord() *report.TransportRecord {
	if o.transport == "direct" {
		return &report.TransportRecord{Name: o.transport, CredentialsNamespace: o.credentialsNamespace(), CredentialsSelector: o.credsSelector}
	}
	return &report.TransportRecord{Name: o.transport, ClusterSelector: o.clusterSelector, Placement: o.placement}
}

// useRecorded takes, for every transport flag not given on the command line
// (changed), the value the recording pass used: status --live then observes
// the spokes as the chart's jobs do. A transport given explicitly keeps its
// own defaults unless the record used the same transport.
func (o *passOptions) useRecorded(t *report.TransportRecord, changed func(flag string) bool) {
	if t == nil {
		return
	}
	if changed("transport") && o.transport != t.Name {
		return
	}
	if !changed("transport") {
		if err := (&enumValue{value: &o.transport, allowed: []string{"acm", "direct"}}).Set(t.Name); err != nil {
			return
		}
	}
	// --cluster-selector and --placement are one choice: either given
	// keeps the record's out.
	chose := changed("cluster-selector") || changed("placement")
	for flag, p := range map[string]struct {
		dst *string
		src string
	}{
		"cluster-selector":      {&o.clusterSelector, t.ClusterSelector},
		"placement":             {&o.placement, t.Placement},
		"credentials-namespace": {&o.credsNamespace, t.CredentialsNamespace},
		"credentials-selector":  {&o.credsSelector, t.CredentialsSelector},
	} {
		if (flag == "cluster-selector" || flag == "placement") && chose {
			continue
		}
		if !changed(flag) && p.src != "" {
			*p.dst = p.src
		}
	}
}

// engine builds a pass over the hub clients. The caller closes its
// Transport when it is done with the engine.
func (o *passOptions) engine(c *clients, log *slog.Logger, dryRun bool) *reconcile.Engine {
	host, _ := os.Hostname()
	holder := host + "-" + rand.String(5)
	return &reconcile.Engine{
		Grants:    c.dyn.Resource(skupper.AccessGrantsGVR).Namespace(o.namespace),
		Sites:     c.dyn.Resource(skupper.SitesGVR).Namespace(o.namespace),
		Fleet:     o.fleet(c),
		Transport: o.transportFor(c, log, dryRun),
		Lock: &lease.Lease{Client: c.kube.CoordinationV1().Leases(o.namespace), Namespace: o.namespace, Name: o.lease,
			Holder: holder, Wait: o.leaseWait, Log: log},
		Reporter: report.Hub{
			Events:    report.EventRecorder{Events: c.kube.CoreV1().Events(o.namespace), Component: "vanlink", Host: host},
			Status:    report.StatusStore{ConfigMaps: c.kube.CoreV1().ConfigMaps(o.namespace), Name: o.statusConfigMap},
			Transport: o.transportRecord(),
		},
		Log: log,
		Opts: reconcile.Options{
			GrantNamespace: o.namespace, GrantName: o.grant, TokenName: o.tokenName, SpokeNamespace: o.spokeNamespace,
			LinkCost: o.linkCost, Concurrency: o.concurrency, SpokeTimeout: o.spokeTimeout, Rotate: o.rotate,
			ExpiryMargin: o.expiryMargin, RotationTimeout: o.rotationTimeout, Prune: o.prune, DryRun: dryRun,
			LinkReadyTimeout: o.linkReady, Fresh: o.fresh,
		},
	}
}

// connect validates the global flags and the command's (validate) and
// returns the hub clients.
func connect(g *globalOptions, validate func() error) (*clients, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := validate(); err != nil {
		return nil, err
	}
	cfg, err := g.restConfig()
	if err != nil {
		return nil, err
	}
	return newClients(cfg)
}
