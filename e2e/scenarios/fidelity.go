package scenarios

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/pkg/skupper"
)

// Fidelity are the scenarios of upstream behaviours the first doubles did
// not model: an HA hub, a hub that cannot issue links yet, a spoke Site of
// any name, a foreign CRD sharing a Skupper plural, a signal mid-pass, an API
// server that never answers, and a Link whose Secret alone was deleted.
var Fidelity = []Scenario{
	{Name: "an HA hub links every spoke with one Link per router group and a second pass writes nothing", Run: HAHub},
	{Name: "a hub Site without link endpoints gets no push until it has them, then links every spoke", Run: HubWithoutEndpoints,
		LocalOnly: "it switches the hub's LoadBalancer provider on mid-scenario; the kind tier has none to switch"},
	{Name: "a spoke Site not named after the cluster is linked", Run: CustomSiteName},
	{Name: "a foreign CRD sharing the Link plural on a spoke changes nothing", Run: ForeignLinkCRD},
	{Name: "SIGTERM in the middle of a pass leaves no code on the hub and releases the lease", Run: TerminatedMidPass,
		LocalOnly: "it signals the vanlink process itself; on kind the pass runs in a pod"},
	{Name: "an API server that never answers ends status and sync with an error naming it", Run: SilentAPIServer,
		LocalOnly: "it points vanlink at a listener on this machine"},
	{Name: "a Link whose Secret alone was deleted is re-linked", Run: SecretOnlyDeletion},
}

func init() { All = append(All, Fidelity...) }

// HAHub: the hub Site runs two router groups, so each redemption makes
// Links hub-link-1 and hub-link-2 sharing the Secret hub-link; a cold pass
// links both spokes with one redemption each and the next pass writes
// nothing (the Links are the token's, not missing).
func HAHub(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	linkedFleet(t, h, map[string]any{"site": map[string]any{"ha": true}})
	for _, s := range h.P.Spokes() {
		require.Equal(t, []string{TokenName + "-1", TokenName + "-2"}, h.Links(ctx, s).Names(), "one Link per router group on %s", s.Name)
	}
	h.RequireRedemptions(2, "one redemption per spoke")
	before := h.Versions(ctx)
	r := h.Cron(ctx)
	require.Equal(t, 0, r.Code)
	require.Equal(t, map[string]string{"east": "linked", "west": "linked"}, h.States(ctx))
	require.Equal(t, before, h.Versions(ctx), "the second pass writes nothing to any spoke")
	time.Sleep(2 * time.Second) // a spoke controller retrying a broken token would spend more
	h.RequireRedemptions(2, "no redemption is spent on working links")
}

// HubWithoutEndpoints: the shipped hub values ask for linkAccess
// loadbalancer; on a cluster without a LoadBalancer provider the hub Site
// has no endpoints, and every redemption would be counted, then fail. No
// token is pushed: the CronJob reports each spoke pending with the reason,
// status says so, and the PostSync hook waits; once a LoadBalancer is served
// the waiting hook links every spoke.
func HubWithoutEndpoints(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	if err := h.P.SetHubLoadBalancer(false); errors.Is(err, ErrNotSupported) {
		t.Skip(err)
	}
	t.Cleanup(func() { _ = h.P.SetHubLoadBalancer(true) })
	setup(t, h, nil, nil)
	r := h.Cron(ctx)
	require.Equal(t, 0, r.Code, "spokes merely waiting for the hub are not a failure")
	require.Equal(t, map[string]string{"east": "pending", "west": "pending"}, h.States(ctx))
	for name, sp := range h.Record(ctx).Spokes {
		if name == "east" || name == "west" {
			require.Contains(t, sp.Reason, "cannot issue links", "%s says why it waits", name)
		}
	}
	st := h.Vanlink(ctx, append([]string{"status"}, h.PassFlags("status")...)...)
	require.Contains(t, st.Stdout+st.Stderr, "cannot issue links", "vanlink status says why")

	hook := h.Start(ctx, h.jobArgs(true)...)
	time.Sleep(3 * time.Second)
	require.Zero(t, h.Grant().Redemptions, "nothing was redeemed against a hub without endpoints")
	for _, s := range h.P.Spokes() {
		require.Nil(t, h.Object(ctx, s, "accesstokens", TokenName), "no token on %s", s.Name)
	}
	require.NoError(t, h.P.SetHubLoadBalancer(true))
	r = hook()
	require.Equal(t, 0, r.Code, "the hook waited for the hub Site, then pushed")
	h.WaitLinked(ctx, h.P.Spokes()...)
	// None was spent while the hub could not issue links (asserted above),
	// and one per spoke once it can: vanlink pushes only after it reads the
	// hub Site's endpoints in the API, and upstream's grant server builds the
	// links from the Site its controller holds, which has the endpoints
	// before they are written to the API (skupperproject/skupper
	// internal/kube/site/site.go Site.updateResolved sets them on the Site it
	// holds, then updateSiteStatus writes it; internal/kube/controller/
	// controller.go generateLinkConfig reads that Site): no redemption can
	// meet a grant server that lags behind what vanlink read.
	h.RequireRedemptions(int64(len(h.P.Spokes())), "exactly one redemption per spoke, none while the hub could not issue links")
}

