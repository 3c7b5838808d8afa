// Package kind runs vanlink on kind clusters: a hub and spokes created with
// sigs.k8s.io/kind, the real Skupper controller and router installed from the
// upstream chart, vanlink's images loaded into every node, and the direct
// transport reaching the spokes through kind's internal addresses.
//
// It backs the kind tier of the e2e scenarios (build tag e2e_kind, make
// e2e-kind) and the kind demo (make demo-kind). Both need a Docker engine;
// RequireDocker says so at once where there is none.
package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/vanlink/vanlink/e2e/fixtures"
	"github.com/vanlink/vanlink/internal/charts"
	"github.com/vanlink/vanlink/pkg/spokecreds"
)

// Skupper as installed on every cluster: the upstream chart and the images
// of its release (the router is a deployed image, never built here).
const (
	SkupperChart            = "oci://quay.io/skupper/helm/skupper"
	SkupperVersion          = "2.2.1"
	SkupperNamespace        = "skupper"
	DefaultRouterImage      = "quay.io/skupper/skupper-router:3.5.1"
	DefaultControllerImage  = "quay.io/skupper/controller:" + SkupperVersion
	DefaultKubeAdaptorImage = "quay.io/skupper/kube-adaptor:" + SkupperVersion
)

// CredentialsNamespace is where the spokes' Argo CD cluster Secrets live on
// the hub, as in an Argo CD installation.
const CredentialsNamespace = "argocd"

// SpokeLabel marks the credential Secrets of the spokes vanlink links; it is
// the hub chart's default sync.direct.secretSelector.
var SpokeLabel = map[string]string{"vanlink.io/interconnect": "spoke"}

// ErrNoDocker is returned by RequireDocker where no Docker engine answers.
var ErrNoDocker = errors.New("kind needs a running Docker engine")

// RequireDocker fails fast, with a message that says what to do, when no
// Docker engine answers (a docker client alone is not enough).
func RequireDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		return nil
	}
	why := strings.TrimSpace(firstLine(stderr.String()))
	if why == "" && err != nil {
		why = err.Error()
	}
	return fmt.Errorf("%w (docker info: %s); without one, run `make demo` and `make test`, the same scenarios on local API servers", ErrNoDocker, why)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// Options of a Fleet.
type Options struct {
	// Prefix of the kind cluster names: cluster "east" is kind cluster
	// "<Prefix>-east".
	Prefix string
	// Dir holds the kubeconfigs and exported logs.
	Dir string
	// NodeImage is the kind node image (empty: kind's default for its version).
	NodeImage string
	// Images are image archives (OCI or Docker) loaded into every node.
	Images []string
	// RouterImage, ControllerImage and KubeAdaptorImage are Skupper's images
	// (defaults: the 2.2.1 release).
	RouterImage, ControllerImage, KubeAdaptorImage string
	// Log receives progress lines; nil discards them.
	Log *slog.Logger
}

// Cluster is one kind cluster of a fleet.
type Cluster struct {
	// Name is the cluster's name in vanlink (hub, east, ...).
	Name string
	// KindName is the kind cluster's name (<prefix>-<name>).
	KindName string
	// Kubeconfig is a file with the external (host) address; Config the same.
	Kubeconfig string
	Config     *rest.Config
	// Internal reaches the API server at kind's internal address
	// (https://<kind name>-control-plane:6443), as pods of the other
	// clusters do.
	Internal *rest.Config
	// NodeIP is the control-plane node's address on the kind network, where
	// NodePorts answer for the other clusters.
	NodeIP string
}

// Kube returns a clientset with the external address.
func (c *Cluster) Kube() kubernetes.Interface { return kubernetes.NewForConfigOrDie(c.Config) }

// Fleet creates and drives kind clusters.
type Fleet struct {
	opts     Options
	provider *cluster.Provider

	mu      sync.Mutex
	skupper *chart.Chart
}

// NewFleet returns a fleet; it creates nothing yet.
func NewFleet(o Options) *Fleet {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.RouterImage == "" {
		o.RouterImage = DefaultRouterImage
	}
	if o.ControllerImage == "" {
		o.ControllerImage = DefaultControllerImage
	}
	if o.KubeAdaptorImage == "" {
		o.KubeAdaptorImage = DefaultKubeAdaptorImage
	}
	if o.NodeImage == "" {
		o.NodeImage = os.Getenv("KIND_NODE_IMAGE")
	}
	return &Fleet{opts: o, provider: cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindcmd.NewLogger()))}
}

// KindName is the kind cluster name of a fleet cluster.
func (f *Fleet) KindName(name string) string { return f.opts.Prefix + "-" + name }

// Exists reports whether the kind cluster of name exists.
func (f *Fleet) Exists(name string) (bool, error) {
	all, err := f.provider.List()
	if err != nil {
		return false, fmt.Errorf("listing kind clusters: %w", err)
	}
	return slices.Contains(all, f.KindName(name)), nil
}

