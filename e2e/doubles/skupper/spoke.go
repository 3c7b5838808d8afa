package skupper

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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

// TLSProfileContextAnnotation is the annotation the controller writes on a
// Secret a router TLS profile uses (the received Secret of a redemption).
// upstream: skupperproject/skupper internal/kube/secrets/context.go annotationKeySslProfileContext
const TLSProfileContextAnnotation = "internal.skupper.io/tls-profile-context"

// Spoke plays one spoke's Skupper controller and router.
//
// Tokens: a token is looked at when it changes (including the controller's
// own status writes, so a first failure is retried at once) and again every
// RetryInterval, as upstream's informer resync; it is redeemed, unless its
// Redeemed condition is True, into the active Site of its namespace, and
// waits silently while there is none. The received Secret and Links are owned
// by that Site. When that Site is deleted, redeemed tokens of the namespace
// turn to Redeemed=True, reason Error, "Already redeemed for a deleted site".
//
// Links: without an active Site in the namespace, Error "No active site in
// namespace"; otherwise no status for RouterDelay/2, then Pending "Not
// Operational" (Configured=True), then Ready once the simulated router has
// held a connection for RouterDelay, which needs the Secret named in
// spec.tlsCredentials: without it the Link stays, or goes back to, Pending
// "Not Operational". The controller annotates that Secret
// (TLSProfileContextAnnotation) once the Link is configured.
type Spoke struct {
	Name   string
	client dynamic.Interface
	log    *slog.Logger
	sites  *sites
	now    func() time.Time
	// Tick is how often it looks at the spoke (default 100 ms).
	Tick time.Duration
	// RetryInterval is the informer resync: how often a token that failed
	// (or waits for a Site) and a Link are looked at again. Upstream it is
	// 30 s; the double defaults to 3 s (time scaled down ten times).
	RetryInterval time.Duration
	// RouterDelay is how long a new Link stays without status, then Pending
	// "Not Operational", before the simulated router makes it Ready.
	RouterDelay time.Duration
	// Reachable says whether the simulated router can connect to a Link
	// endpoint; nil means the default: the address a simulated LoadBalancer
	// gives a hub (LoadBalancerHost), or a `local` access endpoint
	// (skupper-router[-2].<ns>, a Service of the same cluster) when this
	// cluster has an active Site in <ns>. A Link none of whose endpoints is
	// reachable stays Pending "Not Operational": its Operational condition
	// follows the connection the router reports (upstream:
	// skupperproject/skupper internal/kube/site/site.go,
	// Site.updateLinkOperationalCondition, pkg/apis/skupper/v2alpha1
	// Link.SetOperational).
	Reachable func(host, port string) bool

	mu       sync.Mutex
	tried    map[string]attempt   // token uid -> last look
	linkSeen map[string]linkTimes // link uid -> when first seen, and connected
	paused   bool
	pace     *pacer
}

// linkTimes are when the controller first saw a Link and since when the
// simulated router has held its connection (zero: not connected).
type linkTimes struct{ first, connected time.Time }

type attempt struct {
	resourceVersion string
	at              time.Time
}

// NewSpoke returns the double of one spoke (call Run).
func NewSpoke(name string, client dynamic.Interface, log *slog.Logger) *Spoke {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("cluster", name)
	s := &Spoke{Name: name, client: client, log: log, now: time.Now, Tick: 100 * time.Millisecond,
		RetryInterval: 3 * time.Second, RouterDelay: 500 * time.Millisecond,
		tried: map[string]attempt{}, linkSeen: map[string]linkTimes{}, pace: newPacer()}
	s.sites = newSites(client, log, func() time.Time { return s.now() })
	s.sites.onDeleted = s.siteDeleted
	return s
}

// Pause stops the controller (Resume restarts it).
func (s *Spoke) Pause() { s.setPaused(true) }

// Resume restarts a paused controller.
func (s *Spoke) Resume() { s.setPaused(false) }

// SetLoadBalancer says whether the simulated spoke cluster has a LoadBalancer
// provider (false by default), as Hub.SetLoadBalancer.
func (s *Spoke) SetLoadBalancer(on bool) { s.sites.setLoadBalancer(on); s.pace.poke() }

func (s *Spoke) setPaused(p bool) {
	s.mu.Lock()
	s.paused = p
	s.mu.Unlock()
	s.pace.poke()
}

