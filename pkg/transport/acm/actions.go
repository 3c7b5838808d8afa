package acm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// errReadOnly: a read-only transport (a dry run) writes nothing to the hub.
var errReadOnly = errors.New("the ACM transport is read-only (dry run): it creates no ManagedClusterAction or View")

// actionCompleted is done once the agent set the Completed condition.
func actionCompleted(u *unstructured.Unstructured) bool {
	return findCondition(u, ConditionCompleted) != nil
}

// run creates an action, waits for its Completed condition, deletes it at
// once, and maps the outcome to a transport error.
func (t *session) run(ctx context.Context, cluster, op string, a *unstructured.Unstructured) error {
	client := t.dyn.Resource(ActionsGVR).Namespace(cluster)
	created, err := client.Create(ctx, a, metav1.CreateOptions{})
	if err != nil {
		t.noteCutShort(ctx)
		return fmt.Errorf("cluster %s: %s: creating the ManagedClusterAction: %w", cluster, op, err)
	}
	defer t.deleteNow(ctx, ActionsGVR, cluster, created.GetName())
	done, err := t.waitFor(t.actions, ActionsGVR, cluster, created.GetName(), actionCompleted).wait(ctx)
	switch {
	case errors.Is(err, errVanished):
		return fmt.Errorf("cluster %s: %s: ManagedClusterAction %s was collected before its result was read: %w", cluster, op, created.GetName(), transport.ErrOutcomeUnknown)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cluster %s: %s: ManagedClusterAction %s not completed: %w", cluster, op, created.GetName(), transport.ErrAgentTimeout)
	case err != nil:
		return fmt.Errorf("cluster %s: %s: waiting for ManagedClusterAction %s: %w", cluster, op, created.GetName(), err)
	}
	c := findCondition(done, ConditionCompleted)
	if c.Status == string(metav1.ConditionTrue) {
		return nil
	}
	return &transport.SpokeError{Cluster: cluster, Op: op, Reason: c.Reason, Message: c.Message}
}

// Apply removes what op says, then creates its token, with actions.
func (t *session) Apply(ctx context.Context, spoke string, op transport.Op) error {
	if t.readOnly {
		return errReadOnly
	}
	if err := t.remove(ctx, spoke, op.Name, op.Remove); err != nil {
		return err
	}
	if op.Push == nil {
		return nil
	}
	return t.push(ctx, spoke, op.Push)
}

// push creates the AccessToken on the spoke with a Create action: the
// action carries the code (the only place it is built) until the hub
// collects it (see run).
func (t *session) push(ctx context.Context, spoke string, req *skupper.TokenRequest) error {
	op := "create AccessToken " + req.Name
	token := req.Reveal()
	a := newAction(spoke, ActionCreate, "token", t.opts.TokenName, map[string]any{
		"resource":  resourceAccessTokens,
		"name":      token.GetName(),
		"namespace": token.GetNamespace(),
		"template":  token.Object,
	})
	err := t.run(ctx, spoke, op, a)
	var se *transport.SpokeError
	if errors.As(err, &se) && se.Reason == ReasonCreateFailed && isAlreadyExistsMessage(se.Message) {
		return fmt.Errorf("cluster %s: %s: %w", spoke, op, transport.ErrAlreadyExists)
	}
	return err
}

// remove deletes the chosen objects with Delete actions, in parallel. An
// object that is already gone counts as removed. A view reads one object by
// name, so the token's Links are removed by every name the grant server can
// give them (skupper.AllLinkNames).
func (t *session) remove(ctx context.Context, spoke, name string, what transport.RemoveOptions) error {
	type target struct{ object, resource, kind, name string }
	var targets []target
	if what.Token {
		targets = append(targets, target{"token", resourceAccessTokens, "AccessToken", name})
	}
	if what.Link {
		for _, n := range skupper.AllLinkNames(name) {
			targets = append(targets, target{"link", resourceLinks, "Link", n})
		}
	}
	if what.Secret {
		targets = append(targets, target{"secret", resourceSecrets, "Secret", name})
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Go(func() {
			op := "delete " + tg.kind + " " + tg.name
			a := newAction(spoke, ActionDelete, tg.object, t.opts.TokenName, map[string]any{
				"resource": tg.resource, "name": tg.name, "namespace": t.opts.SpokeNamespace,
			})
			err := t.run(ctx, spoke, op, a)
			var se *transport.SpokeError
			if errors.As(err, &se) && se.Reason == ReasonDeleteFailed && isNotFoundMessage(se.Message) {
				err = nil
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
