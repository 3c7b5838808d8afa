package skupper

import (
	"context"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

// condMatched is the condition of a Listener that follows hasMatchingConnector.
// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go CONDITION_TYPE_MATCHED
const condMatched = "Matched"

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// listenerRequired are the conditions of a Ready Listener.
// upstream: skupperproject/skupper pkg/apis/skupper/v2alpha1/types.go Listener.SetConfigured, Listener.setMatched
var listenerRequired = []string{condConfigured, condMatched}

// Network plays the part of the routers' shared view of a network's services
// for Listeners: a Listener has a matching Connector when a Connector with its
// routing key is active on any site of its network, its own or one linked to
// it. The hub and every spoke whose Link to it is Operational form one
// network; a spoke that is not linked is a network of its own.
//
// upstream: each router reports the services it offers; the kube-adaptor
// gathers them across linked sites into the network status, from which the
// controller sets status.hasMatchingConnector of every Listener of the site
// (skupperproject/skupper internal/kube/site/binding_status.go
// BindingStatus.populate, BindingStatus.updateMatchingConnectorCount) with
// its Matched condition, Ready "OK" or Pending "No matching connectors", and
// Ready from Configured and Matched (pkg/apis/skupper/v2alpha1/types.go
// Listener.SetHasMatchingConnector, Listener.matched, setMatched). The
// field is omitted when false (json omitempty).
//
// A Connector is active for the routing keys its router offers: a host
// Connector always (internal/site/connector.go UpdateBridgeConfigForConnector);
// a selector Connector once it selects a pod, that is a pod of its namespace
// matching the selector that is Ready (or includeNotReadyPods), Running and
// not being deleted (internal/kube/site/bindings.go PodWatcher.pods); with
// exposePodsByName each selected pod is also offered under
// <routingKey>.<pod name> (internal/site/connector.go
// UpdateBridgeConfigForConnectorToPod). Only Listeners and Connectors in a
// namespace with a Site are configured in a router.
type Network struct {
	hub dynamic.Interface
	log *slog.Logger
	now func() time.Time
	// Tick is how often the network is looked at (default 200 ms).
	Tick time.Duration

	pace *pacer

	mu     sync.Mutex
	spokes map[string]dynamic.Interface
	ctx    context.Context // of Run, once it started
}

// NewNetwork returns the network double of a hub (call AddSpoke for each
// spoke, and Run).
func NewNetwork(hub dynamic.Interface, log *slog.Logger) *Network {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Network{hub: hub, log: log, now: time.Now, Tick: 200 * time.Millisecond, spokes: map[string]dynamic.Interface{}, pace: newPacer()}
}

// AddSpoke adds a spoke cluster; it joins the hub's network while one of its
// Links is Operational.
func (n *Network) AddSpoke(name string, client dynamic.Interface) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.spokes[name] = client
	if n.ctx != nil {
		n.pace.watch(n.ctx, client, networkKinds...)
	}
	n.pace.poke()
}

// Run looks at the network until ctx ends: after each change of the kinds
// it reads on any cluster (at most once per Tick), as the pacer says.
func (n *Network) Run(ctx context.Context) {
	n.mu.Lock()
	n.ctx = ctx
	n.pace.setTick(n.Tick)
	n.pace.watch(ctx, n.hub, networkKinds...)
	for _, c := range n.spokes {
		n.pace.watch(ctx, c, networkKinds...)
	}
	n.mu.Unlock()
	for {
		start := time.Now()
		n.process(ctx)
		if !n.pace.wait(ctx, start) {
			return
		}
	}
}

// networkKinds are what the network double reads on each cluster.
var networkKinds = []schema.GroupVersionResource{api.SitesGVR, api.LinksGVR, api.ConnectorsGVR, api.ListenersGVR, podsGVR}

// site is what one cluster contributes to its network.
type site struct {
	name       string
	client     dynamic.Interface
	namespaces map[string]bool // namespaces with a Site
	offered    map[string]bool // routing keys of its active Connectors
	linked     bool            // a Link of a Site is Operational (spokes)
}