// Run serves until ctx ends: a pass after each change of the kinds it reads
// (at most one per Tick), as the pacer says.
func (s *Spoke) Run(ctx context.Context) {
	s.pace.setTick(s.Tick)
	s.pace.watch(ctx, s.client, api.SitesGVR, configMapsGVR, api.AccessTokensGVR, api.LinksGVR, api.SecretsGVR)
	for {
		s.mu.Lock()
		paused := s.paused
		s.mu.Unlock()
		start := time.Now()
		if !paused {
			s.pass(ctx)
		}
		if !s.pace.wait(ctx, start) {
			return
		}
	}
}

// pass looks at every Site, token and Link once.
func (s *Spoke) pass(ctx context.Context) {
	s.sites.process(ctx)
	s.processTokens(ctx)
	s.processLinks(ctx)
}

// siteDeleted marks the redeemed tokens of the namespace of a deleted Site.
// upstream: skupperproject/skupper internal/kube/site/site.go Site.Deleted, updateAccessTokensForDeletedSite, updateRedeemedStatusForDeletedSite; pkg/apis/skupper/v2alpha1/types.go AccessToken.SetRedeemedWithSiteDeletion
func (s *Spoke) siteDeleted(ctx context.Context, k siteKey) {
	list, err := s.client.Resource(api.AccessTokensGVR).Namespace(k.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range list.Items {
		tok := &list.Items[i]
		st := readStatus(tok, s.now())
		if !st.isTrue(condRedeemed) {
			continue
		}
		deleted := state{metav1.ConditionTrue, statusError, "Already redeemed for a deleted site"}
		if !st.set(condRedeemed, deleted) {
			continue
		}
		st.Status, st.Message = deleted.reason, deleted.message
		st.write(tok)
		_ = unstructured.SetNestedField(tok.Object, true, "status", "redeemed")
		if _, err := s.client.Resource(api.AccessTokensGVR).Namespace(tok.GetNamespace()).UpdateStatus(ctx, tok, metav1.UpdateOptions{}); err == nil {
			s.log.Info("skupper double: token marked redeemed for a deleted site", "token", tok.GetNamespace()+"/"+tok.GetName())
		}
	}
}

// processTokens redeems the tokens that are due.
// upstream: skupperproject/skupper internal/kube/controller/controller.go Controller.checkAccessToken; internal/kube/watchers/watchers.go WatchAccessTokens (resyncShort, 30 s)
func (s *Spoke) processTokens(ctx context.Context) {
	list, err := s.client.Resource(api.AccessTokensGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	now := s.now()
	seen := map[string]bool{}
	for i := range list.Items {
		tok := &list.Items[i]
		uid := string(tok.GetUID())
		seen[uid] = true
		if readStatus(tok, now).isTrue(condRedeemed) {
			continue // re-applying a redeemed token does nothing
		}
		s.mu.Lock()
		last, ok := s.tried[uid]
		// An event (any change, the controller's own status writes included)
		// or the resync makes the controller look at the token.
		due := !ok || last.resourceVersion != tok.GetResourceVersion() || now.Sub(last.at) >= s.RetryInterval
		if due {
			s.tried[uid] = attempt{tok.GetResourceVersion(), now}
		}
		s.mu.Unlock()
		if !due {
			continue
		}
		site := s.sites.activeSite(tok.GetNamespace())
		if site == nil {
			continue // no Site: wait silently until the next event or resync
		}
		s.redeem(ctx, tok, site)
	}
	s.mu.Lock()
	for uid := range s.tried {
		if !seen[uid] {
			delete(s.tried, uid)
		}
	}
	s.mu.Unlock()
}

// redeem posts the code to the grant server and stores what comes back,
// owned by the local Site. As 2.2.1, the client trusts spec.ca when set
// (system roots otherwise) and does not insist on https.
// upstream: skupperproject/skupper internal/kube/grants/redeem.go RedeemAccessToken, tlsConfig, postTokenRequest, handleTokenResponse
func (s *Spoke) redeem(ctx context.Context, tok, site *unstructured.Unstructured) {
	str := func(f string) string { v, _, _ := unstructured.NestedString(tok.Object, "spec", f); return v }
	transport := &http.Transport{}
	if ca := str("ca"); ca != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(ca))
		transport.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	body, err := func() ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, str("url"), strings.NewReader(str("code")))
		if err != nil {
			return nil, fmt.Errorf("Controller got error: %s", err)
		}
		req.Header.Add("name", tok.GetName())
		req.Header.Add("subject", string(site.GetUID()))
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("Controller got error: %s", err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("Controller got failed response: %d (%s) %s", resp.StatusCode, http.StatusText(resp.StatusCode), strings.TrimSpace(string(b)))
		}
		return b, nil
	}()
	if err != nil {
		s.setRedeemed(ctx, tok, err)
		return
	}
	secret, links, err := decodeResponse(body)
	if err != nil {
		s.setRedeemed(ctx, tok, errors.New("Controller could not decode response"))
		return
	}
	owner := ownerReferences(site)
	secret.Object["metadata"].(map[string]any)["ownerReferences"] = owner
	if _, err := s.client.Resource(api.SecretsGVR).Namespace(tok.GetNamespace()).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		s.setRedeemed(ctx, tok, fmt.Errorf("Controller could not create received secret: %s", err))
		return
	}
	for _, link := range links {
		link.Object["metadata"].(map[string]any)["ownerReferences"] = owner
		if cost, _, _ := unstructured.NestedInt64(tok.Object, "spec", "linkCost"); cost > 0 {
			_ = unstructured.SetNestedField(link.Object, cost, "spec", "cost")
		}
		if _, err := s.client.Resource(api.LinksGVR).Namespace(tok.GetNamespace()).Create(ctx, link, metav1.CreateOptions{}); err != nil {
			s.setRedeemed(ctx, tok, fmt.Errorf("Controller could not create received link: %s", err))
			return
		}
	}
	s.setRedeemed(ctx, tok, nil)
}