// Up creates the kind cluster of name (or reuses it), loads the fleet's
// images into its nodes and installs Skupper.
func (f *Fleet) Up(ctx context.Context, name string) (*Cluster, error) {
	kname := f.KindName(name)
	exists, err := f.Exists(name)
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(f.opts.Dir, name+".kubeconfig")
	if !exists {
		f.opts.Log.Info("creating kind cluster", "cluster", kname)
		opts := []cluster.CreateOption{cluster.CreateWithWaitForReady(3 * time.Minute), cluster.CreateWithKubeconfigPath(kubeconfig), cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false)}
		if f.opts.NodeImage != "" {
			opts = append(opts, cluster.CreateWithNodeImage(f.opts.NodeImage))
		}
		if err := f.provider.Create(kname, opts...); err != nil {
			return nil, fmt.Errorf("creating kind cluster %s: %w", kname, err)
		}
	}
	if exists {
		// A run that died with a spoke paused leaves its nodes frozen.
		if err := f.thaw(name); err != nil {
			return nil, err
		}
	}
	c, err := f.connect(name, kubeconfig)
	if err != nil {
		return nil, err
	}
	if err := f.loadImages(c); err != nil {
		return nil, err
	}
	if err := f.installSkupper(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// connect writes the external kubeconfig and reads the internal one.
func (f *Fleet) connect(name, kubeconfig string) (*Cluster, error) {
	kname := f.KindName(name)
	if err := os.MkdirAll(f.opts.Dir, 0o755); err != nil {
		return nil, err
	}
	ext, err := f.provider.KubeConfig(kname, false)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %s: %w", kname, err)
	}
	if err := os.WriteFile(kubeconfig, []byte(ext), 0o600); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(ext))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %s: %w", kname, err)
	}
	in, err := f.provider.KubeConfig(kname, true)
	if err != nil {
		return nil, fmt.Errorf("internal kubeconfig of %s: %w", kname, err)
	}
	internal, err := clientcmd.RESTConfigFromKubeConfig([]byte(in))
	if err != nil {
		return nil, fmt.Errorf("internal kubeconfig of %s: %w", kname, err)
	}
	list, err := f.provider.ListInternalNodes(kname)
	if err != nil || len(list) == 0 {
		return nil, fmt.Errorf("nodes of %s: %v", kname, err)
	}
	ip, _, err := list[0].IP()
	if err != nil {
		return nil, fmt.Errorf("address of %s: %w", list[0], err)
	}
	return &Cluster{Name: name, KindName: kname, Kubeconfig: kubeconfig, Config: cfg, Internal: internal, NodeIP: ip}, nil
}

// loadImages loads every image archive into every node, as `kind load
// image-archive` does.
func (f *Fleet) loadImages(c *Cluster) error {
	list, err := f.provider.ListInternalNodes(c.KindName)
	if err != nil {
		return fmt.Errorf("nodes of %s: %w", c.KindName, err)
	}
	for _, archive := range f.opts.Images {
		for _, n := range list {
			if err := loadArchive(n, archive); err != nil {
				return fmt.Errorf("loading %s into %s: %w", archive, n, err)
			}
		}
		f.opts.Log.Info("image loaded", "archive", filepath.Base(archive), "cluster", c.KindName, "nodes", len(list))
	}
	return nil
}

func loadArchive(n nodes.Node, archive string) error {
	file, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer file.Close()
	return nodeutils.LoadImageArchive(n, file)
}

// SkupperValues are the upstream chart's values for a cluster: the pinned
// images, and NodePort access on the node's kind address, so the grant
// server and the inter-router port answer for the other clusters without a
// LoadBalancer implementation.
func (f *Fleet) SkupperValues(c *Cluster) map[string]any {
	return map[string]any{
		"scope":              "cluster",
		"routerImage":        f.opts.RouterImage,
		"controllerImage":    f.opts.ControllerImage,
		"kubeAdaptorImage":   f.opts.KubeAdaptorImage,
		"clusterHost":        c.NodeIP,
		"enabledAccessTypes": "local,nodeport",
		"defaultAccessType":  "nodeport",
	}
}

// installSkupper installs the upstream Skupper chart (controller with the
// grant server) and waits for it.
func (f *Fleet) installSkupper(ctx context.Context, c *Cluster) error {
	f.mu.Lock()
	if f.skupper == nil {
		ch, err := charts.Pull(SkupperChart, SkupperVersion)
		if err != nil {
			f.mu.Unlock()
			return err
		}
		f.skupper = ch
	}
	ch := f.skupper
	f.mu.Unlock()
	f.opts.Log.Info("installing Skupper", "chart", SkupperChart, "version", SkupperVersion, "cluster", c.KindName)
	_, err := charts.InstallChart(ctx, ch, charts.InstallOptions{Kubeconfig: c.Kubeconfig, Wait: true, CreateNamespace: true, Timeout: 5 * time.Minute,
		Options: charts.Options{ReleaseName: "skupper", Namespace: SkupperNamespace, Set: f.SkupperValues(c)}})
	if err != nil {
		return fmt.Errorf("installing Skupper %s on %s: %w", SkupperVersion, c.KindName, err)
	}
	return nil
}

