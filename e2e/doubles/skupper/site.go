package skupper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

// RouterEndpoint is the inter-router port hub Sites advertise.
// upstream: skupperproject/skupper internal/kube/site/site.go checkDefaultRouterAccess (role inter-router, port 55671)
const RouterEndpoint = "55671"

// EdgeEndpoint is the edge port hub Sites advertise.
// upstream: skupperproject/skupper internal/kube/site/site.go checkDefaultRouterAccess (role edge, port 45671)
const EdgeEndpoint = "45671"

// LoadBalancerHost is the address a simulated LoadBalancer provider gives
// the router Services (see Hub.SetLoadBalancer).
const LoadBalancerHost = "127.0.0.1"

// RouterConfigLabel marks the router ConfigMaps of a Site.
// upstream: skupperproject/skupper internal/kube/site/site.go createRouterConfigForGroup
const RouterConfigLabel = "internal.skupper.io/router-config"

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// siteKey names a Site.
type siteKey struct{ namespace, name, uid string }

// sites plays the part of the Skupper controller that handles Sites, on one
// cluster: it picks the active Site of each namespace, creates its router
// ConfigMaps, writes its status (readiness and endpoints follow
// spec.linkAccess), and when a Site is deleted tells the caller and deletes
// what the Site owned, as the Kubernetes garbage collector would (the test
// bed runs no garbage collector).
type sites struct {
	client dynamic.Interface
	log    *slog.Logger
	now    func() time.Time
	// onDeleted is called with the active Site of a namespace once it is gone.
	onDeleted func(ctx context.Context, k siteKey)

	mu     sync.Mutex
	lb     bool
	known  map[string]siteKey                    // uid -> Site seen on the last pass
	active map[string]*unstructured.Unstructured // namespace -> active Site
	swept  time.Time
}

func newSites(client dynamic.Interface, log *slog.Logger, now func() time.Time) *sites {
	return &sites{client: client, log: log, now: now, known: map[string]siteKey{}, active: map[string]*unstructured.Unstructured{}}
}

func (s *sites) setLoadBalancer(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lb = on
}

func (s *sites) loadBalancer() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lb
}

// activeSite returns the active Site of a namespace seen on the last pass, or nil.
func (s *sites) activeSite(namespace string) *unstructured.Unstructured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[namespace]
}

// sweepEvery is how often owned objects of vanished Sites are looked for
// even when no deletion was seen (the garbage collector's own resync).
const sweepEvery = 5 * time.Second

