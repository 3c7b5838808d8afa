// Package sync computes and executes a vanlink pass: read the hub
// AccessGrant, discover spokes, observe each, plan per spoke, check the
// grant's budget (rotating it when allowed), then push and prune with bounded
// concurrency and a deadline per spoke, returning a change set.
package sync

import (
	"fmt"

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

// NeedsToken reports whether planning this spoke needs its AccessToken read:
// the Site is there and the Link is known but not Ready.
func NeedsToken(o *transport.Observation) bool {
	if o.Site.State != transport.Present || o.Link.State == transport.Unknown {
		return false
	}
	return o.Link.State == transport.Absent || !o.Link.Object.Ready()
}

// PlanSpoke decides what to do with one spoke. tok is its AccessToken, read
// only when NeedsToken said so (nil otherwise); grantUID is the current grant.
// It is a pure function of what was observed.
func PlanSpoke(o *transport.Observation, tok *transport.Observed[skupper.Token], grantUID types.UID) Step {
	s := Step{Cluster: o.Cluster, Site: describeSite(o.Site), Link: describeLink(o.Link)}
	if tok != nil {
		s.Token = describeToken(*tok)
	}
	pending := func(reason string) Step { s.Action, s.Reason = Pending, reason; return s }
	push := func(reason string, remove transport.RemoveOptions) Step {
		remove.Secret = true // a leftover Secret would burn a redemption on "already exists"
		s.Action, s.Reason, s.Remove = Push, reason, remove
		return s
	}

	// A working link is all that matters, whatever token made it.
	if o.Link.State == transport.Present && o.Link.Object.Ready() {
		s.Action, s.Reason = InSync, "Link Ready"
		return s
	}
	switch {
	case o.Site.State == transport.Unknown:
		return pending("Site not observed: " + o.Site.Reason)
	case o.Link.State == transport.Unknown:
		return pending("Link not observed: " + o.Link.Reason)
	case o.Site.State == transport.Absent:
		return pending("no Site in the spoke namespace yet; a token would not be redeemed")
	}
	if tok == nil || tok.State == transport.Unknown {
		reason := "AccessToken not observed"
		if tok != nil && tok.Reason != "" {
			reason += ": " + tok.Reason
		}
		return pending(reason)
	}
	linkPresent := o.Link.State == transport.Present
	if tok.State == transport.Absent {
		if linkPresent && !o.Link.Object.Failed() {
			return pending("Link present without its AccessToken; waiting for the router (" + describeLink(o.Link) + ")")
		}
		if linkPresent {
			return push("Link failed and no AccessToken: "+o.Link.Object.Message, transport.RemoveOptions{Link: true})
		}
		return push("no AccessToken", transport.RemoveOptions{})
	}

	t := tok.Object
	stale := t.GrantUID != grantUID
	switch {
	case t.Failed():
		return push("AccessToken failed: "+t.Message, transport.RemoveOptions{Token: true, Link: linkPresent})
	case t.Redeemed && !linkPresent:
		return push("AccessToken redeemed but no Link", transport.RemoveOptions{Token: true})
	case t.Redeemed && stale && o.Link.Object.Failed():
		return push("Link failed and the AccessToken is from a replaced grant", transport.RemoveOptions{Token: true, Link: true})
	case t.Redeemed && o.Link.Object.Failed():
		return pending("Link in error: " + o.Link.Object.Message)
	case t.Redeemed:
		return pending("Link configured, router not ready yet (" + describeLink(o.Link) + ")")
	case stale:
		return push("AccessToken from a replaced grant, not redeemed", transport.RemoveOptions{Token: true, Link: linkPresent})
	default:
		s = pending("AccessToken being redeemed")
		s.inflight = true
		return s
	}
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

func describeLink(o transport.Observed[skupper.Link]) string {
	switch o.State {
	case transport.Present:
		if o.Object.Status == "" {
			return "no status"
		}
		if o.Object.Message != "" && o.Object.Status != skupper.StatusReady {
			return fmt.Sprintf("%s: %s", o.Object.Status, o.Object.Message)
		}
		return o.Object.Status
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
