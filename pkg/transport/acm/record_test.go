package acm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// processedView is a persistent view as the agent leaves it: read at
// readAt, its object's status as given.
func processedView(kind, object string, status map[string]any, readAt string) *unstructured.Unstructured {
	v := newView("east", "vanlink-hub-link-"+object, false, kindRef{group: "skupper.io", version: "v2alpha1", kind: kind}, "east", "service-interconnect", object, "hub-link", "observe", 300)
	v.SetUID("view-uid")
	v.SetResourceVersion("42")
	v.SetManagedFields(nil)
	_ = unstructured.SetNestedSlice(v.Object, []any{map[string]any{"type": "Processing", "status": "True", "reason": "GetResourceProcessing", "lastTransitionTime": readAt}}, "status", "conditions")
	_ = unstructured.SetNestedMap(v.Object, map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": kind,
		"metadata": map[string]any{"name": "east", "namespace": "service-interconnect", "uid": "site-uid", "creationTimestamp": "2026-01-02T03:04:05Z",
			"managedFields": []any{map[string]any{"manager": "skupper-controller"}}},
		"spec":   map[string]any{"linkAccess": "default", "ha": false},
		"status": status,
	}, "status", "result")
	return v
}

func readySite(readAt string) map[string]any {
	return map[string]any{"status": "Ready", "message": "OK", "sitesInNetwork": int64(3),
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready", "lastTransitionTime": readAt}},
		"endpoints":  []any{map[string]any{"name": "inter-router", "host": "10.0.0.1", "port": "55671", "group": "skupper-router"}}}
}

func TestTheWatchCacheKeepsAViewAsARecordThatReadsAsItsSlimObject(t *testing.T) {
	v := processedView("Site", "site", readySite("2026-01-02T03:04:05Z"), "2026-01-02T03:04:05Z")
	o, err := compact(v.DeepCopy())
	require.NoError(t, err)
	r, ok := o.(*record)
	require.True(t, ok, "the cache holds a record, not the decoded view")

	s, err := slim(v.DeepCopy())
	require.NoError(t, err)
	back, err := r.object()
	require.NoError(t, err)
	require.Equal(t, s.(*unstructured.Unstructured).Object, back.Object, "the record reads as the slim view it was made from")
	want, err := skupper.ParseSite(&unstructured.Unstructured{Object: v.Object["status"].(map[string]any)["result"].(map[string]any)})
	require.NoError(t, err)
	require.Equal(t, want, viewResult(back, skupper.ParseSite).Object, "the Site observed through the record is the one the view holds")

	require.Equal(t, "east", r.namespace)
	require.Equal(t, "vanlink-hub-link-site", r.name)
	require.EqualValues(t, "view-uid", r.uid)
	require.True(t, r.processed, "the agent processed the view")
	require.True(t, r.observes("hub-link"), "a persistent view of token hub-link")
	require.False(t, r.observes("other"), "not a view of another token")
	require.Equal(t, "site", r.objectLabel)
	require.Equal(t, "east", r.scopeName)
	require.True(t, r.sameScope(processedView("Site", "site", nil, "")), "the scope wanted is the scope cached")

	key, err := cache.MetaNamespaceKeyFunc(r)
	require.NoError(t, err)
	require.Equal(t, "east/vanlink-hub-link-site", key, "the cache keys a record as it keys the view")
	ns, err := cache.MetaNamespaceIndexFunc(r)
	require.NoError(t, err)
	require.Equal(t, []string{"east"}, ns, "the namespace index reads the record")
	require.Equal(t, "site", r.GetObjectMeta().GetLabels()[ObjectLabel])
}

func TestTheRecordTransformIsIdempotentAndPassesTombstones(t *testing.T) {
	o, err := compact(processedView("Site", "site", readySite("t"), "t"))
	require.NoError(t, err)
	again, err := compact(o)
	require.NoError(t, err)
	require.Same(t, o, again, "a record passed again (Replace) is kept as it is")

	tomb := cache.DeletedFinalStateUnknown{Key: "east/vanlink-hub-link-site", Obj: o}
	passed, err := compact(tomb)
	require.NoError(t, err)
	require.Equal(t, tomb, passed, "a tombstone is not transformed")
	r, ok := recordOf(tomb)
	require.True(t, ok, "a tombstone's record is read")
	require.Same(t, o, r)
}

func TestTheRecordDigestChangesWithWhatAViewSaysNotWithItsTimes(t *testing.T) {
	base := func() *record {
		o, err := compact(processedView("Link", "link", map[string]any{"status": "Ready"}, "2026-01-02T03:04:05Z"))
		require.NoError(t, err)
		return o.(*record)
	}
	tests := map[string]struct {
		view *unstructured.Unstructured
		same bool
	}{
		"a refresh that finds the Link as it was": {processedView("Link", "link", map[string]any{"status": "Ready"}, time.Now().UTC().Format(time.RFC3339)), true},
		"a Link that is no longer Ready":          {processedView("Link", "link", map[string]any{"status": "Error", "message": "no route"}, "2026-01-02T03:04:05Z"), false},
		"a Link the agent could not read": {func() *unstructured.Unstructured {
			v := processedView("Link", "link", map[string]any{"status": "Ready"}, "2026-01-02T03:04:05Z")
			_ = unstructured.SetNestedSlice(v.Object, []any{map[string]any{"type": "Processing", "status": "False", "reason": ReasonGetResourceFailed}}, "status", "conditions")
			return v
		}(), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o, err := compact(tc.view)
			require.NoError(t, err)
			require.Equal(t, tc.same, base().said == o.(*record).said, "the digests are equal only when the view says the same")
		})
	}
}

func TestARecordHoldsNoCodeAndNotTheNetwork(t *testing.T) {
	token := processedView("AccessToken", "token", map[string]any{"status": "Ready"}, "t")
	_ = unstructured.SetNestedField(token.Object, map[string]any{"code": "s3cr3t-code", "url": "https://grant"}, "status", "result", "spec")
	action := newAction("east", "Create", "token", "hub-link", map[string]any{"template": map[string]any{"spec": map[string]any{"code": "s3cr3t-code"}}})
	for name, u := range map[string]*unstructured.Unstructured{"a token's view": token, "an action": action} {
		o, err := compact(u)
		require.NoError(t, err)
		require.NotContains(t, string(o.(*record).data), "s3cr3t-code", "%s keeps no code in the cache", name)
	}
	o, err := compact(siteViewWithNetwork(1000))
	require.NoError(t, err)
	require.Less(t, len(o.(*record).data), 2048, "a Site view of a 1,000-site network keeps a small record, without the network")
}
