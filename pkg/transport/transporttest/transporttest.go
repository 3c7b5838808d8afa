// Package transporttest is the conformance suite every transport.Transport
// must pass: the upstream behaviours a transport has to read right (an HA
// hub's Links, a foreign CRD sharing a Skupper plural, a Site of any name,
// a Link whose Secret alone was deleted, reads a cache made stale), the
// session contract (decision-ready observations, a read-only session that
// writes nothing), and no grant code left on the hub once a session is
// closed. A transport's tests call Run with a constructor of its bed.
package transporttest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// Names the suite uses; a bed's transport must be configured with them.
const (
	Namespace = "service-interconnect"
	TokenName = "hub-link"
	// Code is the grant code of the tokens the suite pushes.
	Code = "c0nformance-grant-c0de-xyz"
)

// LinkerdLinksGVR is Linkerd multicluster's Link: another project's CRD
// with the plural links, whose group sorts before skupper.io.
var LinkerdLinksGVR = schema.GroupVersionResource{Group: "multicluster.linkerd.io", Version: "v1alpha1", Resource: "links"}

// Spoke is the spoke API a bed lets the suite arrange objects with (its
// errors are Kubernetes API errors). It serves Skupper's kinds, core
// Secrets and ConfigMaps, and LinkerdLinksGVR.
type Spoke interface {
	Create(ctx context.Context, gvr schema.GroupVersionResource, namespace string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error)
	Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error)
	Delete(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) error
}

// Bed is a transport configured with TokenName and Namespace, whose spokes
// are reachable, and what the suite needs to check it.
type Bed struct {
	Transport transport.Transport
	// Spokes are the spokes' APIs by cluster name.
	Spokes map[string]Spoke
	// HubObjects returns, as text, every hub object the transport made
	// (nil when it makes none): the suite checks no grant code is left in
	// them once a session is closed, and counts them for read-only sessions.
	HubObjects func(t *testing.T) []string
	// Hub is the hub client the Transport was built over, wrapped so the
	// suite can crash a session mid-push (nil for a transport that keeps
	// nothing on the hub, with HubObjects nil).
	Hub *CrashingHub
}

// NewBed builds a fresh bed with the named spokes.
type NewBed func(t *testing.T, spokes ...string) *Bed

// Run runs the suite.
func Run(t *testing.T, newBed NewBed) {
	for name, c := range cases {
		t.Run(name, func(t *testing.T) { c(t, newBed(t, "east", "west")) })
	}
}

var cases = map[string]func(*testing.T, *Bed){
	"a spoke with a Site and nothing else is observed fresh, with its token read":          coldSpoke,
	"an HA hub's Links are every Link using the token's credentials":                       haLinks,
	"a query without Link names (the hub blocked) keeps reading an HA hub's Links":         haLinksWithoutNames,
	"a foreign CRD sharing the Link plural is never read nor removed":                      foreignPlural,
	"a spoke's Site is found whatever its name":                                            siteOfAnyName,
	"a Link whose Secret alone was deleted is not Ready, with its token, never Present":    secretOnlyDeletion,
	"changes made since the last observation are seen before any decision to act":          staleReads,
	"a fresh session sees a linked spoke's Links removed since":                            freshSession,
	"Apply pushes a token, refuses a second, and removes the token, every Link and Secret": applyPushAndRemove,
	"a read-only session writes nothing":                                                   readOnly,
	"a session that crashed mid-push leaves the code, and the next Open takes it out":      crashedPush,
}

var (
	sitesGVR      = skupper.SitesGVR
	linksGVR      = skupper.LinksGVR
	tokensGVR     = skupper.AccessTokensGVR
	secretsGVR    = skupper.SecretsGVR
	configMapsGVR = skupper.ConfigMapsGVR
)

func obj(apiVersion, kind, name string, spec, status map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": Namespace}}}
	if spec != nil {
		o.Object["spec"] = spec
	}
	if status != nil {
		o.Object["status"] = status
	}
	return o
}

func create(t *testing.T, s Spoke, gvr schema.GroupVersionResource, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got, err := s.Create(context.Background(), gvr, Namespace, o)
	require.NoError(t, err, "creating %s %s on the spoke", o.GetKind(), o.GetName())
	return got
}

func site(name string) *unstructured.Unstructured {
	return obj("skupper.io/v2alpha1", "Site", name, map[string]any{}, map[string]any{"status": "Ready"})
}

func link(name, status string) *unstructured.Unstructured {
	return obj("skupper.io/v2alpha1", "Link", name, map[string]any{"tlsCredentials": TokenName,
		"endpoints": []any{map[string]any{"name": "inter-router", "host": "10.0.0.1", "port": "55671"}}},
		map[string]any{"status": status})
}

func secret() *unstructured.Unstructured {
	return obj("v1", "Secret", TokenName, nil, nil)
}

func token(status map[string]any) *unstructured.Unstructured {
	return obj("skupper.io/v2alpha1", "AccessToken", TokenName,
		map[string]any{"url": "https://grants.hub:9090/uid", "code": Code, "ca": "pem"}, status)
}

// Request is the push of the suite's token: TokenName in Namespace, from a
// grant whose code is Code.
func Request() *skupper.TokenRequest {
	g := &skupper.Grant{Name: "link-fleet", Namespace: "hub", UID: "uid", URL: "https://grants.hub:9090/uid", CA: "pem", Code: Code}
	return skupper.NewTokenRequest(g, skupper.TokenOptions{Name: TokenName, Namespace: Namespace})
}

var redeemed = map[string]any{"redeemed": true, "status": "Ready",
	"conditions": []any{map[string]any{"type": "Redeemed", "status": "True", "reason": "Ready", "message": "OK"}}}

func open(t *testing.T, b *Bed, o transport.SessionOptions) transport.Session {
	t.Helper()
	s, err := b.Transport.Open(t.Context(), o)
	require.NoError(t, err)
	return s
}

// observe observes the spokes in one session-wide call.
func observe(t *testing.T, s transport.Session, q transport.Query) map[string]*transport.Observation {
	t.Helper()
	obs, err := transport.ObserveAll(t.Context(), s, q)
	require.NoError(t, err)
	require.Len(t, obs, len(q.Spokes), "every spoke is emitted")
	return obs
}

// closeClean closes the session and checks no hub object holds the code.
func closeClean(t *testing.T, b *Bed, s transport.Session) {
	t.Helper()
	require.NoError(t, s.Close(t.Context()))
	if b.HubObjects == nil {
		return
	}
	for _, o := range b.HubObjects(t) {
		require.NotContains(t, o, Code, "no hub object holds the grant code once the session is closed")
	}
}

// decisionReady checks the session contract on one observation.
func decisionReady(t *testing.T, o *transport.Observation) {
	t.Helper()
	linked := o.Links.State == transport.Present && o.Links.Object.Ready()
	if o.Site.State == transport.Unknown || o.Links.State == transport.Unknown || linked {
		return
	}
	require.True(t, o.Fresh, "%s: an observation that may lead to a push or removal is read as the spoke is now", o.Cluster)
	if o.Site.State == transport.Present {
		require.NotNil(t, o.Token, "%s: a spoke not linked comes with its token", o.Cluster)
		require.NotEqual(t, transport.Unknown, o.Token.State, "%s: token: %s", o.Cluster, o.Token.Reason)
	}
}

func q(spokes ...string) transport.Query {
	return transport.Query{Spokes: spokes, LinkNames: skupper.LinkNames(TokenName, 1)}
}
