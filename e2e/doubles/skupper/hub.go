// Package skupper is a test double of the Skupper v2 controller, faithful to
// the behaviour vanlink depends on (see the project's Skupper notes).
//
// On the hub it processes AccessGrants once (url https://<grant server>/<uid>,
// a random 24-character code unless spec.code is set, the grant server's CA,
// an expirationTime set once from expirationWindow or 10 minutes, and 1
// written into an unset redemptionsAllowed), keeps Sites Ready with an
// inter-router endpoint, and serves redemptions over HTTPS on 127.0.0.1 with
// its own CA and TLS 1.3 only, with the documented answers: 404 "No such
// claim" for an unknown or expired grant, 404 "No such access granted" when
// exhausted, 403 for a wrong code, 500 without a hub Site, and 200 with a
// TLS Secret and a Link; the redemption counter is incremented before the
// credentials are made.
//
// On each spoke (see Spoke) it redeems AccessTokens as the spoke controller
// does.
package skupper

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

// RouterEndpoint is the inter-router endpoint hub Sites advertise.
const RouterEndpoint = "55671"

// Hub plays the hub's Skupper controller and grant server.
type Hub struct {
	client dynamic.Interface
	ca     *authority
	siteCA *authority
	srv    *http.Server
	lis    net.Listener
	log    *slog.Logger
	// Tick is how often the controller looks at the hub (default 100 ms).
	Tick time.Duration

	mu          sync.Mutex
	redemptions int
}

// NewHub starts the grant server on 127.0.0.1 (call Run to process objects).
func NewHub(client dynamic.Interface, log *slog.Logger) (*Hub, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ca, err := newAuthority("skupper-grant-server-ca")
	if err != nil {
		return nil, err
	}
	siteCA, err := newAuthority("skupper-site-ca")
	if err != nil {
		return nil, err
	}
	tlsCfg, err := ca.serverTLS()
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Hub{client: client, ca: ca, siteCA: siteCA, lis: lis, log: log, Tick: 100 * time.Millisecond}
	h.srv = &http.Server{Handler: http.HandlerFunc(h.redeem), TLSConfig: tlsCfg, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.ServeTLS(lis, "", "") }()
	return h, nil
}

// Addr is the grant server's host:port.
func (h *Hub) Addr() string { return h.lis.Addr().String() }

// CA is the grant server's CA certificate (PEM), as written into status.ca.
func (h *Hub) CA() string { return string(h.ca.pem) }

// Redemptions counts successful and failed redemption requests that passed
// the grant checks (each used a redemption).
func (h *Hub) Redemptions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.redemptions
}

// Close stops the grant server.
func (h *Hub) Close() { _ = h.srv.Close() }

