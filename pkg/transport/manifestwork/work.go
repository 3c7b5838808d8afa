package manifestwork

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// WorksGVR is OCM's ManifestWork.
var WorksGVR = schema.GroupVersionResource{Group: "work.open-cluster-management.io", Version: "v1", Resource: "manifestworks"}

// Labels vanlink puts on its ManifestWorks, as on the ACM transport's views.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "vanlink"
	// TokenNameLabel is the token name the work observes and pushes.
	TokenNameLabel = "vanlink.io/token-name"
	// PushIDAnnotation marks a token pushed through a work with the push's
	// own id: the feedback of the token then tells a token this push made
	// from one that was there before (transport.ErrAlreadyExists).
	PushIDAnnotation = "vanlink.io/push-id"
	// readAnnotation is on the router ConfigMap's read-only manifest: a new
	// value changes the work's spec, so the agent applies and reads every
	// manifest again (a read of the spoke as it is now).
	readAnnotation = "vanlink.io/read"
	// adoptVersion is the resourceVersion of an adopt manifest (see mode):
	// the spoke's API server refuses to create an object that has one
	// ("resourceVersion should not be set on objects to be created"), while
	// the hub accepts it in a work (it validates a manifest's name, labels
	// and annotations, so an invalid label would not do).
	adoptVersion = "1"
	// adoptRefused is what the spoke answers to the create of an adopt
	// manifest of a missing object.
	adoptRefused = "resourceVersion should not be set on objects to be created"
)

// mode is how the work holds one manifest.
type mode int

const (
	// readOnly: the agent only reads the object and reports the feedback
	// (upstream: open-cluster-management-io/ocm
	// pkg/work/spoke/apply/read_only_apply.go, ReadOnlyApply.Apply is a no-op).
	readOnly mode = iota
	// adopt: CreateOnly with a manifest the API server refuses to create
	// (it carries a resourceVersion: adoptVersion). CreateOnly leaves an
	// existing object as it is and only adds the AppliedManifestWork as its
	// owner, and creates a missing one from the manifest, which here fails
	// (upstream: pkg/work/spoke/apply/create_only_apply.go,
	// CreateOnlyApply.Apply). Taking the manifest out of the work in a later
	// update then makes the agent delete the object it owns, whoever else
	// owns it (a Link or Secret is owned by the spoke's Site): upstream
	// pkg/work/helper/helpers.go, DeleteAppliedResources, which deletes what
	// the AppliedManifestWork owns unless another AppliedManifestWork owns it
	// too. That is how a work removes an object.
	adopt
	// create: CreateOnly with the whole object (the AccessToken to push).
	create
)

// kindRef names a kind and its resource.
type kindRef struct {
	group, version, kind, resource string
}

func (k kindRef) apiVersion() string {
	return schema.GroupVersion{Group: k.group, Version: k.version}.String()
}

var (
	configMapKind = kindRef{"", "v1", "ConfigMap", "configmaps"}
	siteKind      = kindRef{skupper.Group, "v2alpha1", "Site", "sites"}
	tokenKind     = kindRef{skupper.Group, "v2alpha1", "AccessToken", "accesstokens"}
	secretKind    = kindRef{"", "v1", "Secret", "secrets"}
	linkKind      = kindRef{skupper.Group, "v2alpha1", "Link", "links"}
)

// manifest is one manifest of a work.
type manifest struct {
	kind kindRef
	name string
	mode mode
	// object is the whole object of a create manifest.
	object *unstructured.Unstructured
}

// shape is what vanlink wants a spoke's work to hold: the objects it reads
// and how, and its delete option.
type shape struct {
	namespace string
	// site is the name of the Site read (the spoke's cluster name until the
	// router ConfigMap's owner names another).
	site string
	// links are the names of the token's Links read.
	links []string
	// read is the value of readAnnotation.
	read int64
	// modes overrides the read-only mode of some manifests (by key), and
	// dropped leaves some out (by key).
	modes   map[string]mode
	dropped map[string]bool
	// push is the AccessToken a create manifest holds.
	push *unstructured.Unstructured
	// adoptToken, when set, does not orphan the AccessToken, so an adopt
	// manifest makes the agent its owner.
	adoptToken bool
}

// key names a manifest within a work.
func key(k kindRef, name string) string { return k.kind + "/" + name }

// manifests lists the manifests of a work in a fixed order (the agent keys
// a manifest's status by its position as well).
func (s *shape) manifests(token string) []manifest {
	all := []manifest{
		{kind: configMapKind, name: skupper.RouterConfigMap},
		{kind: siteKind, name: s.site},
		{kind: tokenKind, name: token},
		{kind: secretKind, name: token},
	}
	names := slices.Clone(s.links)
	for _, n := range skupper.AllLinkNames(token) {
		if s.modes[key(linkKind, n)] == adopt && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		all = append(all, manifest{kind: linkKind, name: n})
	}
	out := all[:0]
	for _, m := range all {
		k := key(m.kind, m.name)
		if s.dropped[k] {
			continue
		}
		m.mode = s.modes[k]
		if m.kind == tokenKind && s.push != nil {
			m.mode, m.object = create, s.push
		}
		out = append(out, m)
	}
	return out
}

