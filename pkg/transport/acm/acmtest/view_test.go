package acmtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/transport/acm"
)

// spokeWithBothLinks has a Skupper Link and a Linkerd Link named hub-link,
// and a Secret.
func spokeWithBothLinks(t *testing.T) *MemorySpoke {
	s := newSpoke(t)
	put(t, s, skupperLinks, "Link", "hub-link", withStatus(map[string]any{"status": "Ready"}))
	put(t, s, linkerdLinks, "Link", "hub-link")
	put(t, s, secrets, "Secret", "hub-link")
	return s
}

func TestQueryResource(t *testing.T) {
	skupperScope := map[string]any{"apiGroup": "skupper.io", "version": "v2alpha1", "kind": "Link"}
	scope := func(base map[string]any, kv ...string) map[string]any {
		out := map[string]any{"name": "hub-link", "namespace": spokeNS}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := map[string]struct {
		scope         map[string]any
		wantStatus    metav1.ConditionStatus
		wantReason    string
		wantMessage   string
		wantAPIVesion string
	}{
		"a bare links reads Linkerd's Link, ignoring apiGroup and kind": {
			scope: scope(skupperScope, "resource", "links"), wantStatus: metav1.ConditionTrue, wantReason: "GetResourceProcessing",
			wantMessage: "Watching resources successfully", wantAPIVesion: "multicluster.linkerd.io/v1alpha3",
		},
		"links.v2alpha1.skupper.io reads Skupper's Link": {
			scope: scope(nil, "resource", "links.v2alpha1.skupper.io"), wantStatus: metav1.ConditionTrue, wantReason: "GetResourceProcessing",
			wantMessage: "Watching resources successfully", wantAPIVesion: "skupper.io/v2alpha1",
		},
		"kind, version and apiGroup without resource read Skupper's Link": {
			scope: scope(skupperScope), wantStatus: metav1.ConditionTrue, wantReason: "GetResourceProcessing",
			wantMessage: "Watching resources successfully", wantAPIVesion: "skupper.io/v2alpha1",
		},
		"kind and version without apiGroup map in the core group": {
			scope: scope(nil, "kind", "Link", "version", "v2alpha1"), wantStatus: metav1.ConditionFalse, wantReason: "ResourceGVKInvalid",
			wantMessage: `failed to get resource with err: no matches for kind "Link" in version "v2alpha1"`,
		},
		"an empty name is refused": {
			scope: scope(skupperScope, "name", ""), wantStatus: metav1.ConditionFalse, wantReason: "ResourceNameInvalid",
			wantMessage: "failed to get resource with err: invalid resource name",
		},
		"no resource and no version is an invalid type": {
			scope: scope(nil, "kind", "Link", "apiGroup", "skupper.io"), wantStatus: metav1.ConditionFalse, wantReason: "ResourceTypeInvalid",
			wantMessage: "failed to get resource with err: invalid resource type",
		},
		"an unknown resource is an invalid type": {
			scope: scope(nil, "resource", "nothings"), wantStatus: metav1.ConditionFalse, wantReason: "ResourceTypeInvalid",
		},
		"a view of secrets is refused": {
			scope: scope(nil, "resource", "secrets"), wantStatus: metav1.ConditionFalse, wantReason: "ResourceTypeInvalid",
			wantMessage: "viewing secrets is not allowed",
		},
		"a view of kind Secret is refused": {
			scope: scope(nil, "kind", "Secret", "version", "v1"), wantStatus: metav1.ConditionFalse, wantReason: "ResourceTypeInvalid",
			wantMessage: "viewing secrets is not allowed",
		},
		"a foreign group's secrets are refused too": {
			scope: scope(nil, "resource", "secrets.v1.example.com"), wantStatus: metav1.ConditionFalse, wantReason: "ResourceTypeInvalid",
			wantMessage: "viewing secrets is not allowed",
		},
		"a missing object is a failed GET with the API error": {
			scope: scope(skupperScope, "name", "gone"), wantStatus: metav1.ConditionFalse, wantReason: "GetResourceFailed",
			wantMessage: `failed to get resource with err: links.skupper.io "gone" not found`,
		},
	}
	s := spokeWithBothLinks(t)
	served := servedSpoke{Spoke: s, mapper: s.RESTMapper()}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cond, result := queryResource(context.Background(), served, tc.scope)
			require.Equal(t, acm.ConditionProcessing, cond.Type)
			require.Equal(t, tc.wantStatus, cond.Status, "condition status (message %q)", cond.Message)
			require.Equal(t, tc.wantReason, cond.Reason)
			if tc.wantMessage != "" {
				require.Equal(t, tc.wantMessage, cond.Message)
			}
			if tc.wantAPIVesion == "" {
				require.Nil(t, result, "no result unless the GET succeeded")
				return
			}
			require.Equal(t, tc.wantAPIVesion, result["apiVersion"], "the viewed object")
		})
	}
}

