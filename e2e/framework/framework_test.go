//go:build integration

package framework_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"
	clusterv1 "open-cluster-management.io/api/cluster/v1"

	"github.com/vanlink/vanlink/e2e/framework"
)

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

var (
	skupperGVR = func(r string) schema.GroupVersionResource { return gvr("skupper.io", "v2alpha1", r) }
	mcaGVR     = gvr("action.open-cluster-management.io", "v1beta1", "managedclusteractions")
	mcvGVR     = gvr("view.open-cluster-management.io", "v1beta1", "managedclusterviews")
)

func obj(apiVersion, kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": "default"},
		"spec":       spec,
	}}
}

func TestBedRunsRealAPIServers(t *testing.T) {
	start := time.Now()
	env := framework.StartT(t, framework.Options{Spokes: []string{"east", "west"}})
	t.Logf("hub and two spokes ready in %s", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()

	t.Run("every cluster answers with its own data and kubeconfig", func(t *testing.T) {
		for _, c := range env.All() {
			cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
			require.NoError(t, err, "kubeconfig of %s must load", c.Name)
			kc := kubernetes.NewForConfigOrDie(cfg)
			_, err = kc.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "whoami"}, Data: map[string]string{"cluster": c.Name},
			}, metav1.CreateOptions{})
			require.NoError(t, err, "creating a ConfigMap on %s", c.Name)
		}
		for _, c := range env.All() {
			cm, err := c.Kube().CoreV1().ConfigMaps("default").Get(ctx, "whoami", metav1.GetOptions{})
			require.NoError(t, err)
			require.Equal(t, c.Name, cm.Data["cluster"], "each API server must keep its own etcd prefix")
		}
	})

	valid := map[string]*unstructured.Unstructured{
		"a Site":         obj("skupper.io/v2alpha1", "Site", "hub", map[string]any{"linkAccess": "default", "ha": false}),
		"an AccessGrant": obj("skupper.io/v2alpha1", "AccessGrant", "spoke-link", map[string]any{"redemptionsAllowed": int64(10), "expirationWindow": "720h"}),
		"an AccessToken": obj("skupper.io/v2alpha1", "AccessToken", "hub-link", map[string]any{"url": "https://grants.example:9090/abc", "code": "c0de", "ca": "pem", "linkCost": int64(1)}),
		"a Link": obj("skupper.io/v2alpha1", "Link", "hub-link", map[string]any{
			"endpoints": []any{map[string]any{"name": "inter-router", "host": "hub.example", "port": "55671"}}, "tlsCredentials": "hub-link", "cost": int64(1)}),
		"a Listener":              obj("skupper.io/v2alpha1", "Listener", "kafka-east", map[string]any{"routingKey": "kafka-east", "host": "kafka-east", "port": int64(9092)}),
		"a Connector by selector": obj("skupper.io/v2alpha1", "Connector", "kafka", map[string]any{"routingKey": "kafka-east", "selector": "app=kafka", "port": int64(9092)}),
		"a Connector by host":     obj("skupper.io/v2alpha1", "Connector", "gateway", map[string]any{"routingKey": "gw-east", "host": "spoke-gateway", "port": int64(8080)}),
		"a ManagedClusterAction": obj("action.open-cluster-management.io/v1beta1", "ManagedClusterAction", "push", map[string]any{
			"actionType": "Delete", "kube": map[string]any{"resource": "accesstokens.v2alpha1.skupper.io", "name": "hub-link", "namespace": "service-interconnect"}}),
		"a ManagedClusterView": obj("view.open-cluster-management.io/v1beta1", "ManagedClusterView", "link", map[string]any{
			"scope": map[string]any{"apiGroup": "skupper.io", "version": "v2alpha1", "kind": "Link", "name": "hub-link", "namespace": "service-interconnect"}}),
	}
	t.Run("valid objects of every kind are accepted", func(t *testing.T) {
		for name, o := range valid {
			t.Run(name, func(t *testing.T) {
				res := strings.ToLower(o.GetKind()) + "s"
				gv, err := schema.ParseGroupVersion(o.GetAPIVersion())
				require.NoError(t, err)
				_, err = env.Hub.Dynamic().Resource(gv.WithResource(res)).Namespace("default").Create(ctx, o, metav1.CreateOptions{})
				require.NoError(t, err, "the API server must accept %s", name)
			})
		}
	})

	invalid := map[string]struct {
		gvr       schema.GroupVersionResource
		obj       *unstructured.Unstructured
		wantField string
	}{
		"a Listener whose port is a string": {
			gvr:       skupperGVR("listeners"),
			obj:       obj("skupper.io/v2alpha1", "Listener", "bad-port", map[string]any{"routingKey": "k", "host": "h", "port": "9092"}),
			wantField: "spec.port",
		},
		"a Listener without routingKey": {
			gvr:       skupperGVR("listeners"),
			obj:       obj("skupper.io/v2alpha1", "Listener", "no-key", map[string]any{"host": "h", "port": int64(1)}),
			wantField: "spec.routingKey",
		},
		"a Connector with both selector and host": {
			gvr:       skupperGVR("connectors"),
			obj:       obj("skupper.io/v2alpha1", "Connector", "both", map[string]any{"routingKey": "k", "port": int64(1), "selector": "app=x", "host": "x"}),
			wantField: "spec.selector or spec.host",
		},
		"a Connector with neither selector nor host": {
			gvr:       skupperGVR("connectors"),
			obj:       obj("skupper.io/v2alpha1", "Connector", "neither", map[string]any{"routingKey": "k", "port": int64(1)}),
			wantField: "spec.selector or spec.host",
		},
		"an AccessToken without code": {
			gvr:       skupperGVR("accesstokens"),
			obj:       obj("skupper.io/v2alpha1", "AccessToken", "no-code", map[string]any{"url": "https://x", "ca": "pem"}),
			wantField: "spec.code",
		},
		"a Link without endpoints": {
			gvr:       skupperGVR("links"),
			obj:       obj("skupper.io/v2alpha1", "Link", "no-endpoints", map[string]any{"cost": int64(1)}),
			wantField: "spec.endpoints",
		},
		"a ManagedClusterAction without spec.kube": {
			gvr:       mcaGVR,
			obj:       obj("action.open-cluster-management.io/v1beta1", "ManagedClusterAction", "no-kube", map[string]any{"actionType": "Create"}),
			wantField: "spec.kube",
		},
		"a ManagedClusterAction with an unknown actionType": {
			gvr:       mcaGVR,
			obj:       obj("action.open-cluster-management.io/v1beta1", "ManagedClusterAction", "bad-type", map[string]any{"actionType": "Apply", "kube": map[string]any{"resource": "x"}}),
			wantField: "spec.actionType",
		},
		"a ManagedClusterView without a name to view": {
			gvr:       mcvGVR,
			obj:       obj("view.open-cluster-management.io/v1beta1", "ManagedClusterView", "no-name", map[string]any{"scope": map[string]any{"kind": "Link", "version": "v2alpha1"}}),
			wantField: "spec.scope.name",
		},
	}
	t.Run("invalid objects are rejected by the API server naming the field", func(t *testing.T) {
		for name, tc := range invalid {
			t.Run(name, func(t *testing.T) {
				_, err := env.Hub.Dynamic().Resource(tc.gvr).Namespace("default").Create(ctx, tc.obj, metav1.CreateOptions{})
				require.Error(t, err, "the API server must reject %s", name)
				require.True(t, apierrors.IsInvalid(err), "expected an Invalid error, got %v", err)
				require.Contains(t, err.Error(), tc.wantField, "the error must name the field")
				t.Logf("rejected: %v", err)
			})
		}
	})

	t.Run("a status written through the status subresource reads back", func(t *testing.T) {
		grants := env.Hub.Dynamic().Resource(skupperGVR("accessgrants")).Namespace("default")
		g, err := grants.Get(ctx, "spoke-link", metav1.GetOptions{})
		require.NoError(t, err)
		status := map[string]any{"status": "Ready", "url": "https://127.0.0.1:9090/uid", "redemptions": int64(2), "expirationTime": "2026-12-21T00:00:00Z",
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready", "message": "OK", "lastTransitionTime": "2026-11-21T00:00:00Z"}}}
		require.NoError(t, unstructured.SetNestedField(g.Object, status, "status"))
		_, err = grants.UpdateStatus(ctx, g, metav1.UpdateOptions{})
		require.NoError(t, err)
		back, err := grants.Get(ctx, "spoke-link", metav1.GetOptions{})
		require.NoError(t, err)
		n, _, _ := unstructured.NestedInt64(back.Object, "status", "redemptions")
		require.EqualValues(t, 2, n, "status.redemptions must read back")

		// A status change sent through the main resource is ignored.
		require.NoError(t, unstructured.SetNestedField(back.Object, int64(9), "status", "redemptions"))
		_, err = grants.Update(ctx, back, metav1.UpdateOptions{})
		require.NoError(t, err)
		again, err := grants.Get(ctx, "spoke-link", metav1.GetOptions{})
		require.NoError(t, err)
		n, _, _ = unstructured.NestedInt64(again.Object, "status", "redemptions")
		require.EqualValues(t, 2, n, "status must only change through the status subresource")
	})

	t.Run("a ManagedCluster round-trips through the typed OCM clientset", func(t *testing.T) {
		cs := clusterclient.NewForConfigOrDie(env.Hub.Config)
		mc := &clusterv1.ManagedCluster{
			ObjectMeta: metav1.ObjectMeta{Name: "east", Labels: map[string]string{"region": "east"}},
			Spec:       clusterv1.ManagedClusterSpec{HubAcceptsClient: true},
		}
		_, err := cs.ClusterV1().ManagedClusters().Create(ctx, mc, metav1.CreateOptions{})
		require.NoError(t, err)
		got, err := cs.ClusterV1().ManagedClusters().Get(ctx, "east", metav1.GetOptions{})
		require.NoError(t, err)
		got.Status.Conditions = []metav1.Condition{{Type: clusterv1.ManagedClusterConditionJoined, Status: metav1.ConditionTrue, Reason: "Joined", LastTransitionTime: metav1.Now()}}
		_, err = cs.ClusterV1().ManagedClusters().UpdateStatus(ctx, got, metav1.UpdateOptions{})
		require.NoError(t, err)
		got, err = cs.ClusterV1().ManagedClusters().Get(ctx, "east", metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, "east", got.Labels["region"])
		require.Len(t, got.Status.Conditions, 1, "the Joined condition must read back")
	})

	t.Run("the RBAC authorizer denies a ServiceAccount without a binding", func(t *testing.T) {
		_, err := env.Hub.Kube().CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		cfg, err := env.Hub.ServiceAccountConfig(ctx, "default", "nobody")
		require.NoError(t, err)
		_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "expected Forbidden, got %v", err)
		require.Contains(t, err.Error(), "system:serviceaccount:default:nobody", "the denial must name the ServiceAccount")
	})
}