// decodeResponse reads the Secret, then the Links, of a redemption.
// upstream: skupperproject/skupper internal/kube/grants/redeem.go LinkDecoder.decodeAll
func decodeResponse(body []byte) (*unstructured.Unstructured, []*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(body), 1024)
	var docs []map[string]any
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if len(docs) == 0 {
				return nil, nil, err
			}
			break // upstream stops at the first Link it cannot decode
		}
		if len(doc) > 0 {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		return nil, nil, errors.New("empty response")
	}
	secret := &unstructured.Unstructured{Object: docs[0]}
	if _, ok := secret.Object["metadata"].(map[string]any); !ok {
		return nil, nil, errors.New("secret without metadata")
	}
	var links []*unstructured.Unstructured
	for _, d := range docs[1:] {
		if _, ok := d["metadata"].(map[string]any); ok {
			links = append(links, &unstructured.Unstructured{Object: d})
		}
	}
	return secret, links, nil
}

// setRedeemed writes the token's status when it changed: a repeated failure
// with the same message writes nothing, so it is tried again only at the
// next resync.
// upstream: skupperproject/skupper internal/kube/grants/redeem.go updateAccessTokenStatus; pkg/apis/skupper/v2alpha1/types.go AccessToken.SetRedeemed
func (s *Spoke) setRedeemed(ctx context.Context, tok *unstructured.Unstructured, err error) {
	if tok.Object["status"] == nil {
		tok.Object["status"] = map[string]any{}
	}
	st := readStatus(tok, s.now())
	result := errorOrReady(err)
	if !st.set(condRedeemed, result) {
		return
	}
	st.Status, st.Message = result.reason, result.message
	st.write(tok)
	if err == nil {
		_ = unstructured.SetNestedField(tok.Object, true, "status", "redeemed")
		s.log.Info("skupper double: token redeemed", "token", tok.GetNamespace()+"/"+tok.GetName())
	} else {
		unstructured.RemoveNestedField(tok.Object, "status", "redeemed") // false is omitted
		s.log.Info("skupper double: redemption failed", "token", tok.GetNamespace()+"/"+tok.GetName(), "message", err.Error())
	}
	_, _ = s.client.Resource(api.AccessTokensGVR).Namespace(tok.GetNamespace()).UpdateStatus(ctx, tok, metav1.UpdateOptions{})
}

// processLinks plays the controller and the router for Links.
// upstream: skupperproject/skupper internal/kube/site/site.go Site.CheckLink, link, updateLinkConfiguredCondition, NetworkStatusUpdated, updateLinkOperationalCondition; pkg/apis/skupper/v2alpha1/types.go Link.SetConfigured, Link.SetOperational
// reachable reports whether any endpoint of the Link can be reached.
func (s *Spoke) reachable(l *unstructured.Unstructured) bool {
	eps, _, _ := unstructured.NestedSlice(l.Object, "spec", "endpoints")
	for _, e := range eps {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		host, _, _ := unstructured.NestedString(m, "host")
		port, _, _ := unstructured.NestedString(m, "port")
		if s.Reachable != nil {
			if s.Reachable(host, port) {
				return true
			}
			continue
		}
		if host == LoadBalancerHost {
			return true
		}
		if svc, ns, ok := strings.Cut(host, "."); ok && strings.HasPrefix(svc, "skupper-router") && s.sites.activeSite(ns) != nil {
			return true
		}
	}
	return false
}

