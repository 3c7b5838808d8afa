package skupper

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Endpoint is one entry of a Site's status.endpoints.
type Endpoint struct {
	Name, Host, Port, Group string
}

// Site is a typed view of a Site.
type Site struct {
	Name, Namespace string
	UID             string
	LinkAccess      string
	HA              bool
	Status          string
	Message         string
	SitesInNetwork  int64
	Endpoints       []Endpoint
	Conditions      []metav1.Condition
}

// ParseSite reads a Site.
func ParseSite(obj *unstructured.Unstructured) (*Site, error) {
	f := &fields{obj: obj}
	s := &Site{Name: obj.GetName(), Namespace: obj.GetNamespace(), UID: string(obj.GetUID())}
	s.LinkAccess = f.str("spec", "linkAccess")
	s.HA = f.bool("spec", "ha")
	s.Status = f.str("status", "status")
	s.Message = f.str("status", "message")
	s.SitesInNetwork, _ = f.int("status", "sitesInNetwork")
	s.Conditions = f.conditions()
	raw, found, err := unstructured.NestedSlice(obj.Object, "status", "endpoints")
	if err != nil {
		f.fail([]string{"status", "endpoints"}, "must be a list")
	}
	if found {
		for i, r := range raw {
			m, ok := r.(map[string]any)
			if !ok {
				f.fail([]string{"status", fmt.Sprintf("endpoints[%d]", i)}, "must be an object")
				continue
			}
			ep := Endpoint{}
			ep.Name, _, _ = unstructured.NestedString(m, "name")
			ep.Host, _, _ = unstructured.NestedString(m, "host")
			ep.Port, _, _ = unstructured.NestedString(m, "port")
			ep.Group, _, _ = unstructured.NestedString(m, "group")
			s.Endpoints = append(s.Endpoints, ep)
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return s, nil
}

// Ready reports status Ready or condition Ready=True.
func (s *Site) Ready() bool {
	if s.Status == StatusReady {
		return true
	}
	c := FindCondition(s.Conditions, "Ready")
	return c != nil && c.Status == metav1.ConditionTrue
}

// LinkGroups counts the router groups that have an endpoint spokes can link
// to (name inter-router or edge): the grant server returns one Link per such
// group (upstream: skupperproject/skupper internal/kube/grants/tokens.go,
// TokenGenerator.setValidHostsFromSite).
func (s *Site) LinkGroups() int {
	groups := map[string]bool{}
	for _, ep := range s.Endpoints {
		if ep.Name == "inter-router" || ep.Name == "edge" {
			groups[ep.Group] = true
		}
	}
	return len(groups)
}

// CanIssueLinks reports why the hub can or cannot issue links: a redemption
// against a granting Site without link endpoints is counted, then fails with
// HTTP 500 (upstream: skupperproject/skupper internal/kube/grants/grants.go
// and tokens.go, NewTokenGenerator "No valid endpoints found for site"), so
// nothing may be pushed until the Site is Ready with endpoints. The error
// names the Site and says why; nil means usable.
func (s *Site) CanIssueLinks() error {
	switch {
	case s.LinkAccess == "" || s.LinkAccess == "none":
		return fmt.Errorf("Site %s/%s has no spec.linkAccess: it accepts no links", s.Namespace, s.Name)
	case !s.Ready():
		reason := s.Status
		if reason == "" {
			reason = "not processed by the Skupper controller yet"
		}
		if s.Message != "" && s.Message != s.Status {
			reason += ": " + s.Message
		}
		return fmt.Errorf("Site %s/%s is not Ready (%s), so it has no link endpoints", s.Namespace, s.Name, reason)
	case s.LinkGroups() == 0:
		return fmt.Errorf("Site %s/%s has no link endpoints in status.endpoints yet (linkAccess %q: is the way in, e.g. a LoadBalancer, provisioned?)", s.Namespace, s.Name, s.LinkAccess)
	}
	return nil
}

// SiteOwner returns the name and uid of the Site that owns obj (by its
// ownerReferences), or empty strings.
func SiteOwner(obj *unstructured.Unstructured) (name, uid string) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == "Site" && strings.HasPrefix(ref.APIVersion, Group+"/") {
			return ref.Name, string(ref.UID)
		}
	}
	return "", ""
}

// OwnedBy reports whether obj is owned by the Site site.
func OwnedBy(obj, site *unstructured.Unstructured) bool {
	name, uid := SiteOwner(obj)
	return name == site.GetName() && uid == string(site.GetUID())
}
