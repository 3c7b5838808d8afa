package postsync

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/pkg/reconcile"
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