func (s *Spoke) processLinks(ctx context.Context) {
	list, err := s.client.Resource(api.LinksGVR).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		s.forgetLinks(nil)
		return
	}
	secrets, err := s.client.Resource(api.SecretsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	secretByName := map[string]*unstructured.Unstructured{}
	for i := range secrets.Items {
		sec := &secrets.Items[i]
		secretByName[sec.GetNamespace()+"/"+sec.GetName()] = sec
	}
	now := s.now()
	seen := map[string]bool{}
	for i := range list.Items {
		l := &list.Items[i]
		uid := string(l.GetUID())
		seen[uid] = true
		if l.Object["status"] == nil {
			l.Object["status"] = map[string]any{}
		}
		st := readStatus(l, now)
		changed := false
		if s.sites.activeSite(l.GetNamespace()) == nil {
			// upstream: skupperproject/skupper internal/kube/site/site.go Site.link ("Site is not yet initialised")
			s.forgetLink(uid)
			if st.set(condConfigured, errorState(errors.New("No active site in namespace"))) {
				st.setReady(linkRequired)
				changed = true
			}
			s.writeLink(ctx, l, st, changed)
			continue
		}
		creds, _, _ := unstructured.NestedString(l.Object, "spec", "tlsCredentials")
		secret := secretByName[l.GetNamespace()+"/"+creds]
		s.mu.Lock()
		seenAt, ok := s.linkSeen[uid]
		if !ok {
			seenAt = linkTimes{first: now}
		}
		if secret == nil || !s.reachable(l) {
			seenAt.connected = time.Time{}
		} else if seenAt.connected.IsZero() {
			seenAt.connected = now
		}
		s.linkSeen[uid] = seenAt
		s.mu.Unlock()
		if len(st.Conditions) == 0 && now.Sub(seenAt.first) < s.RouterDelay/2 {
			continue // the controller has not got to it yet: no status
		}
		if st.set(condConfigured, readyState()) {
			changed = true
		}
		if secret != nil {
			s.annotateSecret(ctx, secret, creds)
		}
		switch {
		case secret == nil || seenAt.connected.IsZero():
			// Without its credentials, or an endpoint it can reach, the
			// router holds no connection: the
			// Link is Pending "Not Operational" again until they are back.
			// upstream: deleting only the Secret of a Link leaves it Pending
			// indefinitely (observed on 2.2.1; the router keeps no link record)
			if st.remove(condOperational) {
				unstructured.RemoveNestedField(l.Object, "status", "remoteSiteName")
				changed = true
			}
		case now.Sub(seenAt.first) >= s.RouterDelay && now.Sub(seenAt.connected) >= s.RouterDelay/2:
			if st.set(condOperational, readyState()) {
				_ = unstructured.SetNestedField(l.Object, "hub", "status", "remoteSiteName")
				changed = true
			}
		}
		if st.setReady(linkRequired) {
			changed = true
		}
		s.writeLink(ctx, l, st, changed)
	}
	s.forgetLinks(seen)
}

func (s *Spoke) writeLink(ctx context.Context, l *unstructured.Unstructured, st *objStatus, changed bool) {
	if !changed {
		return
	}
	st.write(l)
	_, _ = s.client.Resource(api.LinksGVR).Namespace(l.GetNamespace()).UpdateStatus(ctx, l, metav1.UpdateOptions{})
}

func (s *Spoke) forgetLink(uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.linkSeen, uid)
}

func (s *Spoke) forgetLinks(seen map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uid := range s.linkSeen {
		if !seen[uid] {
			delete(s.linkSeen, uid)
		}
	}
}

// annotateSecret records the router TLS profile that uses the Secret.
// upstream: skupperproject/skupper internal/kube/secrets/context.go updateSecret; internal/site/link.go sslProfileName (<tlsCredentials>-profile)
func (s *Spoke) annotateSecret(ctx context.Context, secret *unstructured.Unstructured, creds string) {
	want := fmt.Sprintf(`[{"profileName":"%s-profile","ordinal":0}]`, creds)
	ann := secret.GetAnnotations()
	if ann[TLSProfileContextAnnotation] == want {
		return
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[TLSProfileContextAnnotation] = want
	secret.SetAnnotations(ann)
	if _, err := s.client.Resource(api.SecretsGVR).Namespace(secret.GetNamespace()).Update(ctx, secret, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		s.log.Info("skupper double: secret not annotated", "secret", secret.GetNamespace()+"/"+secret.GetName(), "error", err)
	}
}
