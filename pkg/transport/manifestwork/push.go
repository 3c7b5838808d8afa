package manifestwork

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// push puts the token in the work as a CreateOnly manifest, waits until the
// agent applied it and read it back, and takes it out again (the code
// leaves the hub) whatever happened. verify are objects removed before, read
// again along. The AccessToken is built (the code read) only here.
func (t *session) push(ctx context.Context, spoke string, rest *shape, req *skupper.TokenRequest, verify []manifest) error {
	id, err := pushID()
	if err != nil {
		return err
	}
	tok := req.Reveal()
	ann := maps.Clone(tok.GetAnnotations())
	if ann == nil {
		ann = map[string]string{}
	}
	ann[PushIDAnnotation] = id
	tok.SetAnnotations(ann)
	pushing := *rest
	pushing.push = tok
	pushing.read++
	refused := false
	defer func() { t.restore(ctx, spoke, rest, refused) }()
	written, err := t.write(ctx, spoke, &pushing)
	if err != nil {
		return err
	}
	gen := written.GetGeneration()
	want := append([]manifest{{kind: tokenKind, name: tok.GetName()}}, verify...)
	w, err := t.waitWork(ctx, spoke, func(w *workv1.ManifestWork) bool {
		if !readAt(gen, want)(w) {
			return false
		}
		f := manifestStatus(w, tokenKind, tok.GetName())
		switch {
		case f.applied == nil || f.applied.ObservedGeneration < gen:
			return false
		case f.applied.Status != metav1.ConditionTrue:
			return true
		}
		return f.str("pushID") == id || f.available.Status == metav1.ConditionTrue
	})
	if err != nil {
		return err
	}
	rest.read = pushing.read
	f := manifestStatus(w, tokenKind, tok.GetName())
	switch {
	case f.applied.Status != metav1.ConditionTrue:
		// The spoke's answer may quote the object (a validation error): the
		// code never leaves in an error, and the agent's status that holds
		// the answer is replaced before Apply returns (restore).
		refused = true
		msg := f.applied.Message
		if code, _, _ := unstructured.NestedString(tok.Object, "spec", "code"); code != "" {
			msg = strings.ReplaceAll(msg, code, skupper.Redacted)
		}
		return &transport.SpokeError{Cluster: spoke, Op: "create AccessToken " + tok.GetName(), Reason: f.applied.Reason, Message: msg}
	case f.str("pushID") != id:
		return fmt.Errorf("cluster %s: create AccessToken %s: %w", spoke, tok.GetName(), transport.ErrAlreadyExists)
	}
	return removed(spoke, w, verify)
}

func pushID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