// CustomSiteName: east's Site is named edge-1 (the spoke chart's site.name,
// or a Site made with the Skupper CLI): the token is pushed to the Site in
// the namespace, whatever its name, and redeemed into it.
func CustomSiteName(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	setup(t, h, nil, map[string]map[string]any{"east": {"site": map[string]any{"name": "edge-1"}}})
	// Until east's Skupper controller has taken up edge-1 (its router
	// ConfigMap, which names the active Site), east has no active Site: a
	// pass then says so and the next one links it. Wait for it, as a running
	// spoke controller has.
	require.Eventually(t, func() bool {
		_, err := kube(h.Spoke("east")).CoreV1().ConfigMaps(Namespace).Get(ctx, skupper.RouterConfigMap, metav1.GetOptions{})
		return err == nil
	}, h.Timeout, 100*time.Millisecond, "east's controller takes up its Site")
	r := h.Hook(ctx)
	require.Equal(t, 0, r.Code)
	h.WaitLinked(ctx, h.P.Spokes()...)
	h.RequireRedemptions(2)
	for _, l := range h.Links(ctx, h.Spoke("east")) {
		require.NotNil(t, h.Object(ctx, h.Spoke("east"), "links", l.Name))
	}
	o := h.Object(ctx, h.Spoke("east"), "links", TokenName)
	owner, _ := skupper.SiteOwner(o)
	require.Equal(t, "edge-1", owner, "the Link belongs to the Site the token was redeemed into")
	h.WaitObserved(ctx, nil)
	before := h.Versions(ctx)
	r = h.Cron(ctx)
	require.Equal(t, 0, r.Code)
	require.Equal(t, "linked", h.States(ctx)["east"])
	require.Equal(t, before, h.Versions(ctx))
}