// process looks at every cluster once and updates the Listeners whose
// match changed.
func (n *Network) process(ctx context.Context) {
	n.mu.Lock()
	names := make([]string, 0, len(n.spokes))
	for name := range n.spokes {
		names = append(names, name)
	}
	sort.Strings(names)
	clients := map[string]dynamic.Interface{"": n.hub}
	for _, name := range names {
		clients[name] = n.spokes[name]
	}
	n.mu.Unlock()

	hub, ok := n.look(ctx, "", n.hub)
	if !ok {
		return
	}
	network := map[string]bool{}
	for k := range hub.offered {
		network[k] = true
	}
	var spokes []*site
	for _, name := range names {
		s, ok := n.look(ctx, name, clients[name])
		if !ok {
			continue
		}
		spokes = append(spokes, s)
		if s.linked {
			for k := range s.offered {
				network[k] = true
			}
		}
	}
	n.match(ctx, hub, network)
	for _, s := range spokes {
		if s.linked {
			n.match(ctx, s, network)
		} else {
			n.match(ctx, s, s.offered)
		}
	}
}

// look reads one cluster's Sites, Links, Connectors and the pods they select.
func (n *Network) look(ctx context.Context, name string, c dynamic.Interface) (*site, bool) {
	s := &site{name: name, client: c, namespaces: map[string]bool{}, offered: map[string]bool{}}
	sites, err := c.Resource(api.SitesGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, false
	}
	for _, st := range sites.Items {
		s.namespaces[st.GetNamespace()] = true
	}
	if name != "" {
		links, err := c.Resource(api.LinksGVR).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, false
		}
		for i := range links.Items {
			l := &links.Items[i]
			if s.namespaces[l.GetNamespace()] && readStatus(l, n.now()).isTrue(condOperational) {
				s.linked = true
			}
		}
	}
	conns, err := c.Resource(api.ConnectorsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, false
	}
	for i := range conns.Items {
		conn := &conns.Items[i]
		if !s.namespaces[conn.GetNamespace()] {
			continue
		}
		key, _, _ := unstructured.NestedString(conn.Object, "spec", "routingKey")
		if host, _, _ := unstructured.NestedString(conn.Object, "spec", "host"); host != "" {
			s.offered[key] = true
			continue
		}
		selector, _, _ := unstructured.NestedString(conn.Object, "spec", "selector")
		if selector == "" {
			continue
		}
		notReady, _, _ := unstructured.NestedBool(conn.Object, "spec", "includeNotReadyPods")
		byName, _, _ := unstructured.NestedBool(conn.Object, "spec", "exposePodsByName")
		pods, err := c.Resource(podsGVR).Namespace(conn.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			continue
		}
		for i := range pods.Items {
			if !selected(&pods.Items[i], notReady) {
				continue
			}
			s.offered[key] = true
			if byName {
				s.offered[key+"."+pods.Items[i].GetName()] = true
			}
		}
	}
	return s, true
}

// selected says whether a Connector's router connects to the pod.
// upstream: skupperproject/skupper internal/kube/site/bindings.go PodWatcher.pods; internal/kube/client/pods.go IsPodReady, IsPodRunning
func selected(pod *unstructured.Unstructured, includeNotReady bool) bool {
	if pod.GetDeletionTimestamp() != nil {
		return false
	}
	if phase, _, _ := unstructured.NestedString(pod.Object, "status", "phase"); phase != "Running" {
		return false
	}
	if includeNotReady {
		return true
	}
	conds, _, _ := unstructured.NestedSlice(pod.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			return m["status"] == "True"
		}
	}
	return false
}

// match writes hasMatchingConnector and the Matched condition of every
// Listener of a cluster configured in a router.
func (n *Network) match(ctx context.Context, s *site, offered map[string]bool) {
	list, err := s.client.Resource(api.ListenersGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	now := n.now()
	for i := range list.Items {
		l := &list.Items[i]
		if !s.namespaces[l.GetNamespace()] {
			continue
		}
		key, _, _ := unstructured.NestedString(l.Object, "spec", "routingKey")
		matched := offered[key]
		before := l.DeepCopy()
		st := readStatus(l, now)
		st.set(condConfigured, readyState())
		if matched {
			st.set(condMatched, readyState())
		} else {
			st.set(condMatched, pendingState("No matching connectors"))
		}
		st.setReady(listenerRequired)
		st.write(l)
		status := l.Object["status"].(map[string]any)
		setOrDelete(status, "hasMatchingConnector", true, matched)
		if reflect.DeepEqual(before.Object["status"], l.Object["status"]) {
			continue
		}
		if _, err := s.client.Resource(api.ListenersGVR).Namespace(l.GetNamespace()).UpdateStatus(ctx, l, metav1.UpdateOptions{}); err == nil {
			n.log.Debug("skupper double: listener match", "cluster", clusterName(s.name), "listener", l.GetNamespace()+"/"+l.GetName(), "hasMatchingConnector", matched)
		}
	}
}

func clusterName(name string) string {
	if name == "" {
		return "hub"
	}
	return name
}