func newViewObject(name string, scope map[string]any, status map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": acm.ViewsGVR.GroupVersion().String(), "kind": "ManagedClusterView",
		"metadata": map[string]any{"name": name, "namespace": cluster},
		"spec":     map[string]any{"scope": scope},
	}}
	if status != nil {
		o.Object["status"] = status
	}
	return o
}

func linkScope(interval int64) map[string]any {
	s := map[string]any{"resource": "links.v2alpha1.skupper.io", "name": "hub-link", "namespace": spokeNS}
	if interval > 0 {
		s["updateIntervalSeconds"] = interval
	}
	return s
}

func processingStatus(status metav1.ConditionStatus, reason string, transition time.Time, result map[string]any) map[string]any {
	st := map[string]any{"conditions": []any{map[string]any{
		"type": "Processing", "status": string(status), "reason": reason, "message": "seeded",
		"lastTransitionTime": transition.UTC().Format(time.RFC3339)}}}
	if result != nil {
		st["result"] = result
	}
	return st
}

func resultStatus(o *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(o.Object, "status", "result", "status", "status")
	return s
}

func TestViewFailedGetKeepsTheOldResult(t *testing.T) {
	s := newSpoke(t)
	h := newHub(t, Options{}, s)
	old := map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Link", "metadata": map[string]any{"name": "hub-link"},
		"status": map[string]any{"status": "Ready"}}
	seeded := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	h.create(t, acm.ViewsGVR, newViewObject("link", linkScope(0), processingStatus(metav1.ConditionTrue, "GetResourceProcessing", seeded, old)))

	require.Eventually(t, func() bool {
		c := processing(h.get(t, acm.ViewsGVR, "link"))
		return c != nil && c.Reason == "GetResourceFailed"
	}, 5*time.Second, 10*time.Millisecond, "the Link is gone: the GET fails")
	v := h.get(t, acm.ViewsGVR, "link")
	c := processing(v)
	require.Equal(t, metav1.ConditionFalse, c.Status)
	require.Equal(t, `failed to get resource with err: links.skupper.io "hub-link" not found`, c.Message)
	require.Equal(t, "Ready", resultStatus(v), "a failed GET keeps the old result")
	require.True(t, c.LastTransitionTime.After(seeded), "True to False is a transition")
}

func TestViewTransitionTimeChangesOnlyWithTheStatus(t *testing.T) {
	s := newSpoke(t)
	h := newHub(t, Options{}, s)
	seeded := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	h.create(t, acm.ViewsGVR, newViewObject("link", linkScope(0), processingStatus(metav1.ConditionFalse, "GetResourceFailed", seeded, nil)))
	require.Eventually(t, func() bool {
		c := processing(h.get(t, acm.ViewsGVR, "link"))
		return c != nil && c.Message != "seeded"
	}, 5*time.Second, 10*time.Millisecond, "the view is queried: its last transition is long past")
	c := processing(h.get(t, acm.ViewsGVR, "link"))
	require.Equal(t, "GetResourceFailed", c.Reason)
	require.True(t, c.LastTransitionTime.Equal(&metav1.Time{Time: seeded}), "False to False keeps lastTransitionTime, got %s", c.LastTransitionTime)
}

