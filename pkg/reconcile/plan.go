// Package reconcile computes and executes a vanlink pass: read the hub
// AccessGrant, discover spokes, observe each, plan per spoke, check the
// grant's budget (rotating it when allowed), then push and prune with bounded
// concurrency and a deadline per spoke, returning a change set.
package reconcile

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// Action is what a pass decides for one spoke.
type Action string

const (
	// InSync: the spoke's Link is Ready; nothing to do.
	InSync Action = "in-sync"
	// Pending: the spoke is on its way (no Site yet, token being redeemed,
	// Link configured while the router comes up) or cannot be observed yet.
	Pending Action = "pending"
	// Push: the spoke needs a (new) token.
	Push Action = "push"
	// Prune: the cluster left the selection; its token, Link and Secret go.
	Prune Action = "prune"
	// Blocked: a push is needed but the grant cannot cover it.
	Blocked Action = "blocked"
	// Skip: the cluster is not usable (not joined/available, the hub itself)
	// or left the selection without --prune.
	Skip Action = "skip"
)

// Step is the plan for one spoke.
type Step struct {
	Cluster string `json:"cluster"`
	Action  Action `json:"action"`
	Reason  string `json:"reason"`
	// Observed states, for reports: Site, Token, Link.
	Site  string `json:"site,omitempty"`
	Token string `json:"token,omitempty"`
	Link  string `json:"link,omitempty"`
	// Remove is what a push removes before it creates the token.
	Remove transport.RemoveOptions `json:"-"`
	// inflight: a token of the current grant still being redeemed.
	inflight bool
}

// NeedsToken reports whether planning this spoke needs its AccessToken read
// (and it was not): the Site is there and the Links are known but not Ready.
func NeedsToken(o *transport.Observation) bool {
	if o.Token != nil || o.Site.State != transport.Present || o.Links.State == transport.Unknown {
		return false
	}
	return o.Links.State == transport.Absent || !o.Links.Object.Ready()
}

// PlanInput is what a plan depends on besides the spoke's observation.
type PlanInput struct {
	// GrantUID is the current grant's uid.
	GrantUID types.UID
	// Now is the time of the plan.
	Now time.Time
	// LinkReadyTimeout: Links not Ready for longer than this while the
	// spoke's Site is Ready are broken (0 never).
	LinkReadyTimeout time.Duration
	// HubBlocked, when set, says why the hub cannot issue links now: a push
	// would spend a redemption and fail, so it is held as pending.
	HubBlocked string
}

// PlanSpoke decides what to do with one spoke. It is a pure function of
// what was observed (o.Token is read only when NeedsToken says so).
func PlanSpoke(o *transport.Observation, in PlanInput) Step {
	s := planSpoke(o, in)
	if s.Action == Push && in.HubBlocked != "" {
		s.Action, s.Remove = Pending, transport.RemoveOptions{}
		s.Reason = "needs a token (" + s.Reason + "), but the hub cannot issue links yet: " + in.HubBlocked
	}
	return s
}

