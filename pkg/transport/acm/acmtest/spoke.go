package acmtest

import (
	"context"
	"sort"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Spoke is the spoke-side API the agent acts on, as the real agent does with
// cluster-admin rights. Errors are Kubernetes API errors. RESTMapper is the
// spoke's discovery as the agent sees it: every resource named in a view or
// an action is resolved through it (the agent calls it once per AddSpoke).
type Spoke interface {
	RESTMapper() meta.RESTMapper
	Create(ctx context.Context, gvr schema.GroupVersionResource, namespace string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error)
	Get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error)
	MergePatch(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string, patch []byte) (*unstructured.Unstructured, error)
	Delete(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) error
}

// APISpoke is a Spoke backed by a real (test-bed) API server. Its mapper is
// built over Discovery, as the agent's is; without Discovery it lists the
// spoke's CRDs through Client instead (same resolution: built-in groups
// first, then CRD groups by name), so a CRD added later is found either way.
type APISpoke struct {
	Client dynamic.Interface
	// Discovery is the spoke's discovery client (optional, preferred).
	Discovery discovery.DiscoveryInterface
}

// NewAPISpoke returns an APISpoke whose mapper uses the spoke's discovery.
func NewAPISpoke(cfg *rest.Config) (APISpoke, error) {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return APISpoke{}, err
	}
	d, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return APISpoke{}, err
	}
	return APISpoke{Client: client, Discovery: d}, nil
}

// RESTMapper returns a new reloading mapper over the spoke's discovery.
// upstream: stolostron/multicloud-operators-foundation cmd/agent/agent.go
// (NewReloadMapper over NewDeferredDiscoveryRESTMapper(NewMemCacheClient)).
func (s APISpoke) RESTMapper() meta.RESTMapper {
	if s.Discovery != nil {
		return DiscoveryMapper(s.Discovery)
	}
	return CRDMapper(s.Client)
}

var _ Spoke = APISpoke{}

func (s APISpoke) ri(gvr schema.GroupVersionResource, ns string) dynamic.ResourceInterface {
	if ns == "" {
		return s.Client.Resource(gvr)
	}
	return s.Client.Resource(gvr).Namespace(ns)
}

func (s APISpoke) Create(ctx context.Context, gvr schema.GroupVersionResource, ns string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return s.ri(gvr, ns).Create(ctx, obj, metav1.CreateOptions{})
}

func (s APISpoke) Get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	return s.ri(gvr, ns).Get(ctx, name, metav1.GetOptions{})
}

func (s APISpoke) MergePatch(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, patch []byte) (*unstructured.Unstructured, error) {
	return s.ri(gvr, ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
}

// Delete deletes in the background. The real agent uses foreground
// propagation (upstream: stolostron/multicloud-operators-foundation
// pkg/utils/rest/kubecontrol.go KubeControl.Delete), which needs the garbage
// collector to remove the foregroundDeletion finalizer; the test bed runs
// none, so a foreground delete would leave every object terminating for
// ever. The objects vanlink deletes (AccessToken, Link, Secret) have no
// dependents, so both end the same way.
func (s APISpoke) Delete(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) error {
	bg := metav1.DeletePropagationBackground
	return s.ri(gvr, ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
}

// MemorySpoke is a Spoke kept in memory (for fleets of simulated spokes).
// AfterWrite, when set, runs after every create, patch or delete, under no
// lock, so it may call the spoke again (e.g. to play the Skupper controller).
// Its mapper is static (core v1 and skupper.io/v2alpha1) unless Mapper is
// set, e.g. to StaticMapper(CoreGroup, LinkerdMulticlusterGroup, SkupperGroup).
// MergePatch writes status too: the spoke has no status subresource.
type MemorySpoke struct {
	Name       string
	AfterWrite func(ctx context.Context, s *MemorySpoke, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, deleted bool)
	// Mapper replaces the static mapper; set it before AddSpoke.
	Mapper meta.RESTMapper

	mu      sync.Mutex
	objects map[string]*unstructured.Unstructured
	rv      int64
	writes  int64
}

var _ Spoke = (*MemorySpoke)(nil)

// NewMemorySpoke returns an empty in-memory spoke.
func NewMemorySpoke(name string) *MemorySpoke {
	return &MemorySpoke{Name: name, objects: map[string]*unstructured.Unstructured{}}
}

// RESTMapper returns Mapper, or the static mapper of the kinds the bench uses.
func (s *MemorySpoke) RESTMapper() meta.RESTMapper {
	if s.Mapper != nil {
		return s.Mapper
	}
	return memoryMapper()
}

func memKey(gvr schema.GroupVersionResource, ns, name string) string {
	return gvr.Resource + "." + gvr.Group + "/" + ns + "/" + name
}

// Writes counts the creates, patches and deletes made on this spoke.
func (s *MemorySpoke) Writes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Keys lists the stored objects as resource.group/namespace/name.
func (s *MemorySpoke) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.objects))
	for k := range s.objects {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *MemorySpoke) Create(ctx context.Context, gvr schema.GroupVersionResource, ns string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	s.mu.Lock()
	k := memKey(gvr, ns, obj.GetName())
	if _, ok := s.objects[k]; ok {
		s.mu.Unlock()
		return nil, apierrors.NewAlreadyExists(gvr.GroupResource(), obj.GetName())
	}
	c := obj.DeepCopy()
	c.SetNamespace(ns)
	c.SetUID(uuid.NewUUID())
	return s.storeLocked(ctx, gvr, k, c), nil
}

