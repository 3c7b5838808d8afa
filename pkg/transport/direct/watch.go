package direct

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/spokecreds"
	"github.com/vanlink/vanlink/pkg/transport"
)

var _ transport.Watcher = (*session)(nil)

// OnChange calls fn with a spoke's name whenever one of the token's Links on
// it (a Link that uses the token's credentials, see skupper.Link.
// UsesCredentials) appears, goes, or changes readiness or status, until the
// session closes: a Link that breaks is reconciled at once instead of at the
// next resync. Each spoke the session reads from then on gets one watch (a
// LIST, then a WATCH) of the Links of the spoke namespace only, started on
// its first read and ended by Close; the Links there when the watch starts
// call nothing (they were just observed). A spoke the watch cannot reach is
// retried by client-go's reflector with backoff, and its state is still
// read on every reconcile. A session on which OnChange is never called (a
// pass) watches nothing.
func (t *session) OnChange(fn func(spoke string)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onChange = fn
	for spoke := range t.clients {
		t.watchLocked(spoke, t.spokes[spoke])
	}
}

// watchLocked starts the spoke's Link watch, once, when OnChange was called.
// Its client has no request timeout: a watch lives until Close, and a
// timeout would cut it and make it LIST again every RequestTimeout.
func (t *session) watchLocked(spoke string, creds spokecreds.Spoke) {
	if t.onChange == nil || t.watching[spoke] || creds.Config == nil {
		return
	}
	cfg := rest.CopyConfig(creds.Config)
	cfg.Timeout = 0
	cfg.UserAgent = "vanlink"
	c, err := t.opts.NewClient(cfg)
	if err != nil {
		return // client() built one from the same Secret: not expected; reconciles still read the spoke
	}
	t.watching[spoke] = true
	fn, token := t.onChange, t.opts.TokenName
	inf := dynamicinformer.NewFilteredDynamicInformer(c, skupper.LinksGVR, t.opts.SpokeNamespace, 0, cache.Indexers{}, nil).Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(o any, initial bool) {
			if _, mine := tokenLink(o, token); mine && !initial {
				fn(spoke)
			}
		},
		UpdateFunc: func(o, n any) {
			a, mineA := tokenLink(o, token)
			b, mineB := tokenLink(n, token)
			if (mineA || mineB) && (mineA != mineB || a.Ready() != b.Ready() || a.Status != b.Status) {
				fn(spoke)
			}
		},
		DeleteFunc: func(o any) {
			if _, mine := tokenLink(o, token); mine {
				fn(spoke)
			}
		},
	})
	go inf.Run(t.life.Done())
}

// tokenLink parses a watched Link; false unless it is one of the token's.
func tokenLink(o any, token string) (*skupper.Link, bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, false
	}
	l, err := skupper.ParseLink(u)
	if err != nil {
		return nil, false
	}
	return l, l.UsesCredentials(token)
}
