// Package skupper is a test double of the Skupper v2 controller (upstream
// release 2.2.1), faithful to the behaviour vanlink depends on. Next to each
// behaviour a comment names its upstream source (skupperproject/skupper,
// file and function). The router is simulated: nothing carries traffic.
//
// Sites, on the hub and on each spoke: the controller picks one active Site
// per namespace (the owner of its skupper-router ConfigMap, else the first
// seen; any other Site is in Error "An active site already exists in the
// namespace (<name>)"), creates the router ConfigMaps skupper-router (and
// skupper-router-2 when spec.ha is true) owned by it, and writes its status:
// Configured, Running (the simulated router pod is ready), and, when
// spec.linkAccess is set, Resolved with status.endpoints (inter-router 55671
// and edge 45671, one pair per router group). linkAccess local resolves to
// skupper-router.<namespace> (skupper-router-2.<namespace> for the second
// group); loadbalancer and default resolve to 127.0.0.1 only while the
// simulated cluster has a LoadBalancer provider (SetLoadBalancer; none by
// default, as on a plain cluster); route never resolves (no OpenShift here).
// Without endpoints such a Site stays Pending "Pending". Other access types
// are refused: Error "Unsupported value for LinkAccess: <type>". When a Site
// is deleted the double deletes what it owned (router ConfigMaps, and the
// Links and Secrets of redeemed tokens), as the garbage collector the test bed
// lacks would.
//
// On the hub it processes AccessGrants (url https://<grant server>/<uid>,
// the grant server's CA, the same for every grant, a random 24-character
// code unless spec.code is set and an expirationTime from expirationWindow or
// 10 minutes, both set once; conditions Processed, Resolved and Ready;
// status.redemptions omitted at 0; 1 written into an unset
// spec.redemptionsAllowed) and serves redemptions over HTTPS on 127.0.0.1
// (TLS 1.3) from its cache of grants, with upstream's answers: 404 "No such
// claim" for an unknown or expired grant, 404 "No such access granted" when
// exhausted, 403 "Redemption of access token refused" for a wrong code. The
// counter is then incremented (a write of the grant's status from the cache:
// a stale cache gives a real conflict, answered 503 "Internal error" and not
// counted) BEFORE the credentials are generated, so the later failures spend
// the redemption: 500 "Site not yet defined for <namespace>" without a hub
// Site, 500 "Could not resolve any endpoints for requested link" when the
// hub Site has no endpoints. Success is 200 with a TLS Secret named after the
// token and one Link per router group of the hub Site (<token>, or
// <token>-1 and <token>-2 for an HA hub), each with spec.tlsCredentials
// <token>.
//
// On each spoke (see Spoke) it redeems AccessTokens into the active Site of
// their namespace and plays the router for Links.
package skupper

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

// Hub plays the hub's Skupper controller and grant server.
type Hub struct {
	client dynamic.Interface
	ca     *authority
	siteCA *authority
	srv    *http.Server
	lis    net.Listener
	log    *slog.Logger
	sites  *sites
	now    func() time.Time
	// Tick is how often the controller looks at the hub (default 100 ms).
	Tick time.Duration

	paused      atomic.Bool
	busy        sync.Mutex // held while the controller looks at the hub
	mu          sync.Mutex
	redemptions int
	// written and conflicted count, by grant uid, the increments of
	// status.redemptions written and those whose write failed, a conflict
	// with a concurrent redemption's mostly (answered 503, see checkAndCount).
	written, conflicted map[string]int
	pace                *pacer
	// grants is the controller's cache of grants by uid, refreshed from the
	// API server every Tick, as upstream's informer feeds its map.
	// upstream: skupperproject/skupper internal/kube/grants/grants.go Grants.record, Grants.get, Grants.put
	grants map[string]*unstructured.Unstructured
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
	h := &Hub{client: client, ca: ca, siteCA: siteCA, lis: lis, log: log, now: time.Now,
		Tick: 100 * time.Millisecond, grants: map[string]*unstructured.Unstructured{}, written: map[string]int{}, conflicted: map[string]int{}, pace: newPacer()}
	h.sites = newSites(client, log.With("cluster", "hub"), func() time.Time { return h.now() })
	h.srv = &http.Server{Handler: http.HandlerFunc(h.redeem), TLSConfig: tlsCfg, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.ServeTLS(lis, "", "") }()
	return h, nil
}

// Addr is the grant server's host:port.
func (h *Hub) Addr() string { return h.lis.Addr().String() }

