// Command demo is vanlink's three-cluster demo on kind (make demo-kind, make
// demo-kind-down): a hub and the spokes east and west, the real Skupper on
// each, the charts installed from the shipped values with the direct
// transport, the hub chart's own hook Job linking the spokes, and an HTTP
// hello server on each spoke answered from the hub through its Listener.
//
//	go run ./e2e/kind/demo up     create (or reuse) the clusters and run the demo
//	go run ./e2e/kind/demo down   delete the clusters
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/e2e/kind"
	"github.com/vanlink/vanlink/internal/charts"
	"github.com/vanlink/vanlink/pkg/skupper"
)

const (
	prefix    = "vanlink-demo"
	namespace = "service-interconnect"
	// gateway is the catalog service every spoke offers (ie-gateway): its
	// Connector targets host spoke-gateway, its hub Listener is
	// ie-gateway-<spoke>.
	gateway = "spoke-gateway"
	port    = 8080
)

var spokes = []string{"east", "west"}

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: demo up|down")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := kind.RequireDocker(ctx)
	var root string
	if err == nil {
		root, err = framework.RepoRoot()
	}
	if err == nil && os.Args[1] == "up" {
		err = up(ctx, root)
	} else if err == nil {
		err = down(root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-kind:", err)
		os.Exit(1)
	}
}

func workDir(root string) string { return filepath.Join(root, "_output", "demo-kind") }

func down(root string) error {
	f := kind.NewFleet(kind.Options{Prefix: prefix, Dir: workDir(root), Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	var errs []error
	for _, name := range append([]string{"hub"}, spokes...) {
		errs = append(errs, f.Down(name))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Println("the kind demo clusters are deleted")
	return nil
}

func up(ctx context.Context, root string) error {
	dir := workDir(root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	step := func(format string, a ...any) { fmt.Printf("==> "+format+"\n", a...) }

	step("building the vanlink and echo images (no Docker build needed)")
	images, err := kind.BuildImages(root, dir, "demo")
	if err != nil {
		return err
	}
	f := kind.NewFleet(kind.Options{Prefix: prefix, Dir: dir, Images: images.Archives, Log: log})

	step("creating kind clusters %s-hub, %s-east and %s-west, loading the images, installing Skupper %s", prefix, prefix, prefix, kind.SkupperVersion)
	hub, err := f.Up(ctx, "hub")
	if err != nil {
		return err
	}
	var sp []*kind.Cluster
	for _, name := range spokes {
		c, err := f.Up(ctx, name)
		if err != nil {
			return err
		}
		if err := kind.Register(ctx, hub, c); err != nil {
			return err
		}
		sp = append(sp, c)
	}

	for _, c := range sp {
		step("installing charts/spoke-interconnect on %s, and the hello server behind its gateway Connector", c.Name)
		_, err := charts.Install(ctx, filepath.Join(root, charts.SpokeChart), charts.InstallOptions{Kubeconfig: c.Kubeconfig,
			Options: charts.Options{ReleaseName: c.Name, Namespace: "default",
				ValuesFiles: []string{filepath.Join(root, "values/catalog.yaml"), filepath.Join(root, "values/clusters", c.Name+".yaml")}}})
		if err != nil {
			return fmt.Errorf("installing the spoke chart on %s: %w", c.Name, err)
		}
		if err := helloServer(ctx, c, images.Echo); err != nil {
			return err
		}
	}

	step("installing charts/service-interconnect on the hub (direct transport); its hook Job pushes the tokens")
	_, err = charts.Install(ctx, filepath.Join(root, charts.HubChart), charts.InstallOptions{Kubeconfig: hub.Kubeconfig, Timeout: 10 * time.Minute,
		Options: charts.Options{ReleaseName: "hub", Namespace: "default", Set: kind.HubValues(images),
			ValuesFiles: []string{filepath.Join(root, "values/catalog.yaml"), filepath.Join(root, "values/clusters/hub.yaml")}}})
	if err != nil {
		return fmt.Errorf("installing the hub chart (its hook Job runs the first pass): %w", err)
	}

	for _, c := range sp {
		step("waiting for %s's Link to the hub", c.Name)
		if err := waitLinked(ctx, c); err != nil {
			return err
		}
	}
	for _, c := range sp {
		url := fmt.Sprintf("http://ie-gateway-%s.%s.svc.cluster.local:%d/", c.Name, namespace, port)
		step("calling %s from a pod on the hub", url)
		pod := kind.CommandPod(namespace, "demo-client-", "", images.Echo, []string{"get", "--url", url, "--expect", "hello from " + c.Name, "--timeout", "3m"})
		wait, err := kind.StartPod(ctx, hub.Kube(), pod)
		if err != nil {
			return err
		}
		r, err := wait()
		if err != nil {
			return err
		}
		fmt.Print(r.Log)
		if r.ExitCode != 0 {
			return fmt.Errorf("the hub could not reach %s's hello server through the VAN (pod %s exited %d)", c.Name, r.Pod, r.ExitCode)
		}
	}

	fmt.Printf(`
The hub reached both spokes' hello servers through the Skupper network: no
public endpoint on the spokes, no link secret in Git.

Where to look (kubeconfigs in %[1]s):
  export KUBECONFIG=%[1]s/hub.kubeconfig
  kubectl -n %[2]s get site,accessgrant,listeners       # the hub side
  kubectl -n %[2]s get jobs,cronjobs                    # the sync hook Job and CronJob
  kubectl -n %[2]s get configmap vanlink-status -o yaml # the last pass, per spoke
  KUBECONFIG=%[1]s/east.kubeconfig kubectl -n %[2]s get site,accesstoken,link,connectors
Remove it all with: make demo-kind-down
`, dir, namespace)
	return nil
}

// helloServer runs the echo server behind the spoke-gateway Service, which
// the spoke's ie-gateway Connector targets.
func helloServer(ctx context.Context, c *kind.Cluster, image string) error {
	kc := c.Kube()
	labels := map[string]string{"app": gateway}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: gateway, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: "hello", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						Args:  []string{"serve", "--listen", fmt.Sprintf(":%d", port), "--message", "hello from " + c.Name},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)}}},
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					}},
				},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: gateway, Namespace: namespace, Labels: labels},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(port)}}},
	}
	if _, err := kc.AppsV1().Deployments(namespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("hello server on %s: %w", c.Name, err)
	}
	if _, err := kc.CoreV1().Services(namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("hello service on %s: %w", c.Name, err)
	}
	return nil
}

// waitLinked waits for the spoke's Link (named after the hub chart's token)
// to be Ready.
func waitLinked(ctx context.Context, c *kind.Cluster) error {
	links := dynamic.NewForConfigOrDie(c.Config).Resource(skupper.LinksGVR).Namespace(namespace)
	var last string
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := links.Get(ctx, "hub-link", metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		st, _, _ := unstructured.NestedString(l.Object, "status", "status")
		msg, _, _ := unstructured.NestedString(l.Object, "status", "message")
		last = st + " " + msg
		return st == skupper.StatusReady, nil
	})
	if err != nil {
		return fmt.Errorf("%s is not linked to the hub after 5 minutes (last: %s)", c.Name, last)
	}
	return nil
}
