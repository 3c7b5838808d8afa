package cli

import (
	"fmt"
	"strconv"
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
			return flagError(f.flag, f.v, "%s", strings.Join(errs, "; "))
		}
	}
	return nil
}

func (o *observeOptions) Validate() error {
	if o.transport == "direct" && o.clusterSelector != "" {
		return flagError("--cluster-selector", o.clusterSelector, "is for --transport acm or manifestwork (--transport direct chooses spokes with --credentials-selector)")
	}
	if o.transport == "direct" && o.placement != "" {
		return flagError("--placement", o.placement, "is for --transport acm or manifestwork (--transport direct chooses spokes with --credentials-selector)")
	}
	if _, err := labels.Parse(o.credsSelector); err != nil {
		return flagError("--credentials-selector", o.credsSelector, "%w", err)
	}
	if o.clusterSelector != "" && o.placement != "" {
		return flagError("--placement", o.placement, "chooses spokes another way than --cluster-selector %q: set one", o.clusterSelector)
	}
	if _, err := labels.Parse(o.clusterSelector); err != nil {
		return flagError("--cluster-selector", o.clusterSelector, "%w", err)
	}
	if o.placement != "" {
		if ns, name, ok := strings.Cut(o.placement, "/"); !ok || ns == "" || name == "" {
			return flagError("--placement", o.placement, "want NAMESPACE/NAME")
		}
	}
	if o.concurrency < 1 {
		return flagError("--concurrency", o.concurrency, "must be at least 1")
	}
	if o.spokeTimeout <= 0 {
		return flagError("--spoke-timeout", o.spokeTimeout, "must be positive")
	}
	if o.observeTimeout <= 0 {
		return flagError("--observe-timeout", o.observeTimeout, "must be positive")
	}
	if o.expiryMargin < 0 {
		return flagError("--expiry-margin", o.expiryMargin, "must not be negative")
	}
	if o.linkReady < 0 {
		return flagError("--link-ready-timeout", o.linkReady, "must not be negative (0: never re-link)")
	}
	for _, n := range o.hubNamespaces {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return flagError("--hub-namespaces", n, "%s", strings.Join(errs, "; "))
		}
	}
	if len(o.hubNamespaces) > 0 && o.transport == "direct" {
		return flagError("--hub-namespaces", strings.Join(o.hubNamespaces, ","), "is for --transport acm or manifestwork (the direct transport makes no hub objects)")
	}
	if o.viewInterval < time.Second {
		return flagError("--view-interval", o.viewInterval, "must be at least 1s")
	}
	return nil
}

func (o *pushOptions) Validate() error {
	if o.rotationTimeout <= 0 {
		return flagError("--rotation-timeout", o.rotationTimeout, "must be positive")
	}
	if o.leaseWait < 0 {
		return flagError("--lease-wait", o.leaseWait, "must not be negative")
	}
	return validateLinkCost(o.linkCost)
}

func validateLinkCost(c int64) error {
	if c < 0 {
		return flagError("--link-cost", c, "must not be negative")
	}
	return nil
}

// FlagError is a flag value that Validate refuses. Its message names the one
// flag and its value, then says what is wrong: --concurrency 0: must be at
// least 1.
type FlagError struct {
	// Flag is the flag as typed: --concurrency.
	Flag string
	// Value is the value as it is printed: quoted when a string.
	Value string
	Err   error
}

func (e *FlagError) Error() string { return e.Flag + " " + e.Value + ": " + e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// flagError builds a FlagError: a string value is quoted, so an empty one
// shows; format and args (with %w) say what is wrong.
func flagError(flag string, value any, format string, args ...any) error {
	v := fmt.Sprint(value)
	if s, ok := value.(string); ok {
		v = strconv.Quote(s)
	}
	return &FlagError{Flag: flag, Value: v, Err: fmt.Errorf(format, args...)}
}
