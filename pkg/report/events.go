package report

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/vanlink/vanlink/pkg/reconcile"
)

// Event reasons vanlink records on the AccessGrant.
const (
	ReasonTokenPushed    = "TokenPushed"
	ReasonPushFailed     = "PushFailed"
	ReasonSpokesPruned   = "SpokesPruned"
	ReasonGrantRotated   = "GrantRotated"
	ReasonGrantExhausted = "GrantExhausted"
	ReasonGrantExpiring  = "GrantExpiring"
	ReasonPassFailed     = "PassFailed"
)

// maxNames bounds the spoke names listed in one event message.
const maxNames = 20

// EventRecorder creates core/v1 Events on the grant, one per reason and pass
// (not one per spoke, so a 1,000-spoke fleet does not flood the hub).
type EventRecorder struct {
	Events    typedcorev1.EventInterface
	Component string
	Host      string
}

// Event is one Kubernetes Event vanlink records.
type Event struct {
	Type, Reason, Message string
}

// EventsFor returns the events a pass deserves.
func EventsFor(res *reconcile.Result) []Event {
	var out []Event
	by := map[reconcile.Outcome][]string{}
	firstErr := ""
	for _, c := range res.Changes {
		by[c.Outcome] = append(by[c.Outcome], c.Cluster)
		if c.Outcome == reconcile.OutcomeFailed && firstErr == "" {
			firstErr = c.Error
		}
	}
	if res.Grant.Rotated {
		out = append(out, Event{corev1.EventTypeNormal, ReasonGrantRotated, fmt.Sprintf("re-created the grant (uid %s, was %s) to cover the pushes needed", res.Grant.UID, res.Grant.PreviousUID)})
	}
	if n := by[reconcile.OutcomePushed]; len(n) > 0 {
		out = append(out, Event{corev1.EventTypeNormal, ReasonTokenPushed, "pushed the AccessToken to " + names(n)})
	}
	if n := by[reconcile.OutcomePruned]; len(n) > 0 {
		out = append(out, Event{corev1.EventTypeNormal, ReasonSpokesPruned, "removed the AccessToken, Link and Secret from " + names(n)})
	}
	if n := by[reconcile.OutcomeFailed]; len(n) > 0 {
		out = append(out, Event{corev1.EventTypeWarning, ReasonPushFailed, fmt.Sprintf("failed on %s; first error: %s", names(n), firstErr)})
	}
	if n := by[reconcile.OutcomeBlocked]; len(n) > 0 {
		out = append(out, Event{corev1.EventTypeWarning, ReasonGrantExhausted, fmt.Sprintf("the grant cannot serve %s (%d of %d redemptions left, expires %s); enable rotation or raise redemptionsAllowed",
			names(n), res.Budget.Left, res.Budget.Allowed, res.Budget.Expires.UTC().Format(time.RFC3339))})
	}
	if res.Budget.ExpiringSoon && !res.Grant.Rotated {
		out = append(out, Event{corev1.EventTypeWarning, ReasonGrantExpiring, "the grant expires at " + res.Budget.Expires.UTC().Format(time.RFC3339)})
	}
	if res.Error != "" {
		out = append(out, Event{corev1.EventTypeWarning, ReasonPassFailed, res.Error})
	}
	return out
}

func names(n []string) string {
	if len(n) <= maxNames {
		return strings.Join(n, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(n[:maxNames], ", "), len(n)-maxNames)
}

// Record creates the events of a pass on the grant.
func (r EventRecorder) Record(ctx context.Context, res *reconcile.Result) error {
	var errs []error
	now := metav1.NewTime(time.Now())
	for i, ev := range EventsFor(res) {
		msg := ev.Message
		if len(msg) > 1000 {
			msg = msg[:1000] + "..."
		}
		e := &corev1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", res.Grant.Name, now.UnixNano()+int64(i)), Namespace: res.Grant.Namespace},
			InvolvedObject: corev1.ObjectReference{APIVersion: "skupper.io/v2alpha1", Kind: "AccessGrant",
				Namespace: res.Grant.Namespace, Name: res.Grant.Name, UID: res.Grant.UID},
			Reason: ev.Reason, Message: msg, Type: ev.Type,
			Source:         corev1.EventSource{Component: r.Component, Host: r.Host},
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
			ReportingController: "vanlink.io/token-sync", ReportingInstance: r.Host,
		}
		if _, err := r.Events.Create(ctx, e, metav1.CreateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("recording event %s: %w", ev.Reason, err))
		}
	}
	return errors.Join(errs...)
}

// Hub is the sync.Reporter of a pass: events and the status record.
type Hub struct {
	Events EventRecorder
	Status StatusStore
	// Transport is written into the status record.
	Transport *TransportRecord
	// Listeners, when set, are the hub's Listeners: the record then says, per
	// spoke, which catalog services hub clients reach (ObserveReachability).
	Listeners ListenerLister
	// Now is the clock of the reachability's observation time (time.Now if nil).
	Now func() time.Time
}

var _ reconcile.Reporter = Hub{}

// Report records the pass.
func (h Hub) Report(ctx context.Context, res *reconcile.Result) error {
	prev, err := h.Status.Read(ctx)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	rec := Merge(prev, res)
	rec.Transport = h.Transport
	if h.Listeners != nil {
		now := time.Now
		if h.Now != nil {
			now = h.Now
		}
		if err := ObserveReachability(ctx, rec, prev, h.Listeners, now()); err != nil {
			rec.Pass.Warnings = append(rec.Pass.Warnings, "reachability of the catalog services not observed: "+err.Error())
		}
	}
	if err := h.Status.Write(ctx, rec); err != nil {
		errs = append(errs, err)
	}
	if err := h.Events.Record(ctx, res); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