func TestViewRefreshTiming(t *testing.T) {
	t.Run("a view is not queried within the interval since its last transition, even on updates", func(t *testing.T) {
		s := newSpoke(t)
		put(t, s, skupperLinks, "Link", "hub-link", withStatus(map[string]any{"status": "Ready"}))
		h := newHub(t, Options{}, s)
		h.create(t, acm.ViewsGVR, newViewObject("link", linkScope(3600), processingStatus(metav1.ConditionTrue, "GetResourceProcessing", time.Now(), nil)))
		v := h.get(t, acm.ViewsGVR, "link")
		v.SetLabels(map[string]string{"touched": "yes"})
		_, err := h.client.Resource(acm.ViewsGVR).Namespace(cluster).Update(h.ctx, v, metav1.UpdateOptions{})
		require.NoError(t, err)
		require.Never(t, func() bool { return h.agent.Refreshed() > 0 }, 300*time.Millisecond, 10*time.Millisecond,
			"the condition transitioned less than updateIntervalSeconds ago")
		require.Empty(t, resultStatus(h.get(t, acm.ViewsGVR, "link")), "no result until the interval has passed")

		h.agent.ExpireViews()
		require.Eventually(t, func() bool { return resultStatus(h.get(t, acm.ViewsGVR, "link")) == "Ready" }, 5*time.Second, 10*time.Millisecond,
			"ExpireViews: the next sweep queries the view")
	})

	t.Run("once the interval has passed every update queries the view", func(t *testing.T) {
		s := newSpoke(t)
		put(t, s, skupperLinks, "Link", "hub-link", withStatus(map[string]any{"status": "Pending"}))
		h := newHub(t, Options{}, s)
		// Default interval (30 s), last transition 31 s ago.
		h.create(t, acm.ViewsGVR, newViewObject("link", linkScope(0), processingStatus(metav1.ConditionTrue, "GetResourceProcessing", time.Now().Add(-31*time.Second), nil)))
		require.Eventually(t, func() bool { return resultStatus(h.get(t, acm.ViewsGVR, "link")) == "Pending" }, 5*time.Second, 10*time.Millisecond,
			"queried on its add event")
		_, err := s.MergePatch(h.ctx, skupperLinks, spokeNS, "hub-link", []byte(`{"status":{"status":"Ready"}}`))
		require.NoError(t, err)
		require.Never(t, func() bool { return resultStatus(h.get(t, acm.ViewsGVR, "link")) == "Ready" }, 200*time.Millisecond, 10*time.Millisecond,
			"requeued after 30 s: no query without an event")

		v := h.get(t, acm.ViewsGVR, "link")
		v.SetLabels(map[string]string{"touched": "yes"})
		_, err = h.client.Resource(acm.ViewsGVR).Namespace(cluster).Update(h.ctx, v, metav1.UpdateOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return resultStatus(h.get(t, acm.ViewsGVR, "link")) == "Ready" }, 5*time.Second, 10*time.Millisecond,
			"the update is reconciled, and the last transition is older than the interval")
		c := processing(h.get(t, acm.ViewsGVR, "link"))
		require.Less(t, time.Since(c.LastTransitionTime.Time), time.Minute+31*time.Second, "True to True keeps the seeded transition")
		require.Greater(t, time.Since(c.LastTransitionTime.Time), 30*time.Second, "True to True keeps the seeded transition")
	})

	t.Run("a new view is queried at once and again after each interval", func(t *testing.T) {
		s := newSpoke(t)
		put(t, s, skupperLinks, "Link", "hub-link", withStatus(map[string]any{"status": "Pending"}))
		// 20 "seconds" of 10 ms: 200 ms.
		h := newHub(t, Options{ViewRefresh: func(sec int64) time.Duration { return time.Duration(sec) * 10 * time.Millisecond }}, s)
		h.create(t, acm.ViewsGVR, newViewObject("link", linkScope(20), nil))
		require.Eventually(t, func() bool { return resultStatus(h.get(t, acm.ViewsGVR, "link")) == "Pending" }, 5*time.Second, 10*time.Millisecond)
		c := processing(h.get(t, acm.ViewsGVR, "link"))
		require.Equal(t, "GetResourceProcessing", c.Reason)
		require.Equal(t, "Watching resources successfully", c.Message)

		_, err := s.MergePatch(h.ctx, skupperLinks, spokeNS, "hub-link", []byte(`{"status":{"status":"Ready"}}`))
		require.NoError(t, err)
		start := time.Now()
		require.Eventually(t, func() bool { return resultStatus(h.get(t, acm.ViewsGVR, "link")) == "Ready" }, 5*time.Second, 5*time.Millisecond,
			"requeued after the interval")
		require.Less(t, time.Since(start), 2*time.Second)
	})
}