// process looks at every Site once.
func (s *sites) process(ctx context.Context) {
	list, err := s.client.Resource(api.SitesGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	cms, err := s.client.Resource(configMapsGVR).List(ctx, metav1.ListOptions{LabelSelector: RouterConfigLabel})
	if err != nil {
		return
	}
	byNamespace := map[string][]*unstructured.Unstructured{}
	present := map[string]siteKey{}
	for i := range list.Items {
		site := &list.Items[i]
		byNamespace[site.GetNamespace()] = append(byNamespace[site.GetNamespace()], site)
		present[string(site.GetUID())] = siteKey{site.GetNamespace(), site.GetName(), string(site.GetUID())}
	}
	routerConfigs := map[string][]*unstructured.Unstructured{} // namespace -> router ConfigMaps
	for i := range cms.Items {
		cm := &cms.Items[i]
		routerConfigs[cm.GetNamespace()] = append(routerConfigs[cm.GetNamespace()], cm)
	}

	s.mu.Lock()
	prevActive := s.active
	prevKnown := s.known
	s.mu.Unlock()

	active := map[string]*unstructured.Unstructured{}
	for ns, group := range byNamespace {
		a := pickActive(group, routerConfigs[ns], prevActive[ns])
		active[ns] = a
		for _, site := range group {
			if site == a {
				s.reconcileActive(ctx, site, routerConfigs[ns])
			} else {
				// upstream: skupperproject/skupper internal/kube/site/site.go reconcile, markSiteInactive
				s.writeStatus(ctx, site, func(st *objStatus) bool {
					if st.set(condConfigured, errorState(fmt.Errorf("An active site already exists in the namespace (%s)", a.GetName()))) {
						st.setReady(siteRequired(resolutionRequired(site)))
						return true
					}
					return false
				})
			}
		}
	}
	s.mu.Lock()
	s.active = active
	s.known = present
	sweep := s.swept.IsZero() || s.now().Sub(s.swept) >= sweepEvery
	s.mu.Unlock()

	for uid, k := range prevKnown {
		if _, ok := present[uid]; ok {
			continue
		}
		sweep = true
		// upstream: skupperproject/skupper internal/kube/controller/controller.go checkSite (NameMatches, then Site.Deleted)
		if a := prevActive[k.namespace]; a != nil && string(a.GetUID()) == uid && s.onDeleted != nil {
			s.log.Info("skupper double: site deleted", "site", k.namespace+"/"+k.name)
			s.onDeleted(ctx, k)
		}
	}
	if sweep {
		s.collectGarbage(ctx, present)
		s.mu.Lock()
		s.swept = s.now()
		s.mu.Unlock()
	}
}

// pickActive returns the namespace's active Site: the one already active,
// else the owner of the skupper-router ConfigMap, else the oldest.
// upstream: skupperproject/skupper internal/kube/site/site.go SiteRecovery.IsActive (owner of the skupper-router ConfigMap), reconcile (the first Site seen stays active)
func pickActive(group, routerConfigs []*unstructured.Unstructured, prev *unstructured.Unstructured) *unstructured.Unstructured {
	if prev != nil {
		for _, site := range group {
			if site.GetUID() == prev.GetUID() {
				return site
			}
		}
	}
	for _, cm := range routerConfigs {
		if cm.GetName() != "skupper-router" {
			continue
		}
		for _, site := range group {
			if ownedBy(cm, site) {
				return site
			}
		}
	}
	return slices.MinFunc(group, func(a, b *unstructured.Unstructured) int {
		if c := a.GetCreationTimestamp().Compare(b.GetCreationTimestamp().Time); c != 0 {
			return c
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
}

func ownedBy(obj, site *unstructured.Unstructured) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == "Site" && ref.Name == site.GetName() && ref.UID == site.GetUID() {
			return true
		}
	}
	return false
}

// groups are the router groups of a Site: two when spec.ha is true.
// upstream: skupperproject/skupper internal/kube/site/site.go groups
func groups(site *unstructured.Unstructured) []string {
	if ha, _, _ := unstructured.NestedBool(site.Object, "spec", "ha"); ha {
		return []string{"skupper-router", "skupper-router-2"}
	}
	return []string{"skupper-router"}
}

func linkAccess(site *unstructured.Unstructured) string {
	la, _, _ := unstructured.NestedString(site.Object, "spec", "linkAccess")
	return la
}

// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go Site.resolutionRequired
func resolutionRequired(site *unstructured.Unstructured) bool {
	la := linkAccess(site)
	return la != "" && la != "none"
}

// verifyLinkAccess refuses an access type the controller has not enabled.
// The upstream chart enables local, loadbalancer and route.
// upstream: skupperproject/skupper internal/kube/site/site.go verifySiteSpec; internal/kube/securedaccess/config.go defaultEnabledAccessTypes
func verifyLinkAccess(site *unstructured.Unstructured) error {
	switch la := linkAccess(site); la {
	case "", "none", "default", "local", "loadbalancer", "route":
		return nil
	default:
		return fmt.Errorf("Unsupported value for LinkAccess: %s", la)
	}
}

// endpoints are what the router access of each group resolves to.
//   - local: <access name>.<namespace>, the access named skupper-router for
//     the first group and skupper-router-2 for the second.
//     upstream: skupperproject/skupper internal/kube/securedaccess/local.go RealiseAndResolve; internal/kube/site/site.go checkSecuredAccess (name-<i+1>)
//   - loadbalancer, and default (the default access type is loadbalancer off
//     OpenShift): the LoadBalancer Service's ingress address, so nothing
//     without a LoadBalancer provider.
//     upstream: skupperproject/skupper internal/kube/securedaccess/loadbalancer.go RealiseAndResolve; internal/kube/securedaccess/config.go getDefaultAccessType
//   - route: the Route's ingress host, so nothing off OpenShift.
//     upstream: skupperproject/skupper internal/kube/securedaccess/route.go RealiseAndResolve
func (s *sites) endpoints(site *unstructured.Unstructured) []any {
	var host func(i int) string
	switch linkAccess(site) {
	case "local":
		host = func(i int) string { return accessName(i) + "." + site.GetNamespace() }
	case "loadbalancer", "default":
		if s.loadBalancer() {
			host = func(int) string { return LoadBalancerHost }
		}
	}
	if host == nil {
		return nil
	}
	var out []any
	for i, g := range groups(site) {
		// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go RouterAccessStatus.UpdateEndpointsForGroup
		out = append(out,
			map[string]any{"name": "inter-router", "host": host(i), "port": RouterEndpoint, "group": g},
			map[string]any{"name": "edge", "host": host(i), "port": EdgeEndpoint, "group": g})
	}
	return out
}

func accessName(i int) string {
	if i == 0 {
		return "skupper-router"
	}
	return "skupper-router-" + strconv.Itoa(i+1)
}

// reconcileActive creates the router ConfigMaps of the active Site and
// writes its status.
// upstream: skupperproject/skupper internal/kube/site/site.go Reconcile, reconcile, updateConfigured, updateResolved, RouterPodEvent
func (s *sites) reconcileActive(ctx context.Context, site *unstructured.Unstructured, routerConfigs []*unstructured.Unstructured) {
	err := verifyLinkAccess(site)
	if err == nil {
		s.ensureRouterConfigs(ctx, site, routerConfigs)
	}
	endpoints := s.endpoints(site)
	s.writeStatus(ctx, site, func(st *objStatus) bool {
		changed := false
		required := siteRequired(resolutionRequired(site))
		// upstream: skupperproject/skupper internal/kube/site/site.go setDefaultIssuerInStatus
		issuer, _, _ := unstructured.NestedString(site.Object, "spec", "defaultIssuer")
		if issuer == "" {
			issuer = "skupper-site-ca"
		}
		if cur, _, _ := unstructured.NestedString(site.Object, "status", "defaultIssuer"); cur != issuer {
			_ = unstructured.SetNestedField(site.Object, issuer, "status", "defaultIssuer")
			changed = true
		}
		if st.set(condConfigured, errorOrReady(err)) {
			changed = true
		}
		if err == nil {
			// The simulated router pod is running and ready.
			// upstream: skupperproject/skupper internal/kube/site/site.go isRouterPodRunning
			if st.set(condRunning, readyState()) {
				changed = true
			}
			// The router's network status counts this site.
			// upstream: skupperproject/skupper internal/kube/site/site.go NetworkStatusUpdated
			if n, _, _ := unstructured.NestedInt64(site.Object, "status", "sitesInNetwork"); n == 0 {
				_ = unstructured.SetNestedField(site.Object, int64(1), "status", "sitesInNetwork")
				changed = true
			}
		}
		if resolutionRequired(site) && err == nil {
			// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go Site.SetEndpoints (Resolved: Ready, or Pending "Pending")
			cur, _, _ := unstructured.NestedSlice(site.Object, "status", "endpoints")
			if !reflect.DeepEqual(cur, endpoints) {
				changed = true
			}
			if len(endpoints) > 0 {
				site.Object["status"].(map[string]any)["endpoints"] = endpoints
			} else {
				unstructured.RemoveNestedField(site.Object, "status", "endpoints")
			}
			if st.set(condResolved, readyOrPending(len(endpoints) > 0)) {
				changed = true
			}
		} else if !resolutionRequired(site) {
			if _, found, _ := unstructured.NestedFieldNoCopy(site.Object, "status", "endpoints"); found {
				unstructured.RemoveNestedField(site.Object, "status", "endpoints")
				changed = true
			}
		}
		if st.setReady(required) {
			changed = true
		}
		return changed
	})
}

// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go ReadyOrPendingCondition
func readyOrPending(ready bool) state {
	if ready {
		return readyState()
	}
	return pendingState("Pending")
}

// writeStatus applies update to the Site's status and writes it when
// update reports a change.
func (s *sites) writeStatus(ctx context.Context, site *unstructured.Unstructured, update func(*objStatus) bool) {
	if site.Object["status"] == nil {
		site.Object["status"] = map[string]any{}
	}
	if _, ok := site.Object["status"].(map[string]any); !ok {
		site.Object["status"] = map[string]any{}
	}
	st := readStatus(site, s.now())
	if !update(st) {
		return
	}
	st.write(site)
	if _, err := s.client.Resource(api.SitesGVR).Namespace(site.GetNamespace()).UpdateStatus(ctx, site, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		s.log.Info("skupper double: site status not written", "site", site.GetNamespace()+"/"+site.GetName(), "error", err)
	}
}

// ensureRouterConfigs creates a router ConfigMap per group, owned by the
// Site, and deletes those of groups the Site no longer has.
// upstream: skupperproject/skupper internal/kube/site/site.go recoverRouterConfig, createRouterConfigForGroup, deleteRouterResources
func (s *sites) ensureRouterConfigs(ctx context.Context, site *unstructured.Unstructured, existing []*unstructured.Unstructured) {
	want := groups(site)
	have := map[string]bool{}
	cms := s.client.Resource(configMapsGVR).Namespace(site.GetNamespace())
	for _, cm := range existing {
		have[cm.GetName()] = true
		if !slices.Contains(want, cm.GetName()) && ownedBy(cm, site) {
			if err := cms.Delete(ctx, cm.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				s.log.Info("skupper double: router config not deleted", "configmap", site.GetNamespace()+"/"+cm.GetName(), "error", err)
			}
		}
	}
	for _, g := range want {
		if have[g] {
			continue
		}
		cm := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{
				"name": g, "namespace": site.GetNamespace(),
				"labels":          map[string]any{RouterConfigLabel: ""},
				"ownerReferences": ownerReferences(site),
			},
			"data": map[string]any{"skrouterd.json": routerConfig(site, g)},
		}}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			s.log.Info("skupper double: router config not created", "configmap", site.GetNamespace()+"/"+g, "error", err)
		}
	}
}

