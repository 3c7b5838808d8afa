package acmtest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/pkg/transport/acm"
)

func newActionObject(actionType string, kube map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": acm.ActionsGVR.GroupVersion().String(), "kind": "ManagedClusterAction",
		"metadata": map[string]any{"generateName": "a-", "namespace": cluster},
		"spec":     map[string]any{"actionType": actionType, "kube": kube},
	}}
}

func linkTemplate(apiVersion, name string) map[string]any {
	return map[string]any{"apiVersion": apiVersion, "kind": "Link",
		"metadata": map[string]any{"name": name, "namespace": spokeNS}, "spec": map[string]any{"cost": int64(1)}}
}

func TestActions(t *testing.T) {
	type want struct {
		status          metav1.ConditionStatus
		reason, message string
		result          bool
	}
	done := want{status: metav1.ConditionTrue, reason: "ActionDone", message: "Resource action is done."}
	tests := map[string]struct {
		actionType string
		kube       map[string]any
		want       want
		// present and absent are checked on the spoke after the action.
		present, absent []schema.GroupVersionResource
	}{
		"Create maps the template's apiVersion and kind": {
			actionType: "Create",
			kube:       map[string]any{"resource": "links", "template": linkTemplate("skupper.io/v2alpha1", "new")},
			want:       want{status: metav1.ConditionTrue, reason: "ActionDone", message: "Resource action is done.", result: true},
		},
		"Create of an existing object fails": {
			actionType: "Create",
			kube:       map[string]any{"template": linkTemplate("skupper.io/v2alpha1", "hub-link")},
			want: want{status: metav1.ConditionFalse, reason: "CreateResourceFailed",
				message: `failed to handle Create action with err: links.skupper.io "hub-link" already exists`},
		},
		"Create of an unknown kind fails": {
			actionType: "Create",
			kube:       map[string]any{"template": linkTemplate("nowhere.io/v1", "x")},
			want: want{status: metav1.ConditionFalse, reason: "CreateResourceFailed",
				message: `failed to handle Create action with err: no matches for kind "Link" in version "nowhere.io/v1"`},
		},
		"Create without kind fails as the agent's decoding does": {
			actionType: "Create",
			kube:       map[string]any{"template": map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "x"}}},
			want:       want{status: metav1.ConditionFalse, reason: "CreateResourceFailed"},
		},
		"Delete of a bare links deletes Linkerd's Link": {
			actionType: "Delete",
			kube:       map[string]any{"resource": "links", "name": "hub-link", "namespace": spokeNS},
			want:       done,
			present:    []schema.GroupVersionResource{skupperLinks}, absent: []schema.GroupVersionResource{linkerdLinks},
		},
		"Delete of links.v2alpha1.skupper.io deletes Skupper's Link": {
			actionType: "Delete",
			kube:       map[string]any{"resource": "links.v2alpha1.skupper.io", "name": "hub-link", "namespace": spokeNS},
			want:       done,
			present:    []schema.GroupVersionResource{linkerdLinks}, absent: []schema.GroupVersionResource{skupperLinks},
		},
		"Delete of a bare secrets deletes the core Secret (discovery lists core first)": {
			actionType: "Delete",
			kube:       map[string]any{"resource": "secrets", "name": "hub-link", "namespace": spokeNS},
			want:       done,
			present:    []schema.GroupVersionResource{fooSecrets}, absent: []schema.GroupVersionResource{secrets},
		},
		"Delete of secrets.v1. deletes the core Secret": {
			actionType: "Delete",
			kube:       map[string]any{"resource": "secrets.v1.", "name": "hub-link", "namespace": spokeNS},
			want:       done,
			present:    []schema.GroupVersionResource{fooSecrets}, absent: []schema.GroupVersionResource{secrets},
		},
		"Delete of a missing object fails with the API error": {
			actionType: "Delete",
			kube:       map[string]any{"resource": "accesstokens.v2alpha1.skupper.io", "name": "hub-link", "namespace": spokeNS},
			want: want{status: metav1.ConditionFalse, reason: "DeleteResourceFailed",
				message: `failed to handle Delete action with err: accesstokens.skupper.io "hub-link" not found`},
		},
		"Update merges the template into the object": {
			actionType: "Update",
			kube:       map[string]any{"namespace": spokeNS, "template": linkTemplate("skupper.io/v2alpha1", "hub-link")},
			want:       want{status: metav1.ConditionTrue, reason: "ActionDone", message: "Resource action is done.", result: true},
		},
		"Update of a missing object fails": {
			actionType: "Update",
			kube:       map[string]any{"namespace": spokeNS, "template": linkTemplate("skupper.io/v2alpha1", "gone")},
			want: want{status: metav1.ConditionFalse, reason: "UpdateResourceFailed",
				message: `failed to handle Update action with err: links.skupper.io "gone" not found`},
		},
		"an unknown action type is invalid": {
			actionType: "Apply",
			kube:       map[string]any{"resource": "links.v2alpha1.skupper.io", "name": "hub-link"},
			want: want{status: metav1.ConditionFalse, reason: "ActionTypeInvalid",
				message: "failed to handle Apply action with err: invalid action type"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := spokeWithBothLinks(t)
			put(t, s, fooSecrets, "FooSecret", "hub-link")
			h := newHub(t, Options{}, s)
			a := h.create(t, acm.ActionsGVR, newActionObject(tc.actionType, tc.kube))
			var c *metav1.Condition
			require.Eventually(t, func() bool {
				c = completed(h.get(t, acm.ActionsGVR, a.GetName()))
				return c != nil
			}, 5*time.Second, 10*time.Millisecond, "the action completes")
			require.Equal(t, tc.want.status, c.Status, "Completed status (message %q)", c.Message)
			require.Equal(t, tc.want.reason, c.Reason)
			if tc.want.message != "" {
				require.Equal(t, tc.want.message, c.Message)
			}
			_, hasResult, _ := unstructured.NestedMap(h.get(t, acm.ActionsGVR, a.GetName()).Object, "status", "result")
			require.Equal(t, tc.want.result, hasResult, "status.result echoes the template on a successful Create or Update only")
			for _, gvr := range tc.present {
				require.True(t, has(s, gvr, "hub-link"), "%s hub-link is left alone", gvr)
			}
			for _, gvr := range tc.absent {
				require.False(t, has(s, gvr, "hub-link"), "%s hub-link is deleted", gvr)
			}
		})
	}
}