// CA is the grant server's CA certificate (PEM), as written into status.ca.
func (h *Hub) CA() string { return string(h.ca.pem) }

// Redemptions counts the redemption requests whose increment of the grant's
// status.redemptions was written, whether or not links were then issued
// (each used a redemption).
func (h *Hub) Redemptions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.redemptions
}

// Counted says, for the grant with uid, how many redemptions the server
// wrote into its status.redemptions, and how many it answered 503 because
// that write failed (a conflict with a concurrent redemption's, mostly). Upstream increments the count on the grant it
// caches, which concurrent redemptions share, so a conflicting redemption
// can leave its increment behind for the next write: status.redemptions
// then lies between written and written+conflicted (see checkAndCount).
func (h *Hub) Counted(uid string) (written, conflicted int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.written[uid], h.conflicted[uid]
}

// SetLoadBalancer says whether the simulated hub cluster has a LoadBalancer
// provider (false by default, as on a plain cluster). With one, Sites with
// linkAccess loadbalancer (or default) resolve to 127.0.0.1; without, they
// stay Pending with no endpoints. Takes effect on the next Tick.
func (h *Hub) SetLoadBalancer(on bool) { h.sites.setLoadBalancer(on); h.pace.poke() }

// Close stops the grant server.
func (h *Hub) Close() { _ = h.srv.Close() }

// Pause stops processing grants and Sites, as a controller scaled to zero
// would (the grant server of this double keeps answering from its cache),
// and returns once a look in progress has ended; Resume restarts it.
func (h *Hub) Pause() {
	h.paused.Store(true)
	h.busy.Lock()
	defer h.busy.Unlock()
}

func (h *Hub) Resume() { h.paused.Store(false); h.pace.poke() }

// Run processes grants and Sites until ctx ends: a pass after each change
// of the kinds it reads (at most one per Tick), as the pacer says.
func (h *Hub) Run(ctx context.Context) {
	h.pace.setTick(h.Tick)
	h.pace.watch(ctx, h.client, api.SitesGVR, configMapsGVR, api.AccessGrantsGVR, api.LinksGVR, api.SecretsGVR)
	for {
		start := time.Now()
		h.busy.Lock()
		if !h.paused.Load() {
			h.processSites(ctx)
			h.processGrants(ctx)
		}
		h.busy.Unlock()
		if !h.pace.wait(ctx, start) {
			return
		}
	}
}

func (h *Hub) processSites(ctx context.Context) { h.sites.process(ctx) }

