package manifestwork

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/logctx"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// stripTimeout bounds the write that takes the code out of a work once
// Apply's own context has ended.
const stripTimeout = 10 * time.Second

// Apply removes what op says, then pushes its token, through the spoke's
// work (see the package documentation).
func (t *session) Apply(ctx context.Context, spoke string, op transport.Op) error {
	if t.readOnly {
		return errReadOnly
	}
	if op.Name != t.opts.TokenName {
		return fmt.Errorf("cluster %s: the ManifestWork transport is configured for token %s, not %s", spoke, t.opts.TokenName, op.Name)
	}
	if op.Push != nil && (op.Push.Name != t.opts.TokenName || op.Push.Namespace != t.opts.SpokeNamespace) {
		return fmt.Errorf("cluster %s: the AccessToken to push must be %s/%s, not %s/%s", spoke, t.opts.SpokeNamespace, t.opts.TokenName, op.Push.Namespace, op.Push.Name)
	}
	defer t.lock(spoke)()
	rest := t.current(spoke)
	var verify []manifest
	if op.Remove != (transport.RemoveOptions{}) {
		var err error
		if verify, err = t.remove(ctx, spoke, rest, op.Remove); err != nil {
			return t.agentError(err, spoke, "remove the token's objects")
		}
	}
	if op.Push == nil {
		if len(verify) == 0 {
			return nil
		}
		w, err := t.read(ctx, spoke, rest)
		if err != nil {
			return t.agentError(err, spoke, "read the spoke after the removal")
		}
		return removed(spoke, w, verify)
	}
	// The token removed is pushed again: only the others must be gone.
	verify = slices.DeleteFunc(verify, func(m manifest) bool { return m.kind == tokenKind })
	return t.agentError(t.push(ctx, spoke, rest, op.Push, verify), spoke, "create AccessToken "+op.Push.Name)
}

// agentError maps a wait cut by the deadline to transport.ErrAgentTimeout.
func (t *session) agentError(err error, spoke, op string) error {
	if err == nil {
		return nil
	}
	var se *transport.SpokeError
	if errors.As(err, &se) || errors.Is(err, transport.ErrAlreadyExists) || errors.Is(err, transport.ErrAgentTimeout) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cluster %s: %s: the work agent did not report in time: %w", spoke, op, transport.ErrAgentTimeout)
	}
	return fmt.Errorf("cluster %s: %s: %w", spoke, op, err)
}

// targets are the manifest keys of the objects to remove, and the
// manifests read again afterwards to confirm they are gone. An object this
// session read as absent, at the generation of the work it last wrote and
// waited for (the read a push or removal rests on), is left out: removing
// it would cost three writes of the work to find it absent (the planner
// removes a leftover Secret before every push, in case it cannot see
// Secrets). Link names the work does not read are always removed.
func (t *session) targets(spoke string, rest *shape, what transport.RemoveOptions) (keys map[string]bool, verify []manifest) {
	keys = map[string]bool{}
	absent := t.readAbsent(spoke)
	add := func(k kindRef, name string, read bool) {
		if read && absent(k, name) {
			return
		}
		keys[key(k, name)] = true
		if read {
			verify = append(verify, manifest{kind: k, name: name})
		}
	}
	name := t.opts.TokenName
	if what.Token {
		add(tokenKind, name, true)
	}
	if what.Secret {
		add(secretKind, name, true)
	}
	if what.Link {
		for _, n := range skupper.AllLinkNames(name) {
			add(linkKind, n, slices.Contains(rest.links, n))
		}
	}
	return keys, verify
}

// readAbsent reports the objects the spoke's work reported absent in the
// read this session last made of it (nothing when the work changed since).
func (t *session) readAbsent(spoke string) func(kindRef, string) bool {
	t.mu.Lock()
	gen := t.readGen[spoke]
	t.mu.Unlock()
	u := t.cached(spoke)
	if u == nil || gen == 0 || u.GetGeneration() != gen {
		return func(kindRef, string) bool { return false }
	}
	w, err := toWork(u)
	if err != nil || !appliedAt(gen)(w) {
		return func(kindRef, string) bool { return false }
	}
	return func(k kindRef, name string) bool {
		state, _ := manifestStatus(w, k, name).state("")
		return state == transport.Absent
	}
}