func TestCreateActionUsesTheTemplateKindNotTheResource(t *testing.T) {
	s := spokeWithBothLinks(t)
	h := newHub(t, Options{}, s)
	a := h.create(t, acm.ActionsGVR, newActionObject("Create", map[string]any{"resource": "links", "template": linkTemplate("skupper.io/v2alpha1", "new")}))
	require.Eventually(t, func() bool { return completed(h.get(t, acm.ActionsGVR, a.GetName())) != nil }, 5*time.Second, 10*time.Millisecond)
	require.True(t, has(s, skupperLinks, "new"), "created as a Skupper Link")
	require.False(t, has(s, linkerdLinks, "new"), "kube.resource plays no part in a Create")
}

func TestUpdateActionReplacesWhatTheTemplateOmits(t *testing.T) {
	s := spokeWithBothLinks(t)
	_, err := s.MergePatch(t.Context(), skupperLinks, spokeNS, "hub-link", []byte(`{"metadata":{"labels":{"x":"y"}},"spec":{"cost":5,"tlsCredentials":"hub-link"}}`))
	require.NoError(t, err)
	uid := func() string {
		o, _ := s.Get(t.Context(), skupperLinks, spokeNS, "hub-link")
		return string(o.GetUID())
	}
	before := uid()
	h := newHub(t, Options{}, s)
	a := h.create(t, acm.ActionsGVR, newActionObject("Update", map[string]any{"namespace": spokeNS, "template": linkTemplate("skupper.io/v2alpha1", "hub-link")}))
	require.Eventually(t, func() bool { return completed(h.get(t, acm.ActionsGVR, a.GetName())) != nil }, 5*time.Second, 10*time.Millisecond)
	o, err := s.Get(t.Context(), skupperLinks, spokeNS, "hub-link")
	require.NoError(t, err)
	cost, _, _ := unstructured.NestedInt64(o.Object, "spec", "cost")
	require.EqualValues(t, 1, cost, "the template's value")
	_, found, _ := unstructured.NestedString(o.Object, "spec", "tlsCredentials")
	require.False(t, found, "the three-way patch (current as original) removes fields the template lacks")
	require.Empty(t, o.GetLabels(), "labels the template lacks are removed too")
	require.Equal(t, before, uid(), "the object keeps its identity")
}