func planSpoke(o *transport.Observation, in PlanInput) Step {
	s := Step{Cluster: o.Cluster, Site: describeSite(o.Site), Link: describeLinks(o.Links)}
	if o.Token != nil {
		s.Token = describeToken(*o.Token)
	}
	pending := func(reason string) Step { s.Action, s.Reason = Pending, reason; return s }
	push := func(reason string, remove transport.RemoveOptions) Step {
		remove.Secret = true // a leftover Secret would burn a redemption on "already exists"
		s.Action, s.Reason, s.Remove = Push, reason, remove
		return s
	}

	// Working links are all that matter, whatever token made them.
	if o.Links.State == transport.Present && o.Links.Object.Ready() {
		s.Action, s.Reason = InSync, "Link Ready"
		if n := len(*o.Links.Object); n > 1 {
			s.Reason = fmt.Sprintf("%d Links Ready", n)
		}
		return s
	}
	switch {
	case o.Site.State == transport.Unknown:
		return pending("Site not observed: " + o.Site.Reason)
	case o.Links.State == transport.Unknown:
		return pending("Link not observed: " + o.Links.Reason)
	case o.Site.State == transport.Absent:
		return pending("no Site in the spoke namespace yet; a token would not be redeemed")
	}
	tok := o.Token
	if tok == nil || tok.State == transport.Unknown {
		reason := "AccessToken not observed"
		if tok != nil && tok.Reason != "" {
			reason += ": " + tok.Reason
		}
		return pending(reason)
	}
	linksPresent := o.Links.State == transport.Present
	var failed *skupper.Link
	if linksPresent {
		failed = o.Links.Object.Failed()
	}
	broken := ""
	if linksPresent && failed == nil {
		broken = brokenLinks(o, in)
	}
	if tok.State == transport.Absent {
		switch {
		case linksPresent && failed == nil && broken == "":
			return pending("Link present without its AccessToken; waiting for the router (" + describeLinks(o.Links) + ")")
		case failed != nil:
			return push("Link "+failed.Name+" failed and no AccessToken: "+failed.Message, transport.RemoveOptions{Link: true})
		case linksPresent:
			return push(broken+" and no AccessToken", transport.RemoveOptions{Link: true})
		}
		return push("no AccessToken", transport.RemoveOptions{})
	}

	t := tok.Object
	stale := t.GrantUID != in.GrantUID
	switch {
	case t.Orphaned():
		return push("AccessToken redeemed for a Site that is gone: "+t.Message, transport.RemoveOptions{Token: true, Link: linksPresent})
	case t.Failed() && !stale && uncounted(t.Message):
		// The spoke controller retries it by itself (at once, then about
		// every 30 s); a new token would spend a redemption of its own.
		return pending("the grant server could not count the redemption (" + t.Message + "); the spoke controller retries it")
	case t.Failed():
		return push("AccessToken failed: "+t.Message, transport.RemoveOptions{Token: true, Link: linksPresent})
	case t.Redeemed && !linksPresent:
		return push("AccessToken redeemed but none of its Links is there", transport.RemoveOptions{Token: true})
	case t.Redeemed && broken != "":
		return push(broken, transport.RemoveOptions{Token: true, Link: true})
	case t.Redeemed && stale && failed != nil:
		return push("Link "+failed.Name+" failed and the AccessToken is from a replaced grant", transport.RemoveOptions{Token: true, Link: true})
	case t.Redeemed && failed != nil:
		return pending("Link " + failed.Name + " in error: " + failed.Message)
	case t.Redeemed:
		return pending("Link configured, router not ready yet (" + describeLinks(o.Links) + ")")
	case stale:
		return push("AccessToken from a replaced grant, not redeemed", transport.RemoveOptions{Token: true, Link: linksPresent})
	default:
		s = pending("AccessToken being redeemed")
		s.inflight = true
		return s
	}
}

// uncounted reports a redemption the grant server refused without counting
// it: HTTP 503 "Internal error", answered when writing the grant's count
// fails (a conflict), before anything was granted (upstream:
// skupperproject/skupper internal/kube/grants/grants.go,
// Grants.checkAndUpdateAccessToken and ServeHTTP). The spoke controller's
// own retry then succeeds without spending more than one redemption.
func uncounted(message string) bool {
	return strings.Contains(message, "failed response: 503")
}

// brokenLinks says why Links that are neither Ready nor in error will not
// become Ready by themselves: their credentials Secret is gone (upstream, the
// Link then stays Pending "Not Operational" for ever), or they have not been
// Ready for longer than the bound while the spoke's Site is Ready (so the
// router runs). Empty when they may still come up.
func brokenLinks(o *transport.Observation, in PlanInput) string {
	if o.Credentials == transport.Absent {
		return "the Links' credentials Secret is missing"
	}
	since := o.Links.Object.NotReadySince()
	if in.LinkReadyTimeout <= 0 || since.IsZero() || !o.Site.Object.Ready() {
		return ""
	}
	if d := in.Now.Sub(since); d > in.LinkReadyTimeout {
		return fmt.Sprintf("Link not Ready for %s while the Site is Ready (bound %s: --link-ready-timeout)", d.Round(time.Second), in.LinkReadyTimeout)
	}
	return ""
}

func describeSite(o transport.Observed[skupper.Site]) string {
	switch o.State {
	case transport.Present:
		return "present"
	case transport.Absent:
		return "absent"
	}
	return "unknown"
}

func describeLinks(o transport.Observed[skupper.LinkSet]) string {
	switch o.State {
	case transport.Present:
		return o.Object.Describe()
	case transport.Absent:
		return "absent"
	}
	return "unknown"
}

func describeToken(o transport.Observed[skupper.Token]) string {
	switch o.State {
	case transport.Present:
		switch {
		case o.Object.Redeemed:
			return "redeemed"
		case o.Object.Failed():
			return "failed"
		}
		return "not redeemed"
	case transport.Absent:
		return "absent"
	}
	return "unknown"
}
