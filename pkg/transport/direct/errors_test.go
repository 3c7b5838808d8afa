package direct

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/transporttest"
)

// TestASpokeAPIErrorStaysAValueThroughTheSpokeError: the spoke API
// server's error is wrapped, not flattened: errors.As reaches the
// *apierrors.StatusError through the transport.SpokeError, so a caller can
// sort it (apierrors.IsForbidden) as well as read the SpokeError's reason.
func TestASpokeAPIErrorStaysAValueThroughTheSpokeError(t *testing.T) {
	tests := map[string]struct {
		op       transport.Op
		verb     string
		resource string
	}{
		"a refused push":    {op: transport.Op{Name: "hub-link", Push: transporttest.Request()}, verb: "create", resource: "accesstokens"},
		"a refused removal": {op: transport.Op{Name: "hub-link", Remove: transport.RemoveOptions{Token: true}}, verb: "delete", resource: "accesstokens"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			east := spoke(obj("Site", "east", nil), obj("AccessToken", "hub-link", nil))
			east.PrependReactor(tc.verb, tc.resource, func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(skupper.AccessTokensGVR.GroupResource(), "hub-link", errors.New("RBAC says no"))
			})
			s := open(t, map[string]*dynamicfake.FakeDynamicClient{"east": east})
			err := s.Apply(t.Context(), "east", tc.op)
			var se *transport.SpokeError
			require.ErrorAs(t, err, &se)
			require.Equal(t, string(metav1.StatusReasonForbidden), se.Reason)
			var status *apierrors.StatusError
			require.ErrorAs(t, err, &status, "the API error is reachable through the SpokeError")
			require.True(t, apierrors.IsForbidden(err))
			require.Equal(t, int32(403), status.ErrStatus.Code)
		})
	}
}
