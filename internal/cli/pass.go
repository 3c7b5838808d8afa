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

	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"

	"github.com/vanlink/vanlink/jobs/postsync"
	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/lease"
	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/direct"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

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
	if errors.As(err, new(*postsync.UnreachableError)) {
		return err // it names the server already
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
	if o.transport == "manifestwork" {
		return manifestwork.New(c.dyn, manifestwork.Options{TokenName: o.tokenName, SpokeNamespace: o.spokeNamespace,
			Concurrency: o.concurrency, SpokeTimeout: o.spokeTimeout, Namespaces: o.hubNamespaces})
	}
	return acm.New(c.dyn, acm.Options{TokenName: o.tokenName, SpokeNamespace: o.spokeNamespace, ViewInterval: o.viewInterval,
		Concurrency: o.concurrency, SpokeTimeout: o.spokeTimeout, Namespaces: o.hubNamespaces})
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
		if err := (&enumValue{value: &o.transport, allowed: transports}).Set(t.Name); err != nil {
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
			Listeners: c.dyn.Resource(skupper.ListenersGVR).Namespace(o.namespace),
		},
		Log: log,
		Opts: reconcile.Options{
			GrantNamespace: o.namespace, GrantName: o.grant, TokenName: o.tokenName, SpokeNamespace: o.spokeNamespace,
			LinkCost: o.linkCost, Concurrency: o.concurrency, SpokeTimeout: o.spokeTimeout, ObserveTimeout: o.observeTimeout, Rotate: o.rotate,
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
