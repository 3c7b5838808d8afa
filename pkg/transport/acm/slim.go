package acm

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// slim keeps in the watch cache only what vanlink reads: metadata without
// managed fields, the view's scope, the conditions, and of a view's result
// its identity and status. Actions lose their template (it carries the code)
// and views of a token their spec (the code), so no code stays in memory
// longer than a read, and a 1,000-spoke fleet stays small.
func slim(o any) (any, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return o, nil
	}
	out := &unstructured.Unstructured{Object: map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind()}}
	meta := map[string]any{"name": u.GetName(), "namespace": u.GetNamespace(), "uid": string(u.GetUID()), "resourceVersion": u.GetResourceVersion()}
	if l := u.GetLabels(); len(l) > 0 {
		meta["labels"] = toAnyMap(l)
	}
	out.Object["metadata"] = meta
	if scope, found, _ := unstructured.NestedMap(u.Object, "spec", "scope"); found {
		out.Object["spec"] = map[string]any{"scope": scope}
	}
	status := map[string]any{}
	if conds, found, _ := unstructured.NestedSlice(u.Object, "status", "conditions"); found {
		status["conditions"] = conds
	}
	if res, found, _ := unstructured.NestedMap(u.Object, "status", "result"); found && u.GetKind() == "ManagedClusterView" {
		r := &unstructured.Unstructured{Object: res}
		kept := map[string]any{"apiVersion": r.GetAPIVersion(), "kind": r.GetKind(),
			"metadata": map[string]any{"name": r.GetName(), "namespace": r.GetNamespace(), "uid": string(r.GetUID())}}
		km := kept["metadata"].(map[string]any)
		if a := r.GetAnnotations(); len(a) > 0 {
			km["annotations"] = toAnyMap(a)
		}
		if l := r.GetLabels(); len(l) > 0 {
			km["labels"] = toAnyMap(l)
		}
		if ts, found, _ := unstructured.NestedString(res, "metadata", "creationTimestamp"); found {
			km["creationTimestamp"] = ts
		}
		if refs, found, _ := unstructured.NestedSlice(res, "metadata", "ownerReferences"); found {
			km["ownerReferences"] = refs
		}
		if st, found, _ := unstructured.NestedMap(res, "status"); found {
			if r.GetKind() == "Site" {
				// A Site's status.network lists every site of the network,
				// with its links and services (the count stays in
				// sitesInNetwork): kept, the spokes' Site views would hold
				// the whole fleet each, O(N^2) for a fleet of N.
				// upstream: skupperproject/skupper internal/kube/site/site.go
				// Site.NetworkStatusUpdated
				delete(st, "network")
			}
			kept["status"] = st
		}
		if spec, found, _ := unstructured.NestedMap(res, "spec"); found {
			// An AccessToken's spec.code is the grant code: dropped.
			delete(spec, "code")
			kept["spec"] = spec
		}
		status["result"] = kept
	}
	if len(status) > 0 {
		out.Object["status"] = status
	}
	return out, nil
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
