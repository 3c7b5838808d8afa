package acm

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/client-go/tools/cache"
)

// record is what the watch caches keep of one of vanlink's views or
// actions: the slim object (see slim) encoded as JSON, and beside it what
// is read of every cached object at each event or scan of the cache, so
// that those reads decode nothing. A slim view decoded (a map of maps of
// interfaces) took about 5 KB of heap, its record takes about 1 KB (heap
// profiles of the controller at 10,000 spokes, BENCHMARKS.md): a fleet of
// 10,000 spokes has 20,000 persistent views, which were the bulk of a
// controller's memory (issue 16).
//
// A record is read as an object again by object (a decode of its JSON, the
// same unstructured the dynamic client decodes): once per spoke and view
// observed, which is short-lived garbage instead of a cache that lives as
// long as the session.
type record struct {
	name, namespace string
	uid             types.UID
	resourceVersion string
	// The labels vanlink reads (PurposeLabel, ObjectLabel, TokenNameLabel);
	// the others are in data.
	purpose, objectLabel, tokenName string
	// processed: a view's Processing condition is there (viewProcessed).
	processed bool
	// scope is the view's spec.scope as JSON (compared with the scope
	// wanted, see sameScope); scopeName its name.
	scope, scopeName string
	// said digests what OnChange compares: the view's result and the
	// type, status and reason of its conditions.
	said [sha256.Size]byte
	// data is the slim object as JSON.
	data []byte
}

// compact is the watch caches' transform: it slims an object and keeps it
// as a record. It is idempotent (a record is returned as it is), as
// client-go asks of a transform whose objects may be passed again to
// Replace (k8s.io/client-go tools/cache/delta_fifo.go, TransformFunc).
func compact(o any) (any, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return o, nil // a record already, or a tombstone
	}
	s, err := slim(u)
	if err != nil {
		return nil, err
	}
	return newRecord(s.(*unstructured.Unstructured))
}

func newRecord(u *unstructured.Unstructured) (*record, error) {
	data, err := json.Marshal(u.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s/%s for the watch cache: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	l := u.GetLabels()
	r := &record{name: u.GetName(), namespace: u.GetNamespace(), uid: u.GetUID(), resourceVersion: u.GetResourceVersion(),
		purpose: l[PurposeLabel], objectLabel: l[ObjectLabel], tokenName: l[TokenNameLabel],
		processed: viewProcessed(u), data: data}
	if scope := scopeOf(u); scope != nil {
		r.scope = scopeJSON(scope)
		r.scopeName, _, _ = unstructured.NestedString(scope, "name")
	}
	r.said = digest(u)
	return r, nil
}

// object decodes the record into the slim object it was made from.
func (r *record) object() (*unstructured.Unstructured, error) {
	obj := map[string]any{}
	if err := utiljson.Unmarshal(r.data, &obj); err != nil {
		return nil, fmt.Errorf("decoding %s/%s from the watch cache: %w", r.namespace, r.name, err)
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

// GetObjectMeta lets the cache's key and namespace index functions read
// the record (k8s.io/apimachinery pkg/api/meta/meta.go, Accessor, accepts
// a metav1.ObjectMetaAccessor).
func (r *record) GetObjectMeta() metav1.Object {
	m := &metav1.ObjectMeta{Name: r.name, Namespace: r.namespace, UID: r.uid, ResourceVersion: r.resourceVersion}
	l := map[string]string{}
	for k, v := range map[string]string{PurposeLabel: r.purpose, ObjectLabel: r.objectLabel, TokenNameLabel: r.tokenName} {
		if v != "" {
			l[k] = v
		}
	}
	if len(l) > 0 {
		m.Labels = l
	}
	return m
}

// observes reports whether the record is a persistent view of the token.
func (r *record) observes(token string) bool {
	return r.purpose == "observe" && r.tokenName == token
}

// sameScope reports whether a cached view reads what want asks for.
func (r *record) sameScope(want *unstructured.Unstructured) bool {
	s := scopeOf(want)
	if s == nil {
		return r.scope == ""
	}
	return r.scope == scopeJSON(s)
}

func scopeJSON(scope map[string]any) string {
	data, err := json.Marshal(scope)
	if err != nil {
		return fmt.Sprintf("unencodable: %v", err)
	}
	return string(data)
}

// digest is what a view says of its object: the result, and whether the
// agent could read it (a failed read, e.g. the object is gone, keeps the
// old result and changes the condition), without the times.
func digest(u *unstructured.Unstructured) [sha256.Size]byte {
	r, _, _ := unstructured.NestedFieldNoCopy(u.Object, "status", "result")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var cs []string
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			cs = append(cs, fmt.Sprint(m["type"], "=", m["status"], ":", m["reason"]))
		}
	}
	// encoding/json writes a map's keys sorted: equal results encode equal.
	data, err := json.Marshal([]any{r, cs})
	if err != nil {
		data = []byte(fmt.Sprintf("unencodable: %v", err))
	}
	return sha256.Sum256(data)
}

// recordOf returns the record of a cached object (unwrapping a tombstone).
func recordOf(o any) (*record, bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	r, ok := o.(*record)
	return r, ok
}