// processGrants looks at every grant once.
// upstream: skupperproject/skupper internal/kube/grants/grants.go Grants.checkGrant
func (h *Hub) processGrants(ctx context.Context) {
	list, err := h.client.Resource(api.AccessGrantsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for i := range list.Items {
		g := &list.Items[i]
		seen[string(g.GetUID())] = true
		client := h.client.Resource(api.AccessGrantsGVR).Namespace(g.GetNamespace())
		if n, _, _ := unstructured.NestedInt64(g.Object, "spec", "redemptionsAllowed"); n == 0 {
			// The controller writes the default into the spec (GitOps drift).
			// upstream: skupperproject/skupper internal/kube/grants/grants.go Grants.checkGrant ("if RedemptionsAllowed is not set default to 1")
			_ = unstructured.SetNestedField(g.Object, int64(1), "spec", "redemptionsAllowed")
			_, _ = client.Update(ctx, g, metav1.UpdateOptions{})
			continue
		}
		h.record(g)
		if !h.checkGrant(g) {
			continue
		}
		updated, err := client.UpdateStatus(ctx, g, metav1.UpdateOptions{})
		if err != nil {
			continue // a conflict or a deletion: the next Tick sees the latest
		}
		h.put(updated)
		h.log.Info("skupper double: grant processed", "grant", g.GetNamespace()+"/"+g.GetName(), "uid", g.GetUID())
	}
	h.mu.Lock()
	for uid := range h.grants {
		if !seen[uid] {
			delete(h.grants, uid) // upstream: skupperproject/skupper internal/kube/grants/grants.go Grants.remove
		}
	}
	h.mu.Unlock()
}

// checkGrant fills the grant's status and says whether it changed: url and
// ca follow the grant server; code and expirationTime are set once.
// upstream: skupperproject/skupper internal/kube/grants/grants.go Grants.checkGrant, checkUrl, checkCa; pkg/apis/skupper/v2alpha1/types.go AccessGrant.SetProcessed, SetResolved
func (h *Hub) checkGrant(g *unstructured.Unstructured) bool {
	if _, ok := g.Object["status"].(map[string]any); !ok {
		g.Object["status"] = map[string]any{}
	}
	status := g.Object["status"].(map[string]any)
	changed := false
	setStr := func(key, v string) {
		if cur, _ := status[key].(string); cur != v {
			status[key] = v
			changed = true
		}
	}
	setStr("url", fmt.Sprintf("https://%s/%s", h.Addr(), g.GetUID()))
	setStr("ca", h.CA())
	if code, _ := status["code"].(string); code == "" {
		code, _, _ = unstructured.NestedString(g.Object, "spec", "code")
		if code == "" {
			code = randomCode()
		}
		status["code"] = code // upstream sets the code without counting it as a change
	}
	var problem error
	if exp, _ := status["expirationTime"].(string); exp == "" {
		window := 10 * time.Minute
		if w, _, _ := unstructured.NestedString(g.Object, "spec", "expirationWindow"); w != "" {
			d, err := time.ParseDuration(w)
			if err != nil {
				problem = fmt.Errorf("Invalid duration %q: %s", w, err)
			}
			window = d
		}
		if problem == nil {
			setStr("expirationTime", h.now().Add(window).Format(time.RFC3339))
		}
	}
	st := readStatus(g, h.now())
	if st.set(condProcessed, errorOrReady(problem)) {
		st.setReady(grantRequired)
		changed = true
	}
	resolved := pendingState("Pending")
	if status["ca"] != "" && status["url"] != "" {
		resolved = readyState()
	}
	if st.set(condResolved, resolved) {
		st.setReady(grantRequired)
		changed = true
	}
	st.write(g)
	return changed
}

// record refreshes the cache from the API server, never going back to an
// older resourceVersion (an informer only moves forward).
func (h *Hub) record(g *unstructured.Unstructured) {
	h.mu.Lock()
	defer h.mu.Unlock()
	uid := string(g.GetUID())
	if cur, ok := h.grants[uid]; ok && !newer(g.GetResourceVersion(), cur.GetResourceVersion()) {
		return
	}
	h.grants[uid] = g.DeepCopy()
}

func (h *Hub) put(g *unstructured.Unstructured) {
	h.mu.Lock()
	defer h.mu.Unlock()
	uid := string(g.GetUID())
	if cur, ok := h.grants[uid]; ok && !newer(g.GetResourceVersion(), cur.GetResourceVersion()) {
		return
	}
	h.grants[uid] = g.DeepCopy()
}

// newer compares resourceVersions as the integers the API server uses; an
// unparsable one counts as newer when it differs.
func newer(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	if errA != nil || errB != nil {
		return a != b
	}
	return x > y
}

type httpError struct {
	text string
	code int
}

// checkAndCount checks a redemption request against the cached grant and
// counts it: the increment is made on the cached grant and written with its
// resourceVersion, so a cache older than the API server's copy gives a
// conflict, answered 503 "Internal error" and not counted. As upstream, the
// cached count stays incremented until the cache is refreshed.
// upstream: skupperproject/skupper internal/kube/grants/grants.go Grants.checkAndUpdateAccessToken
func (h *Hub) checkAndCount(ctx context.Context, uid string, code []byte) (*unstructured.Unstructured, *httpError) {
	h.mu.Lock()
	g := h.grants[uid]
	if g == nil {
		h.mu.Unlock()
		return nil, &httpError{"No such claim", http.StatusNotFound}
	}
	exp, _, _ := unstructured.NestedString(g.Object, "status", "expirationTime")
	t, err := time.Parse(time.RFC3339, exp)
	if err != nil {
		h.mu.Unlock()
		return nil, &httpError{"Corrupted claim", http.StatusInternalServerError}
	}
	if t.Before(h.now()) {
		h.mu.Unlock()
		return nil, &httpError{"No such claim", http.StatusNotFound}
	}
	allowed, _, _ := unstructured.NestedInt64(g.Object, "spec", "redemptionsAllowed")
	used, _, _ := unstructured.NestedInt64(g.Object, "status", "redemptions")
	if allowed <= used {
		h.mu.Unlock()
		return nil, &httpError{"No such access granted", http.StatusNotFound}
	}
	if want, _, _ := unstructured.NestedString(g.Object, "status", "code"); want != string(code) {
		h.mu.Unlock()
		return nil, &httpError{"Redemption of access token refused", http.StatusForbidden}
	}
	_ = unstructured.SetNestedField(g.Object, used+1, "status", "redemptions")
	write := g.DeepCopy()
	h.mu.Unlock()

	updated, err := h.client.Resource(api.AccessGrantsGVR).Namespace(write.GetNamespace()).UpdateStatus(ctx, write, metav1.UpdateOptions{})
	if err != nil {
		h.log.Info("skupper double: error updating access grant", "grant", write.GetNamespace()+"/"+write.GetName(), "error", err)
		h.mu.Lock()
		h.conflicted[uid]++
		h.mu.Unlock()
		return nil, &httpError{"Internal error", http.StatusServiceUnavailable}
	}
	h.put(updated)
	h.mu.Lock()
	h.redemptions++
	h.written[uid]++
	h.mu.Unlock()
	return updated, nil
}

// redeem serves POST /<grant uid> with the code as body and the token name
// and spoke Site uid in the name and subject headers.
// upstream: skupperproject/skupper internal/kube/grants/grants.go Grants.ServeHTTP
func (h *Hub) redeem(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "Only POST is supported", http.StatusMethodNotAllowed)
		return
	}
	uid := strings.ReplaceAll(r.URL.Path, "/", "")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, "Request body not valid", http.StatusBadRequest)
		return
	}
	g, herr := h.checkAndCount(r.Context(), uid, body)
	if herr != nil {
		http.Error(w, herr.text, herr.code)
		return
	}
	name := r.Header.Get("name")
	if name == "" {
		name = g.GetName()
	}
	subject := r.Header.Get("subject")
	if subject == "" {
		subject = name
	}
	out, err := h.generate(r.Context(), g.GetNamespace(), name, subject)
	if err != nil {
		h.log.Info("skupper double: redemption failed after the count", "grant", g.GetNamespace()+"/"+g.GetName(), "token", name, "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(out)
	h.log.Info("skupper double: redeemed", "grant", g.GetNamespace()+"/"+g.GetName(), "token", name, "subject", subject)
}

// generate makes the Secret and Links of a redemption from the namespace's
// active Site.
// upstream: skupperproject/skupper internal/kube/controller/controller.go Controller.generateLinkConfig; internal/kube/grants/tokens.go NewTokenGenerator, setValidHostsFromSite, NewCertToken, CertToken.Write
func (h *Hub) generate(ctx context.Context, namespace, name, subject string) ([]byte, error) {
	site := h.sites.activeSite(namespace)
	if site != nil {
		// Read the Site's latest status, as the controller's informer has it.
		if latest, err := h.client.Resource(api.SitesGVR).Namespace(namespace).Get(ctx, site.GetName(), metav1.GetOptions{}); err == nil && latest.GetUID() == site.GetUID() {
			site = latest
		} else {
			site = nil
		}
	}
	if site == nil {
		return nil, fmt.Errorf("Site not yet defined for %s", namespace)
	}
	endpoints, _, _ := unstructured.NestedSlice(site.Object, "status", "endpoints")
	var hosts []string
	byGroup := map[string][]any{}
	for _, e := range endpoints {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		host, _ := m["host"].(string)
		hosts = append(hosts, host)
		if n := m["name"]; n == "inter-router" || n == "edge" {
			group, _ := m["group"].(string)
			byGroup[group] = append(byGroup[group], m)
		}
	}
	if len(hosts) == 0 {
		return nil, errors.New("Could not resolve any endpoints for requested link")
	}
	crt, key, err := h.siteCA.issue(subject, false)
	if err != nil {
		return nil, err
	}
	docs := []map[string]any{{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
		"metadata": map[string]any{"name": name},
		"data":     map[string]any{"tls.crt": b64(crt), "tls.key": b64(key), "ca.crt": b64(h.siteCA.pem)}}}
	// Upstream ranges over a Go map of groups, so which group becomes
	// <token>-1 is not fixed; this double does the same.
	i := 0
	for _, eps := range byGroup {
		i++
		linkName := name
		if len(byGroup) > 1 {
			linkName = fmt.Sprintf("%s-%d", name, i)
		}
		docs = append(docs, map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Link",
			"metadata": map[string]any{"name": linkName},
			"spec":     map[string]any{"endpoints": eps, "tlsCredentials": name}})
	}
	var out []byte
	for _, doc := range docs {
		y, err := yaml.Marshal(doc)
		if err != nil {
			return nil, err
		}
		out = append(append(out, "---\n"...), y...)
	}
	return out, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// randomCode is a 24-character code.
// upstream: skupperproject/skupper internal/kube/grants/grants.go Grants.checkGrant (utils.RandomId(24))
func randomCode() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
