package postsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/skupper"
)

// missingGrant answers NotFound for every read.
type missingGrant struct{}

func (missingGrant) Get(_ context.Context, name string, _ metav1.GetOptions, _ ...string) (*unstructured.Unstructured, error) {
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: "skupper.io", Resource: "accessgrants"}, name)
}
func (missingGrant) Create(context.Context, *unstructured.Unstructured, metav1.CreateOptions, ...string) (*unstructured.Unstructured, error) {
	return nil, errors.New("not used")
}
func (missingGrant) Delete(context.Context, string, metav1.DeleteOptions, ...string) error {
	return errors.New("not used")
}

func TestRunWaitsForTheGrantThenGivesUp(t *testing.T) {
	e := &reconcile.Engine{Grants: missingGrant{}, Opts: reconcile.Options{GrantNamespace: "service-interconnect", GrantName: "spoke-link"}}
	start := time.Now()
	_, code, err := Run(t.Context(), e, Options{GrantTimeout: 300 * time.Millisecond, Poll: 50 * time.Millisecond})
	require.Equal(t, 1, code)
	require.ErrorIs(t, err, reconcile.ErrGrantNotFound)
	require.ErrorContains(t, err, "did not become usable within 300ms")
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "the wait is bounded, not skipped")
}

// hubSites answers the hub Site as site() builds it at each read.
type hubSites struct {
	site func() *unstructured.Unstructured
}

func (h hubSites) List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return &unstructured.UnstructuredList{Items: []unstructured.Unstructured{*h.site()}}, nil
}

func hubSite(ready bool) *unstructured.Unstructured {
	s := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "Site",
		"metadata": map[string]any{"name": "hub", "namespace": "service-interconnect"},
		"spec":     map[string]any{"linkAccess": "loadbalancer"},
		"status":   map[string]any{"status": "Pending", "message": "Not Running"},
	}}
	if ready {
		s.Object["status"] = map[string]any{"status": "Ready", "message": "OK", "endpoints": []any{
			map[string]any{"name": "inter-router", "host": "203.0.113.7", "port": "55671", "group": "skupper-router"},
			map[string]any{"name": "edge", "host": "203.0.113.7", "port": "45671", "group": "skupper-router"},
		}}
	}
	return s
}

func TestTheHookWaitsForAHubSiteThatCanIssueLinks(t *testing.T) {
	opts := Options{GrantTimeout: 400 * time.Millisecond, Poll: 20 * time.Millisecond}
	opts.Log = slog.New(slog.DiscardHandler)
	engine := func(s hubSites) *reconcile.Engine {
		return &reconcile.Engine{Sites: s, Opts: reconcile.Options{GrantNamespace: "service-interconnect", GrantName: "spoke-link"}}
	}
	t.Run("a hub Site that becomes Ready with endpoints ends the wait", func(t *testing.T) {
		start := time.Now()
		err := waitForHub(t.Context(), engine(hubSites{func() *unstructured.Unstructured { return hubSite(time.Since(start) > 100*time.Millisecond) }}), opts, start.Add(opts.GrantTimeout))
		require.NoError(t, err)
		require.Less(t, time.Since(start), opts.GrantTimeout)
	})
	t.Run("a hub Site that stays Pending ends the wait with the reason", func(t *testing.T) {
		start := time.Now()
		err := waitForHub(t.Context(), engine(hubSites{func() *unstructured.Unstructured { return hubSite(false) }}), opts, start.Add(opts.GrantTimeout))
		require.ErrorIs(t, err, reconcile.ErrHubNotReady)
		require.ErrorContains(t, err, "the hub Site could not issue links within 400ms")
		require.ErrorContains(t, err, "Site service-interconnect/hub is not Ready (Pending: Not Running)", "the error names the Site and says why")
		require.GreaterOrEqual(t, time.Since(start), opts.GrantTimeout, "the wait is bounded, not skipped")
	})
	t.Run("a signal ends the wait at once", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		stop := errors.New("stopped by SIGTERM")
		cancel(stop)
		err := waitForHub(ctx, engine(hubSites{func() *unstructured.Unstructured { return hubSite(false) }}), Options{GrantTimeout: time.Minute, Poll: time.Second, Log: opts.Log}, time.Now().Add(time.Minute))
		require.ErrorIs(t, err, stop)
	})
}

// scriptedGrant answers each read with the next step of its script (the last
// one again once the script is done) and counts the reads.
type scriptedGrant struct {
	missingGrant
	steps []func() (*unstructured.Unstructured, error)
	reads int
}

