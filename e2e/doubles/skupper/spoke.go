package skupper

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

// Spoke plays one spoke's Skupper controller and router.
type Spoke struct {
	Name   string
	client dynamic.Interface
	log    *slog.Logger
	// Tick is how often it looks at the spoke (default 100 ms).
	Tick time.Duration
	// RetryInterval is how often a failed token is retried (30 s upstream).
	RetryInterval time.Duration
	// RouterDelay is how long a new Link stays Pending "Not Operational"
	// before the simulated router makes it Ready.
	RouterDelay time.Duration

	mu       sync.Mutex
	tried    map[string]time.Time // token uid -> last attempt
	linkSeen map[string]time.Time // link uid -> first seen
	paused   bool
}

// NewSpoke returns the double of one spoke (call Run).
func NewSpoke(name string, client dynamic.Interface, log *slog.Logger) *Spoke {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Spoke{Name: name, client: client, log: log.With("cluster", name), Tick: 100 * time.Millisecond,
		RetryInterval: 3 * time.Second, RouterDelay: 500 * time.Millisecond,
		tried: map[string]time.Time{}, linkSeen: map[string]time.Time{}}
}

// Pause stops the controller (Resume restarts it).
func (s *Spoke) Pause()  { s.setPaused(true) }
func (s *Spoke) Resume() { s.setPaused(false) }

func (s *Spoke) setPaused(p bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = p
}

// Run serves until ctx ends.
func (s *Spoke) Run(ctx context.Context) {
	t := time.NewTicker(s.Tick)
	defer t.Stop()
	for {
		s.mu.Lock()
		paused := s.paused
		s.mu.Unlock()
		if !paused {
			s.processSites(ctx)
			s.processTokens(ctx)
			s.processLinks(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Spoke) processSites(ctx context.Context) { readySites(ctx, s.client, nil) }

// readySites plays the controller and router for Sites: each becomes Ready,
// advertising endpoints when given (the hub's inter-router endpoint).
func readySites(ctx context.Context, client dynamic.Interface, endpoints []any) {
	list, err := client.Resource(api.SitesGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range list.Items {
		site := &list.Items[i]
		if st, _, _ := unstructured.NestedString(site.Object, "status", "status"); st == "Ready" {
			continue
		}
		status := map[string]any{"status": "Ready", "message": "OK", "sitesInNetwork": int64(1),
			"conditions": []any{cond("Configured", "True", "Ready", "OK"), cond("Running", "True", "Ready", "OK"), cond("Ready", "True", "Ready", "OK")}}
		if endpoints != nil {
			status["endpoints"] = endpoints
		}
		site.Object["status"] = status
		_, _ = client.Resource(api.SitesGVR).Namespace(site.GetNamespace()).UpdateStatus(ctx, site, metav1.UpdateOptions{})
	}
}

func (s *Spoke) processTokens(ctx context.Context) {
	list, err := s.client.Resource(api.AccessTokensGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range list.Items {
		tok := &list.Items[i]
		if redeemedCondition(tok) {
			continue // re-applying a redeemed token does nothing
		}
		sites, err := s.client.Resource(api.SitesGVR).Namespace(tok.GetNamespace()).List(ctx, metav1.ListOptions{})
		if err != nil || len(sites.Items) == 0 {
			continue // no Site: wait silently
		}
		s.mu.Lock()
		last, tried := s.tried[string(tok.GetUID())]
		due := !tried || time.Since(last) >= s.RetryInterval
		if due {
			s.tried[string(tok.GetUID())] = time.Now()
		}
		s.mu.Unlock()
		if !due {
			continue
		}
		s.redeem(ctx, tok, &sites.Items[0])
	}
}

// redeem posts the code to the grant server, trusting only spec.ca, and
// stores what comes back, owned by the local Site.
func (s *Spoke) redeem(ctx context.Context, tok, site *unstructured.Unstructured) {
	str := func(f string) string { v, _, _ := unstructured.NestedString(tok.Object, "spec", f); return v }
	fail := func(msg string) {
		tok.Object["status"] = map[string]any{"redeemed": false, "status": "Error", "message": msg,
			"conditions": []any{cond("Redeemed", "False", "Error", msg)}}
		_, _ = s.client.Resource(api.AccessTokensGVR).Namespace(tok.GetNamespace()).UpdateStatus(ctx, tok, metav1.UpdateOptions{})
		s.log.Info("skupper double: redemption failed", "token", tok.GetName(), "message", msg)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(str("ca"))) {
		fail("Controller got error: tls: failed to verify certificate: x509: certificate signed by unknown authority")
		return
	}
	if !strings.HasPrefix(str("url"), "https://") {
		fail("Controller got error: url must use https")
		return
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, str("url"), strings.NewReader(str("code")))
	if err != nil {
		fail("Controller got error: " + err.Error())
		return
	}
	req.Header.Set("name", tok.GetName())
	req.Header.Set("subject", string(site.GetUID()))
	resp, err := client.Do(req)
	if err != nil {
		fail("Controller got error: " + err.Error())
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fail(fmt.Sprintf("Controller got failed response: %d (%s) %s", resp.StatusCode, http.StatusText(resp.StatusCode), strings.TrimSpace(string(body))))
		return
	}
	owner := []any{map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "name": site.GetName(), "uid": string(site.GetUID())}}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(body), 4096)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if len(doc) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: doc}
		u.Object["metadata"].(map[string]any)["ownerReferences"] = owner
		gvr, what := api.SecretsGVR, "secret"
		if u.GetKind() == "Link" {
			gvr, what = api.LinksGVR, "link"
		}
		if _, err := s.client.Resource(gvr).Namespace(tok.GetNamespace()).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				fail(fmt.Sprintf("Controller could not create received %s: %ss %q already exists", what, what, u.GetName()))
			} else {
				fail(fmt.Sprintf("Controller could not create received %s: %v", what, err))
			}
			return
		}
	}
	tok.Object["status"] = map[string]any{"redeemed": true, "status": "Ready", "message": "OK",
		"conditions": []any{cond("Redeemed", "True", "Ready", "OK")}}
	_, _ = s.client.Resource(api.AccessTokensGVR).Namespace(tok.GetNamespace()).UpdateStatus(ctx, tok, metav1.UpdateOptions{})
	s.log.Info("skupper double: token redeemed", "token", tok.GetName())
}

