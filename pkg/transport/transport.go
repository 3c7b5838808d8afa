// Package transport defines how vanlink reaches spokes: it observes a spoke's
// Site, the token's Links and AccessToken, pushes an AccessToken, and removes
// a token with its Link(s) and Secret. Implementations: acm
// (ManagedClusterAction / ManagedClusterView) and direct (spoke credentials).
package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// State is what a transport knows about one object on a spoke.
type State string

const (
	// Unknown: the transport could not tell (not observed yet, read failed,
	// or the transport cannot read that kind: ACM refuses views of Secrets).
	Unknown State = "Unknown"
	// Absent: the object does not exist.
	Absent State = "Absent"
	// Present: the object exists; Object holds it.
	Present State = "Present"
)

// Observed is the state of one spoke object.
type Observed[T any] struct {
	State  State
	Object *T
	// Reason explains an Unknown state.
	Reason string
}

// Observation is what a transport saw on one spoke.
type Observation struct {
	Cluster string
	// Site is the Site in the spoke namespace, whatever its name (Skupper
	// allows one active Site per namespace, and redeems a token into it).
	Site Observed[skupper.Site]
	// Links are the token's Links: every Link that uses the token's
	// credentials (one per router group of the granting Site, see
	// skupper.LinkNames). Absent when there is none.
	Links Observed[skupper.LinkSet]
	// Token is the spoke's AccessToken; nil when it was not read.
	Token *Observed[skupper.Token]
	// Credentials is the state of the token's Secret (the Links' client
	// certificate); Unknown where the transport cannot read Secrets.
	Credentials State
	// Fresh is set when everything above was read from the spoke during
	// this pass, not from a cache that may be a refresh interval old, and
	// the Site's absence (if Absent) is conclusive. A push or removal is
	// only decided on a fresh observation (see Transport.Refresh).
	Fresh bool
}

// Query says what to observe.
type Query struct {
	// Spokes are the clusters to observe.
	Spokes []string
	// LinkNames are the names the token's Links have when made by the hub
	// as it is now (skupper.LinkNames with the hub Site's router groups).
	// Transports that cannot list Links (ACM views read one object by
	// name) read these; others find the Links by their credentials.
	LinkNames []string
}

// RemoveOptions choose what Remove deletes; every object is named after the
// token (its Links: every Link that uses the token's credentials).
type RemoveOptions struct {
	Token, Link, Secret bool
}

// All removes the token, its Link(s) and its Secret.
var All = RemoveOptions{Token: true, Link: true, Secret: true}

// Transport is vanlink's boundary to the spokes. Every method is safe for
// concurrent use with different spokes. Errors are typed (see below) and
// never carry the grant code.
type Transport interface {
	// Prepare runs once per pass before anything else, with the pass lease
	// held: it removes what a crashed earlier pass left on the hub.
	Prepare(ctx context.Context) error
	// Finish runs at the end of every pass (dry runs included): it waits for
	// the transport's background work, such as deleting hub objects that
	// carried the code, to end within ctx.
	Finish(ctx context.Context) error
	// Observe reads the Site and Links of every spoke of q in one go, so an
	// implementation can batch its reads, and calls emit once for each spoke
	// as soon as that spoke's observation is complete, so a pass can act on
	// the first spokes while the others are still being read. emit may be
	// called from several goroutines at once; it may block, which tells the
	// transport to slow its reads down to the caller's pace.
	// Every spoke of q is emitted before Observe returns nil; a spoke it
	// cannot read is emitted with Unknown states and a Reason, not reported
	// as an error. An observation may come from a cache (Fresh unset).
	Observe(ctx context.Context, q Query, emit func(*Observation)) error
	// Refresh reads one spoke as it is now, bypassing every cache: its
	// Site, Links and Secret, and its AccessToken when withToken is set.
	// The result is Fresh.
	Refresh(ctx context.Context, spoke string, q Query, withToken bool) (*Observation, error)
	// Push creates the AccessToken on the spoke. It returns ErrAlreadyExists
	// when a token of that name is there.
	Push(ctx context.Context, spoke string, token *unstructured.Unstructured) error
	// Remove deletes the chosen objects of the token named name on the
	// spoke: the AccessToken, every Link that uses its credentials, its
	// Secret. Objects already absent are fine.
	Remove(ctx context.Context, spoke, name string, what RemoveOptions) error
	// Known lists the spokes the transport keeps hub-side state for.
	Known(ctx context.Context) ([]string, error)
	// Forget drops the hub-side state kept for a spoke.
	Forget(ctx context.Context, spoke string) error
	// Close stops what the transport runs for its whole life (watches).
	Close()
}

// ObserveAll observes the spokes and returns their observations by cluster.
func ObserveAll(ctx context.Context, t Transport, q Query) (map[string]*Observation, error) {
	var mu sync.Mutex
	out := make(map[string]*Observation, len(q.Spokes))
	err := t.Observe(ctx, q, func(o *Observation) {
		mu.Lock()
		out[o.Cluster] = o
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Errors of a transport, sorted with errors.Is / errors.As.
var (
	// ErrAlreadyExists: Push found a token of the same name on the spoke.
	ErrAlreadyExists = errors.New("the AccessToken already exists on the spoke")
	// ErrAgentTimeout: the spoke's agent did not answer before the deadline.
	ErrAgentTimeout = errors.New("the spoke's agent did not answer before the deadline")
	// ErrOutcomeUnknown: the request was executed, but its result could not be
	// read (e.g. the hub collected the action first); the next pass observes.
	ErrOutcomeUnknown = errors.New("the outcome could not be read")
)

// SpokeError is a failure reported by the spoke side (its agent or API server).
type SpokeError struct {
	Cluster string
	// Op is what was attempted, e.g. "create AccessToken hub-link".
	Op string
	// Reason is a machine-readable reason (e.g. CreateResourceFailed).
	Reason string
	// Message is the spoke's explanation.
	Message string
}

func (e *SpokeError) Error() string {
	return fmt.Sprintf("cluster %s: %s: %s: %s", e.Cluster, e.Op, e.Reason, e.Message)
}
