package postsync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/pkg/lease"
	vsync "github.com/vanlink/vanlink/pkg/sync"
)

func TestExitCode(t *testing.T) {
	res := func(outcomes ...vsync.Outcome) *vsync.Result {
		r := &vsync.Result{}
		for _, o := range outcomes {
			r.Changes = append(r.Changes, vsync.Change{Outcome: o})
		}
		return r
	}
	tests := map[string]struct {
		failOn vsync.FailOn
		res    *vsync.Result
		err    error
		want   int
	}{
		"linked and pending spokes do not fail the hook":  {vsync.FailOnError, res(vsync.OutcomeLinked, vsync.OutcomePending, vsync.OutcomePushed), nil, 0},
		"a failed spoke fails it":                         {vsync.FailOnError, res(vsync.OutcomeLinked, vsync.OutcomeFailed), nil, 1},
		"a blocked spoke fails it":                        {vsync.FailOnError, res(vsync.OutcomeBlocked), nil, 1},
		"a pass error fails it":                           {vsync.FailOnError, nil, errors.New("invalid grant"), 1},
		"pending fails it with --fail-on=pending":         {vsync.FailOnPending, res(vsync.OutcomePending), nil, 1},
		"nothing fails it with --fail-on=never":           {vsync.FailOnNever, res(vsync.OutcomeFailed), errors.New("x"), 0},
		"another pass holding the lease is not a failure": {vsync.FailOnError, nil, &lease.HeldError{Holder: "cron"}, 0},
		"skipped clusters alone are fine":                 {vsync.FailOnPending, res(vsync.OutcomeSkipped, vsync.OutcomeLinked), nil, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, ExitCode(tc.failOn, tc.res, tc.err))
		})
	}
}

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
	e := &vsync.Engine{Grants: missingGrant{}, Opts: vsync.Options{GrantNamespace: "service-interconnect", GrantName: "spoke-link"}}
	start := time.Now()
	_, code, err := Run(t.Context(), e, Options{GrantTimeout: 300 * time.Millisecond, Poll: 50 * time.Millisecond})
	require.Equal(t, 1, code)
	require.ErrorIs(t, err, vsync.ErrGrantNotFound)
	require.ErrorContains(t, err, "did not become usable within 300ms")
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "the wait is bounded, not skipped")
}