// ForeignLinkCRD: east also runs Linkerd multicluster, whose CRD has the
// plural links and sorts before skupper.io, with a Linkerd Link of the same
// name as the token's. vanlink reads and deletes Skupper's Links only: the
// fleet links, and a second pass writes nothing to east.
func ForeignLinkCRD(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	east := h.Spoke("east")
	ext := apiextensions.NewForConfigOrDie(east.Config)
	_, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, framework.SchemalessCRD(schema.GroupVersionResource{Group: "multicluster.linkerd.io", Version: "v1alpha1", Resource: "links"}, "Link"), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "links.multicluster.linkerd.io", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true
			}
		}
		return false
	}, h.Timeout, 100*time.Millisecond)
	t.Cleanup(func() {
		_ = ext.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), "links.multicluster.linkerd.io", metav1.DeleteOptions{})
	})
	setup(t, h, nil, nil)
	linkerd := schema.GroupVersionResource{Group: "multicluster.linkerd.io", Version: "v1alpha1", Resource: "links"}
	require.Eventually(t, func() bool {
		_, err := dyn(east).Resource(linkerd).Namespace(Namespace).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "multicluster.linkerd.io/v1alpha1", "kind": "Link", "metadata": map[string]any{"name": TokenName},
			"spec": map[string]any{"targetClusterName": "elsewhere"}}}, metav1.CreateOptions{})
		return err == nil
	}, h.Timeout, 200*time.Millisecond, "the Linkerd Link is served")

	r := h.Hook(ctx)
	require.Equal(t, 0, r.Code)
	h.WaitLinked(ctx, h.P.Spokes()...)
	h.WaitObserved(ctx, nil)
	before := h.Versions(ctx)
	for range 2 {
		r = h.Cron(ctx)
		require.Equal(t, 0, r.Code)
		require.Equal(t, map[string]string{"east": "linked", "west": "linked"}, h.States(ctx), "Skupper's Link is read, not Linkerd's")
	}
	require.Equal(t, before, h.Versions(ctx), "no pass re-pushes a working spoke")
	h.RequireRedemptions(2)
	_, err = dyn(east).Resource(linkerd).Namespace(Namespace).Get(ctx, TokenName, metav1.GetOptions{})
	require.NoError(t, err, "Linkerd's Link is never touched")
}

// terminationBound is how soon after SIGTERM a pass must have exited ("within
// a few seconds", issue 12): its cleanup removes the hub objects that carry
// the code, releases the Lease and records the pass, a few hub requests.
const terminationBound = 5 * time.Second

// TerminatedMidPass: a hook pass pushes to both spokes; east's push
// completes, west's hangs with its AccessToken create held by west's API
// server (tokenHold), as a stuck spoke or agent leaves it. SIGTERM (a hook
// Job at its activeDeadlineSeconds) comes while west's push is in flight:
// with acm the ManagedClusterAction, with manifestwork the ManifestWork,
// carries the code on the hub at that moment; the direct transport puts the
// code on no hub object, so there the scenario asserts that none carries it
// before or after, that the signal cuts short a create in flight on the
// spoke, and the rest as for the others. Within terminationBound the
// process has exited, no hub object carries the code, the token never
// reached west, east's push is recorded, and the Lease is free for the
// next pass, which links west.
func TerminatedMidPass(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	setup(t, h, nil, nil)
	east, west := h.Spoke("east"), h.Spoke("west")
	hold := holdTokenCreates(ctx, t, west)
	p := h.StartProcess(ctx, h.jobArgs(true)...)
	// East is pushed (its token is there and its hub objects no longer carry
	// the code) and west's push waits on the hold.
	require.Eventually(t, func() bool {
		return hold.Holding() > 0 && h.Object(ctx, east, "accesstokens", TokenName) != nil && !h.CodeOnHubFor(ctx, east.Name)
	}, h.Timeout, 50*time.Millisecond, "east is pushed while west's push is in flight")
	carries := h.transport() != "direct"
	require.Equal(t, carries, h.CodeOnHub(ctx), "just before SIGTERM, a hub object carries the code for west's push in flight (none with direct: the code goes from vanlink to the spoke)")
	if carries {
		require.True(t, h.CodeOnHubFor(ctx, west.Name), "the code on the hub is in west's namespace")
	}
	signalled := time.Now()
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	r := p.Wait()
	took := time.Since(signalled)
	t.Logf("vanlink exited %s after SIGTERM", took.Round(time.Millisecond))
	require.Less(t, took, terminationBound, "the pass exits within seconds of SIGTERM")
	require.NotEqual(t, 0, r.Code, "a pass cut short is not a success")
	require.False(t, h.CodeOnHub(ctx), "once the process has exited, no hub object carries the code")
	require.Contains(t, r.Stderr, "SIGTERM received", "the pass heard the signal")
	assertNoActions(t, h)
	h.AssertNoCodeLeak()
	require.Equal(t, "pushed", h.States(ctx)["east"], "what the pass did is recorded")

	hold.Release()
	require.Equal(t, 0, hold.Holding(), "no create waits on west any more")
	require.Nil(t, h.Object(ctx, west, "accesstokens", TokenName), "the push cut short never reached west")
	h.RequireRedemptions(1, "east's token only")
	r = h.Vanlink(ctx, append(h.jobArgs(false), "--lease-wait=1s")...)
	require.NotContains(t, r.Stdout+r.Stderr, "another pass holds", "the lease was released")
	h.WaitLinked(ctx, h.P.Spokes()...)
}