// content returns the manifest's content: the identity only (read-only),
// plus adoptVersion (adopt), or the object (create).
func (m manifest) content(namespace string, read int64) map[string]any {
	if m.mode == create {
		return m.object.DeepCopy().Object
	}
	meta := map[string]any{"name": m.name, "namespace": namespace}
	if m.mode == adopt {
		meta["resourceVersion"] = adoptVersion
	}
	if m.kind == configMapKind {
		meta["annotations"] = map[string]any{readAnnotation: strconv.FormatInt(read, 10)}
	}
	return map[string]any{"apiVersion": m.kind.apiVersion(), "kind": m.kind.kind, "metadata": meta}
}

func (m manifest) identifier(namespace string) workv1.ResourceIdentifier {
	return workv1.ResourceIdentifier{Group: m.kind.group, Resource: m.kind.resource, Name: m.name, Namespace: namespace}
}

// spec builds the work's spec as an unstructured map.
func (s *shape) spec(token string) (map[string]any, error) {
	var manifests []workv1.Manifest
	var configs []workv1.ManifestConfigOption
	for _, m := range s.manifests(token) {
		raw, err := json.Marshal(m.content(s.namespace, s.read))
		if err != nil {
			return nil, fmt.Errorf("encoding the %s %s manifest: %w", m.kind.kind, m.name, err)
		}
		manifests = append(manifests, workv1.Manifest{RawExtension: runtime.RawExtension{Raw: raw}})
		strategy := workv1.UpdateStrategyTypeReadOnly
		if m.mode != readOnly {
			strategy = workv1.UpdateStrategyTypeCreateOnly
		}
		c := workv1.ManifestConfigOption{ResourceIdentifier: m.identifier(s.namespace), UpdateStrategy: &workv1.UpdateStrategy{Type: strategy}}
		if paths := feedbackPaths[m.kind.kind]; len(paths) > 0 {
			c.FeedbackRules = []workv1.FeedbackRule{{Type: workv1.JSONPathsType, JsonPaths: paths}}
		}
		configs = append(configs, c)
	}
	// The AccessToken is orphaned unless it is being adopted: a token
	// pushed ends without the AppliedManifestWork as its owner (upstream:
	// pkg/work/spoke/controllers/manifestcontroller/manifestwork_reconciler.go
	// manageOwnerRef gives the removal key "<uid>-", which CreateOnlyApply's
	// helper.ApplyOwnerReferences strips right after the create), so it
	// stays on the spoke when its manifest turns read-only or leaves the work.
	rules := []workv1.OrphaningRule{}
	if !s.adoptToken {
		rules = append(rules, workv1.OrphaningRule{Group: tokenKind.group, Resource: tokenKind.resource, Name: token, Namespace: s.namespace})
	}
	spec := workv1.ManifestWorkSpec{
		Workload:        workv1.ManifestsTemplate{Manifests: manifests},
		ManifestConfigs: configs,
		DeleteOption: &workv1.DeleteOption{PropagationPolicy: workv1.DeletePropagationPolicyTypeSelectivelyOrphan,
			SelectivelyOrphan: &workv1.SelectivelyOrphan{OrphaningRules: rules}},
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	// The spec is written with a merge patch: an empty rule list must be
	// sent as such to replace the rules there (omitempty drops it).
	if len(rules) == 0 {
		if err := unstructured.SetNestedSlice(out, []any{}, "deleteOption", "selectivelyOrphans", "orphaningRules"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newWork builds a spoke's ManifestWork.
func newWork(spoke, name, token string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": WorksGVR.GroupVersion().String(),
		"kind":       "ManifestWork",
		"metadata": map[string]any{
			"name": name, "namespace": spoke,
			"labels": map[string]any{ManagedByLabel: ManagedByValue, TokenNameLabel: token},
		},
		"spec": spec,
	}}
}

// shapeOf reads back the shape of a work vanlink wrote (the Site and Link
// names read, the read counter), in its read-only form: what an
// interrupted Apply left is not kept.
func shapeOf(w *workv1.ManifestWork, namespace string) *shape {
	s := &shape{namespace: namespace}
	for _, m := range w.Spec.Workload.Manifests {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(m.Raw); err != nil {
			continue
		}
		switch u.GetKind() {
		case siteKind.kind:
			s.site = u.GetName()
		case linkKind.kind:
			if u.GetResourceVersion() == "" {
				s.links = append(s.links, u.GetName())
			}
		case configMapKind.kind:
			s.read, _ = strconv.ParseInt(u.GetAnnotations()[readAnnotation], 10, 64)
		}
	}
	return s
}
