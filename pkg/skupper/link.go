package skupper

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Link is a typed view of a Link.
type Link struct {
	Name, Namespace string
	Status          string
	Message         string
	RemoteSiteName  string
	Conditions      []metav1.Condition
}

// ParseLink reads a Link.
func ParseLink(obj *unstructured.Unstructured) (*Link, error) {
	f := &fields{obj: obj}
	l := &Link{Name: obj.GetName(), Namespace: obj.GetNamespace()}
	l.Status = f.str("status", "status")
	l.Message = f.str("status", "message")
	l.RemoteSiteName = f.str("status", "remoteSiteName")
	l.Conditions = f.conditions()
	if f.err != nil {
		return nil, f.err
	}
	return l, nil
}

// Ready reports a working link: status Ready or condition Ready=True.
func (l *Link) Ready() bool {
	if l.Status == StatusReady {
		return true
	}
	c := FindCondition(l.Conditions, "Ready")
	return c != nil && c.Status == metav1.ConditionTrue
}

// Failed reports a link in error.
func (l *Link) Failed() bool { return l.Status == StatusError }

// Site is a typed view of a Site.
type Site struct {
	Name, Namespace string
	UID             string
	Status          string
	SitesInNetwork  int64
}

// ParseSite reads a Site.
func ParseSite(obj *unstructured.Unstructured) (*Site, error) {
	f := &fields{obj: obj}
	s := &Site{Name: obj.GetName(), Namespace: obj.GetNamespace(), UID: string(obj.GetUID())}
	s.Status = f.str("status", "status")
	s.SitesInNetwork, _ = f.int("status", "sitesInNetwork")
	if f.err != nil {
		return nil, f.err
	}
	return s, nil
}
