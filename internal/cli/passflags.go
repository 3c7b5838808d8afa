package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
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
// transports are the values of --transport.
var transports = []string{"acm", "manifestwork", "direct"}

type observeOptions struct {
	transport       string
	clusterSelector string
	placement       string
	concurrency     int
	spokeTimeout    time.Duration
	observeTimeout  time.Duration
	expiryMargin    time.Duration
	viewInterval    time.Duration
	hubNamespaces   []string
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
	fs.Var(newEnum(&o.transport, "acm", transports...), "transport", "how tokens reach spokes: acm (ManagedClusterAction/View), manifestwork (an OCM ManifestWork per spoke: upstream Open Cluster Management, or ACM) or direct (spoke credentials held in hub Secrets)")
	fs.StringVar(&o.clusterSelector, "cluster-selector", "", "label selector of the ManagedClusters to link (empty: all joined and available; the hub, label local-cluster=true, never)")
	fs.StringVar(&o.placement, "placement", "", "NAMESPACE/NAME of an OCM Placement whose decisions choose the spokes (instead of --cluster-selector)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "spokes handled at the same time")
	fs.DurationVar(&o.spokeTimeout, "spoke-timeout", 2*time.Minute, "deadline of one spoke's push or removal in a pass")
	fs.DurationVar(&o.observeTimeout, "observe-timeout", 5*time.Minute, "deadline of observing the whole fleet when a pass holds every push until it is observed (the grant cannot cover every spoke, may need rotating, or a dry run); a pass that pushes as it observes is paced by its pushes instead")
	fs.DurationVar(&o.expiryMargin, "expiry-margin", 72*time.Hour, "a grant expiring within this is treated as expiring; bounded by the grant's window: at most half of its spec.expirationWindow is used, so a short-lived grant is not rotated as soon as it is made")
	fs.DurationVar(&o.linkReady, "link-ready-timeout", 10*time.Minute, "a spoke whose Link has not been Ready for longer than this while its Site is Ready is re-linked (0: never)")
	fs.BoolVar(&o.fresh, "fresh", false, "read every spoke as it is now before planning it, bypassing the ACM transport's persistent views (which the agent refreshes every --view-interval); costs agent round trips per spoke. Pushes and removals always rest on fresh reads")
	fs.DurationVar(&o.viewInterval, "view-interval", 5*time.Minute, "refresh interval of the ManagedClusterViews of each spoke's Site and Link")
	fs.StringSliceVar(&o.hubNamespaces, "hub-namespaces", nil, "with --transport acm or manifestwork: the only hub namespaces (spoke names) to watch and write ManagedClusterActions and Views, or ManifestWorks, in, so the RBAC can be RoleBindings there only (the hub chart's sync.rbac.scope namespaced); empty: every hub namespace")
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
		return fmt.Errorf("--transport direct chooses spokes with --credentials-selector: --cluster-selector and --placement are for --transport acm or manifestwork")
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
	if o.spokeTimeout <= 0 || o.observeTimeout <= 0 || o.expiryMargin < 0 || o.linkReady < 0 {
		return fmt.Errorf("--spoke-timeout and --observe-timeout must be positive, --expiry-margin and --link-ready-timeout not negative")
	}
	for _, n := range o.hubNamespaces {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return fmt.Errorf("--hub-namespaces %q: %s", n, strings.Join(errs, "; "))
		}
	}
	if len(o.hubNamespaces) > 0 && o.transport == "direct" {
		return fmt.Errorf("--hub-namespaces is for --transport acm or manifestwork (the direct transport makes no hub objects)")
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