// TestBedLeavesNothingBehind starts a bed, stops it, and checks that no
// process and no port of it survives; then does the same for a test that
// panics while the bed runs (in a child test process).
func TestBedLeavesNothingBehind(t *testing.T) {
	t.Run("after a normal stop", func(t *testing.T) {
		env, err := framework.Start(t.Context(), framework.Options{Spokes: []string{"east"}})
		require.NoError(t, err)
		pids, ports := env.PIDs(), env.Ports()
		require.Len(t, pids, 3, "etcd, hub and east must run")
		env.Stop()
		requireGone(t, pids, ports)
	})

	t.Run("after a test panics", func(t *testing.T) {
		record := t.TempDir() + "/bed.json"
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPanicsWithBed$", "-test.v")
		cmd.Env = append(os.Environ(), "VANLINK_PANIC_RECORD="+record)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "the child test must fail by panicking")
		require.Contains(t, string(out), "panic: deliberate panic", "the child must have panicked")
		data, err := os.ReadFile(record)
		require.NoError(t, err, "the child must have recorded its bed; output:\n%s", out)
		var rec struct{ PIDs, Ports []int }
		require.NoError(t, json.Unmarshal(data, &rec))
		require.NotEmpty(t, rec.PIDs)
		requireGone(t, rec.PIDs, rec.Ports)
	})
}

// TestHelperPanicsWithBed is run as a child process by TestBedLeavesNothingBehind.
func TestHelperPanicsWithBed(t *testing.T) {
	record := os.Getenv("VANLINK_PANIC_RECORD")
	if record == "" {
		t.Skip("helper for TestBedLeavesNothingBehind; runs only as its child process")
	}
	env := framework.StartT(t, framework.Options{})
	data, _ := json.Marshal(map[string][]int{"PIDs": env.PIDs(), "Ports": env.Ports()})
	if err := os.WriteFile(record, data, 0o600); err != nil {
		t.Fatal(err)
	}
	panic("deliberate panic")
}

func requireGone(t *testing.T, pids, ports []int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d of the bed is still running", pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, port := range ports {
		for !framework.PortFree(port) {
			if time.Now().After(deadline) {
				t.Fatalf("port %d of the bed is still bound", port)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
