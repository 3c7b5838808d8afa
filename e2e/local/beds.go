package local

import (
	"context"
	"sync"
	"time"

	"github.com/vanlink/vanlink/e2e/framework"
)

// Beds lends test beds to scenarios and takes them back: a passed
// scenario's bed is cleared (Provider.Clear) and the next scenario gets it
// populated for its transport (Provider.Populate); a bed is started only
// when none is free. Starting a bed costs about 8 s of CPU (an etcd, three
// API servers with their bootstrap, the CRDs), clearing one a fraction of
// a second: most of what a scenario cost on its own. At most as many beds
// exist as scenarios run at once. Beds is safe for concurrent use.
type Beds struct {
	// Spokes are the spokes of every bed.
	Spokes []string

	mu     sync.Mutex
	free   []*Provider
	closed bool
	stats  BedStats
}

// BedStats counts what Beds did.
type BedStats struct {
	// Started beds, and the scenarios that got a cleared bed instead.
	Started, Reused int
	// Discarded beds: their scenario failed, or clearing them did.
	Discarded int
	// StartTime and ClearTime are the wall time spent starting and clearing.
	StartTime, ClearTime time.Duration
}

// Get returns a bed populated for o (o.Spokes and o.Dir are Beds'): a
// cleared one when one is free, else a new one.
// l (a testing.T) is told where the bed came from.
func (b *Beds) Get(ctx context.Context, l framework.Logger, o Options) (*Provider, error) {
	o.Spokes, o.Dir = b.Spokes, ""
	b.mu.Lock()
	var p *Provider
	if n := len(b.free); n > 0 {
		p, b.free = b.free[n-1], b.free[:n-1]
	}
	b.mu.Unlock()
	if p != nil {
		if err := p.Populate(ctx, o); err != nil {
			b.discard(l, p, "populating it failed: %v", err)
		} else {
			b.mu.Lock()
			b.stats.Reused++
			b.mu.Unlock()
			l.Logf("test bed: a former scenario's, cleared")
			return p, nil
		}
	}
	start := time.Now()
	p, err := Start(ctx, o)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.stats.Started++
	b.stats.StartTime += time.Since(start)
	b.mu.Unlock()
	l.Logf("test bed: started in %s", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// Put gives a bed back. A bed whose scenario passed (reuse) is cleared and
// kept for the next Get; a failed scenario's bed may be in any state and
// is closed, as is one that cannot be cleared (l is told why).
func (b *Beds) Put(ctx context.Context, l framework.Logger, p *Provider, reuse bool) {
	if !reuse {
		b.discard(l, p, "its scenario failed")
		return
	}
	start := time.Now()
	err := p.Clear(ctx)
	b.mu.Lock()
	b.stats.ClearTime += time.Since(start)
	closed := b.closed
	if err == nil && !closed {
		b.free = append(b.free, p)
	}
	b.mu.Unlock()
	switch {
	case err != nil:
		b.discard(l, p, "%v", err)
	case closed:
		p.Close()
	default:
		l.Logf("test bed: cleared in %s for the next scenario", time.Since(start).Round(time.Millisecond))
	}
}

func (b *Beds) discard(l framework.Logger, p *Provider, format string, args ...any) {
	b.mu.Lock()
	b.stats.Discarded++
	b.mu.Unlock()
	l.Logf("test bed: closed, "+format, args...)
	p.Close()
}

// Close closes the free beds and returns what Beds did; beds put back
// later are closed too.
func (b *Beds) Close() BedStats {
	b.mu.Lock()
	free := b.free
	b.free, b.closed = nil, true
	stats := b.stats
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range free {
		wg.Go(p.Close)
	}
	wg.Wait()
	return stats
}
