package manifestwork_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork/worktest"
)

const (
	ns    = "service-interconnect"
	token = "hub-link"
	code  = "s3cret-grant-code-abc"
)

// refusingSpoke answers every AccessToken create with a validation error
// that quotes the token's code, as an API server may quote a bad value.
type refusingSpoke struct{ *acmtest.MemorySpoke }

func (s refusingSpoke) Create(ctx context.Context, gvr schema.GroupVersionResource, namespace string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if gvr.Resource == "accesstokens" {
		c, _, _ := unstructured.NestedString(obj.Object, "spec", "code")
		return nil, apierrors.NewBadRequest(fmt.Sprintf("AccessToken %q is invalid: spec.code: Invalid value: %q", obj.GetName(), c))
	}
	return s.MemorySpoke.Create(ctx, gvr, namespace, obj)
}

type bed struct {
	hub   *dynamicfake.FakeDynamicClient
	agent *worktest.Agent
	spoke *acmtest.MemorySpoke
	tr    transport.Transport
}

func newBed(t *testing.T, wrap func(*acmtest.MemorySpoke) acmtest.Spoke) *bed {
	b := &bed{hub: worktest.NewFakeHub()}
	b.agent = worktest.New(b.hub, worktest.Options{StatusSync: 20 * time.Millisecond})
	b.spoke = acmtest.NewMemorySpoke("east")
	b.spoke.Mapper = acmtest.StaticMapper(acmtest.CoreGroup, acmtest.SkupperGroup)
	var s acmtest.Spoke = b.spoke
	if wrap != nil {
		s = wrap(b.spoke)
	}
	b.agent.AddSpoke("east", s)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = b.agent.Run(ctx) }()
	b.tr = manifestwork.New(b.hub, manifestwork.Options{TokenName: token, SpokeNamespace: ns, ResyncCheck: 50 * time.Millisecond, SpokeTimeout: 5 * time.Second})
	_, err := b.spoke.Create(t.Context(), skupper.SitesGVR, ns, obj("skupper.io/v2alpha1", "Site", "east", map[string]any{}))
	require.NoError(t, err)
	return b
}

func obj(apiVersion, kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns}, "spec": spec}}
}

// accessToken requests the token, from a grant whose code is code.
func accessToken() *skupper.TokenRequest {
	g := &skupper.Grant{Name: "link-fleet", Namespace: "hub", UID: "uid", URL: "https://grants.hub:9090/uid", CA: "pem", Code: code}
	return skupper.NewTokenRequest(g, skupper.TokenOptions{Name: token, Namespace: ns})
}

// hubText is every ManifestWork on the hub, as JSON.
func (b *bed) hubText(t *testing.T) string {
	l, err := b.hub.Resource(manifestwork.WorksGVR).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	data, err := json.Marshal(l.Items)
	require.NoError(t, err)
	return string(data)
}