func TestDeleteActionWithoutResourceNeverCompletes(t *testing.T) {
	s := spokeWithBothLinks(t)
	h := newHub(t, Options{}, s)
	a := h.create(t, acm.ActionsGVR, newActionObject("Delete", map[string]any{"name": "hub-link", "namespace": spokeNS}))
	require.Never(t, func() bool { return completed(h.get(t, acm.ActionsGVR, a.GetName())) != nil }, 300*time.Millisecond, 10*time.Millisecond,
		"the handler crashes: no Completed condition")
	require.True(t, has(s, skupperLinks, "hub-link") && has(s, linkerdLinks, "hub-link"), "nothing deleted")
	require.Zero(t, h.agent.Executed())
}

func TestCompletedActionsAreCollectedAfterGCDelay(t *testing.T) {
	s := spokeWithBothLinks(t)
	h := newHub(t, Options{GCDelay: 100 * time.Millisecond}, s)
	a := h.create(t, acm.ActionsGVR, newActionObject("Delete", map[string]any{"resource": "links.v2alpha1.skupper.io", "name": "hub-link", "namespace": spokeNS}))
	require.Eventually(t, func() bool {
		_, err := h.client.Resource(acm.ActionsGVR).Namespace(cluster).Get(h.ctx, a.GetName(), metav1.GetOptions{})
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "the hub deletes a completed action")
}

// flakySpoke fails its first Create with a server error, as a spoke API
// server that timed out once would.
type flakySpoke struct {
	*MemorySpoke
	creates atomic.Int32
}

func (f *flakySpoke) Create(ctx context.Context, gvr schema.GroupVersionResource, namespace string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if f.creates.Add(1) == 1 {
		return nil, apierrors.NewInternalError(errors.New("etcdserver: request timed out"))
	}
	return f.MemorySpoke.Create(ctx, gvr, namespace, obj)
}

func TestAFailedActionRunsAgainAfterItsOwnStatusWrite(t *testing.T) {
	s := &flakySpoke{MemorySpoke: spokeWithBothLinks(t)}
	client := NewFakeHub()
	agent := New(client, Options{Tick: 10 * time.Millisecond})
	agent.AddSpoke(cluster, s)
	go func() { _ = agent.Run(t.Context()) }()
	a, err := client.Resource(acm.ActionsGVR).Namespace(cluster).Create(t.Context(),
		newActionObject("Create", map[string]any{"template": linkTemplate("skupper.io/v2alpha1", "new")}), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		o, err := client.Resource(acm.ActionsGVR).Namespace(cluster).Get(t.Context(), a.GetName(), metav1.GetOptions{})
		c := completed(o)
		return err == nil && c != nil && c.Status == metav1.ConditionTrue
	}, 5*time.Second, 10*time.Millisecond, "the second run, on the event of the failure's status write, creates the Link")
	require.True(t, has(s.MemorySpoke, skupperLinks, "new"))
	require.EqualValues(t, 2, agent.Executed(), "the failed run and the one after it")
}

func TestAFailedActionThatFailsTheSameWayRestsAfterTwoRuns(t *testing.T) {
	s := spokeWithBothLinks(t)
	h := newHub(t, Options{}, s)
	a := h.create(t, acm.ActionsGVR, newActionObject("Create", map[string]any{"template": linkTemplate("skupper.io/v2alpha1", "hub-link")}))
	require.Eventually(t, func() bool { return h.agent.Executed() == 2 }, 5*time.Second, 10*time.Millisecond,
		"the failure's status write is an event: the action runs once more")
	require.Never(t, func() bool { return h.agent.Executed() > 2 }, 300*time.Millisecond, 10*time.Millisecond,
		"the second failure writes the same status, a no-op with no event: no third run")
	c := completed(h.get(t, acm.ActionsGVR, a.GetName()))
	require.NotNil(t, c)
	require.Equal(t, metav1.ConditionFalse, c.Status)
}