// processLinks plays the router: a new Link has no status, then Pending
// "Not Operational" (Configured), then Ready after RouterDelay.
func (s *Spoke) processLinks(ctx context.Context) {
	list, err := s.client.Resource(api.LinksGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range list.Items {
		l := &list.Items[i]
		st, _, _ := unstructured.NestedString(l.Object, "status", "status")
		if st == "Ready" || st == "Error" {
			continue
		}
		s.mu.Lock()
		first, ok := s.linkSeen[string(l.GetUID())]
		if !ok {
			first = time.Now()
			s.linkSeen[string(l.GetUID())] = first
		}
		s.mu.Unlock()
		age := time.Since(first)
		switch {
		case age >= s.RouterDelay:
			l.Object["status"] = map[string]any{"status": "Ready", "message": "OK", "remoteSiteName": "hub",
				"conditions": []any{cond("Configured", "True", "Ready", "OK"), cond("Operational", "True", "Ready", "OK"), cond("Ready", "True", "Ready", "OK")}}
		case age >= s.RouterDelay/2 && st == "":
			l.Object["status"] = map[string]any{"status": "Pending", "message": "Not Operational",
				"conditions": []any{cond("Configured", "True", "Ready", "OK"), cond("Ready", "False", "Pending", "Not Operational")}}
		default:
			continue
		}
		_, _ = s.client.Resource(api.LinksGVR).Namespace(l.GetNamespace()).UpdateStatus(ctx, l, metav1.UpdateOptions{})
	}
}

func redeemedCondition(tok *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(tok.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Redeemed" && m["status"] == "True" {
			return true
		}
	}
	return false
}