// SilentAPIServer: a server that completes TLS and never answers. status,
// status --live, the hook's and the CronJob's sync and the controller, each
// with the scenario's transport and names (the job's flags), end with an
// error that names it, bounded by --request-timeout (the hook, which waits
// for the grant, by --grant-timeout; the controller's first cache fill by
// --cache-sync-timeout, by default 3 times --request-timeout).
func SilentAPIServer(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	block := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(func() { close(block); srv.Close() })
	host := strings.TrimPrefix(srv.URL, "https://")
	_, port, _ := net.SplitHostPort(host)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["silent"] = &clientcmdapi.Cluster{Server: srv.URL, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["silent"] = &clientcmdapi.Context{Cluster: "silent", AuthInfo: "u"}
	cfg.CurrentContext = "silent"
	path := filepath.Join(t.TempDir(), "silent.kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	transport := "--transport=" + h.transport()
	for name, args := range map[string][]string{
		"status":        append([]string{"status"}, h.PassFlags("status")...),
		"status --live": append([]string{"status", "--live"}, h.PassFlags("status")...),
		"sync (hook)":   append(h.jobArgs(true), "--grant-timeout=5s"),
		"sync (cron)":   h.jobArgs(false),
		"controller":    append([]string{"controller", "--http-address="}, h.PassFlags("controller")...),
	} {
		require.Contains(t, args, transport, "vanlink %s runs with the scenario's transport", name)
		start := time.Now()
		r := h.runBinary(ctx, append(args, "--request-timeout=2s", "--kubeconfig="+path)...)
		require.Less(t, time.Since(start), 30*time.Second, "vanlink %s ends", name)
		require.NotEqual(t, 0, r.Code, "vanlink %s fails", name)
		require.Contains(t, r.Stderr, port, "vanlink %s names the server that did not answer", name)
	}
	_ = os.Remove(path)
}

// SecretOnlyDeletion: someone deletes only the Secret hub-link on east: its
// Link stays Pending "Not Operational" for ever (upstream). The direct
// transport sees the Secret missing and re-links at once; ACM cannot view
// Secrets, so the Link is re-linked once it has not been Ready for longer
// than --link-ready-timeout while the Site is Ready. West is untouched.
func SecretOnlyDeletion(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	linkedFleet(t, h, nil)
	east, west := h.Spoke("east"), h.Spoke("west")
	require.NoError(t, kube(east).CoreV1().Secrets(Namespace).Delete(ctx, TokenName, metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		ls := h.Links(ctx, east)
		return len(ls) > 0 && !ls.Ready()
	}, h.Timeout, 100*time.Millisecond, "the Link stops being operational")
	time.Sleep(2 * time.Second)
	westBefore := map[string]string{}
	for k, v := range h.Versions(ctx) {
		if strings.HasPrefix(k, west.Name+"/") {
			westBefore[k] = v
		}
	}
	r := h.Vanlink(ctx, append(h.jobArgs(false), "--link-ready-timeout=1s")...)
	require.Equal(t, 0, r.Code)
	require.Equal(t, "pushed", h.States(ctx)["east"], "east is re-linked")
	h.WaitLinked(ctx, east, west)
	h.RequireRedemptions(3, "one more redemption, for east only")
	for k, v := range h.Versions(ctx) {
		if strings.HasPrefix(k, west.Name+"/") {
			require.Equal(t, westBefore[k], v, "west is untouched")
		}
	}
}