// Register records spoke on the hub as Argo CD does: a cluster Secret in
// CredentialsNamespace with the spoke's internal address and credentials,
// labelled with SpokeLabel, which the direct transport reads.
func Register(ctx context.Context, hub, spoke *Cluster) error {
	kc := hub.Kube()
	if err := fixtures.Namespace(ctx, kc, CredentialsNamespace); err != nil {
		return err
	}
	sec, err := spokecreds.ArgoSecret(CredentialsNamespace, spoke.Name, spoke.Internal.Host, spoke.Internal, SpokeLabel)
	if err != nil {
		return err
	}
	secrets := kc.CoreV1().Secrets(CredentialsNamespace)
	if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		_, err = secrets.Update(ctx, sec, metav1.UpdateOptions{})
		return err
	} else if err != nil {
		return fmt.Errorf("registering %s with the hub: %w", spoke.Name, err)
	}
	return nil
}

// Unregister removes the spoke's cluster Secret from the hub.
func Unregister(ctx context.Context, hub *Cluster, spoke string) error {
	return unregister(ctx, hub.Kube(), spoke)
}

func unregister(ctx context.Context, hub kubernetes.Interface, spoke string) error {
	err := hub.CoreV1().Secrets(CredentialsNamespace).Delete(ctx, "cluster-"+spoke, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unregistering %s from the hub: %w", spoke, err)
	}
	return nil
}

// Down deletes the kind cluster of name (nothing when it does not exist).
func (f *Fleet) Down(name string) error {
	exists, err := f.Exists(name)
	if err != nil || !exists {
		return err
	}
	f.opts.Log.Info("deleting kind cluster", "cluster", f.KindName(name))
	if err := f.provider.Delete(f.KindName(name), filepath.Join(f.opts.Dir, name+".kubeconfig")); err != nil {
		return fmt.Errorf("deleting kind cluster %s: %w", f.KindName(name), err)
	}
	return nil
}

// CollectLogs exports the nodes' and pods' logs of a cluster into dir.
func (f *Fleet) CollectLogs(name, dir string) error {
	return f.provider.CollectLogs(f.KindName(name), dir)
}

// Pause freezes every node container of a cluster (`docker pause`): its API
// server stops answering, as an unreachable spoke does. Unpause reverses it.
func (f *Fleet) Pause(name string) error   { return f.docker("pause", name) }
func (f *Fleet) Unpause(name string) error { return f.docker("unpause", name) }

// thaw unpauses the node containers of a cluster that are paused.
func (f *Fleet) thaw(name string) error {
	list, err := f.provider.ListNodes(f.KindName(name))
	if err != nil {
		return err
	}
	for _, n := range list {
		out, err := exec.Command("docker", "inspect", "--format", "{{.State.Paused}}", n.String()).Output()
		if err != nil {
			return fmt.Errorf("docker inspect %s: %w", n, err)
		}
		if strings.TrimSpace(string(out)) != "true" {
			continue
		}
		f.opts.Log.Info("resuming a node left paused", "node", n.String())
		if out, err := exec.Command("docker", "unpause", n.String()).CombinedOutput(); err != nil {
			return fmt.Errorf("docker unpause %s: %w: %s", n, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func (f *Fleet) docker(verb, name string) error {
	list, err := f.provider.ListNodes(f.KindName(name))
	if err != nil {
		return err
	}
	for _, n := range list {
		if out, err := exec.Command("docker", verb, n.String()).CombinedOutput(); err != nil {
			return fmt.Errorf("docker %s %s: %w: %s", verb, n, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// deleteNamespace deletes a namespace and waits until it is gone.
func deleteNamespace(ctx context.Context, kc kubernetes.Interface, name string, timeout time.Duration) error {
	err := kc.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := kc.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// PodStreams returns a PodRunner.Streams for the named cluster: it reads a
// finished pod's stdout and stderr apart from the CRI log the kubelet keeps
// on the pod's node (the API serves the two streams merged).
func (f *Fleet) PodStreams(cluster string) func(ctx context.Context, pod *corev1.Pod) (stdout, stderr string, err error) {
	return func(ctx context.Context, pod *corev1.Pod) (string, string, error) {
		list, err := f.provider.ListNodes(f.KindName(cluster))
		if err != nil {
			return "", "", fmt.Errorf("nodes of %s: %w", f.KindName(cluster), err)
		}
		i := slices.IndexFunc(list, func(n nodes.Node) bool { return n.String() == pod.Spec.NodeName })
		if i < 0 || len(pod.Spec.Containers) == 0 {
			return "", "", fmt.Errorf("pod %s/%s ran on node %q, not a node of %s", pod.Namespace, pod.Name, pod.Spec.NodeName, f.KindName(cluster))
		}
		var out bytes.Buffer
		path := ContainerLogPath(pod, pod.Spec.Containers[0].Name)
		if err := list[i].CommandContext(ctx, "cat", path).SetStdout(&out).Run(); err != nil {
			return "", "", fmt.Errorf("reading %s on %s: %w", path, list[i], err)
		}
		return SplitCRILog(out.String())
	}
}