// remove adopts the objects (every name the token's Links can have), then
// takes their manifests out of the work, so the agent deletes them. It
// returns the manifests to read again (put back by the next write).
func (t *session) remove(ctx context.Context, spoke string, rest *shape, what transport.RemoveOptions) (verify []manifest, err error) {
	keys, verify := t.targets(spoke, rest, what)
	if len(keys) == 0 {
		return nil, nil
	}
	adopting := *rest
	adopting.modes = map[string]mode{}
	for k := range keys {
		adopting.modes[k] = adopt
	}
	adopting.adoptToken = what.Token
	// Whatever happens, the work ends at rest: put back by the caller's
	// next write, or here when this fails.
	defer func() {
		if err != nil {
			t.restore(ctx, spoke, rest, false)
		}
	}()
	written, err := t.write(ctx, spoke, &adopting)
	if err != nil {
		return nil, err
	}
	gen := written.GetGeneration()
	adopted := adopting.manifests(t.opts.TokenName)
	adopted = slices.DeleteFunc(adopted, func(m manifest) bool { return m.mode != adopt })
	w, err := t.waitWork(ctx, spoke, func(w *workv1.ManifestWork) bool {
		if !appliedAt(gen)(w) {
			return false
		}
		for _, m := range adopted {
			f := manifestStatus(w, m.kind, m.name)
			if f.applied == nil || f.applied.ObservedGeneration < gen {
				return false
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range adopted {
		f := manifestStatus(w, m.kind, m.name)
		// A missing object: its adopt manifest cannot be created, by design.
		if f.applied.Status != metav1.ConditionTrue && !strings.Contains(f.applied.Message, adoptRefused) {
			errs = append(errs, &transport.SpokeError{Cluster: spoke, Op: "delete " + m.kind.kind + " " + m.name, Reason: f.applied.Reason, Message: f.applied.Message})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	dropping := *rest
	dropping.dropped = keys
	written, err = t.write(ctx, spoke, &dropping)
	if err != nil {
		return nil, err
	}
	// The agent deletes what the work no longer holds in the same sync that
	// applies the generation (manifestwork_controller.go: the work
	// reconciler, then the AppliedManifestWork reconciler, then the status).
	if _, err := t.waitWork(ctx, spoke, appliedAt(written.GetGeneration())); err != nil {
		return nil, err
	}
	return verify, nil
}

// restore puts the work back at rest after a failure, also once ctx ended.
// With settle it also waits, within the same bound, for the agent to apply
// it: the agent's status then no longer holds what it reported on the
// manifest replaced (a create the spoke refused may quote the object).
func (t *session) restore(ctx context.Context, spoke string, rest *shape, settle bool) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stripTimeout)
	defer cancel()
	written, err := t.write(rctx, spoke, rest)
	if err != nil {
		t.dirty.Store(true)
		logctx.From(ctx).Warn("putting the ManifestWork back at rest failed: it may hold the grant code; the session sweeps it when it closes, else the next session",
			"cluster", spoke, "kind", "ManifestWork", "name", spoke+"/"+WorkName(t.opts.TokenName), "err", err)
		return
	}
	if settle {
		if _, err := t.waitWork(rctx, spoke, appliedAt(written.GetGeneration())); err != nil {
			logctx.From(ctx).Warn("the work agent did not apply the ManifestWork put back at rest in time; its status may still hold the spoke's answer to the push",
				"cluster", spoke, "kind", "ManifestWork", "name", spoke+"/"+WorkName(t.opts.TokenName), "err", err)
		}
	}
}

// removed checks that the objects read again are gone.
func removed(spoke string, w *workv1.ManifestWork, verify []manifest) error {
	var errs []error
	for _, m := range verify {
		switch state, reason := manifestStatus(w, m.kind, m.name).state(m.kind.kind + " " + m.name); state {
		case transport.Present:
			errs = append(errs, &transport.SpokeError{Cluster: spoke, Op: "delete " + m.kind.kind + " " + m.name, Reason: "StillPresent",
				Message: "the object is still on the spoke after the work agent was to delete it"})
		case transport.Unknown:
			errs = append(errs, fmt.Errorf("cluster %s: delete %s %s: %s: %w", spoke, m.kind.kind, m.name, reason, transport.ErrOutcomeUnknown))
		}
	}
	return errors.Join(errs...)
}
