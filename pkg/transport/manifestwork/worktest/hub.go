// Package worktest is a double of the Open Cluster Management work agent
// (open-cluster-management.io/ocm v1.2.1, cmd/work agent) over a fake hub,
// for unit tests and the benchmark's simulated fleets, where the real agent
// (one process per spoke, run by the e2e and integration tiers) cannot run.
// It plays what the ManifestWork transport relies on, each behaviour citing
// its upstream source; the transport's conformance suite runs against both
// the double and the real agent, which checks the double on the same cases,
// and the benchmark runs its passes with either agent and compares their
// writes (e2e/bench, -manifestwork-real-size).
package worktest

import (
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// NewFakeHub returns a fake hub API serving ManifestWorks with what the
// API server does and the fake tracker does not: metadata.generation, set
// to 1 on create and incremented by a write that changes the spec (a CRD
// with a status subresource), and JSON merge patches applied as RFC 7386
// says.
func NewFakeHub() *dynamicfake.FakeDynamicClient {
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		manifestwork.WorksGVR: "ManifestWorkList",
	})
	tracker := client.Tracker()
	client.PrependReactor("create", manifestwork.WorksGVR.Resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
		if u, ok := a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured); ok {
			u.SetGeneration(1)
		}
		return false, nil, nil
	})
	client.PrependReactor("patch", manifestwork.WorksGVR.Resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.PatchAction)
		if p.GetPatchType() != types.MergePatchType {
			return true, nil, fmt.Errorf("the fake hub serves merge patches only, not %s", p.GetPatchType())
		}
		cur, err := tracker.Get(manifestwork.WorksGVR, p.GetNamespace(), p.GetName())
		if err != nil {
			return true, nil, err
		}
		old := cur.(*unstructured.Unstructured)
		var patch map[string]any
		if err := json.Unmarshal(p.GetPatch(), &patch); err != nil {
			return true, nil, err
		}
		next := &unstructured.Unstructured{Object: mergePatch(old.DeepCopy().Object, patch)}
		if !reflect.DeepEqual(old.Object["spec"], next.Object["spec"]) {
			next.SetGeneration(old.GetGeneration() + 1)
		}
		if err := tracker.Update(manifestwork.WorksGVR, next, p.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, next, nil
	})
	return client
}

// mergePatch applies an RFC 7386 JSON merge patch: objects merge key by
// key, null deletes, anything else (lists too) replaces. The values are
// decoded JSON (float64 numbers); the tracker deep-copies them.
func mergePatch(target map[string]any, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			tv, _ := target[k].(map[string]any)
			target[k] = mergePatch(tv, pv)
		default:
			target[k] = normalize(v)
		}
	}
	return target
}

// normalize turns decoded JSON numbers into int64 where they are whole, as
// the API machinery's decoder does for unstructured objects.
func normalize(v any) any {
	switch t := v.(type) {
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	case []any:
		for i := range t {
			t[i] = normalize(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = normalize(t[k])
		}
	}
	return v
}
