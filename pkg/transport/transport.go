// Package transport defines how vanlink reaches spokes. A Transport opens a
// Session for a pass (or for a controller's lifetime); the session observes
// spokes (a spoke's Site, whatever its name, the token's Links and, when they
// are not Ready, the AccessToken: an observation is always enough to decide
// on), applies changes (push an AccessToken; remove a token, its Link(s) and
// Secret) and closes, ending every watch and background deletion it started.
// Optional capabilities are small interfaces: Pruner (a session that keeps
// hub-side state per spoke) and Watcher (a session that sees a spoke change).
// Implementations: acm (ManagedClusterAction / ManagedClusterView),
// manifestwork (one ManifestWork per spoke, read back through its status
// feedback) and direct (spoke credentials); package transporttest is the
// conformance suite every one must pass.
package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
	// this session, not from a cache that may be a refresh interval old.
	Fresh bool
}

// Query says what to observe.
type Query struct {
	// Spokes are the clusters to observe.
	Spokes []string
	// LinkNames are the names the token's Links have when made by the hub
	// as it is now (skupper.LinkNames with the hub Site's router groups).
	// Transports that cannot list Links (ACM views read one object by
	// name) read these; others find the Links by their credentials. Empty
	// when the hub's router groups are unknown (its Site cannot issue
	// links): a transport then reads the names it already reads for the
	// spoke (the token's own name for a spoke it never read), and deletes
	// no view or read of a Link name.
	LinkNames []string
}

// RemoveOptions choose what an Op removes; every object is the token's (its
// Links: every Link that uses the token's credentials).
type RemoveOptions struct {
	Token, Link, Secret bool
}

// All removes the token, its Link(s) and its Secret.
var All = RemoveOptions{Token: true, Link: true, Secret: true}

// Op is a change to one spoke: remove the chosen objects of the token
// named Name (absent ones count as removed), then, when Push is set, create
// the AccessToken it requests. An Op prints, logs and marshals without the
// grant code: the transport builds the AccessToken (Push.Reveal, the only
// place the code is read) when it sends it, and lets it go with the request.
type Op struct {
	Name   string
	Remove RemoveOptions
	// Push requests the AccessToken to create (its name and namespace, the
	// grant it redeems).
	Push *skupper.TokenRequest
}

// SessionOptions shape a session.
type SessionOptions struct {
	// ReadOnly makes a session that writes nothing anywhere (a dry run):
	// what it cannot read without writing is Unknown, and Apply fails.
	ReadOnly bool
	// Fresh makes every observation a read of the spoke as it is now, even
	// of a spoke whose Links are Ready.
	Fresh bool
}

// Transport is vanlink's boundary to the spokes: it opens sessions. A
// transport is two types and four methods: Open, and a Session's Observe,
// Apply and Close. Optional capabilities are the small interfaces below.
type Transport interface {
	// Open starts a session for a pass (or for a controller's lifetime),
	// with the pass lease held: it removes what a crashed earlier session
	// left on the hub (unless ReadOnly) and starts what the session
	// watches. Everything it starts ends with Close.
	Open(ctx context.Context, o SessionOptions) (Session, error)
}

// Session observes and changes spokes. Every method is safe for concurrent
// use with different spokes. Errors are typed (see below) and never carry
// the grant code.
type Session interface {
	// Observe emits one observation for each spoke of q, each as soon as it
	// is complete, so a pass can act on the first spokes while the others
	// are still being read; emit may be called from several goroutines at
	// once, and may block, which slows the session down to the caller's
	// pace. Every observation is enough to decide on: the Site, the token's
	// Links, and the token whenever the Links are not all Ready; and it is
	// Fresh (read as the spoke is now) unless its Links are Ready and the
	// session is not Fresh (a decision to do nothing may rest on a cache
	// refreshed every few minutes; a push or removal never does). A spoke
	// the session cannot read is emitted with Unknown states and a Reason,
	// not reported as an error. Observe returns once every spoke is emitted.
	Observe(ctx context.Context, q Query, emit func(*Observation)) error
	// Apply carries out op on the spoke. A push returns ErrAlreadyExists
	// when a token of that name is there.
	Apply(ctx context.Context, spoke string, op Op) error
	// Close waits, within ctx, for the session's background work (deleting
	// hub objects that carried the code) and stops its watches.
	Close(ctx context.Context) error
}

// Pruner is implemented by sessions that keep hub-side state per spoke, so
// a pass can prune spokes that left the selection.
type Pruner interface {
	// Known lists the spokes the session keeps hub-side state for.
	Known(ctx context.Context) ([]string, error)
	// Forget drops the hub-side state kept for a spoke.
	Forget(ctx context.Context, spoke string) error
}

// Watcher is implemented by sessions that see what they observe of a spoke
// change between two observations (ACM: the watch of the persistent views;
// direct: a watch of each spoke's Links), so a controller reconciles a spoke
// when its state changes instead of polling it. What a session does not
// watch is left to the controller's resync.
type Watcher interface {
	// OnChange calls fn with a spoke's name whenever what the session
	// observes of it may have changed, until the session closes. fn must
	// not block.
	OnChange(fn func(spoke string))
}

// ObserveAll observes the spokes and returns their observations by cluster.
func ObserveAll(ctx context.Context, t Session, q Query) (map[string]*Observation, error) {
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
	// Err is the underlying error when there is one (an API error of the
	// spoke, for the direct transport), so errors.As finds it.
	Err error
}

func (e *SpokeError) Error() string {
	return fmt.Sprintf("cluster %s: %s: %s: %s", e.Cluster, e.Op, e.Reason, e.Message)
}

// Unwrap returns the underlying error.
func (e *SpokeError) Unwrap() error { return e.Err }