// Run processes grants and Sites until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(h.Tick)
	defer t.Stop()
	for {
		h.processGrants(ctx)
		h.processSites(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Hub) processGrants(ctx context.Context) {
	list, err := h.client.Resource(api.AccessGrantsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range list.Items {
		g := &list.Items[i]
		if s, _, _ := unstructured.NestedString(g.Object, "status", "status"); s != "" {
			continue // processed once: code and expiry are never recomputed
		}
		api := h.client.Resource(api.AccessGrantsGVR).Namespace(g.GetNamespace())
		if n, _, _ := unstructured.NestedInt64(g.Object, "spec", "redemptionsAllowed"); n == 0 {
			// The controller writes the default into the spec (GitOps drift).
			_ = unstructured.SetNestedField(g.Object, int64(1), "spec", "redemptionsAllowed")
			updated, err := api.Update(ctx, g, metav1.UpdateOptions{})
			if err != nil {
				continue
			}
			g = updated
		}
		window := 10 * time.Minute
		if w, _, _ := unstructured.NestedString(g.Object, "spec", "expirationWindow"); w != "" {
			if d, err := time.ParseDuration(w); err == nil {
				window = d
			}
		}
		code, _, _ := unstructured.NestedString(g.Object, "spec", "code")
		if code == "" {
			code = randomCode()
		}
		now := time.Now().UTC()
		g.Object["status"] = map[string]any{
			"url": fmt.Sprintf("https://%s/%s", h.Addr(), g.GetUID()), "code": code, "ca": h.CA(),
			"redemptions": int64(0), "expirationTime": now.Add(window).Format(time.RFC3339),
			"status": "Ready", "message": "OK",
			"conditions": []any{cond("Processed", "True", "Ready", "OK"), cond("Resolved", "True", "Ready", "OK"), cond("Ready", "True", "Ready", "OK")},
		}
		if _, err := api.UpdateStatus(ctx, g, metav1.UpdateOptions{}); err == nil {
			h.log.Info("skupper double: grant processed", "grant", g.GetNamespace()+"/"+g.GetName(), "uid", g.GetUID())
		}
	}
}

func (h *Hub) processSites(ctx context.Context) {
	readySites(ctx, h.client, []any{map[string]any{"name": "inter-router", "host": "127.0.0.1", "port": RouterEndpoint, "group": "skupper-router"}})
}

// redeem serves POST /<grant uid> with the code as body and the token name
// and spoke Site uid in the name and subject headers.
func (h *Hub) redeem(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	uid := strings.Trim(r.URL.Path, "/")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	name := r.Header.Get("name")
	list, err := h.client.Resource(api.AccessGrantsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		http.Error(w, "cannot read grants", http.StatusInternalServerError)
		return
	}
	var g *unstructured.Unstructured
	for i := range list.Items {
		if string(list.Items[i].GetUID()) == uid {
			g = &list.Items[i]
		}
	}
	if g == nil {
		http.Error(w, "No such claim", http.StatusNotFound)
		return
	}
	exp, _, _ := unstructured.NestedString(g.Object, "status", "expirationTime")
	if t, err := time.Parse(time.RFC3339, exp); err != nil || !time.Now().Before(t) {
		http.Error(w, "No such claim", http.StatusNotFound)
		return
	}
	allowed, _, _ := unstructured.NestedInt64(g.Object, "spec", "redemptionsAllowed")
	used, _, _ := unstructured.NestedInt64(g.Object, "status", "redemptions")
	if used >= allowed {
		http.Error(w, "No such access granted", http.StatusNotFound)
		return
	}
	code, _, _ := unstructured.NestedString(g.Object, "status", "code")
	if subtle.ConstantTimeCompare([]byte(code), body) != 1 {
		http.Error(w, "Redemption of access token refused", http.StatusForbidden)
		return
	}
	// The counter goes up before the credentials are generated.
	if err := h.increment(ctx, g); err != nil {
		http.Error(w, "cannot record the redemption", http.StatusInternalServerError)
		return
	}
	sites, err := h.client.Resource(api.SitesGVR).Namespace(g.GetNamespace()).List(ctx, metav1.ListOptions{})
	if err != nil || len(sites.Items) == 0 {
		http.Error(w, "No site in namespace "+g.GetNamespace(), http.StatusInternalServerError)
		return
	}
	crt, key, err := h.siteCA.issue(name, false)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	secret := map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
		"metadata": map[string]any{"name": name},
		"data":     map[string]any{"tls.crt": b64(crt), "tls.key": b64(key), "ca.crt": b64(h.siteCA.pem)}}
	link := map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Link", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"tlsCredentials": name, "cost": int64(1),
			"endpoints": []any{map[string]any{"name": "inter-router", "host": "127.0.0.1", "port": RouterEndpoint, "group": "skupper-router"}}}}
	var out []byte
	for _, doc := range []map[string]any{secret, link} {
		y, _ := yaml.Marshal(doc)
		out = append(append(out, []byte("---\n")...), y...)
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(out)
	h.log.Info("skupper double: redeemed", "grant", g.GetNamespace()+"/"+g.GetName(), "token", name, "subject", r.Header.Get("subject"))
}

func (h *Hub) increment(ctx context.Context, g *unstructured.Unstructured) error {
	api := h.client.Resource(api.AccessGrantsGVR).Namespace(g.GetNamespace())
	for range 10 {
		n, _, _ := unstructured.NestedInt64(g.Object, "status", "redemptions")
		_ = unstructured.SetNestedField(g.Object, n+1, "status", "redemptions")
		_, err := api.UpdateStatus(ctx, g, metav1.UpdateOptions{})
		if err == nil {
			h.mu.Lock()
			h.redemptions++
			h.mu.Unlock()
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
		if g, err = api.Get(ctx, g.GetName(), metav1.GetOptions{}); err != nil {
			return err
		}
	}
	return fmt.Errorf("too many conflicts")
}

func cond(t, status, reason, msg string) map[string]any {
	return map[string]any{"type": t, "status": status, "reason": reason, "message": msg, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func randomCode() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