// storeLocked stores c under k as a new revision, counts the write, unlocks
// s.mu and runs AfterWrite with a copy, which it returns.
func (s *MemorySpoke) storeLocked(ctx context.Context, gvr schema.GroupVersionResource, k string, c *unstructured.Unstructured) *unstructured.Unstructured {
	s.rv++
	s.writes++
	c.SetResourceVersion(strconv.FormatInt(s.rv, 10))
	s.objects[k] = c
	out := c.DeepCopy()
	s.mu.Unlock()
	s.after(ctx, gvr, out, false)
	return out
}

func (s *MemorySpoke) Get(_ context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[memKey(gvr, ns, name)]
	if !ok {
		return nil, apierrors.NewNotFound(gvr.GroupResource(), name)
	}
	return o.DeepCopy(), nil
}

func (s *MemorySpoke) MergePatch(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, patch []byte) (*unstructured.Unstructured, error) {
	var p map[string]any
	// As the API server decodes: whole numbers as int64.
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	s.mu.Lock()
	k := memKey(gvr, ns, name)
	o, ok := s.objects[k]
	if !ok {
		s.mu.Unlock()
		return nil, apierrors.NewNotFound(gvr.GroupResource(), name)
	}
	merged := &unstructured.Unstructured{Object: mergePatch(o.DeepCopy().Object, p)}
	// As the API server does on an update: the identity of the object stays
	// (a three-way patch from the agent's Update action nulls it).
	merged.SetName(o.GetName())
	merged.SetNamespace(o.GetNamespace())
	merged.SetUID(o.GetUID())
	return s.storeLocked(ctx, gvr, k, merged), nil
}

func (s *MemorySpoke) Delete(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) error {
	s.mu.Lock()
	k := memKey(gvr, ns, name)
	o, ok := s.objects[k]
	if !ok {
		s.mu.Unlock()
		return apierrors.NewNotFound(gvr.GroupResource(), name)
	}
	delete(s.objects, k)
	s.writes++
	s.mu.Unlock()
	s.after(ctx, gvr, o, true)
	return nil
}

func (s *MemorySpoke) after(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, deleted bool) {
	if s.AfterWrite != nil {
		s.AfterWrite(ctx, s, gvr, obj, deleted)
	}
}

// mergePatch applies a JSON merge patch (RFC 7386) to doc.
func mergePatch(doc, patch map[string]any) map[string]any {
	for k, v := range patch {
		if v == nil {
			delete(doc, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			if dm, ok := doc[k].(map[string]any); ok {
				doc[k] = mergePatch(dm, pm)
				continue
			}
			doc[k] = mergePatch(map[string]any{}, pm)
			continue
		}
		doc[k] = v
	}
	return doc
}