func (s *scriptedGrant) Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error) {
	step := s.steps[min(s.reads, len(s.steps)-1)]
	s.reads++
	return step()
}

func refused() (*unstructured.Unstructured, error) {
	return nil, &url.Error{Op: "Get", URL: "https://hub.example:6443/apis/skupper.io/v2alpha1/namespaces/service-interconnect/accessgrants/spoke-link",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
}

func notFound() (*unstructured.Unstructured, error) {
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: "skupper.io", Resource: "accessgrants"}, "spoke-link")
}

func readyGrant(t *testing.T) func() (*unstructured.Unstructured, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return func() (*unstructured.Unstructured, error) {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "skupper.io/v2alpha1", "kind": "AccessGrant",
			"metadata": map[string]any{"name": "spoke-link", "namespace": "service-interconnect", "uid": "grant-1"},
			"spec":     map[string]any{"redemptionsAllowed": int64(10), "expirationWindow": "720h"},
			"status": map[string]any{"status": "Ready", "message": "OK", "url": "https://grants.hub:9090/grant-1", "code": "c0de",
				"ca": ca, "redemptions": int64(0), "expirationTime": time.Now().Add(720 * time.Hour).Format(time.RFC3339)},
		}}, nil
	}
}

func grantEngine(g reconcile.GrantClient) *reconcile.Engine {
	return &reconcile.Engine{Grants: g, Opts: reconcile.Options{GrantNamespace: "service-interconnect", GrantName: "spoke-link"}}
}

// closedPort is a local port nothing listens on: connections are refused.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestAHubThatCannotBeReachedEndsTheWaitNamingTheServer(t *testing.T) {
	opts := Options{GrantTimeout: 2 * time.Minute, Poll: 20 * time.Millisecond, Unreachable: 3, Log: slog.New(slog.DiscardHandler)}
	t.Run("a refused connection", func(t *testing.T) {
		server := closedPort(t)
		dyn, err := dynamic.NewForConfig(&rest.Config{Host: "https://" + server, Timeout: time.Second})
		require.NoError(t, err)
		start := time.Now()
		_, code, err := Run(t.Context(), grantEngine(dyn.Resource(skupper.AccessGrantsGVR).Namespace("service-interconnect")), opts)
		require.Less(t, time.Since(start), 5*time.Second, "the wait ends within seconds, not after --grant-timeout")
		require.Equal(t, 1, code)
		var unreachable *UnreachableError
		require.ErrorAs(t, err, &unreachable)
		require.Equal(t, server, unreachable.Server, "the error names the server from the request")
		require.Equal(t, 3, unreachable.Reads)
		require.ErrorContains(t, err, "the hub API server "+server+" could not be reached or did not answer 3 reads in a row while waiting for the AccessGrant")
		require.ErrorContains(t, err, "connection refused", "the cause is kept")
	})
	t.Run("a server that accepts connections and never answers", func(t *testing.T) {
		hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		t.Cleanup(hang.Close)
		dyn, err := dynamic.NewForConfig(&rest.Config{Host: hang.URL, Timeout: 50 * time.Millisecond})
		require.NoError(t, err)
		o := opts
		o.Server = "hub.example:6443"
		start := time.Now()
		err = WaitForGrant(t.Context(), grantEngine(dyn.Resource(skupper.AccessGrantsGVR).Namespace("service-interconnect")), o)
		require.Less(t, time.Since(start), 5*time.Second)
		require.ErrorAs(t, err, new(*UnreachableError))
		require.ErrorContains(t, err, "the hub API server hub.example:6443 could not be reached or did not answer", "Options.Server names the server")
	})
}

func TestTheWaitRidesOutBlipsAndWaitsForAGrantCreatedLate(t *testing.T) {
	// Two refused reads (an upgrade of the hub API server), the grant not
	// there yet for a while, two refused reads again, then the grant.
	steps := []func() (*unstructured.Unstructured, error){refused, refused}
	for range 10 {
		steps = append(steps, notFound)
	}
	steps = append(steps, refused, refused)
	for range 10 {
		steps = append(steps, notFound)
	}
	steps = append(steps, readyGrant(t))
	g := &scriptedGrant{steps: steps}
	err := WaitForGrant(t.Context(), grantEngine(g), Options{GrantTimeout: time.Minute, Poll: 5 * time.Millisecond, Unreachable: 3, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err, "fewer than 3 unreachable reads in a row, and API answers of a grant not there yet, are waited out")
	require.Equal(t, len(steps), g.reads)
}