func TestApply(t *testing.T) {
	tests := map[string]struct {
		wrap  func(*acmtest.MemorySpoke) acmtest.Spoke
		pause bool
		op    transport.Op
		// ctx bounds the Apply.
		timeout time.Duration
		want    func(t *testing.T, err error)
	}{
		"a push the spoke refuses fails with the spoke's answer, its code redacted": {
			wrap: func(s *acmtest.MemorySpoke) acmtest.Spoke { return refusingSpoke{s} },
			op:   transport.Op{Name: token, Push: accessToken()},
			want: func(t *testing.T, err error) {
				var se *transport.SpokeError
				require.True(t, errors.As(err, &se), "a SpokeError: %v", err)
				require.Contains(t, se.Message, "spec.code: Invalid value", "the spoke's answer")
				require.NotContains(t, err.Error(), code, "the code is never in an error")
				require.Contains(t, err.Error(), skupper.Redacted)
			},
		},
		"a push whose agent does not answer ends at the deadline, and the code is off the hub": {
			pause: true, timeout: 500 * time.Millisecond,
			op: transport.Op{Name: token, Push: accessToken()},
			want: func(t *testing.T, err error) {
				require.True(t, errors.Is(err, transport.ErrAgentTimeout), "the agent's deadline: %v", err)
			},
		},
		"a push of another token is refused, naming it": {
			op: transport.Op{Name: "other-link", Push: accessToken()},
			want: func(t *testing.T, err error) {
				require.ErrorContains(t, err, "configured for token hub-link, not other-link")
			},
		},
		"a push into another namespace is refused, naming it": {
			op: transport.Op{Name: token, Push: func() *skupper.TokenRequest { u := accessToken(); u.Namespace = "elsewhere"; return u }()},
			want: func(t *testing.T, err error) {
				require.ErrorContains(t, err, "must be service-interconnect/hub-link, not elsewhere/hub-link")
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := newBed(t, tc.wrap)
			s, err := b.tr.Open(t.Context(), transport.SessionOptions{})
			require.NoError(t, err)
			_, err = transport.ObserveAll(t.Context(), s, transport.Query{Spokes: []string{"east"}, LinkNames: []string{token}})
			require.NoError(t, err)
			if tc.pause {
				b.agent.Pause("east")
			}
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			tc.want(t, s.Apply(ctx, "east", tc.op))
			require.NoError(t, s.Close(t.Context()))
			require.NotContains(t, b.hubText(t), code, "no ManifestWork holds the code once Apply returned")
		})
	}
}

// TestOpenSweepsWhatACrashedSessionLeft: a work left with the token's code
// (a session killed during a push) is put back at rest by the next Open,
// before anything else.
func TestOpenSweepsWhatACrashedSessionLeft(t *testing.T) {
	b := newBed(t, nil)
	s, err := b.tr.Open(t.Context(), transport.SessionOptions{})
	require.NoError(t, err)
	_, err = transport.ObserveAll(t.Context(), s, transport.Query{Spokes: []string{"east"}, LinkNames: []string{token}})
	require.NoError(t, err)
	b.agent.Pause("east") // the crash happens while the agent does not answer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Apply(ctx, "east", transport.Op{Name: token, Push: accessToken()}) }()
	require.Eventually(t, func() bool { return strings.Contains(b.hubText(t), code) }, 5*time.Second, 10*time.Millisecond, "the push is written")
	// A crash: no cleanup runs. The push's own write of the rest form is
	// kept from the hub by a reactor that fails it, as a dead process would
	// never send it.
	b.hub.PrependReactor("patch", "manifestworks", failWrites)
	cancel()
	<-done
	require.Contains(t, b.hubText(t), code, "the crashed session left the code on the hub")
	b.hub.ReactionChain = b.hub.ReactionChain[1:]

	s2, err := b.tr.Open(t.Context(), transport.SessionOptions{})
	require.NoError(t, err)
	require.NotContains(t, b.hubText(t), code, "the next session's Open took the code out")
	require.NoError(t, s2.Close(t.Context()))
}

func TestReadOnlySessionRefusesWrites(t *testing.T) {
	b := newBed(t, nil)
	s, err := b.tr.Open(t.Context(), transport.SessionOptions{ReadOnly: true})
	require.NoError(t, err)
	obs, err := transport.ObserveAll(t.Context(), s, transport.Query{Spokes: []string{"east"}, LinkNames: []string{token}})
	require.NoError(t, err)
	require.Equal(t, transport.Unknown, obs["east"].Site.State, "a dry run creates no work, so it cannot read the spoke")
	require.Contains(t, obs["east"].Site.Reason, "dry run")
	require.ErrorContains(t, s.Apply(t.Context(), "east", transport.Op{Name: token, Push: accessToken()}), "read-only")
	require.ErrorContains(t, s.(transport.Pruner).Forget(t.Context(), "east"), "read-only")
	require.NoError(t, s.Close(t.Context()))
	require.Equal(t, "null", b.hubText(t), "nothing written to the hub")
}

// failWrites fails a write as a dead process never sends it.
func failWrites(clienttesting.Action) (bool, runtime.Object, error) {
	return true, nil, errors.New("the process is gone")
}
