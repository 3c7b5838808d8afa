package scenarios

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// holdProbe is the name of the dry-run AccessToken that shows the hold is
// in force; the webhook lets it through at once.
const holdProbe = "vanlink-e2e-hold-probe"

// tokenHold holds every AccessToken create on one spoke's API server: a
// validating admission webhook (served on this machine, so local providers
// only) answers only when the hold is released, or when the API server
// gives up on it (the webhook's timeoutSeconds, 30). Whoever creates the
// token (vanlink with the direct transport, the ACM agent running an
// action, the OCM work agent applying a work) waits there, so a push is in
// flight for as long as a scenario needs: what a slow or stuck spoke does,
// without guessing when to pause its agent. Released, the held creates are
// denied: the token never reaches the spoke.
type tokenHold struct {
	t       *testing.T
	spoke   Cluster
	name    string
	srv     *httptest.Server
	release chan struct{}
	once    sync.Once
	probes  atomic.Int32
	holding atomic.Int32
	held    atomic.Int32
}

// holdTokenCreates puts a hold on spoke's AccessToken creates and returns
// once its API server calls the webhook; the test's end releases it.
func holdTokenCreates(ctx context.Context, t *testing.T, spoke Cluster) *tokenHold {
	t.Helper()
	h := &tokenHold{t: t, spoke: spoke, name: "vanlink-e2e-hold-accesstokens", release: make(chan struct{})}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
	h.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.Release)
	url := h.srv.URL + "/validate"
	fail, none, timeout := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, int32(30)
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: h.name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:         "hold.accesstokens.e2e.vanlink.io",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw})},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{skupper.AccessTokensGVR.Group}, APIVersions: []string{skupper.AccessTokensGVR.Version},
					Resources: []string{skupper.AccessTokensGVR.Resource}},
			}},
			FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	_, err := kube(spoke).AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{})
	require.NoError(t, err, "the hold's webhook on %s", spoke.Name)
	require.Eventually(t, func() bool { return h.probe(ctx) }, 30*time.Second, 100*time.Millisecond, "%s's API server calls the hold's webhook", spoke.Name)
	return h
}

// probe creates the probe token with dry run and says whether the API
// server called the webhook for it.
func (h *tokenHold) probe(ctx context.Context) bool {
	before := h.probes.Load()
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": skupper.GroupVersion.String(), "kind": "AccessToken",
		"metadata": map[string]any{"name": holdProbe, "namespace": Namespace},
		"spec":     map[string]any{"url": "https://probe.invalid", "code": "probe", "ca": "probe"}}}
	_, _ = dyn(h.spoke).Resource(skupper.AccessTokensGVR).Namespace(Namespace).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	return h.probes.Load() > before
}

// serve answers the API server's admission reviews: the probe at once,
// every other create once the hold is released (denied), or never if the
// API server gives up first.
func (h *tokenHold) serve(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	if review.Request.Name == holdProbe {
		h.probes.Add(1)
	} else {
		h.held.Add(1)
		h.holding.Add(1)
		select {
		case <-h.release:
		case <-r.Context().Done():
			h.holding.Add(-1)
			return
		}
		h.holding.Add(-1)
		resp.Allowed = false
		resp.Result = &metav1.Status{Message: "held by the e2e scenario, then refused", Code: http.StatusForbidden}
	}
	review.Response, review.Request = resp, nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

// Holding is how many AccessToken creates wait on the hold now.
func (h *tokenHold) Holding() int { return int(h.holding.Load()) }

// Held is how many AccessToken creates reached the hold in all.
func (h *tokenHold) Held() int { return int(h.held.Load()) }

// Release removes the webhook, denies the creates it holds, and returns
// once the spoke's API server no longer calls it.
func (h *tokenHold) Release() {
	h.once.Do(func() {
		ctx := context.Background()
		err := kube(h.spoke).AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, h.name, metav1.DeleteOptions{})
		close(h.release)
		if err != nil {
			h.t.Errorf("removing the hold's webhook from %s: %v", h.spoke.Name, err)
			return
		}
		deadline := time.Now().Add(30 * time.Second)
		for h.probe(ctx) {
			if time.Now().After(deadline) {
				h.t.Errorf("%s's API server still calls the hold's webhook 30s after its removal", h.spoke.Name)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
