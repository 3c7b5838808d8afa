// Command demo runs vanlink's local demo: a hub and two spokes (east, west)
// as real local API servers, the charts installed from values/ with the Helm
// SDK, the PostSync hook run, and `vanlink status` printed with both spokes
// linked. The Skupper controller and router and ACM's agent cannot run here:
// they are simulated, and the demo says so. Ctrl-C stops everything.
//
//	go run ./e2e/demo            (make demo)
//	go run ./e2e/demo -exit      (stop right after printing the status)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/e2e/local"
	"github.com/vanlink/vanlink/e2e/scenarios"
	"github.com/vanlink/vanlink/internal/charts"
	"github.com/vanlink/vanlink/internal/cli"
	"github.com/vanlink/vanlink/pkg/skupper"
)

func main() {
	exit := flag.Bool("exit", false, "stop right after printing the status (no wait for Ctrl-C)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *exit); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

const ns = "service-interconnect"

func run(ctx context.Context, out io.Writer, exit bool) error {
	root, err := framework.RepoRoot()
	if err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(out, "==> "+format+"\n", a...) }
	say("vanlink local demo")
	fmt.Fprintln(out, `    REAL:      kube-apiserver and etcd for the hub, east and west; the charts
               installed with the Helm SDK from values/; the vanlink sync code
               run with the hook's arguments as the chart's ServiceAccount.
    SIMULATED: the Skupper controller and router (AccessGrant processing, a
               grant server on 127.0.0.1, token redemption, Link status) and
               ACM's work-manager agent (ManagedClusterActions and Views).
               No traffic crosses a real Skupper network here.`)
	say("starting the hub, east and west API servers")
	p, err := local.Start(ctx, local.Options{Spokes: []string{"east", "west"}})
	if err != nil {
		return err
	}
	defer func() {
		say("stopping the clusters")
		p.Close()
	}()
	hub := p.Hub()
	values := func(f ...string) []string {
		var out []string
		for _, v := range f {
			out = append(out, filepath.Join(root, v))
		}
		return out
	}
	hubOpts := hubOptions(root)
	say("helm install hub charts/service-interconnect -f values/catalog.yaml -f values/clusters/hub.yaml")
	if _, err := charts.Install(ctx, filepath.Join(root, charts.HubChart), charts.InstallOptions{Options: hubOpts, Kubeconfig: hub.Kubeconfig, DisableHooks: true}); err != nil {
		return err
	}
	for _, s := range p.Spokes() {
		say("helm install %s charts/spoke-interconnect -f values/catalog.yaml -f values/clusters/%s.yaml  (on %s)", s.Name, s.Name, s.Name)
		o := charts.Options{ReleaseName: s.Name, Namespace: "default", ValuesFiles: values("values/catalog.yaml", "values/clusters/"+s.Name+".yaml")}
		if _, err := charts.Install(ctx, filepath.Join(root, charts.SpokeChart), charts.InstallOptions{Options: o, Kubeconfig: s.Kubeconfig}); err != nil {
			return err
		}
	}
	hookArgs, cronArgs, err := jobArgs(ctx, root, hubOpts)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "vanlink-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	saKube := filepath.Join(dir, "sync.kubeconfig")
	if err := framework.ServiceAccountKubeconfig(ctx, hub.Config, ns, "hub-service-interconnect-sync", saKube); err != nil {
		return err
	}
	// vanlink prints the command as the chart's pod runs it and runs it here
	// as the chart's ServiceAccount (the only addition is --kubeconfig; the
	// JSON log lines on stderr are not shown).
	vanlink := func(args ...string) int {
		fmt.Fprintf(out, "\n$ %s\n", commandLine(args))
		return cli.Main(append(slices.Clone(args), "--kubeconfig", saKube), cli.IOStreams{In: os.Stdin, Out: out, ErrOut: io.Discard}, os.Exit)
	}
	say("running the PostSync hook: the hub chart's Job command, read from the rendered chart, run as its ServiceAccount")
	if code := vanlink(hookArgs...); code != 0 {
		return fmt.Errorf("the hook failed (exit %d)", code)
	}
	say("waiting for the spokes' links (the simulated router makes them Ready)")
	if err := waitLinked(ctx, p); err != nil {
		return err
	}
	time.Sleep(time.Second)
	say("a CronJob pass (the chart's CronJob command) records the linked state")
	vanlink(cronArgs...)
	if code := vanlink("status", "-n", ns); code != 0 {
		return fmt.Errorf("vanlink status: not every spoke is linked (exit %d)", code)
	}
	ls, err := dynamicFor(hub).Resource(skupper.ListenersGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	say("spoke services on the hub (Listeners):")
	for _, l := range ls.Items {
		port, _, _ := unstructured.NestedInt64(l.Object, "spec", "port")
		fmt.Fprintf(out, "    %s.%s.svc.cluster.local:%d\n", l.GetName(), ns, port)
	}
	say("kubeconfigs: hub %s, east %s, west %s", hub.Kubeconfig, p.Spokes()[0].Kubeconfig, p.Spokes()[1].Kubeconfig)
	if exit {
		return nil
	}
	say("the clusters keep running; press Ctrl-C to stop")
	<-ctx.Done()
	return nil
}

// hubOptions install the hub chart from the shipped values, as README's
// `helm install hub charts/service-interconnect -f ...` does.
func hubOptions(root string) charts.Options {
	return charts.Options{ReleaseName: "hub", Namespace: "default",
		ValuesFiles: []string{filepath.Join(root, "values/catalog.yaml"), filepath.Join(root, "values/clusters/hub.yaml")}}
}

// jobArgs renders the hub chart as installed and returns the arguments of
// its PostSync hook Job and of its CronJob, exactly as their pods run them.
func jobArgs(ctx context.Context, root string, hubOpts charts.Options) (hook, cron []string, err error) {
	rendered, err := charts.Render(ctx, filepath.Join(root, charts.HubChart), hubOpts)
	if err != nil {
		return nil, nil, err
	}
	if hook, err = rendered.JobArgs(true); err != nil {
		return nil, nil, err
	}
	if cron, err = rendered.JobArgs(false); err != nil {
		return nil, nil, err
	}
	return hook, cron, nil
}

// commandLine is the vanlink command with args as a shell would take it:
// an argument with characters a shell treats specially is single-quoted.
func commandLine(args []string) string {
	words := []string{"vanlink"}
	for _, a := range args {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
		}) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

func dynamicFor(c scenarios.Cluster) dynamic.Interface { return dynamic.NewForConfigOrDie(c.Config) }

// waitLinked waits until every spoke's Link is Ready.
func waitLinked(ctx context.Context, p *local.Provider) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, s := range p.Spokes() {
		for {
			l, err := dynamicFor(s).Resource(skupper.LinksGVR).Namespace(ns).Get(ctx, "hub-link", metav1.GetOptions{})
			if err == nil {
				if st, _, _ := unstructured.NestedString(l.Object, "status", "status"); st == skupper.StatusReady {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("spoke %s is not linked: %w", s.Name, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
