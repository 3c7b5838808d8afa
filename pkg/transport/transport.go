// Package transport defines how vanlink reaches spokes: it observes a spoke's
// Site, Link and AccessToken, pushes an AccessToken, and removes a token with
// the Link(s) and Secret of the same name. Implementations: acm
// (ManagedClusterAction / ManagedClusterView).
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
	// Unknown: the transport could not tell (not observed yet, read failed).
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
	Site    Observed[skupper.Site]
	Link    Observed[skupper.Link]
}

// RemoveOptions choose what Remove deletes; every object is named after the token.
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
	// Observe reads the Site and Link of every named spoke in one go, so an
	// implementation can batch its reads, and calls emit once for each spoke
	// as soon as that spoke's observation is complete, so a pass can act on
	// the first spokes while the others are still being read. emit may be
	// called from several goroutines at once; it may block, which tells the
	// transport to slow its reads down to the caller's pace.
	// Every named spoke is emitted before Observe returns nil; a spoke it
	// cannot read is emitted with Unknown states and a Reason, not reported
	// as an error.
	Observe(ctx context.Context, spokes []string, emit func(*Observation)) error
	// ObserveToken reads the AccessToken of one spoke (needed only when its
	// Link is not Ready).
	ObserveToken(ctx context.Context, spoke string) (Observed[skupper.Token], error)
	// ObserveLink reads the spoke's Link as it is now, bypassing any cache
	// (Observe may serve a Link read up to a refresh interval ago).
	ObserveLink(ctx context.Context, spoke string) (Observed[skupper.Link], error)
	// Push creates the AccessToken on the spoke. It returns ErrAlreadyExists
	// when a token of that name is there.
	Push(ctx context.Context, spoke string, token *unstructured.Unstructured) error
	// Remove deletes the chosen objects named name on the spoke: the
	// AccessToken, the Link, the Secret. Objects already absent are fine.
	Remove(ctx context.Context, spoke, name string, what RemoveOptions) error
	// Known lists the spokes the transport keeps hub-side state for.
	Known(ctx context.Context) ([]string, error)
	// Forget drops the hub-side state kept for a spoke.
	Forget(ctx context.Context, spoke string) error
}

// ObserveAll observes the spokes and returns their observations by cluster.
func ObserveAll(ctx context.Context, t Transport, spokes []string) (map[string]*Observation, error) {
	var mu sync.Mutex
	out := make(map[string]*Observation, len(spokes))
	err := t.Observe(ctx, spokes, func(o *Observation) {
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