// ownerReferences make an object owned by the Site.
// upstream: skupperproject/skupper internal/kube/site/site.go ownerReferences
func ownerReferences(site *unstructured.Unstructured) []any {
	return []any{map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "name": site.GetName(), "uid": string(site.GetUID())}}
}

// routerConfig is a small router configuration of the shape upstream writes.
// upstream: skupperproject/skupper internal/kube/site/site.go initialRouterConfig
func routerConfig(site *unstructured.Unstructured, group string) string {
	mode := "interior"
	if edge, _, _ := unstructured.NestedBool(site.Object, "spec", "edge"); edge {
		mode = "edge"
	}
	return fmt.Sprintf(`[["router",{"id":"%s-${HOSTNAME}","mode":"%s","metadata":"{\"id\":\"%s\",\"group\":\"%s\"}"}],`+
		`["listener",{"name":"amqp","host":"localhost","port":5672}],["address",{"prefix":"mc","distribution":"multicast"}]]`,
		site.GetName(), mode, site.GetUID(), group)
}

// collectGarbage deletes the router ConfigMaps, Links and Secrets owned by
// Sites that no longer exist, as the Kubernetes garbage collector does on a
// real cluster (the test bed has none). Upstream makes the router ConfigMaps
// and the Links and Secret of a redeemed token owned by the Site.
// upstream: skupperproject/skupper internal/kube/site/site.go createRouterConfigForGroup (OwnerReferences); internal/kube/grants/redeem.go handleTokenResponse (OwnerReferences)
func (s *sites) collectGarbage(ctx context.Context, present map[string]siteKey) {
	var errs []error
	for _, gvr := range []schema.GroupVersionResource{configMapsGVR, api.LinksGVR, api.SecretsGVR} {
		list, err := s.client.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range list.Items {
			obj := &list.Items[i]
			refs := obj.GetOwnerReferences()
			if len(refs) == 0 {
				continue
			}
			orphan := true
			for _, ref := range refs {
				if ref.Kind != "Site" || present[string(ref.UID)].uid != "" {
					orphan = false // an owner is still there (or is not a Site)
				}
			}
			if !orphan {
				continue
			}
			uid := obj.GetUID()
			err := s.client.Resource(gvr).Namespace(obj.GetNamespace()).Delete(ctx, obj.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, err)
				continue
			}
			s.log.Info("skupper double: garbage collected", "resource", gvr.Resource, "object", obj.GetNamespace()+"/"+obj.GetName())
		}
	}
	if err := errors.Join(errs...); err != nil {
		s.log.Info("skupper double: garbage collection incomplete", "error", err)
	}
}
