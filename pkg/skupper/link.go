package skupper

import (
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Link is a typed view of a Link.
type Link struct {
	Name, Namespace string
	// TLSCredentials is spec.tlsCredentials: the Secret holding the Link's
	// client certificate (for a redeemed token, the token's name).
	TLSCredentials string
	Created        time.Time
	Status         string
	Message        string
	RemoteSiteName string
	Conditions     []metav1.Condition
}

// ParseLink reads a Link.
func ParseLink(obj *unstructured.Unstructured) (*Link, error) {
	f := &fields{obj: obj}
	l := &Link{Name: obj.GetName(), Namespace: obj.GetNamespace(), Created: obj.GetCreationTimestamp().Time}
	l.TLSCredentials = f.str("spec", "tlsCredentials")
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

// NotReadySince is when the Link last stopped being Ready: the
// lastTransitionTime of its Ready condition when that is not True, else its
// creation time (a Link without a Ready condition has never been Ready). Zero
// when the Link is Ready or neither time is known.
func (l *Link) NotReadySince() time.Time {
	if l.Ready() {
		return time.Time{}
	}
	if c := FindCondition(l.Conditions, "Ready"); c != nil && !c.LastTransitionTime.IsZero() {
		return c.LastTransitionTime.Time
	}
	return l.Created
}

// MaxRouterGroups is the most router groups a Site has: two when spec.ha is
// set, one otherwise (upstream: skupperproject/skupper
// internal/kube/site/site.go, Site.groups).
const MaxRouterGroups = 2

// LinkNames are the names the grant server gives the Links of a token named
// token when the granting Site has groups router groups with link
// endpoints: the token's own name for one group, <token>-1 .. <token>-n for
// more (upstream: skupperproject/skupper internal/kube/grants/tokens.go,
// TokenGenerator.NewCertToken). groups below 1 counts as 1.
func LinkNames(token string, groups int) []string {
	if groups <= 1 {
		return []string{token}
	}
	out := make([]string, groups)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", token, i+1)
	}
	return out
}

// AllLinkNames are every name a Link of the token can have, whatever the
// granting Site's router groups: what a removal must delete.
func AllLinkNames(token string) []string {
	names := []string{token}
	for g := 2; g <= MaxRouterGroups; g++ {
		names = append(names, LinkNames(token, g)...)
	}
	return uniq(names)
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// UsesCredentials reports whether the Link belongs to the token: it uses the
// token's Secret (spec.tlsCredentials), or, when that field is not known,
// carries one of the names the grant server gives the token's Links.
func (l *Link) UsesCredentials(token string) bool {
	if l.TLSCredentials != "" {
		return l.TLSCredentials == token
	}
	for _, n := range AllLinkNames(token) {
		if l.Name == n {
			return true
		}
	}
	return false
}

// LinkSet is the Links of one token on a spoke, sorted by name: the one or
// more Links the redemption of the token made.
type LinkSet []Link

// NewLinkSet sorts the Links by name.
func NewLinkSet(links ...Link) LinkSet {
	s := LinkSet(links)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// Ready reports whether the set is not empty and every Link in it is Ready.
func (s LinkSet) Ready() bool {
	for i := range s {
		if !s[i].Ready() {
			return false
		}
	}
	return len(s) > 0
}

// Failed returns the first Link in error, or nil.
func (s LinkSet) Failed() *Link {
	for i := range s {
		if s[i].Failed() {
			return &s[i]
		}
	}
	return nil
}

// NotReadySince is the earliest time a Link of the set stopped being Ready
// (zero when all are Ready or no time is known).
func (s LinkSet) NotReadySince() time.Time {
	var since time.Time
	for i := range s {
		if t := s[i].NotReadySince(); !t.IsZero() && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	return since
}

// Names lists the Links' names.
func (s LinkSet) Names() []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].Name
	}
	return out
}

// Describe summarises the set's state for reports: "Ready", or the state of
// the first Link that is not Ready, prefixed by its name when there are
// several.
func (s LinkSet) Describe() string {
	if len(s) == 0 {
		return "absent"
	}
	for i := range s {
		l := &s[i]
		if l.Ready() {
			continue
		}
		d := l.Status
		switch {
		case d == "":
			d = "no status"
		case l.Message != "":
			d += ": " + l.Message
		}
		if len(s) > 1 {
			d = l.Name + " " + d
		}
		return d
	}
	return StatusReady
}
