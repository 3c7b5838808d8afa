package acm

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// Observe emits every spoke of q ready to decide on (see
// transport.Session): it observes the fleet through the persistent views
// (observe), and a spoke whose observation a cache may have made stale, or
// that needs its token, is read again at once through views made for that
// read (refresh), Concurrency spokes at a time, while the others are still
// being observed. What may rest on the persistent views: Links Ready (a
// decision to do nothing), unless the session is fresh. A spoke whose
// views were not processed in time is emitted as it is (Unknown).
func (t *session) Observe(ctx context.Context, q transport.Query, emit func(*transport.Observation)) error {
	var g errgroup.Group
	g.SetLimit(t.opts.Concurrency)
	err := t.observe(ctx, q, func(o *transport.Observation) {
		if t.decidable(o) {
			emit(o)
			return
		}
		// Blocks while Concurrency spokes are being read again, which
		// slows the observation down to that pace.
		g.Go(func() error {
			emit(t.complete(ctx, o, q))
			return nil
		})
	})
	_ = g.Wait()
	return err
}

// decidable reports whether an observation from the persistent views can
// be decided on as it is.
func (t *session) decidable(o *transport.Observation) bool {
	switch {
	case o.Site.State == transport.Unknown || o.Links.State == transport.Unknown:
		return true // not readable in time: pending; reading again would wait as long
	case t.readOnly:
		return true // a dry run reads nothing more (that takes a view)
	case o.Links.State == transport.Present && o.Links.Object.Ready():
		return o.Fresh || !t.fresh
	}
	// Anything else may lead to a push or a removal, which rests on a read
	// of the spoke as it is now, with its token when the Site is there.
	return o.Fresh && (o.Site.State != transport.Present || o.Token != nil)
}

// complete reads a spoke again as it is now, with its token, within the
// spoke's deadline. A token read along the first views is kept.
func (t *session) complete(ctx context.Context, o *transport.Observation, q transport.Query) *transport.Observation {
	ctx, cancel := context.WithTimeout(ctx, t.opts.SpokeTimeout)
	defer cancel()
	withToken := o.Token == nil && !(o.Links.State == transport.Present && o.Links.Object.Ready())
	fresh, err := t.refresh(ctx, o.Cluster, q, withToken)
	if err != nil {
		reason := "reading the spoke as it is now failed: " + err.Error()
		return &transport.Observation{Cluster: o.Cluster, Credentials: transport.Unknown,
			Site:  transport.Observed[skupper.Site]{State: transport.Unknown, Reason: reason},
			Links: transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: reason}, Token: o.Token}
	}
	if fresh.Token == nil {
		fresh.Token = o.Token
	}
	if fresh.Token == nil && fresh.Site.State == transport.Present && fresh.Links.State != transport.Unknown && !(fresh.Links.State == transport.Present && fresh.Links.Object.Ready()) {
		tok, err := t.readToken(ctx, o.Cluster)
		if err != nil {
			tok = transport.Observed[skupper.Token]{State: transport.Unknown, Reason: err.Error()}
		}
		fresh.Token = &tok
	}
	return fresh
}
