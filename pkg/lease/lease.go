// Package lease keeps two vanlink passes (the PostSync hook and a CronJob
// run) from pushing at the same time, with a coordination.k8s.io Lease on
// the hub.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcoordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// HeldError: another holder kept the Lease for the whole wait. It is no
// failure (the holder does the work): callers exit 0 and log it at Info.
type HeldError struct {
	Namespace, Name, Holder string
	Waited                  time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("another vanlink pass holds Lease %s/%s (holder %q); waited %s, this pass did nothing", e.Namespace, e.Name, e.Holder, e.Waited)
}

// IsHeld reports whether err says that another pass held the Lease.
func IsHeld(err error) bool {
	var held *HeldError
	return errors.As(err, &held)
}

// Lease is a lock on the hub.
type Lease struct {
	Client    typedcoordinationv1.LeaseInterface
	Namespace string
	Name      string
	// Holder identifies this pass (e.g. the pod name).
	Holder string
	// Duration: a holder that did not renew for this long has died (default 30 s).
	Duration time.Duration
	// Wait bounds how long Acquire waits for another holder (default 2 min).
	Wait time.Duration
	// Poll is how often a waiter retries (default 1 s).
	Poll  time.Duration
	Clock clock.Clock
	Log   *slog.Logger
}

func (l *Lease) defaults() {
	if l.Duration == 0 {
		l.Duration = 30 * time.Second
	}
	if l.Wait == 0 {
		l.Wait = 2 * time.Minute
	}
	if l.Poll == 0 {
		l.Poll = time.Second
	}
	if l.Clock == nil {
		l.Clock = clock.RealClock{}
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
}

// Acquire takes the Lease, waiting up to Wait for another holder to release
// it or to die. The returned function releases it; until then it is renewed.
func (l *Lease) Acquire(ctx context.Context) (func(), error) {
	l.defaults()
	start := l.Clock.Now()
	logged := false
	for {
		if ctx.Err() != nil {
			// A stopped pass (SIGTERM) takes no lease.
			return nil, context.Cause(ctx)
		}
		holder, err := l.try(ctx)
		if err == nil {
			return l.keep(ctx), nil
		}
		if holder == "" {
			return nil, err
		}
		waited := l.Clock.Since(start)
		if waited >= l.Wait {
			return nil, &HeldError{Namespace: l.Namespace, Name: l.Name, Holder: holder, Waited: waited.Round(time.Second)}
		}
		if !logged {
			l.Log.Info("another pass is running; waiting for it", "lease", l.Namespace+"/"+l.Name, "holder", holder, "wait", l.Wait)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-l.Clock.After(l.Poll):
		}
	}
}

// try takes the Lease once. It returns the other holder's name when the
// Lease is held, or an error with an empty holder for API failures.
func (l *Lease) try(ctx context.Context) (string, error) {
	now := metav1.NewMicroTime(l.Clock.Now())
	secs := int32(l.Duration / time.Second)
	cur, err := l.Client.Get(ctx, l.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = l.Client.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: l.Name, Labels: map[string]string{"app.kubernetes.io/managed-by": "vanlink"}},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &l.Holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return "(racing holder)", err
		}
		return "", wrap(err, "creating", l)
	}
	if err != nil {
		return "", wrap(err, "reading", l)
	}
	if h := ptr.Deref(cur.Spec.HolderIdentity, ""); h != "" && h != l.Holder && !l.expired(cur) {
		return h, errors.New("held")
	}
	cur.Spec.HolderIdentity, cur.Spec.LeaseDurationSeconds = &l.Holder, &secs
	cur.Spec.AcquireTime, cur.Spec.RenewTime = &now, &now
	if _, err := l.Client.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			return "(racing holder)", err
		}
		return "", wrap(err, "taking", l)
	}
	return "", nil
}

func (l *Lease) expired(cur *coordinationv1.Lease) bool {
	if cur.Spec.RenewTime == nil {
		return true
	}
	d := time.Duration(ptr.Deref(cur.Spec.LeaseDurationSeconds, 0)) * time.Second
	return l.Clock.Now().After(cur.Spec.RenewTime.Add(d))
}

// keep renews the Lease until the returned release function is called, which
// hands it back.
func (l *Lease) keep(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.Clock.After(l.Duration / 3):
			}
			if cur, err := l.Client.Get(ctx, l.Name, metav1.GetOptions{}); err == nil && ptr.Deref(cur.Spec.HolderIdentity, "") == l.Holder {
				now := metav1.NewMicroTime(l.Clock.Now())
				cur.Spec.RenewTime = &now
				if _, err := l.Client.Update(ctx, cur, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
					l.Log.Warn("renewing the pass lease failed", "err", err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer rcancel()
		if cur, err := l.Client.Get(rctx, l.Name, metav1.GetOptions{}); err == nil && ptr.Deref(cur.Spec.HolderIdentity, "") == l.Holder {
			cur.Spec.HolderIdentity = ptr.To("")
			_, _ = l.Client.Update(rctx, cur, metav1.UpdateOptions{})
		}
	}
}

func wrap(err error, verb string, l *Lease) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s Lease %s/%s: %w", verb, l.Namespace, l.Name, err)
}
